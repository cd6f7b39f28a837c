#!/usr/bin/env bash
# Build the lab's Debian systemd images with debootstrap from Debian's own
# packages, cache the root filesystem tarballs keyed on this recipe, and import
# them into podman as localhost/k3s-gpu-lab:<debian12|debian13>.
# Cold: about a minute per release; warm: a hash check and an image lookup.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
"$(dirname "$0")/podman.sh"

# Packages the roles need on the target: python3-apt for apt, python3-debian for
# deb822_repository, gnupg for keys, kmod/procps for modules and ps checks.
INCLUDE="systemd,systemd-sysv,dbus,python3,python3-apt,python3-debian,sudo,gnupg,ca-certificates,kmod,procps,iproute2,zstd"
declare -A SUITE=([debian12]=bookworm [debian13]=trixie)
# Debian's packages come from this machine's own Debian mirror (its first apt source that
# serves "<its release> main"; apt prints the URIs without downloading), or LAB_DEBIAN_MIRROR.
host_release=$(. /etc/os-release && echo "$VERSION_CODENAME")
# (`|| true`: no match must reach the clear message below, not end the script under pipefail.)
MIRROR=${LAB_DEBIAN_MIRROR:-$( (apt-get --print-uris update 2>/dev/null || true) \
  | grep -oE "^'[^' ]+/dists/$host_release/main/binary-" | sed -n '1{s|^'"'"'||; s|/dists/.*||; p}' || true)}
[ -n "$MIRROR" ] || { echo "images.sh: no apt source of this machine serves $host_release main; set LAB_DEBIAN_MIRROR to a Debian mirror URL"; exit 1; }
releases=("${@:-debian12}")
[ "${1:-}" = "all" ] && releases=(debian12 debian13)

build_one() {
  local name=$1 suite=${SUITE[$1]}
  local key; key=$(printf '%s\n%s\n%s\n%s\n' "$INCLUDE" "$suite" "$MIRROR" "$(cat "$0")" | sha256sum | cut -c1-16)
  local tarball="$K3S_GPU_CACHE/images/$name-$key.tar"
  local image="localhost/k3s-gpu-lab:$name"
  local start; start=$(date +%s)
  if [ ! -f "$tarball" ]; then
    local root; root=$(mktemp -d "${TMPDIR:-/tmp}/k3s-gpu-lab-$name.XXXXXX")
    echo "debootstrap $suite into $root"
    debootstrap --variant=minbase --include="$INCLUDE" "$suite" "$root" "$MIRROR" >"$root.log" 2>&1 \
      || { tail -20 "$root.log"; rm -rf "$root"; exit 1; }
    # Containers have no console getty; a machine-id is made on first boot.
    rm -f "$root/etc/machine-id"; : > "$root/etc/machine-id"
    mkdir -p "$K3S_GPU_CACHE/images"
    tar -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$root" "$root.log"
  fi
  if [ "$(podman image inspect --format '{{index .Labels "k3s-gpu-lab.key"}}' "$image" 2>/dev/null)" != "$key" ]; then
    podman import -q --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
      --change "LABEL k3s-gpu-lab.key=$key" "$tarball" "$image" >/dev/null
  fi
  echo "image $image ($key) ready in $(( $(date +%s) - start ))s"
}

# One build at a time per cache (checkouts, worktrees and CI jobs share it).
mkdir -p "$K3S_GPU_CACHE"
exec 9>"$K3S_GPU_CACHE/images-build.lock"
flock 9
for r in "${releases[@]}"; do build_one "$r"; done
