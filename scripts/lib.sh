# shellcheck shell=bash
# Shared helpers for the project's scripts: cache location and stage timing.
# Caches live outside git, keyed on their inputs, so a fresh clone reuses them.
K3S_GPU_CACHE="${K3S_GPU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k3s-gpu-node}"
export K3S_GPU_CACHE
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# hash_of FILE... : a short content hash of the given files (the cache key).
hash_of() {
  cat "$@" | sha256sum | cut -c1-16
}

# stage NAME CMD... : run CMD, then print how long the stage took.
stage() {
  local name="$1"; shift
  local start end rc
  start=$(date +%s)
  echo "==> [$name] start"
  "$@" 2>&1 | tee -a "${REPO_ROOT}/.tmp/stage.log"; rc=${PIPESTATUS[0]}
  end=$(date +%s)
  echo "==> [$name] $( [ $rc -eq 0 ] && echo ok || echo "FAILED rc=$rc" ) in $((end - start))s"
  echo "$name $((end - start))s rc=$rc" >> "${REPO_ROOT}/.tmp/stage-times.txt"
  return $rc
}
