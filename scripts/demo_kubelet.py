"""Play the demo node's kubelet: register it with the lab's kube-apiserver.

The lab's K3s agent is a stand-in (tests/lab/standins/k3s): it validates its
configuration and runs, but has no kubelet. When the agent is active in the demo
container, this writes through the real API server what the K3s agent's kubelet
would write at registration: a Node named after the agent's node name, with the
labels and taints of its configuration (K3s applies --node-taint and --node-label
only at that first registration), Ready, and no nvidia.com/gpu (no GPU in the lab).
When the demo's day-2 step has given the node the lab's fake GPU and its stand-in reboot
has "loaded" the driver (STATE_DIR/sys-module/CONTAINER/nvidia/version, see
tests/lab/fake-gpu.sh), it reports the one GPU of that capture, as the device plugin would.

    python scripts/demo_kubelet.py STATE_DIR CONTAINER...

Runs until SIGTERM; scripts/demo.sh starts and stops it by its PID.
"""

import json
import os
import signal
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "lab"))

from kube import cluster as kube_cluster  # noqa: E402
from kube.kubelet import FakeKubelet  # noqa: E402

STANDIN_STATE = "/var/lib/rancher/k3s/agent/standin-state.json"


def agent_state(container):
    """The stand-in agent's own record of its node name, taints and labels (no token)."""
    active = subprocess.run(["podman", "exec", container, "systemctl", "is-active", "k3s-agent"],
                            capture_output=True, text=True, check=False).stdout.strip()
    if active != "active":
        return None
    out = subprocess.run(["podman", "exec", container, "cat", STANDIN_STATE],
                         capture_output=True, text=True, check=False)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def parse_taint(spec):
    key_value, _sep, effect = spec.rpartition(":")
    key, _sep, value = key_value.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def main():
    state_dir, containers = sys.argv[1], sys.argv[2:]
    # The cluster that scripts/demo.sh started with tests/lab/kube/start.sh.
    cluster = kube_cluster.load(os.path.join(state_dir, "kube"))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    kubelets = {}
    gpus_reported = set()
    while not stop:
        for container in containers:
            if kubelets.get(container) is None:
                kubelets[container] = register(cluster, container)
            elif container not in gpus_reported and driver_loaded(state_dir, container):
                gpus_reported.add(container)
                report_gpu(kubelets[container])
        time.sleep(1)
    for kubelet in kubelets.values():
        if kubelet is not None:
            kubelet.close()


def driver_loaded(state_dir, container):
    """Whether the lab's stand-in reboot has loaded the driver on the container's node."""
    return os.path.exists(os.path.join(state_dir, "sys-module", container, "nvidia", "version"))


def report_gpu(kubelet):
    """Report the fake GPU's nvidia.com/gpu, unless the node was deleted meanwhile."""
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
    try:
        kubelet.update_status(gpus=1)
        print("demo kubelet: node %s reports nvidia.com/gpu 1 (the lab's fake GPU)" % kubelet.node_name, flush=True)
    except ApiException as exc:
        if exc.status != 404:
            raise


def register(cluster, container):
    """Register the container's node once its agent runs; None until then."""
    state = agent_state(container)
    kubelet = None
    if state:
        name = state["node_name"]
        taints = [parse_taint(t) for t in state.get("node_taints") or []]
        labels = dict(label.split("=", 1) for label in state.get("node_labels") or [])
        kubelet = FakeKubelet(cluster, name)
        from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
        try:
            kubelet.register(gpus=0, labels=labels, taints=taints)
            print("demo kubelet: registered node %s (taints %s)" % (name, [t["key"] for t in taints]), flush=True)
        except ApiException as exc:
            if exc.status != 409:
                raise
            print("demo kubelet: node %s already registered" % name, flush=True)
    return kubelet


if __name__ == "__main__":
    main()
