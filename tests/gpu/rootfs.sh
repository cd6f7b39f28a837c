#!/usr/bin/env bash
# The GPU host's operating system for the whole-job GPU run (tests/gpu/e2e.sh): a
# Debian 12 root filesystem from Debian's own packages (debootstrap, the same recipe as
# the lab's images, tests/lab/images.sh, plus what a K3s node needs: iptables for the
# CNI bridge and portmap plugins), without docs, locales, bytecode, iconv modules and time
# zones, packed as
# $K3S_GPU_CACHE/gpu-rootfs-<hash>.tar.xz (the GPU machine has xz, not zstd).
# Prints the tarball's path. The Debian mirror: LAB_DEBIAN_MIRROR, else this machine's
# first apt source that serves its release's main (as images.sh finds it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"

INCLUDE="systemd,systemd-sysv,dbus,python3,python3-apt,python3-debian,sudo,gnupg,ca-certificates,kmod,procps,iproute2,iptables,util-linux"
SUITE=bookworm
host_release=$(. /etc/os-release && echo "$VERSION_CODENAME")
MIRROR=${LAB_DEBIAN_MIRROR:-$( (apt-get --print-uris update 2>/dev/null || true) \
  | grep -oE "^'[^' ]+/dists/$host_release/main/binary-" | sed -n '1{s|^'"'"'||; s|/dists/.*||; p}' || true)}
[ -n "$MIRROR" ] || { echo "rootfs.sh: no apt source of this machine serves $host_release main; set LAB_DEBIAN_MIRROR" >&2; exit 1; }

key=$(printf '%s\n%s\n%s\n' "$INCLUDE" "$SUITE" "$MIRROR" | cat - "$0" | sha256sum | cut -c1-16)
out="$K3S_GPU_CACHE/gpu-rootfs-$key.tar.xz"
mkdir -p "$K3S_GPU_CACHE"
exec 9>"$K3S_GPU_CACHE/gpu-rootfs.lock"
flock 9
if [ -f "$out" ]; then echo "rootfs up to date: $out" >&2; echo "$out"; exit 0; fi
start=$(date +%s)
root=$(mktemp -d "${TMPDIR:-/tmp}/gpu-rootfs.XXXXXX")
trap 'rm -rf "$root" "$root.log" "$out.part"' EXIT
echo "debootstrap $SUITE into $root" >&2
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root/etc/machine-id"; : > "$root/etc/machine-id"
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/cache/apt/*.bin \
  "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_dists_*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C.*' -exec rm -rf {} +
find "$root" -xdev -name __pycache__ -type d -prune -exec rm -rf {} +
# What no role or component uses, to fit the device tool's 64 MiB a call: iconv modules,
# time zones (the host runs in UTC), logs and debconf's backups of the build.
rm -rf "$root"/usr/lib/x86_64-linux-gnu/gconv "$root"/usr/share/zoneinfo/* "$root"/var/cache/debconf/*-old
find "$root/var/log" -type f -delete
tar -C "$root" -cf - . | xz -T0 -9 > "$out.part"
mv "$out.part" "$out"
echo "rootfs built in $(( $(date +%s) - start ))s: $(du -h "$out" | cut -f1)" >&2
echo "$out"
