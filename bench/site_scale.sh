#!/usr/bin/env bash
# Benchmark: the idempotent site.yml on 1 and on 8 lab GPU nodes (forks 8),
# against a playbook that only pings the same hosts. Prints figures; the
# targets (changed=0; 8 nodes under 2.5x one node) are read, not asserted.
#   bench/site_scale.sh [NODES...]    (default: 1 8)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_FORKS=8
declare -A secs
for n in "${@:-1 8}"; do
  for m in $n; do
    # All nodes in one batch (the demo inventory rolls one node at a time).
    out=$(K3S_GPU_DEMO_ARGS="-e k3s_gpu_serial=100%" K3S_GPU_DEMO_PREFIX=k3s-gpu-bench-node K3S_GPU_DEMO_NODES=$m K3S_GPU_DEMO_BENCH=1 K3S_GPU_DEMO_STATE_DIR="$PWD/.tmp/bench-$m" scripts/demo.sh)
    line=$(grep '^bench:' <<<"$out")
    echo "$line"
    grep -q "changed=0 on all" <<<"$out" || echo "bench: nodes=$m: the second run was not changed=0"
    secs[$m]=$(grep -oE 'idempotent_run_s=[0-9]+' <<<"$line" | cut -d= -f2)
  done
done
if [ -n "${secs[1]:-}" ] && [ -n "${secs[8]:-}" ]; then
  echo "bench: 8 nodes / 1 node = $(echo "scale=2; ${secs[8]} / ${secs[1]}" | bc) (target < 2.5)"
fi
