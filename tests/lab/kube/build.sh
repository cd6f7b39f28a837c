#!/usr/bin/env bash
# Build the real kube-apiserver, etcd and helm from the pinned upstream Go modules
# (apiserver/go.mod, helm/go.mod), and the skew tests' kube-apiserver stamped as an older
# release (skew/kube-apiserver, see SKEW_VERSION below), into $K3S_GPU_CACHE/kube-bin-<hash>/, where
# <hash> covers go.mod, go.sum, etcd/main.go and this script. A no-op when that
# directory is complete. Links $REPO_ROOT/.tmp/kube/bin to it and prints its path
# as the last line of stdout.
#
# Environment:
#   K3S_GPU_CACHE   cache root (default ~/.cache/k3s-gpu-node); the Go module and
#                   build caches live under it too (go/mod, go/build), so CI reuses them.
#   KUBE_BUILD_P    parallel compile jobs (go build -p), default: number of CPUs.
#   KUBE_BUILD_FORCE=1  rebuild even when the output exists (benchmarks).
#   KUBE_BUILD_NO_LINK=1  leave $REPO_ROOT/.tmp/kube/bin alone (benchmarks).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib.sh
. "$here/../../../scripts/lib.sh"

key="$(hash_of "$here/apiserver/go.mod" "$here/apiserver/go.sum" "$here/apiserver/etcd/main.go" \
  "$here/helm/go.mod" "$here/helm/go.sum" "$here/build.sh")"
out="$K3S_GPU_CACHE/kube-bin-$key"
link="$REPO_ROOT/.tmp/kube/bin"

link_out() {
  if [ "${KUBE_BUILD_NO_LINK:-0}" = 1 ]; then echo "$out"; return; fi
  mkdir -p "$(dirname "$link")"
  ln -sfn "$out" "$link"
  echo "$out"
}

if [ "${KUBE_BUILD_FORCE:-0}" != 1 ] && [ -x "$out/kube-apiserver" ] && [ -x "$out/skew/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/helm" ]; then
  echo "kube binaries up to date in $out (build 0s)" >&2
  link_out
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is not installed (need Go >= 1.26)" >&2; exit 1; }

# One build at a time per cache (checkouts, worktrees and CI jobs share it): a second
# caller waits here, then finds the binaries the first one built.
mkdir -p "$K3S_GPU_CACHE"
exec 9>"$K3S_GPU_CACHE/kube-bin-build.lock"
flock 9
if [ "${KUBE_BUILD_FORCE:-0}" != 1 ] && [ -x "$out/kube-apiserver" ] && [ -x "$out/skew/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/helm" ]; then
  echo "kube binaries up to date in $out (built by another process)" >&2
  link_out
  exit 0
fi

export GOMODCACHE="$K3S_GPU_CACHE/go/mod"
export GOCACHE="$K3S_GPU_CACHE/go/build"
export GOFLAGS="-trimpath -mod=readonly"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
jobs="${KUBE_BUILD_P:-$(nproc)}"

# Versions come from the go.mod files, so they have one source of truth.
modver() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
kube_version="$(modver "$here/apiserver" k8s.io/kubernetes)"
helm_version="$(modver "$here/helm" helm.sh/helm/v3)"

tmp="$(mktemp -d "$K3S_GPU_CACHE/kube-bin-$key.tmp.XXXXXX")"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

# Version stamps as upstream's hack/lib/version.sh and helm's Makefile set them:
# clients (helm's kubeVersion checks, kubernetes.core) read the server's version.
# stamp VERSION: the -ldflags of a kube-apiserver that reports VERSION.
stamp() {
  local v=$1 major minor pkg flags="-s -w"
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}
echo "==> building kube-apiserver $kube_version and etcd (go build -p $jobs)" >&2
(cd "$here/apiserver" && go build -p "$jobs" -ldflags="$(stamp "$kube_version")" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver ./etcd)

# The older server of the version-skew tests (skew/kube-apiserver): the same packages,
# linked again with the version stamp of SKEW_VERSION. Only the link step runs (about 30 s;
# a build of v1.35.4's own sources took 10-14 minutes of make test's budget on 2 cores).
# k8s.io/component-base/compatibility derives the binary and emulation versions from that
# stamp (defaultBuildBinaryVersion), so the server reports gitVersion v1.35.4 in GET /version
# and serves with 1.35's feature-gate defaults: the compatibility-version mechanism of
# KEP-4330 (a 1.36 binary can emulate 1.35). What the k3s_agent preflight compares is
# /version's gitVersion.
SKEW_VERSION=v1.35.4
echo "==> linking kube-apiserver stamped $SKEW_VERSION for the skew tests" >&2
mkdir -p "$tmp/skew"
(cd "$here/apiserver" && go build -p "$jobs" -ldflags="$(stamp "$SKEW_VERSION")" -o "$tmp/skew/" \
  k8s.io/kubernetes/cmd/kube-apiserver)

helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
echo "==> building helm $helm_version" >&2
(cd "$here/helm" && go build -p "$jobs" -ldflags="$helm_ldflags" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm)

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "kube binaries built in $out (build $(( $(date +%s) - start ))s)" >&2
link_out
