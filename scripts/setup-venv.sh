#!/usr/bin/env bash
# Create the project virtualenv in the cache, keyed on tests/constraints.txt,
# and point .venv at it. Warm: a no-op.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
key=$(hash_of "$REPO_ROOT/tests/requirements-dev.txt" "$REPO_ROOT/tests/constraints.txt")
venv="$K3S_GPU_CACHE/venv-$key"
mkdir -p "$K3S_GPU_CACHE"
# One build at a time per cache: checkouts, worktrees and CI jobs share it, and two pip
# runs into one virtualenv break each other. A venv is not relocatable (its scripts name
# their own path), so it is built in place under the lock and marked complete last.
exec 9>"$K3S_GPU_CACHE/venv-build.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
  echo "creating virtualenv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$REPO_ROOT/tests/requirements-dev.txt" -c "$REPO_ROOT/tests/constraints.txt"
  touch "$venv/.complete"
else
  echo "virtualenv $venv is current"
fi
exec 9>&-
ln -sfn "$venv" "$REPO_ROOT/.venv"
# The collection itself, on a collections path at ansible_collections/k3s_gpu/node.
mkdir -p "$REPO_ROOT/.build/collections/ansible_collections/k3s_gpu"
ln -sfn "$REPO_ROOT" "$REPO_ROOT/.build/collections/ansible_collections/k3s_gpu/node"
v=$("$REPO_ROOT/.venv/bin/ansible" --version); echo "${v%%$'\n'*}"
