#!/usr/bin/env bash
# Build the real node and control-plane components for the whole-job GPU run
# (tests/gpu/e2e.sh) from pinned upstream Go modules, each into its own cache
# directory keyed on its version and recipe:
#
#   $K3S_GPU_CACHE/gpu-kube-<hash>/kube        one multi-call binary (build/kube/main.go):
#                                              kube-apiserver, kube-controller-manager,
#                                              kube-scheduler, kubelet (k8s.io/kubernetes at
#                                              the harness's version) and etcd
#   $K3S_GPU_CACHE/gpu-containerd-<hash>/      containerd, containerd-shim-runc-v2, ctr
#   $K3S_GPU_CACHE/gpu-runc-<hash>/runc        runc, CGO and static (as the 2026-12-01 probe)
#   $K3S_GPU_CACHE/gpu-cni-<hash>/             bridge, host-local, loopback, portmap
#   $K3S_GPU_CACHE/gpu-helm-<hash>/helm        helm (tests/lab/kube/helm/go.mod)
#   $K3S_GPU_CACHE/gpu-device-plugin-<hash>/nvidia-device-plugin   tests/lab/standins/device-plugin
#   $K3S_GPU_CACHE/gpu-pause-<hash>/pause      the pause program (build/pause/pause.c), static
#
# The NVIDIA container toolkit's commands are not built here: the lab mirror's packages
# (tests/lab/mirror/build.sh) carry NVIDIA's own programs, and the roles install them.
# Prints "name=dir" lines on stdout, one per component.
#
# Environment: K3S_GPU_CACHE (default ~/.cache/k3s-gpu-node), GPU_BUILD_P (go build -p).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"

# Pinned versions (each checked on the Go module proxy on 2026-12-01, see DESIGN.md).
CONTAINERD_VERSION=v2.4.2
RUNC_VERSION=v1.5.3
CNI_PLUGINS_VERSION=v1.10.0
CNI_PLUGINS="bridge host-local loopback portmap"

command -v go >/dev/null || { echo "build.sh: go is not installed (need Go >= 1.26)" >&2; exit 1; }
export GOMODCACHE="$K3S_GPU_CACHE/go/mod"
export GOCACHE="$K3S_GPU_CACHE/go/build"
export GOTOOLCHAIN=local
jobs="${GPU_BUILD_P:-$(nproc)}"
mkdir -p "$K3S_GPU_CACHE"

# build NAME KEY_INPUT... -- CMD : run CMD with $tmp as its output directory unless
# $K3S_GPU_CACHE/gpu-NAME-<hash of the inputs> is already complete.
build() {
  local name=$1; shift
  local inputs=()
  while [ "$1" != -- ]; do inputs+=("$1"); shift; done
  shift
  local key out start
  # The key: the inputs and the recipe (this component's build function), not the whole
  # script, so that editing one recipe rebuilds one component.
  key="$( { printf '%s\n' "$name" "${inputs[@]}"; declare -f "build_$name"; } | sha256sum | cut -c1-16)"
  out="$K3S_GPU_CACHE/gpu-$name-$key"
  exec 8>"$K3S_GPU_CACHE/gpu-$name.lock"
  flock 8
  if [ -f "$out/.complete" ]; then
    echo "$name up to date in $out" >&2
  else
    start=$(date +%s)
    tmp="$(mktemp -d "$out.tmp.XXXXXX")"
    chmod 755 "$tmp"
    echo "==> building $name" >&2
    "$@"
    touch "$tmp/.complete"
    rm -rf "$out"
    mv "$tmp" "$out"
    echo "$name built in $out ($(( $(date +%s) - start ))s)" >&2
  fi
  exec 8>&-
  echo "$name=$out"
}

kube_mod="$here/build/kube"
modver() { (cd "$kube_mod" && go list -m -f '{{.Version}}' "$1"); }
kube_version="$(modver k8s.io/kubernetes)"

build_kube() {
  local major minor ldflags pkg
  major="${kube_version#v}"; major="${major%%.*}"
  minor="${kube_version#v*.}"; minor="${minor%%.*}"
  # Version stamps as upstream's hack/lib/version.sh sets them (the kubelet reports
  # this version in its Node status; clients read the server's).
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major"
    ldflags+=" -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$kube_mod" && CGO_ENABLED=0 go build -trimpath -mod=readonly -p "$jobs" -ldflags="$ldflags" -o "$tmp/kube" .)
}

# containerd, its runc shim and ctr, as containerd's Makefile builds them (static,
# CGO off for the shim; the version stamped into containerd's version package).
build_containerd() {
  local ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
  ldflags+=" -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2"
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install -p "$jobs" -tags "no_btrfs no_devmapper no_zfs" -ldflags="$ldflags" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"
}

# runc with CGO (runc needs it for its nsexec) and seccomp (libseccomp, statically: Debian's
# libseccomp-dev), linked statically so it runs on the GPU machine's Ubuntu and in the Debian
# node alike. Seccomp is not optional: the kubelet gives every unprivileged pod sandbox
# RuntimeDefault (k8s.io/kubernetes pkg/kubelet/kuberuntime/kuberuntime_sandbox.go,
# generatePodSandboxLinuxConfig), and a runc without it refuses them ("seccomp: config
# provided but seccomp not supported", the H200 run of 2026-12-01). runc's own Makefile
# builds with the same tags.
build_runc() {
  [ -f /usr/lib/x86_64-linux-gnu/libseccomp.a ] && command -v pkg-config >/dev/null || {
    echo "build.sh: runc needs libseccomp.a and pkg-config: apt-get install libseccomp-dev pkg-config" >&2; return 1; }
  GOBIN="$tmp" CGO_ENABLED=1 GOFLAGS=-trimpath go install -tags "seccomp netgo osusergo" \
    -ldflags "-s -w -X main.version=${RUNC_VERSION#v} -extldflags -static" \
    "github.com/opencontainers/runc@$RUNC_VERSION"
}

build_cni() {
  local p pkgs=()
  for p in $CNI_PLUGINS; do
    case $p in
      host-local) pkgs+=("github.com/containernetworking/plugins/plugins/ipam/host-local@$CNI_PLUGINS_VERSION") ;;
      portmap) pkgs+=("github.com/containernetworking/plugins/plugins/meta/portmap@$CNI_PLUGINS_VERSION") ;;
      *) pkgs+=("github.com/containernetworking/plugins/plugins/main/$p@$CNI_PLUGINS_VERSION") ;;
    esac
  done
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install -p "$jobs" \
    -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    "${pkgs[@]}"
}

# helm, for the gpu_operator role's default install method, from the harness's pinned module
# (tests/lab/kube/helm/go.mod), stamped as helm's Makefile stamps it.
helm_mod="$here/../lab/kube/helm"
build_helm() {
  local v
  v="$(cd "$helm_mod" && go list -m -f '{{.Version}}' helm.sh/helm/v3)"
  (cd "$helm_mod" && CGO_ENABLED=0 go build -trimpath -mod=readonly -p "$jobs" \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    -o "$tmp/helm" helm.sh/helm/v3/cmd/helm)
}

# The device-plugin stand-in (tests/lab/standins/device-plugin), static, as its main.go says.
plugin_src="$here/../lab/standins/device-plugin"
build_device-plugin() {
  (cd "$plugin_src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$tmp/nvidia-device-plugin" .)
}

build_pause() {
  cc -Os -static -o "$tmp/pause" "$here/build/pause/pause.c"
  strip "$tmp/pause"
}

sel="${1:-all}"
case $sel in all|kube) build kube "$kube_version" "$(cat "$kube_mod/go.mod" "$kube_mod/go.sum" "$kube_mod/main.go")" -- build_kube ;; esac
case $sel in all|containerd) build containerd "$CONTAINERD_VERSION" -- build_containerd ;; esac
case $sel in all|runc) build runc "$RUNC_VERSION" -- build_runc ;; esac
case $sel in all|cni) build cni "$CNI_PLUGINS_VERSION" "$CNI_PLUGINS" -- build_cni ;; esac
case $sel in all|helm) build helm "$(cat "$helm_mod/go.mod" "$helm_mod/go.sum")" -- build_helm ;; esac
case $sel in all|device-plugin) build device-plugin "$(cd "$plugin_src" && find . -type f | LC_ALL=C sort | xargs cat)" -- build_device-plugin ;; esac
case $sel in all|pause) build pause "$(cat "$here/build/pause/pause.c")" -- build_pause ;; esac
