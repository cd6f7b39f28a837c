#!/usr/bin/env bash
# The whole job on a real NVIDIA GPU machine (issue 14): site.yml turns a bare Debian 12
# systemd host with the GPU bound in into a tainted K3s GPU node whose real kubelet, containerd,
# runc and NVIDIA container runtime run the article's vectoradd pod, under a real control plane
# (etcd, kube-apiserver, kube-scheduler, kube-controller-manager) on 127.0.0.1.
#
#   tests/gpu/e2e.sh PAYLOAD_DIR OUT_DIR
#
# PAYLOAD_DIR is what tests/gpu/pack.sh made on the CPU machine: bin-control.tar.xz and
# bin-node.tar.xz (the components of tests/gpu/build.sh), rootfs.tar.xz (tests/gpu/rootfs.sh), mirror.tar.xz (the lab mirror
# tree), python.tar.xz (wheels + collections) and times.txt (the CPU machine's build and pack
# times). Runs as root on the GPU machine (Ubuntu 24.04, python3.12, nvcc, the driver in
# /usr/local/nvidia, no systemd, no network). Writes OUT_DIR/e2e.log and
# OUT_DIR/evidence.tar.gz (tests/gpu/results/e2e-h200/ is its unpacked copy) and exits
# non-zero when a check fails. See tests/gpu/README.md.
# Then, unless GPU_E2E_DAY2=0, the day-2 phase (tests/gpu/day2.sh, issue 18): validate.yml on the
# real node, a planted fault it must name, the GPU-only RuntimeClass; its evidence is the
# tarball's day2/ (tests/gpu/results/day2-h200/).
# Then, unless GPU_E2E_WORKSPACE=0, the GPU workspace phase (tests/gpu/workspace.sh, issue 19):
# playbooks/workspace.yml on the same cluster, with an image built from this machine's own
# PyTorch (GPU_E2E_TORCH_VENV, default /opt/torch/.venv); its evidence is the tarball's
# workspace/ (tests/gpu/results/workspace-h200/).
set -euo pipefail
payload=$(cd "${1:?usage: e2e.sh PAYLOAD_DIR OUT_DIR}" && pwd)
mkdir -p "${2:?usage: e2e.sh PAYLOAD_DIR OUT_DIR}"
out=$(cd "$2" && pwd)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# Everything runs in a private network namespace: 127.0.0.1 is this run's alone, and the
# node (which shares it, as a host shares its own network) cannot disturb the machine's.
if [ -z "${GPU_E2E_IN_NETNS:-}" ]; then
  exec env GPU_E2E_IN_NETNS=1 unshare --net -- "$0" "$@"
fi

W=${GPU_E2E_WORK:-/var/tmp/gpu-e2e}
NODE=gpu-h200                      # the node's host name (and so its Kubernetes node name)
NODE_IP=10.99.0.1                  # its InternalIP, on lo of the private network namespace
VADD_IMAGE=k3s-gpu-e2e.local/cuda-sample:vectoradd-cuda13.0
PAUSE_IMAGE=docker.io/rancher/mirrored-pause:3.6   # K3s's default sandbox image name
PLUGIN_IMAGE=k3s-gpu-e2e.local/k8s-device-plugin:standin
res=$W/evidence
export LC_ALL=C.UTF-8 LANG=C.UTF-8 PYTHONUNBUFFERED=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export PATH=$W/bin:$PATH:/usr/local/cuda/bin:/usr/local/nvidia/bin

mkdir -p "$W"
if ! mountpoint -q "$W"; then mount -t tmpfs -o size=48g,mode=0755 tmpfs "$W"; fi
mkdir -p "$res"
exec > >(tee "$out/e2e.log") 2>&1

SECONDS=0
# The device tool ends a command after 10 minutes: the run keeps its own deadline so that it
# always ends with its evidence packed.
deadline=${GPU_E2E_DEADLINE:-560}
left() { local n=$((deadline - SECONDS - $1)); [ "$n" -gt 30 ] || n=30; echo "$n"; }
failures=0
phase_start=0
phase_name=""
# phase NAME: end the previous phase (its time goes to timings.txt) and start the next.
phase() {
  if [ -n "$phase_name" ]; then
    printf '%-44s %4d s\n' "$phase_name" "$((SECONDS - phase_start))" | tee -a "$res/timings.txt"
  fi
  phase_name=$1; phase_start=$SECONDS
  [ -n "$1" ] && printf '\n=== %s (%s, +%d s)\n' "$1" "$(date -u +%H:%M:%S)" "$SECONDS"
  return 0
}
check() {  # check NAME CONDITION-COMMAND...: record PASS/FAIL in checks.txt
  local name=$1; shift
  if "$@"; then echo "PASS $name" | tee -a "$res/checks.txt"
  else echo "FAIL $name" | tee -a "$res/checks.txt"; failures=$((failures + 1)); fi
}
node_pid=""
cleanup() {
  rc=$?
  phase ""
  set +e
  [ -n "${operator_pid:-}" ] && kill "$operator_pid"
  # What the cluster looked like at the end: nodes, pods and their states, events.
  [ -n "${KUBECONFIG:-}" ] && timeout 30 python3 - > "$res/cluster-state.txt" 2>&1 <<'PY'
from kubernetes import client, config
config.load_kube_config()
core = client.CoreV1Api()
for n in core.list_node().items:
    print("node", n.metadata.name, [(c.type, c.status, c.reason) for c in n.status.conditions],
          "allocatable", n.status.allocatable, "taints", [(t.key, t.value, t.effect) for t in n.spec.taints or []])
for p in core.list_pod_for_all_namespaces().items:
    states = [(c.name, c.state.to_dict() if c.state else None) for c in (p.status.init_container_statuses or []) + (p.status.container_statuses or [])]
    print("pod", p.metadata.namespace, p.metadata.name, p.spec.node_name, p.status.phase, states)
for e in core.list_event_for_all_namespaces().items:
    print("event", e.involved_object.kind, e.involved_object.namespace, e.involved_object.name, e.type, e.reason, (e.message or "")[:300])
PY
  if [ -n "$node_pid" ]; then
    nodesh 'journalctl -u k3s-agent --no-pager -o short-monotonic' > "$res/k3s-agent.journal" 2>&1
    kill -9 "$node_pid"
  fi
  for p in kube-scheduler kube-controller-manager; do [ -f "$W/state/$p.pid" ] && kill "$(cat "$W/state/$p.pid")"; done
  [ -d "$W/state" ] && "$repo/tests/lab/kube/stop.sh" "$W/state" >/dev/null 2>&1
  [ -f "$W/mirror-state/pid" ] && kill "$(cat "$W/mirror-state/pid")"
  for f in "$W"/state/*.log; do [ -f "$f" ] && tail -n 200 "$f" > "$res/$(basename "$f")"; done
  if declare -F workspace_cleanup > /dev/null; then workspace_cleanup || rc=1; fi
  echo "exit $rc after $SECONDS s, $failures failed check(s)"
  cp "$out/e2e.log" "$res/e2e.log" 2>/dev/null
  tar -C "$res" -czf "$out/evidence.tar.gz" .
  exit $rc
}
trap cleanup EXIT

# nodesh CMD: run CMD in the node (all its namespaces; its root, as the connection plugin does).
nodesh() { nsenter --target "$node_pid" --mount --uts --ipc --pid --cgroup -- /bin/sh -c "$1"; }
if [ "${GPU_E2E_DAY2:-1}" = 1 ]; then
  # shellcheck source=tests/gpu/day2.sh
  . "$here/day2.sh"
fi
if [ "${GPU_E2E_WORKSPACE:-1}" = 1 ]; then
  # shellcheck source=tests/gpu/workspace.sh
  . "$here/workspace.sh"
fi

phase "CPU machine: build and pack (from times.txt)"
cat "$payload/times.txt" | tee "$res/cpu-times.txt"
phase_start=$SECONDS  # the CPU machine's times are in cpu-times.txt, not this machine's clock
phase "unpack the payload"
mkdir -p "$W/bin" "$W/node" "$W/mirror" "$W/py"
for part in rootfs.tar.xz mirror.tar.xz python.tar.xz bin-control.tar.xz bin-node.tar.xz; do
  [ -f "$payload/$part" ] || { echo "payload incomplete: no $part in $payload (the machine went cold between the calls?)"; exit 3; }
done
xz -dc "$payload/bin-control.tar.xz" | tar -C "$W/bin" -x
xz -dc "$payload/bin-node.tar.xz" | tar -C "$W/bin" -x
xz -dc "$payload/rootfs.tar.xz" | tar -C "$W/node" -x
xz -dc "$payload/mirror.tar.xz" | tar -C "$W/mirror" -x
xz -dc "$payload/python.tar.xz" | tar -C "$W/py" -x
for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet; do ln -sf kube "$W/bin/$c"; done
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$W/site" "$W"/py/wheels/*.whl
export PYTHONPATH=$W/site
mkdir -p "$W/collections/ansible_collections/k3s_gpu"
ln -sfn "$repo" "$W/collections/ansible_collections/k3s_gpu/node"
export ANSIBLE_COLLECTIONS_PATH="$W/collections:$W/py/collections"
python3 -c 'import ansible, kubernetes; print("ansible-core", ansible.__version__, "kubernetes", kubernetes.__version__)'
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; grep -E '^PRETTY_NAME=' /etc/os-release
  echo "kernel: $(uname -r)"; echo "driver: $(cat /sys/module/nvidia/version)"
  nvidia-smi --query-gpu=index,name,uuid,memory.total --format=csv,noheader
  nvcc --version | tail -n 1
  for b in kubelet containerd runc; do echo "$b: $("$W/bin/$b" --version 2>&1 | head -n 1)"; done
  echo "helm: $("$W/bin/helm" version --short 2>&1)"
} | tee "$res/environment.txt"

phase "network (private namespace: lo + the node's address)"
ip() { chroot "$W/node" /sbin/ip "$@"; }  # the machine has no ip(8); the node's rootfs does
ip link set lo up
ip addr add "$NODE_IP/32" dev lo
ip addr show lo | tee "$res/network.txt"

phase "control plane: etcd, kube-apiserver (tests/lab/kube/start.sh), scheduler, controller-manager"
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077
printf '%s\n' "$token" > "$W/node-token"
# The node authenticates with the cluster token, as user system:node:<name> (the Node
# authoriser's naming), the part K3s's supervisor plays with the agent's join token.
printf '%s,system:node:%s,node-%s,"system:nodes"\n' "$token" "$NODE" "$NODE" > "$W/extra-tokens.csv"
umask 022
KUBE_BIN_DIR=$W/bin KUBE_EXTRA_TOKENS_FILE=$W/extra-tokens.csv "$repo/tests/lab/kube/start.sh" "$W/state" | tail -n 1
# shellcheck disable=SC1091
. "$W/state/cluster.env"
export KUBECONFIG=$W/state/kubeconfig
pki=$W/state/pki
setsid "$W/bin/kube-scheduler" --kubeconfig "$KUBECONFIG" --authentication-kubeconfig "$KUBECONFIG" \
  --authorization-kubeconfig "$KUBECONFIG" --leader-elect=false --bind-address 127.0.0.1 \
  > "$W/state/kube-scheduler.log" 2>&1 < /dev/null &
echo $! > "$W/state/kube-scheduler.pid"
setsid "$W/bin/kube-controller-manager" --kubeconfig "$KUBECONFIG" --authentication-kubeconfig "$KUBECONFIG" \
  --authorization-kubeconfig "$KUBECONFIG" --leader-elect=false --bind-address 127.0.0.1 \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --use-service-account-credentials=false --controllers '*' \
  > "$W/state/kube-controller-manager.log" 2>&1 < /dev/null &
echo $! > "$W/state/kube-controller-manager.pid"
# K3s's server deploys its RuntimeClasses (k3s-io/k3s manifests/runtimes.yaml): nvidia and
# nvidia-experimental, handlers of the same names. The harness plays the server here.
python3 - <<'PY'
from kubernetes import client, config
config.load_kube_config()
node = client.NodeV1Api()
for name in ("nvidia", "nvidia-experimental"):
    body = client.V1RuntimeClass(metadata=client.V1ObjectMeta(name=name, labels={"app.kubernetes.io/managed-by": "k3s-standin-server"}), handler=name)
    node.create_runtime_class(body)
print("RuntimeClasses:", [r.metadata.name for r in node.list_runtime_class().items])
PY

phase "mirror (tests/lab/mirror/server.py) on 127.0.0.1"
mkdir -p "$W/mirror-state"
setsid python3 "$repo/tests/lab/mirror/server.py" "$W/mirror/www" "$W/mirror-state" 0 \
  > "$W/mirror-state/server.log" 2>&1 < /dev/null &
echo $! > "$W/mirror-state/pid"
for _ in $(seq 1 100); do [ -s "$W/mirror-state/port" ] && break; sleep 0.1; done
MIRROR=http://127.0.0.1:$(cat "$W/mirror-state/port")
echo "mirror at $MIRROR"

phase "boot the GPU host: Debian 12 systemd as PID 1 of its own namespaces"
R=$W/node
# The host's preinstalled driver, as on a host where NVIDIA's installer put it: the driver's
# directory bound in, its libraries in the dynamic linker's path. The GPU device nodes come
# with /dev.
mkdir -p "$R/usr/local/nvidia"
echo /usr/local/nvidia/lib64 > "$R/etc/ld.so.conf.d/000-nvidia-driver.conf"
echo "$NODE" > "$R/etc/hostname"
# An air-gapped host: nothing outside the GPU machine is reachable, so the host has no Debian
# apt source (apt's update would fail on it); the NVIDIA sources the roles add are the mirror's.
echo "# air-gapped: no Debian mirror reachable (tests/gpu/e2e.sh)" > "$R/etc/apt/sources.list"
rm -f "$R"/etc/apt/sources.list.d/*
printf '127.0.0.1 localhost\n%s %s\n' "$NODE_IP" "$NODE" > "$R/etc/hosts"
# The components K3s bundles in its binary and unpacks to <data-dir>/data/current/bin
# (k3s-io/k3s pkg/data): the stand-in launcher runs them from there.
kbin=$R/var/lib/rancher/k3s/data/current/bin
mkdir -p "$kbin"
cp "$W/bin/kube" "$W/bin/containerd" "$W/bin/containerd-shim-runc-v2" "$W/bin/ctr" "$W/bin/runc" \
  "$W/bin/bridge" "$W/bin/host-local" "$W/bin/loopback" "$W/bin/portmap" "$kbin/"
ln -sf kube "$kbin/kubelet"
# The kubelet's serving certificate, signed by the cluster CA (K3s's server signs the agent's
# serving-kubelet.crt): the API server verifies it when it reads pod logs. The kubelet loads
# it from its cert dir (/var/lib/kubelet/pki) instead of making a self-signed one.
mkdir -p "$R/var/lib/kubelet/pki"
printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:%s,IP:127.0.0.1,DNS:%s,DNS:localhost\n' \
  "$NODE_IP" "$NODE" > "$W/kubelet.ext"
openssl req -newkey rsa:2048 -nodes -subj "/CN=$NODE" -keyout "$R/var/lib/kubelet/pki/kubelet.key" \
  -out "$W/kubelet.csr" 2>/dev/null
openssl x509 -req -in "$W/kubelet.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
  -extfile "$W/kubelet.ext" -out "$R/var/lib/kubelet/pki/kubelet.crt" 2>/dev/null
chmod 600 "$R/var/lib/kubelet/pki/kubelet.key"
node_pid=$("$here/node.sh" boot "$R" "$NODE" "$res/node-console.log")
nodesh 'systemctl --failed --no-pager; hostname; ls -la /dev/nvidia*; nvidia-smi -L; echo "cgroup subtree: $(cat /sys/fs/cgroup/cgroup.subtree_control)"' | tee "$res/node-boot.txt"

phase "images: vectoradd (nvcc) and pause, from source"
"$here/images.sh" "$W/images" "$W/bin" "$VADD_IMAGE" "$PAUSE_IMAGE" "$PLUGIN_IMAGE"
cp "$W/images/vectoradd.tar" "$W/images/pause.tar" "$W/images/device-plugin.tar" "$R/root/"
# No registry: import the images as soon as the agent's containerd answers (the kubelet
# retries image pulls and sandbox creation with back-off meanwhile), again until containerd
# lists all three (a containerd restarted meanwhile can cut an import short).
(
  ctr='/var/lib/rancher/k3s/data/current/bin/ctr -a /run/k3s/containerd/containerd.sock -n k8s.io'
  for _ in $(seq 1 1200); do
    if nodesh "$ctr images ls -q" > "$W/images.present" 2>/dev/null; then
      missing=0
      for pair in "pause.tar $PAUSE_IMAGE" "vectoradd.tar $VADD_IMAGE" "device-plugin.tar $PLUGIN_IMAGE"; do
        set -- $pair
        if ! grep -qxF "$2" "$W/images.present"; then
          missing=1
          nodesh "$ctr images import /root/$1" >> "$res/image-import.log" 2>&1 || true
        fi
      done
      [ "$missing" = 0 ] && { echo "all images present: $(tr '\n' ' ' < "$W/images.present")" >> "$res/image-import.log"; break; }
    fi
    sleep 0.5
  done
) &
importer=$!
# The GPU workspace's image reads a few GB from disk: built while site.yml runs.
if declare -F workspace_image_start > /dev/null; then workspace_image_start; fi

# --- the inventory a user would write: only the mirror URLs, the kubeconfig, the preinstalled
# driver and the image name differ from the defaults.
mkdir -p "$W/inventory"
cat > "$W/inventory/hosts.yml" <<INV
---
# Written by tests/gpu/e2e.sh: the GPU host (a Debian 12 systemd host in its own namespaces,
# reached with nsenter) and this machine as the controller.
all:
  children:
    gpu_nodes:
      hosts:
        $NODE:
          ansible_connection: community.docker.nsenter
          ansible_nsenter_pid: $node_pid
          ansible_python_interpreter: /usr/bin/python3
    controller:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
  vars:
    k3s_gpu_server_url: $KUBE_SERVER
    k3s_gpu_token: "{{ lookup('ansible.builtin.file', '$W/node-token') }}"
    k3s_gpu_kubeconfig: $KUBECONFIG
    k3s_gpu_vectoradd_image: $VADD_IMAGE
    cuda_driver_source: preinstalled
    cuda_driver_repo_url: $MIRROR/compute/cuda/repos
    container_toolkit_repo_url: $MIRROR/libnvidia-container/stable/deb
    container_toolkit_gpgkey_url: $MIRROR/libnvidia-container/gpgkey
    # The lab mirror's TEST keys (tests/lab/mirror/keys/README.md).
    cuda_driver_keyring_fingerprints: [B56699BE8F2F7F5AE0321882F997EB588C11D826]
    container_toolkit_gpgkey_fingerprints: [0E7F3E263BDD6999F4930BA11D6D71E2EBFBF3B4]
    k3s_agent_release_url: $MIRROR/k3s-io/k3s/releases/download
    gpu_operator_chart_repo_url: $MIRROR/helm/nvidia
    # The one value that is not a default: the lab chart is a stand-in without NVIDIA's operator
    # program, and this cluster has no untainted node for it; the harness plays the operator
    # (tests/gpu/operator_standin.py: the operand DaemonSets, run for real by the kubelet),
    # and the role still waits for them (gpu_operator_wait stays true).
    gpu_operator_values:
      operator:
        replicas: 0
INV
cp "$W/inventory/hosts.yml" "$res/inventory.yml"

setsid python3 "$here/operator_standin.py" --namespace gpu-operator --device-plugin-image "$PLUGIN_IMAGE" \
  --vectoradd-image "$VADD_IMAGE" --pause-image "$PAUSE_IMAGE" > "$res/operator-standin.log" 2>&1 < /dev/null &
operator_pid=$!

phase "site.yml, first run (bare GPU host to Test PASSED)"
set +e
timeout "$(left 150)" python3 "$W/site/bin/ansible-playbook" -i "$W/inventory/hosts.yml" "$repo/playbooks/site.yml" \
  > "$res/site-run1.log" 2>&1; rc1=$?
set -e
tail -n 40 "$res/site-run1.log"
check "site.yml first run succeeds (rc $rc1)" test "$rc1" -eq 0
check "first run: the vectoradd pod passed" grep -q 'Test PASSED' "$res/site-run1.log"
agent_ts1=$(nodesh 'systemctl show k3s-agent -p ActiveEnterTimestampMonotonic --value' || true)

phase "site.yml, second run (idempotence)"
set +e
timeout "$(left 90)" python3 "$W/site/bin/ansible-playbook" -i "$W/inventory/hosts.yml" "$repo/playbooks/site.yml" \
  > "$res/site-run2.log" 2>&1; rc2=$?
set -e
tail -n 12 "$res/site-run2.log"
check "site.yml second run succeeds (rc $rc2)" test "$rc2" -eq 0
check "second run: changed=0 on every host" python3 - "$res/site-run2.log" <<'PY'
import re, sys
recap = [l for l in open(sys.argv[1]) if re.match(r"^\S+\s+: ok=", l)]
sys.exit(0 if recap and all(" changed=0 " in l and " failed=0 " in l for l in recap) else 1)
PY
agent_ts2=$(nodesh 'systemctl show k3s-agent -p ActiveEnterTimestampMonotonic --value' || true)
check "second run restarted nothing (k3s-agent active since $agent_ts1, now $agent_ts2)" test "$agent_ts1" = "$agent_ts2"
check "first run: the toolkit install notified the agent restart" \
  grep -qiE 'RUNNING HANDLER \[k3s_gpu.node.(container_toolkit|k3s_agent) : Restart k3s-agent' "$res/site-run1.log"

phase "acceptance: the article's reasons, on the live cluster"
wait "$importer" || true
nodesh 'cat /var/lib/rancher/k3s/agent/etc/containerd/config.toml' > "$res/containerd-config.toml" || true
nodesh 'cat /etc/cdi/*.yaml /var/run/cdi/*.yaml /var/run/cdi/*.json 2>/dev/null' > "$res/cdi-spec.yaml" || true
nodesh 'cat /etc/nvidia-container-runtime/config.toml' > "$res/nvidia-container-runtime-config.toml" || true
nodesh 'cat /etc/rancher/k3s/config.yaml' > "$res/k3s-config.yaml" || true
check "containerd's config (K3s's path) has the nvidia runtime" \
  grep -q "runtimes.'nvidia'" "$res/containerd-config.toml"
set +e
timeout "$(left 15)" python3 "$here/e2e_checks.py" --node "$NODE" --image "$VADD_IMAGE" --out "$res" \
  --timeout "$(left 40)" \
  --nvidia-smi "$(nvidia-smi --query-gpu=uuid --format=csv,noheader | wc -l)"
rc=$?
set -e
check "acceptance checks (e2e_checks.py, see checks.json)" test "$rc" -eq 0
# Its checks decide (checks.txt); a step that fails outright must not cut the rest short.
if declare -F day2_phase > /dev/null; then day2_phase || true; fi
if declare -F workspace_phase > /dev/null; then workspace_phase || true; fi
phase "done"
[ "$failures" -eq 0 ]
