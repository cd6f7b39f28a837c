#!/usr/bin/env bash
# Evidence for cuda_driver's `preinstalled` path on a real NVIDIA GPU machine (no package
# repositories reachable, driver already loaded, possibly no systemd and no ansible):
#   tests/gpu/preinstalled/run.sh OUT_DIR [BRANCH] [SOURCE]
# SOURCE is preinstalled (the default) or auto (the role's default, which must choose preinstalled
# here: a loaded driver that the role did not install).
# Installs ansible-core from the wheels in .whl/ (see tests/gpu/README.md) when it is not
# importable, runs playbook.yml twice (normal, then --check), and checks that nothing on the
# host changed: dpkg's package list, /etc (checksums) and /usr/local are compared before/after.
# Writes OUT_DIR/preinstalled.txt (the whole log) and OUT_DIR/facts.json; exits non-zero when
# a step fails.
set -euo pipefail
out=${1:?usage: tests/gpu/preinstalled/run.sh OUT_DIR [BRANCH] [SOURCE]}
branch=${2:-580}
source=${3:-preinstalled}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/gpu-preinstalled.XXXXXX)
trap 'rm -rf "$work"' EXIT
exec > >(tee "$out/preinstalled.txt") 2>&1
cd "$repo"
export LC_ALL=C.UTF-8 LANG=C.UTF-8 PYTHONUNBUFFERED=1 ANSIBLE_NOCOLOR=1 ANSIBLE_STDOUT_CALLBACK=default
export PATH=$PATH:/usr/local/nvidia/bin
py=${GPU_TEST_PYTHON:-python3}
step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
SECONDS=0

step "machine"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release || true
echo "kernel: $(uname -r)  arch: $(uname -m)"
echo "python: $($py --version 2>&1)"
echo "init (pid 1): $(cat /proc/1/comm)"
echo "loaded module /sys/module/nvidia/version: $(cat /sys/module/nvidia/version 2>/dev/null || echo none)"
echo "NVIDIA PCI functions (vendor 0x10de): $(grep -l 0x10de /sys/bus/pci/devices/*/vendor 2>/dev/null | wc -l)"
echo "nvidia-smi: $(command -v nvidia-smi || echo none)"
echo "driver packages (dpkg -l '*nvidia*'):"; dpkg -l '*nvidia*' 2>/dev/null | grep -E '^(ii|hi)' || echo "  none installed"
echo "apt sources:"; ls /etc/apt/sources.list.d/ 2>/dev/null; grep -rhE '^(deb|URIs)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || echo "  none"

step "ansible-core"
if ! $py -c 'import ansible' 2>/dev/null; then
  $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" "$repo"/.whl/*.whl
  export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
  playbook=("$py" "$work/site/bin/ansible-playbook")
else
  playbook=(ansible-playbook)
fi
$py -c 'import ansible; print("ansible-core", ansible.__version__)'
mkdir -p "$work/collections/ansible_collections/k3s_gpu"
ln -s "$repo" "$work/collections/ansible_collections/k3s_gpu/node"
# The collections the roles use (kubernetes.core) from .whl/collections when they are not
# installed: the playbook parser resolves every module of the role.
export ANSIBLE_COLLECTIONS_PATH="$work/collections:$repo/.whl/collections" GPU_PREINSTALLED_OUT="$out" GPU_PREINSTALLED_BRANCH="$branch" GPU_PREINSTALLED_SOURCE="$source"

snapshot() {
  { dpkg -l 2>/dev/null | awk '/^[a-z]/ {print $1, $2, $3}'
    find /etc /usr/local -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 md5sum 2>/dev/null
    find /etc /usr/local -xdev -type l -printf '%p -> %l\n' 2>/dev/null | sort
    ls -la /etc/modprobe.d /etc/apt/sources.list.d /etc/apt/preferences.d 2>/dev/null; } > "$1" || true
}
snapshot "$work/before"
failures=0

step "playbook: cuda_driver_source=$source, cuda_driver_branch=$branch"
"${playbook[@]}" -i localhost, tests/gpu/preinstalled/playbook.yml | tee "$work/run1.log" || failures=$((failures + 1))
grep -qE 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$work/run1.log" \
  && echo "RESULT: first run changed=0 failed=0" || { echo "RESULT: first run NOT changed=0/failed=0"; failures=$((failures + 1)); }
if [ "$source" = auto ]; then
  grep -q "cuda_driver_source=auto on localhost: preinstalled (keeping the loaded driver" "$work/run1.log" \
    && echo "RESULT: auto chose preinstalled and said so" || { echo "RESULT: auto did NOT report choosing preinstalled"; failures=$((failures + 1)); }
fi

step "playbook again in check mode"
"${playbook[@]}" -i localhost, --check tests/gpu/preinstalled/playbook.yml | tee "$work/run2.log" || failures=$((failures + 1))
grep -qE 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$work/run2.log" \
  && echo "RESULT: check-mode run changed=0 failed=0" || { echo "RESULT: check-mode run NOT changed=0/failed=0"; failures=$((failures + 1)); }

step "a branch the loaded driver does not belong to must fail with the documented message"
GPU_PREINSTALLED_BRANCH=$((branch + 1)) "${playbook[@]}" -i localhost, tests/gpu/preinstalled/playbook.yml > "$work/run3.log" 2>&1 && rc=0 || rc=$?
if [ "$source" = auto ]; then refusal='cuda_driver_source=auto: localhost runs NVIDIA driver'; else refusal='needs a loaded NVIDIA driver of branch'; fi
grep -E "$refusal" "$work/run3.log" | head -3 || true
if [ "$rc" -ne 0 ] && grep -q "$refusal" "$work/run3.log"; then
  echo "RESULT: branch $((branch + 1)) refused (rc $rc)"
else
  echo "RESULT: branch $((branch + 1)) NOT refused as documented (rc $rc)"; tail -20 "$work/run3.log"; failures=$((failures + 1))
fi

step "host unchanged (dpkg, /etc and /usr/local checksums)"
snapshot "$work/after"
if diff -u "$work/before" "$work/after"; then echo "RESULT: nothing changed"; else echo "RESULT: host CHANGED"; failures=$((failures + 1)); fi

step "facts (facts.json)"
cat "$out/facts.json" 2>/dev/null | head -60 || true
step "done in ${SECONDS} s, ${failures} failed step(s)"
exit $((failures > 0))
