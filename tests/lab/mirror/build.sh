#!/usr/bin/env bash
# Build the lab's vendor mirror tree into $K3S_GPU_CACHE/mirror-<hash>/ (see LAYOUT.md):
# stand-in .deb packages (dpkg-deb), flat apt repositories (apt-ftparchive) signed with
# test keys, K3s release assets with the k3s stand-in built from Go, and a Helm chart
# repository. <hash> covers every input (this script, build_mirror.py, tests/lab/standins/);
# when that directory is complete this is a hash check. The signing keys are the lab's TEST
# keys committed in tests/lab/mirror/keys/ (fixed fingerprints, pinned by the lab's inventories),
# imported into a throw-away GNUPGHOME on every build.
# Prints timings on stderr and the tree's path as the last line of stdout.
#
# Needs: dpkg-deb, apt-ftparchive (apt-utils), gpg, zstd, bc, go (>= 1.26) and gcc (cgo).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib.sh
. "$here/../../../scripts/lib.sh"
standins="$here/../standins"
start=$(date +%s.%N)

elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $1" | bc)"; }

for tool in dpkg-deb apt-ftparchive gpg zstd go bc gcc; do
  command -v "$tool" >/dev/null || { echo "mirror/build.sh: $tool is missing (apt-get install apt-utils gnupg zstd bc gcc; Go >= 1.26)" >&2; exit 1; }
done

# The cache key: every file that shapes the tree, by path and content.
key="$(cd "$here/.." && find mirror/build.sh mirror/build_mirror.py mirror/keys standins -type f ! -name '*.pyc' | LC_ALL=C sort \
  | while read -r f; do printf '%s\n' "$f"; cat "$f"; done | sha256sum | cut -c1-16)"
out="$K3S_GPU_CACHE/mirror-$key"
if [ -f "$out/.complete" ]; then
  echo "mirror tree up to date: $out (warm, $(elapsed "$start")s)" >&2
  echo "$out"
  exit 0
fi

# One build at a time per cache (engineers and CI jobs share it); re-check after waiting.
mkdir -p "$K3S_GPU_CACHE"
exec 9>"$K3S_GPU_CACHE/mirror-build.lock"
flock 9
if [ -f "$out/.complete" ]; then
  echo "mirror tree up to date: $out (built by another process, $(elapsed "$start")s)" >&2
  echo "$out"
  exit 0
fi

# --- signing keys: the committed lab TEST keys (keys/README.md), in a throw-away GNUPGHOME ---
export GOMODCACHE="$K3S_GPU_CACHE/go/mod" GOCACHE="$K3S_GPU_CACHE/go/build" GOFLAGS="-trimpath -mod=mod"
tmp="$(mktemp -d "$K3S_GPU_CACHE/mirror-build.XXXXXX")"
# A short GNUPGHOME of its own: gpg-agent's socket path must fit a unix socket's 108 bytes,
# which a deep $K3S_GPU_CACHE (a test's temporary directory) exceeds.
gnupg="$(mktemp -d /tmp/k3s-gpu-gnupg.XXXXXX)"
trap 'gpgconf --homedir "$gnupg" --kill all 2>/dev/null || true; rm -rf "$tmp" "$gnupg"' EXIT
chmod 700 "$gnupg"
for stem in cuda libnvidia-container untrusted; do
  gpg --homedir "$gnupg" --batch --quiet --import "$here/keys/$stem.secret.asc"
done

# --- k3s stand-in binaries, one per release (static, version embedded) ----------------
t=$(date +%s.%N)
# Real releases (k3s-io/k3s#14281, #14492, #14553) and the bad-checksum fake v1.36.99+k3s1.
for v in v1.36.2+k3s1 v1.36.3+k3s1 v1.36.4+k3s1 v1.36.99+k3s1; do
  commit="$(printf '%s' "$v" | sha256sum | cut -c1-8)"
  mkdir -p "$tmp/k3s-bin/$v"
  (cd "$standins/k3s" && CGO_ENABLED=0 go build -ldflags "-s -w -X main.version=$v -X main.commit=$commit" \
    -o "$tmp/k3s-bin/$v/k3s" .)
done
echo "k3s stand-ins built in $(elapsed "$t")s" >&2

# --- the REAL NVIDIA container toolkit Go commands, built from the upstream module -----
# github.com/NVIDIA/nvidia-container-toolkit (Go module proxy) at each packaged version:
# nvidia-ctk, nvidia-container-runtime, nvidia-container-runtime-hook, nvidia-cdi-hook.
# cgo (go-nvml dlopens libnvidia-ml at run time), so dynamically linked against the host's
# glibc (Debian 12's 2.36, which Debian 12 and 13 targets both run). Cached per version and
# Go version: cold about 1 minute per version, then reused by every mirror rebuild.
nct_bins() {
  local v=$1 d
  d="$K3S_GPU_CACHE/nct-bin-$v-$(printf '%s %s' "$v" "$(go version)" | sha256sum | cut -c1-12)"
  if [ ! -x "$d/nvidia-ctk" ]; then
    local t0; t0=$(date +%s.%N)
    rm -rf "$d.part"; mkdir -p "$d.part"
    local m=github.com/NVIDIA/nvidia-container-toolkit
    GOBIN="$d.part" CGO_ENABLED=1 go install -ldflags "-s -w -X $m/internal/info.version=$v" \
      "$m/cmd/nvidia-ctk@v$v" "$m/cmd/nvidia-container-runtime@v$v" \
      "$m/cmd/nvidia-container-runtime-hook@v$v" "$m/cmd/nvidia-cdi-hook@v$v" 2>"$d.part/build.log" \
      || { tail -20 "$d.part/build.log" >&2; exit 1; }
    rm -rf "$d"; mv "$d.part" "$d"
    echo "nvidia-container-toolkit $v commands built from the Go module in $(elapsed "$t0")s" >&2
  fi
  mkdir -p "$tmp/nct-bin"
  ln -s "$d" "$tmp/nct-bin/$v"
}
for v in 1.17.8 1.20.0; do nct_bins "$v"; done

# --- the tree ---------------------------------------------------------------------
python3 "$here/build_mirror.py" "$tmp/tree" "$gnupg" "$tmp/k3s-bin" "$tmp/nct-bin" >&2
rm -rf "$out"
mv "$tmp/tree" "$out"
# Old trees of earlier inputs: keep the three newest and any tree a running mirror serves.
# No running mirror (a fresh clone) is the common case, not an error: read only the env
# files that exist, so that `set -e` cannot end the script here.
in_use=""
for envf in "$REPO_ROOT"/.tmp/mirror*/env; do
  if [ -f "$envf" ]; then in_use+="$(sed -n 's/^LAB_MIRROR_ROOT=//p' "$envf")"$'\n'; fi
done
# shellcheck disable=SC2012
old_trees="$(ls -1dt "$K3S_GPU_CACHE"/mirror-????????????????/ 2>/dev/null | tail -n +4 || true)"
for old in $old_trees; do
  if [ "${old%/}" != "$out" ] && ! grep -qF "${old%/}/www" <<<"$in_use"; then rm -rf "$old"; fi
done
# Marked complete last: a tree is reused only when every step above succeeded.
touch "$out/.complete"
echo "mirror tree built: $out (cold, $(elapsed "$start")s)" >&2
echo "$out"
