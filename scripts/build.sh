#!/usr/bin/env bash
# Build the collection tarball, check what it contains, install it into a clean
# collections path and check it from there: every module's documentation
# renders and every playbook passes --syntax-check by its FQCN.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
version=$(python -c "import yaml;print(yaml.safe_load(open('galaxy.yml'))['version'])")
out="$REPO_ROOT/.tmp/build"
rm -rf "$out"; mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball="$out/k3s_gpu-node-$version.tar.gz"
test -f "$tarball"
bad=$(tar -tzf "$tarball" | grep -E '^(tests|molecule|\.ci|bench|scripts|\.venv|\.build|\.tmp)(/|$)|^(Makefile|ansible\.cfg|\.ansible-lint|\.yamllint)$' || true)
if [ -n "$bad" ]; then echo "the tarball contains files it must not:"; echo "$bad"; exit 1; fi
echo "tarball: $tarball ($(tar -tzf "$tarball" | wc -l) entries, no tests/, molecule/ or CI files)"

# Install it into a clean path; its dependencies come from the PyPI bundle in
# the virtualenv (Galaxy is unreachable here), hence --no-deps.
# (kept under .tmp/build/installed: `make test` runs the demo from this copy)
inst="$out/installed"
mkdir -p "$inst"
export ANSIBLE_COLLECTIONS_PATH="$inst"
unset ANSIBLE_CONFIG  # the installed copy runs without the checkout's ansible.cfg
ansible-galaxy collection install --force --no-deps -p "$inst" "$tarball" >/dev/null
cd "$inst"
modules=0
for m in "$inst"/ansible_collections/k3s_gpu/node/plugins/modules/*.py; do
  [ -e "$m" ] || continue
  name=$(basename "$m" .py)
  ansible-doc -t module "k3s_gpu.node.$name" > /dev/null
  modules=$((modules + 1))
done
roles=0
for r in "$inst"/ansible_collections/k3s_gpu/node/roles/*/; do
  [ -e "$r" ] || continue
  ansible-doc -t role "k3s_gpu.node.$(basename "$r")" > /dev/null
  roles=$((roles + 1))
done
printf 'all:\n  children:\n    gpu_nodes:\n      hosts: {gpu-1: {}}\n    controller:\n      hosts: {localhost: {ansible_connection: local}}\n' > inventory.yml
playbooks=0
for p in "$inst"/ansible_collections/k3s_gpu/node/playbooks/*.yml; do
  [ -e "$p" ] || continue
  ansible-playbook -i inventory.yml "k3s_gpu.node.$(basename "$p" .yml)" --syntax-check > /dev/null
  playbooks=$((playbooks + 1))
done
echo "build: installed copy checked: $modules module docs, $roles role docs, $playbooks playbooks --syntax-check"
cp "$tarball" "$REPO_ROOT/"

# The AWX execution environment definition: ansible-builder must turn it into a
# build context (the image itself cannot be built here: no registry).
ee=$(mktemp -d "${TMPDIR:-/tmp}/k3s-gpu-ee.XXXXXX")
trap 'rm -rf "$ee"' EXIT
cp "$REPO_ROOT"/{execution-environment.yml,requirements.txt,bindep.txt} "$ee/"
(cd "$ee" && ansible-builder create -f execution-environment.yml -c context >/dev/null)
grep -q kubernetes "$ee/context/_build/requirements.txt"
grep -q 'k3s_gpu.node' "$ee/context/_build/requirements.yml"
# The pinned helm of the default gpu_operator_install_method, checked before it is unpacked
# (tests/unit/test_execution_environment.py checks the step in detail).
grep -q '^ARG HELM_VERSION=v[0-9]' "$ee/context/Containerfile"
grep -q 'sha256sum -c -; tar -xzf /tmp/helm.tar.gz' "$ee/context/Containerfile"
echo "execution environment: ansible-builder create produced $(ls "$ee/context" | tr '\n' ' ')(helm $(sed -n 's/^ARG HELM_VERSION=//p' "$ee/context/Containerfile"), sha256-checked)"
