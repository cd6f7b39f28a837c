#!/usr/bin/env bash
# `make demo`: run playbooks/site.yml twice against the local lab and require the
# second run to report changed=0 for every host. The lab, started here and always
# stopped at the end: the vendor mirror, a real kube-apiserver, a Debian 12
# systemd container as the GPU node, and a stand-in for that node's kubelet
# (registers the node when the K3s agent runs; see scripts/demo_kubelet.py).
#
#   scripts/demo.sh [--from-installed COLLECTIONS_PATH]   (make test uses the latter)
#
# K3S_GPU_DEMO_ARGS: more ansible-playbook arguments for both site.yml runs.
# K3S_GPU_DEMO_DAY2=1: then run the day-2 playbooks on the lab: upgrade.yml (K3s
# v1.36.3 to v1.36.4, cordon, drain, uncordon), then reset.yml (node deleted from
# the cluster, agent removed), each checked on the node and through the API.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
pb_dir=playbooks
if [ "${1:-}" = "--from-installed" ]; then
  export ANSIBLE_COLLECTIONS_PATH="$2"
  pb_dir=""
fi
# A playbook of the checkout, or of the installed collection by its FQCN.
pb() { if [ -n "$pb_dir" ]; then echo "$pb_dir/$1.yml"; else echo "k3s_gpu.node.$1"; fi; }
playbook=$(pb site)
extra_args=()
read -r -a extra_args <<< "${K3S_GPU_DEMO_ARGS:-}"
state="${K3S_GPU_DEMO_STATE_DIR:-$REPO_ROOT/.tmp/demo}"
# K3S_GPU_DEMO_NODES=N: N GPU-node containers instead of one (bench/site_scale.sh).
nodes_n="${K3S_GPU_DEMO_NODES:-1}"
# K3S_GPU_DEMO_PREFIX: container names, so a benchmark can run beside a demo.
prefix="${K3S_GPU_DEMO_PREFIX:-k3s-gpu-demo-node}"
nodes=(); for i in $(seq 1 "$nodes_n"); do nodes+=("$prefix$i"); done
node=${nodes[0]}
inventory=inventories/demo
kubelet_pid=""
cleanup() {
  [ -n "$kubelet_pid" ] && kill "$kubelet_pid" 2>/dev/null && wait "$kubelet_pid" 2>/dev/null
  for n in "${nodes[@]}"; do podman rm -f -t 5 "$n" >/dev/null 2>&1 || true; done
  tests/lab/kube/stop.sh "$state/kube" >/dev/null 2>&1 || true
  LAB_MIRROR_STATE="$state/mirror" tests/lab/mirror/stop.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
rm -rf "$state"; mkdir -p "$state"; chmod 700 "$state"

LAB_MIRROR_STATE="$state/mirror" tests/lab/mirror/start.sh >/dev/null
# shellcheck disable=SC1091
. "$state/mirror/env"
tests/lab/kube/start.sh "$state/kube" >/dev/null
# shellcheck disable=SC1091
. "$state/kube/cluster.env"
# Each node's /sys/module is a host directory (empty: no driver loaded), so that the day-2
# step can stand in for the reboot that loads the driver (tests/lab/fake-gpu.sh).
for i in $(seq 1 "$nodes_n"); do
  mkdir -p "$state/sys-module/$prefix$i"
  podman run -d --name "$prefix$i" --hostname "gpu-demo-$i" --systemd=always --network=host \
    -v "$state/sys-module/$prefix$i:/sys/module" localhost/k3s-gpu-lab:debian12 /sbin/init >/dev/null
done
if [ "$nodes_n" -gt 1 ] || [ "$prefix" != k3s-gpu-demo-node ]; then
  # The demo inventory with N hosts, and its group_vars.
  inventory="$state/inventory"; mkdir -p "$inventory"
  cp -r inventories/demo/group_vars "$inventory/"
  python3 - "$nodes_n" "$prefix" > "$inventory/hosts.yml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open("inventories/demo/hosts.yml"))
tmpl = doc["all"]["children"]["gpu_nodes"]["hosts"].pop("k3s-gpu-demo-node1")
for i in range(1, int(sys.argv[1]) + 1):
    doc["all"]["children"]["gpu_nodes"]["hosts"]["%s%d" % (sys.argv[2], i)] = dict(tmpl, k3s_gpu_node_name="gpu-demo-%d" % i)
print(yaml.safe_dump(doc))
PY
fi
# A random cluster token for this demo only, readable by root alone.
(umask 077; python3 -c 'import secrets; print("K10" + secrets.token_hex(24) + "::server:" + secrets.token_hex(16))' > "$state/token")
python scripts/demo_kubelet.py "$state" "${nodes[@]}" > "$state/kubelet.log" 2>&1 &
kubelet_pid=$!
echo "$kubelet_pid" > "$state/demo-kubelet.pid"

export K3S_GPU_DEMO_STATE="$state" LAB_MIRROR_URL K3S_GPU_DEMO_SERVER="$KUBE_SERVER" \
  K3S_GPU_DEMO_HELM="$KUBE_BIN_DIR/helm"
for n in "${nodes[@]}"; do podman exec "$n" systemctl is-system-running --wait >/dev/null || true; done

# Busy CPU seconds of the whole machine (all cores), for the benchmark's figures.
cpu_busy() { awk '/^cpu /{printf "%.1f\n", ($2+$3+$4+$7+$8)/100}' /proc/stat; }
# CPU seconds of this script's finished children: ansible-playbook, its workers and
# the podman commands they run (not the containers' own processes).
cpu_children() { awk '{printf "%.1f\n", ($16+$17)/100}' "/proc/$$/stat"; }
# What check mode may not change, read from the nodes and the API server themselves:
# packages, files under /etc, /usr/local, /var/lib/rancher and /opt, unit states, and the
# cluster's nodes, namespaces and Helm releases.
lab_state() {
  for n in "${nodes[@]}"; do
    podman exec "$n" sh -c 'dpkg-query -W -f "\${Package} \${Version}\n";
      find /etc /usr/local /var/lib/rancher /opt -xdev -printf "%p %s %m %T@\n" 2>/dev/null | sort;
      systemctl list-units --all --no-legend --plain "k3s*" "nvidia*" 2>/dev/null' | sed "s|^|$n |"
  done
  python - "$state/kube/kubeconfig" <<'PY'
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
api = client.CoreV1Api()
print("api nodes", sorted(n.metadata.name for n in api.list_node().items))
print("api namespaces", sorted(n.metadata.name for n in api.list_namespace().items))
print("api helm releases", sorted(s.metadata.name for s in api.list_secret_for_all_namespaces(
    label_selector="owner=helm").items))
PY
}
# check_mode NAME LOG EXPECT: site.yml --check --diff must succeed, leave lab_state as it
# was, and report changes (EXPECT=changes: a fresh node has everything to do) or none
# (EXPECT=none: a converged node has nothing to do).
check_mode() {
  local name=$1 log=$2 expect=$3 before after
  echo "== site.yml --check --diff ($name)"
  before=$(lab_state)
  if ! ansible-playbook -i "$inventory" "$playbook" --check --diff "${extra_args[@]}" > "$state/$log" 2>&1; then
    tail -40 "$state/$log"; echo "demo: site.yml --check failed on the $name lab (log: $state/$log)"; exit 1
  fi
  sed -n '/PLAY RECAP/,$p' "$state/$log" | grep -E '^\S+\s+:'
  after=$(lab_state)
  if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") | head -20
    echo "demo: site.yml --check changed the $name lab"; exit 1
  fi
  local node_changed
  node_changed=$(grep -E "^${nodes[0]}\s+:" "$state/$log" | grep -oE 'changed=[0-9]+' | cut -d= -f2)
  case "$expect" in
    changes) [ "${node_changed:-0}" -gt 0 ] || { echo "demo: --check on a fresh node reported no changes"; exit 1; } ;;
    none) if grep -E '^\S+\s+:\s+ok=' "$state/$log" | grep -vE 'changed=0\s'; then
            echo "demo: --check on the converged lab reported changes"; exit 1; fi ;;
  esac
  echo "   check mode on the $name lab: changed=$node_changed reported on ${nodes[0]}, nothing changed"
}
check_mode fresh check-fresh.log changes

for run in 1 2; do
  echo "== site.yml, run $run"
  start=$(date +%s); cpu_start=$(cpu_busy); children_start=$(cpu_children)
  set +e
  ansible-playbook -i "$inventory" "$playbook" "${extra_args[@]}" > "$state/run$run.log" 2>&1
  rc=$?
  set -e
  # What changed, what failed, and what was skipped for lack of a GPU.
  grep -E '^(changed|fatal|failed):|SKIPPED \(not passed\)' "$state/run$run.log" | cut -c1-200 || true
  secs=$(( $(date +%s) - start )); cpu_s=$(echo "$(cpu_busy) - $cpu_start" | bc)
  controller_cpu_s=$(echo "$(cpu_children) - $children_start" | bc)
  echo "== run $run: rc=$rc in ${secs}s"
  sed -n '/PLAY RECAP/,$p' "$state/run$run.log"
  [ "$rc" -eq 0 ] || { echo "demo: site.yml run $run failed (log: $state/run$run.log)"; exit 1; }
done

# The second run must change nothing on any host.
if [ -n "${K3S_GPU_DEMO_BENCH:-}" ]; then
  # Baseline: a playbook that only pings the same hosts, through the same connection.
  printf -- '---\n- name: Ping\n  hosts: gpu_nodes\n  gather_facts: false\n  tasks:\n    - name: Ping\n      ansible.builtin.ping:\n' > "$state/ping.yml"
  pstart=$(date +%s.%N)
  ansible-playbook -i "$inventory" "$state/ping.yml" > "$state/ping.log" 2>&1
  ping_s=$(echo "$(date +%s.%N) - $pstart" | bc)
  tasks=$(grep -E "^${prefix}1\\s" "$state/run2.log" | grep -oE 'ok=[0-9]+' | cut -d= -f2)
  echo "bench: nodes=$nodes_n forks=${ANSIBLE_FORKS:-5} idempotent_run_s=$secs tasks_per_host=$tasks ping_s=$ping_s ratio=$(echo "scale=1; $secs / $ping_s" | bc) machine_cpu_busy_s=$cpu_s ansible_and_podman_cli_cpu_s=$controller_cpu_s cores=$(nproc)"
fi
if grep -E '^\S+\s+:\s+ok=' "$state/run2.log" | grep -vE 'changed=0\s'; then
  echo "demo: the second run changed something (not idempotent)"; exit 1
fi
hosts=$(grep -cE '^\S+\s+:\s+ok=' "$state/run2.log")
check_mode converged check-converged.log none

# validate.yml: the read-only health check. The lab node has no GPU (the stand-in
# nvidia-smi reports the driver not loaded), so a truthful health check fails on it, with
# the reason and what to do, and changes nothing on any host.
echo "== validate.yml"
before=$(lab_state)
if ansible-playbook -i "$inventory" "$(pb validate)" > "$state/validate.log" 2>&1; then
  echo "demo: validate.yml passed on a lab node without a GPU (log: $state/validate.log)"; exit 1
fi
sed -n '/PLAY RECAP/,$p' "$state/validate.log" | grep -E '^\S+\s+:'
# the YAML result format may fold long messages: search them with the whitespace collapsed
flat=$(tr -s ' \n' '  ' < "$state/validate.log")
grep -qE "driver FAILED no NVIDIA kernel module is loaded .*nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA" <<<"$flat" \
  && grep -q "Load the kernel module (modprobe nvidia) or reboot" <<<"$flat" \
  && grep -qE "validate.yml: [0-9]+ check\(s\) failed: .*check driver: " <<<"$flat" \
  || { tail -30 "$state/validate.log"; echo "demo: validate.yml did not name the missing driver"; exit 1; }
if grep -E '^\S+\s+:\s+ok=' "$state/validate.log" | grep -vE 'changed=0\s'; then
  echo "demo: validate.yml changed something"; exit 1
fi
[ "$before" = "$(lab_state)" ] || { echo "demo: validate.yml changed the lab"; exit 1; }
echo "   validate.yml: the GPU-less lab node fails its driver check with the reason, in the per-node report; nothing changed"
echo
echo "demo summary:"
grep -h "demo kubelet:" "$state/kubelet.log" | sed 's/^/  /'
grep -hoE 'SKIPPED \(not passed\)[^"]*' "$state/run2.log" | sort -u | sed 's/^/  /'
kubectl_nodes=$(python - "$state/kube/kubeconfig" <<'PY'
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
for n in client.CoreV1Api().list_node().items:
    print("  node %s taints %s" % (n.metadata.name, [f"{t.key}={t.value}:{t.effect}" for t in n.spec.taints or []]))
PY
)
echo "$kubectl_nodes"
"$KUBE_BIN_DIR/helm" --kubeconfig "$state/kube/kubeconfig" list -A | sed 's/^/  /'
echo "  node packages: $(podman exec "$node" dpkg-query -W -f '${Package}=${Version} ' \
  nvidia-driver-cuda nvidia-container-toolkit 2>/dev/null)"
echo "  k3s-agent: $(podman exec "$node" systemctl is-active k3s-agent), $(podman exec "$node" /usr/local/bin/k3s --version | sed -n 1p)"
echo "demo: site.yml converged, then changed=0 on all $hosts hosts"

[ -n "${K3S_GPU_DEMO_DAY2:-}" ] || exit 0
# Day 2 on the first node: what upgrade.yml and reset.yml did, read back from the
# node and from the API server (not from the playbooks' own output).
node_api() {  # the node's spec.unschedulable and taints, or "absent"
  python - "$state/kube/kubeconfig" "$1" <<'PY'
import sys
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
config.load_kube_config(sys.argv[1])
try:
    n = client.CoreV1Api().read_node(sys.argv[2])
except ApiException as exc:
    print("absent" if exc.status == 404 else "error %s" % exc.status)
else:
    print("unschedulable=%s taints=%s" % (bool(n.spec.unschedulable), sorted(t.key for t in n.spec.taints or [])))
PY
}
day2() {  # name log args...
  local name=$1 log=$2; shift 2
  echo "== $name"
  if ! ansible-playbook -i "$inventory" --limit "$node" "$@" > "$state/$log" 2>&1; then
    tail -30 "$state/$log"; echo "demo: $name failed (log: $state/$log)"; exit 1
  fi
  sed -n '/PLAY RECAP/,$p' "$state/$log" | grep -E '^\S+\s+:'
}
node_name=gpu-demo-1
# upgrade.yml brings a node back only with its driver loaded and its GPUs allocatable (steps 4
# and 5). The lab node has no GPU: tests/lab/fake-gpu.sh gives it the H200 capture's nvidia-smi
# and a stand-in for the reboot that loads the installed driver, and the demo kubelet reports
# nvidia.com/gpu once that driver is "loaded". The GPU check is nvidia-smi's health; the
# vectoradd pod needs a real GPU (tests/gpu runs it on one).
tests/lab/fake-gpu.sh "$node"
day2 "upgrade.yml: K3s v1.36.3+k3s1 -> v1.36.4+k3s1" upgrade.log "$(pb upgrade)" -e k3s_agent_version=v1.36.4+k3s1 \
  -e cuda_driver_reboot_allowed=true -e cuda_driver_reboot_command=/usr/local/sbin/lab-reboot \
  -e 'cuda_driver_boot_time_command="cat /run/lab-boot-id"' -e '{"k3s_gpu_node_checks": ["gpu_health"]}' \
  -e k3s_gpu_validate_pod=false
version=$(podman exec "$node" /usr/local/bin/k3s --version | sed -n 1p)
api=$(node_api "$node_name")
loaded=$(podman exec "$node" sh -c 'cat /var/log/lab-reboots 2>/dev/null' | tr '\n' ' ')
echo "  after upgrade: $version; k3s-agent $(podman exec "$node" systemctl is-active k3s-agent); node $api; lab reboots loaded: ${loaded:-none}"
grep -q 'v1.36.4+k3s1' <<<"$version" || { echo "demo: upgrade.yml did not install v1.36.4+k3s1"; exit 1; }
installed=$(podman exec "$node" dpkg-query -W -f '${Version}' nvidia-driver-cuda | cut -d- -f1)
[ "$loaded" = "$installed " ] \
  || { echo "demo: upgrade.yml should have rebooted once, to load the installed driver $installed"; exit 1; }
[ "$api" = "unschedulable=False taints=['nvidia.com/gpu']" ] \
  || { echo "demo: after upgrade.yml the node should be uncordoned and keep its GPU taint"; exit 1; }
day2 "reset.yml: drain, delete the node, remove the agent" reset.log "$(pb reset)"
api=$(node_api "$node_name")
unit=$(podman exec "$node" systemctl is-active k3s-agent || true)
binary=$(podman exec "$node" sh -c 'ls /usr/local/bin/k3s /etc/rancher/k3s/config.yaml 2>/dev/null' || true)
echo "  after reset: node $api; k3s-agent ${unit:-unknown}; files left: ${binary:-none}"
[ "$api" = absent ] && [ "$unit" != active ] && [ -z "$binary" ] \
  || { echo "demo: reset.yml left the node registered or the agent installed"; exit 1; }
echo "demo: upgrade.yml and reset.yml did what they say"
