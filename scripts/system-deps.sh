#!/usr/bin/env bash
# The system packages `make demo` and `make test` need, installed when missing.
# This list is their one home: .ci/run and the README point here.
#   podman, runc          the lab's systemd containers (crun refuses this host's hybrid cgroups)
#   debootstrap           the lab's Debian images
#   apt-utils, gnupg, dpkg-dev   the vendor mirror's signed repositories (apt-ftparchive)
#   zstd                  K3s airgap image tarballs
#   openssl               the kube-apiserver harness's certificates
#   gcc, bc               the mirror build (NVIDIA's toolkit commands use cgo; timings)
#   python3-venv, git, make   the project's virtualenv and the build
# As root, missing packages are installed with apt-get; otherwise the script names them
# and exits 1 before anything else runs. Warm: one dpkg-query per package.
set -euo pipefail
pkgs=(podman runc debootstrap apt-utils gnupg dpkg-dev zstd openssl python3-venv git make gcc bc)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: missing Debian packages: ${missing[*]}" >&2
    echo "system-deps: install them as root (apt-get install ${missing[*]}) or run make as root" >&2
    exit 1
  fi
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || { echo "system-deps: the Go toolchain (>= 1.26) is missing: install it from go.dev's release archive" >&2; exit 1; }
echo "system-deps: ${#pkgs[@]} Debian packages present, $(go version | cut -d' ' -f3)"
