#!/usr/bin/env bash
# Run ansible-test sanity on the collection, offline: copy the tracked tree to
# a temporary ansible_collections/k3s_gpu/node, provide the get-pip replacement,
# and run every sanity test for the controller's Python and the targets'.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/k3s-gpu-sanity.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/ansible_collections/k3s_gpu/node"
mkdir -p "$dest"
# Tracked and new (not ignored) files only: what a release would contain.
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$dest" -xf -
# Collections our plugins import or document from (kubernetes.core's module_utils
# and doc fragments), beside ours, as ansible-test expects them.
for dep in kubernetes/core; do
  mkdir -p "$tmp/ansible_collections/$(dirname "$dep")"
  cp -r "$REPO_ROOT"/.venv/lib/python3*/site-packages/ansible_collections/"$dep" "$tmp/ansible_collections/$dep"
done
# ansible-test wants a git repository (it lists files with git).
git -C "$dest" init -q && git -C "$dest" add -A && git -C "$dest" -c user.email=ci@localhost -c user.name=ci commit -qm sanity
mkdir -p ~/.ansible/test/cache
# The pip versions ansible-test bootstraps are set in its python_requirements.py.
for v in $(grep -ohE "pip='[0-9.]+'" "$REPO_ROOT"/.venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | tr -d "pip='" | sort -u); do
  cp "$REPO_ROOT/scripts/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${v//./_}.py"
done
cd "$dest"
out="$REPO_ROOT/.tmp/sanity.log"
set +e
"$REPO_ROOT/.venv/bin/ansible-test" sanity --color no --requirements --python "${SANITY_PYTHON:-3.11}" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
echo "sanity: $(grep -c '^Running sanity test' "$out") tests run, rc=$rc"
exit "$rc"
