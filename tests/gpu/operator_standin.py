# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""STAND-IN for k3s_gpu.node tests: the GPU Operator's part in the whole-job GPU run.

NVIDIA's operator (github.com/NVIDIA/gpu-operator, controllers/object_controls.go) creates the
operand DaemonSets of its ClusterPolicy once it runs; the lab's chart is a stand-in without the
operator's program, so this process does that part, for real pods on the real kubelet: once the
chart's `gpu-operator` Deployment exists in NAMESPACE it creates

- nvidia-device-plugin-daemonset: the device-plugin stand-in (tests/lab/standins/device-plugin),
  registering nvidia.com/gpu with the kubelet through /var/lib/kubelet/device-plugins, as the
  operator's device-plugin DaemonSet does (runtimeClassName nvidia, the operand tolerations);
- nvidia-operator-validator: the operator's validator checks that a CUDA workload runs; here an
  init container runs the vectoradd image with runtimeClassName nvidia (it must pass), then the
  pause container keeps the pod Ready.

The real controller-manager and kubelet do the rest (DaemonSet status, pods). It runs until
SIGTERM; e2e.sh starts it before site.yml and ends it afterwards.

    python3 operator_standin.py --namespace gpu-operator --device-plugin-image IMG --vectoradd-image IMG
                        --pause-image IMG
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
LABEL = {"app.kubernetes.io/managed-by": "gpu-operator-standin"}


def device_plugin(namespace, image):
    name = "nvidia-device-plugin-daemonset"
    labels = dict(LABEL, app=name)
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "annotations": {"k3s-gpu-lab/description": "STAND-IN for k3s_gpu.node tests"}},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "runtimeClassName": "nvidia",
                "priorityClassName": "system-node-critical",
                "tolerations": TOLERATIONS,
                "containers": [{
                    "name": "nvidia-device-plugin",
                    "image": image,
                    # The host's driver directory under another path: the nvidia runtime's CDI
                    # edits mount the driver's libraries at their host paths (here under
                    # /usr/local/nvidia/lib64) and create symlinks next to them, which fails in a
                    # read-only volume mounted at that same path (the H200 run of 2026-12-01).
                    "args": ["--nvidia-smi", "/host-driver/bin/nvidia-smi"],
                    "env": [{"name": "LD_LIBRARY_PATH", "value": "/host-driver/lib64"},
                            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
                            {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"}],
                    # nvidia-smi of the host's driver, and the GPU device nodes it opens.
                    "securityContext": {"privileged": True},
                    "volumeMounts": [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"},
                                     {"name": "driver", "mountPath": "/host-driver", "readOnly": True}],
                }],
                "volumes": [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}},
                            {"name": "driver", "hostPath": {"path": "/usr/local/nvidia"}}],
            }}},
    }


def validator(namespace, vectoradd_image, pause_image):
    name = "nvidia-operator-validator"
    labels = dict(LABEL, app=name)
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "annotations": {"k3s-gpu-lab/description": "STAND-IN for k3s_gpu.node tests"}},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "runtimeClassName": "nvidia",
                "priorityClassName": "system-node-critical",
                "tolerations": TOLERATIONS,
                "initContainers": [{
                    "name": "cuda-validation", "image": vectoradd_image,
                    "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}],
                }],
                "containers": [{"name": "nvidia-operator-validator", "image": pause_image}],
            }}},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespace", default="gpu-operator")
    parser.add_argument("--device-plugin-image", required=True)
    parser.add_argument("--vectoradd-image", required=True)
    parser.add_argument("--pause-image", required=True)
    args = parser.parse_args(argv)
    config.load_kube_config()
    apps = client.AppsV1Api()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    wanted = [device_plugin(args.namespace, args.device_plugin_image),
              validator(args.namespace, args.vectoradd_image, args.pause_image)]
    created = set()
    while not stop:
        try:
            apps.read_namespaced_deployment("gpu-operator", args.namespace)
            for body in wanted:
                name = body["metadata"]["name"]
                if name in created:
                    continue
                try:
                    apps.create_namespaced_daemon_set(args.namespace, body)
                    print("created DaemonSet %s/%s" % (args.namespace, name), flush=True)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                created.add(name)
        except ApiException as exc:
            if exc.status != 404:
                print("API error: %s %s" % (exc.status, exc.reason), file=sys.stderr, flush=True)
        time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
