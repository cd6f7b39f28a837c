#!/usr/bin/env bash
# Run nvidia_smi_facts and gpu_validate on a real NVIDIA GPU machine and collect the evidence.
#
# On the GPU machine, from the repository root (no network there; ansible-core travels as wheels):
#   tests/gpu/run.sh OUT_DIR
# Needs: python3 (3.8+), nvidia-smi, nvcc (/usr/local/cuda/bin), and either ansible-core importable
# or wheels of ansible-core 2.19 and its dependencies in .whl/ (see tests/gpu/README.md);
# kubernetes.core (imported by gpu_validate) from .whl/collections or an installed collection.
# Writes OUT_DIR/run.log and OUT_DIR/results.tar.gz (facts, validation results, raw nvidia-smi
# outputs, comparison, benchmark); exits non-zero when a step fails.
set -euo pipefail

out=${1:?usage: tests/gpu/run.sh OUT_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
cd "$repo"
res=$(mktemp -d /tmp/gpu-results.XXXXXX)
work=$(mktemp -d /tmp/gpu-work.XXXXXX)
finish() {
  rc=$?
  rm -rf "$res/cache"
  tar -C "$res" -czf "$out/results.tar.gz" .
  rm -rf "$work" "$res"
  echo "exit $rc after ${SECONDS} s"
}
trap finish EXIT
exec > >(tee "$out/run.log") 2>&1

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
SECONDS=0
export LC_ALL=C.UTF-8 LANG=C.UTF-8 PYTHONUNBUFFERED=1
export PATH=$PATH:/usr/local/cuda/bin:/usr/local/nvidia/bin
py=${GPU_TEST_PYTHON:-python3}

step "environment"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release || true
  echo "kernel: $(uname -r)"
  echo "python: $($py --version 2>&1) ($(command -v $py))"
  echo "nvidia-smi: $(command -v nvidia-smi)"
  echo "nvcc: $(command -v nvcc || echo none)"
  nvcc --version 2>&1 | tail -n 2 || true
  echo "driver module: $(cat /sys/module/nvidia/version 2>/dev/null || echo unknown)"
} | tee "$res/environment.txt"

step "ansible-core"
if ! $py -c 'import ansible' 2>/dev/null && ls "$repo"/.whl/*.whl >/dev/null 2>&1; then
  t0=$SECONDS
  $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" "$repo"/.whl/*.whl
  export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
  echo "installed wheels from .whl/ into $work/site in $((SECONDS - t0)) s"
fi
$py -c 'import ansible; print("ansible-core", ansible.__version__)'
# The collection under test, and kubernetes.core (gpu_validate imports its auth argument spec).
mkdir -p "$work/collections/ansible_collections/k3s_gpu"
ln -s "$repo" "$work/collections/ansible_collections/k3s_gpu/node"
collections="$work/collections"
if [ -d "$repo/.whl/collections/ansible_collections/kubernetes/core" ]; then
  collections="$collections:$repo/.whl/collections"
fi
export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_NOCOLOR=1 ANSIBLE_STDOUT_CALLBACK=default
export GPU_TEST_OUT=$res
if [ -x "$work/site/bin/ansible-playbook" ]; then playbook=("$py" "$work/site/bin/ansible-playbook"); else playbook=(ansible-playbook); fi

step "raw nvidia-smi outputs"
nvidia-smi -q -x > "$res/nvidia-smi-q.xml"
nvidia-smi -q > "$res/nvidia-smi-q.txt"
nvidia-smi > "$res/nvidia-smi.txt"
query=$($py -c 'import sys; sys.path.insert(0, "tests/gpu"); import compare_facts; print(compare_facts.QUERY)')
nvidia-smi --query-gpu="$query" --format=csv,noheader,nounits > "$res/query-gpu.csv"
nvidia-smi --query-gpu=index,pci.bus_id,compute_cap --format=csv,noheader > "$res/query-compute-cap.csv"
cat "$res/query-gpu.csv"

step "playbook (nvidia_smi_facts, gpu_validate build + device_query + vector_add)"
t0=$SECONDS
failures=0
"${playbook[@]}" -i localhost, tests/gpu/playbook.yml -v 2>&1 | tee "$res/playbook.log" || failures=$((failures + 1))
echo "playbook took $((SECONDS - t0)) s"
# the compiled programs' own output, for the parser tests
for prog in deviceQuery vectorAdd; do
  for bin in "$res"/cache/"$prog"-*/"$prog"; do
    if [ -x "$bin" ]; then "$bin" > "$res/$prog.out" 2>&1 || echo "rc $?" >> "$res/$prog.out"; fi
  done
done

step "edge cases (the module run directly; failures expected where noted)"
modpath="$work/collections:$repo/.whl/collections${PYTHONPATH:+:$PYTHONPATH}"
edge() {
  local name=$1 args=$2; shift 2
  printf '{"ANSIBLE_MODULE_ARGS": %s}\n' "$args" > "$work/$name.json"
  env PYTHONPATH="$modpath" "$@" "$py" plugins/modules/gpu_validate.py "$work/$name.json" > "$res/edge-$name.json" || true
  $py -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("%-28s failed=%s %s" % (sys.argv[2], d.get("failed", False), d.get("msg") or {k: v["reason"] for k, v in d["checks"].items()}))' \
    "$res/edge-$name.json" "$name"
}
edge demo-suite-absent '{"checks": ["device_query"]}'
edge no-visible-device "{\"checks\": [\"device_query\", \"vector_add\"], \"build\": true, \"cache_dir\": \"$res/cache\"}" CUDA_VISIBLE_DEVICES=
edge arch-native "{\"checks\": [\"vector_add\"], \"nvcc_flags\": [\"-arch=native\"], \"cache_dir\": \"$res/cache\"}"
edge pod-needs-node '{"checks": ["pod"]}'
# The node checks' defaults (gpu_health + device_query, build unset): nvcc is on this machine, so the
# bundled deviceQuery is built; with nvcc out of reach (a node with only the driver) it is skipped.
edge defaults "{\"cache_dir\": \"$res/cache-defaults\"}"
edge defaults-check-mode "{\"cache_dir\": \"$res/cache-check\", \"_ansible_check_mode\": true}"
edge driver-only "{\"nvcc_path\": \"/nonexistent/nvcc\", \"cache_dir\": \"$res/cache-driver-only\"}"

step "facts against nvidia-smi's own output"
$py tests/gpu/compare_facts.py "$res" | tee "$res/compare.txt" || failures=$((failures + 1))

step "benchmark: module vs bare nvidia-smi -q -x"
PYTHONPATH="$work/collections${PYTHONPATH:+:$PYTHONPATH}" $py bench/nvidia_smi_facts_bench.py --runs 10 --json "$res/bench.json" | tee "$res/bench.txt" || failures=$((failures + 1))

step "done in ${SECONDS} s, ${failures} failed step(s)"
exit $((failures > 0))
