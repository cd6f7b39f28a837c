#!/usr/bin/env bash
# `make demo`: run playbooks/site.yml twice against the local lab and require the
# second run to report changed=0 for every host. The lab, started here and always
# stopped at the end: the vendor mirror, a real kube-apiserver, a Debian 12
# systemd container as the GPU node, and a stand-in for that node's kubelet
# (registers the node when the K3s agent runs; see scripts/demo_kubelet.py).
#
#   scripts/demo.sh [--from-installed COLLECTIONS_PATH]   (make build uses the latter)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
playbook=playbooks/site.yml
if [ "${1:-}" = "--from-installed" ]; then
  export ANSIBLE_COLLECTIONS_PATH="$2"
  playbook=k3s_gpu.node.site
fi
state="$REPO_ROOT/.tmp/demo"
node=k3s-gpu-demo-node1
kubelet_pid=""
cleanup() {
  [ -n "$kubelet_pid" ] && kill "$kubelet_pid" 2>/dev/null && wait "$kubelet_pid" 2>/dev/null
  podman rm -f -t 5 "$node" >/dev/null 2>&1 || true
  tests/integration/kube/stop.sh "$state/kube" >/dev/null 2>&1 || true
  LAB_MIRROR_STATE="$state/mirror" tests/lab/mirror/stop.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
rm -rf "$state"; mkdir -p "$state"; chmod 700 "$state"

LAB_MIRROR_STATE="$state/mirror" tests/lab/mirror/start.sh >/dev/null
# shellcheck disable=SC1091
. "$state/mirror/env"
tests/integration/kube/start.sh "$state/kube" >/dev/null
# shellcheck disable=SC1091
. "$state/kube/cluster.env"
podman run -d --name "$node" --hostname gpu-demo-1 --systemd=always --network=host \
  localhost/k3s-gpu-lab:debian12 /sbin/init >/dev/null
# A random cluster token for this demo only, readable by root alone.
(umask 077; python3 -c 'import secrets; print("K10" + secrets.token_hex(24) + "::server:" + secrets.token_hex(16))' > "$state/token")
python scripts/demo_kubelet.py "$state" "$node" > "$state/kubelet.log" 2>&1 &
kubelet_pid=$!
echo "$kubelet_pid" > "$state/demo-kubelet.pid"

export K3S_GPU_DEMO_STATE="$state" LAB_MIRROR_URL K3S_GPU_DEMO_SERVER="$KUBE_SERVER" \
  K3S_GPU_DEMO_HELM="$KUBE_BIN_DIR/helm"
podman exec "$node" systemctl is-system-running --wait >/dev/null || true

for run in 1 2; do
  echo "== site.yml, run $run"
  start=$(date +%s)
  set +e
  ansible-playbook -i inventories/demo "$playbook" > "$state/run$run.log" 2>&1
  rc=$?
  set -e
  # What changed, what failed, and what was skipped for lack of a GPU.
  grep -E '^(changed|fatal|failed):|SKIPPED \(not passed\)' "$state/run$run.log" | cut -c1-200 || true
  echo "== run $run: rc=$rc in $(( $(date +%s) - start ))s"
  sed -n '/PLAY RECAP/,$p' "$state/run$run.log"
  [ "$rc" -eq 0 ] || { echo "demo: site.yml run $run failed (log: $state/run$run.log)"; exit 1; }
done

# The second run must change nothing on any host.
if grep -E '^\S+\s+:\s+ok=' "$state/run2.log" | grep -vE 'changed=0\s'; then
  echo "demo: the second run changed something (not idempotent)"; exit 1
fi
hosts=$(grep -cE '^\S+\s+:\s+ok=' "$state/run2.log")
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
echo "  k3s-agent: $(podman exec "$node" systemctl is-active k3s-agent), $(podman exec "$node" /usr/local/bin/k3s --version | head -1)"
echo "demo: site.yml converged, then changed=0 on all $hosts hosts"
