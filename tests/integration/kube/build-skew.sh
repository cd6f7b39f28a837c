#!/usr/bin/env bash
# Build a second, older kube-apiserver (apiserver-skew/go.mod, Kubernetes v1.35.4)
# for the version-skew tests into $K3S_GPU_CACHE/kube-apiserver-skew-<hash>/, where
# <hash> covers apiserver-skew/go.mod, go.sum and this script. A no-op when that
# directory is complete. Prints the path of the kube-apiserver binary as the last
# line of stdout; start.sh runs it with KUBE_APISERVER_BIN=<that path> (etcd comes
# from build.sh's output, which serves both API server versions).
#
# Environment: K3S_GPU_CACHE, KUBE_BUILD_P and KUBE_BUILD_FORCE=1 as for build.sh.
# Serialised with flock on the output's lock file, so parallel callers build once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib.sh
. "$here/../../../scripts/lib.sh"

mod="$here/apiserver-skew"
key="$(hash_of "$mod/go.mod" "$mod/go.sum" "$here/build-skew.sh")"
out="$K3S_GPU_CACHE/kube-apiserver-skew-$key"
mkdir -p "$K3S_GPU_CACHE"
exec 9>"$out.lock"
flock 9

if [ "${KUBE_BUILD_FORCE:-0}" != 1 ] && [ -x "$out/kube-apiserver" ]; then
  echo "skew kube-apiserver up to date in $out (build 0s)" >&2
  echo "$out/kube-apiserver"
  exit 0
fi

command -v go >/dev/null || { echo "build-skew.sh: go is not installed (need Go >= 1.25)" >&2; exit 1; }

export GOMODCACHE="$K3S_GPU_CACHE/go/mod"
export GOCACHE="$K3S_GPU_CACHE/go/build"
export GOFLAGS="-trimpath -mod=readonly"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
jobs="${KUBE_BUILD_P:-$(nproc)}"

kube_version="$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
kube_major="${kube_version#v}"; kube_major="${kube_major%%.*}"
kube_minor="${kube_version#v*.}"; kube_minor="${kube_minor%%.*}"

tmp="$(mktemp -d "$out.tmp.XXXXXX")"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

# The same version stamps as build.sh (upstream's hack/lib/version.sh): GET /version
# answers gitVersion vX.Y.Z, which is what the k3s_agent preflight compares.
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$kube_major"
  kube_ldflags+=" -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
done
echo "==> building kube-apiserver $kube_version for the skew tests (go build -p $jobs)" >&2
(cd "$mod" && go build -p "$jobs" -ldflags="$kube_ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver)

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "skew kube-apiserver built in $out (build $(( $(date +%s) - start ))s)" >&2
echo "$out/kube-apiserver"
