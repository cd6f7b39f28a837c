# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The acceptance checks of the whole-job GPU run (tests/gpu/e2e.sh), on the live cluster.

After site.yml: the node's taint and allocatable nvidia.com/gpu; the article's vectoradd pod
(runtimeClassName nvidia, the toleration, nvidia.com/gpu: 1) logs "Test PASSED" through the
real kubelet; and the article's reasons: without the toleration a GPU pod stays Pending with the
scheduler's taint message, without runtimeClassName nvidia it sees no GPU, and a pod that
tolerates nothing is not scheduled on the node. Writes node.json, pod-*.log, pod-*.json and
checks.json into --out; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

from kubernetes import client, config

TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def pod(name, image, node, runtime_class="nvidia", toleration=True, gpu=True):
    spec = {
        "restartPolicy": "Never",
        "nodeSelector": {"kubernetes.io/hostname": node},
        "containers": [{"name": "cuda-vectoradd", "image": image}],
    }
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    if toleration:
        spec["tolerations"] = [TOLERATION]
    if gpu:
        spec["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "gpu-e2e"}},
            "spec": spec}


def wait_for(core, name, done, deadline):
    while True:
        obj = core.read_namespaced_pod(name, "default")
        if done(obj) or time.monotonic() > deadline:
            return obj
        time.sleep(1)


def finished(obj):
    return obj.status.phase in ("Succeeded", "Failed")


def unschedulable(obj):
    return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
               for c in obj.status.conditions or [])


def scheduled_message(obj):
    for c in obj.status.conditions or []:
        if c.type == "PodScheduled":
            return "%s %s: %s" % (c.status, c.reason or "", c.message or "")
    return "no PodScheduled condition"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--nvidia-smi", type=int, required=True, help="the GPU count nvidia-smi reports")
    parser.add_argument("--timeout", type=int, default=120, help="seconds for all the pods together")
    args = parser.parse_args(argv)
    config.load_kube_config()
    core = client.CoreV1Api()
    api = client.ApiClient()
    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "passed": bool(ok), "detail": detail})
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail))

    node = core.read_node(args.node)
    node_dict = api.sanitize_for_serialization(node)
    with open("%s/node.json" % args.out, "w") as fh:
        json.dump(node_dict, fh, indent=1, sort_keys=True)
    taints = [{k: t.get(k) for k in ("key", "value", "effect")} for t in node_dict["spec"].get("taints", [])]
    check("node has the nvidia.com/gpu=true:NoSchedule taint", TAINT in taints, taints)
    alloc = node_dict["status"].get("allocatable", {}).get("nvidia.com/gpu")
    check("allocatable nvidia.com/gpu equals nvidia-smi's GPU count", alloc == str(args.nvidia_smi),
          "allocatable %s, nvidia-smi %s" % (alloc, args.nvidia_smi))
    ready = [c.status for c in node.status.conditions if c.type == "Ready"]
    check("node is Ready (real kubelet)", ready == ["True"], ready)
    info = node.status.node_info
    check("kubelet and container runtime are the real ones (a kubelet version, containerd 2)",
          re.match(r"^v1\.\d+\.\d+$", info.kubelet_version or "") is not None
          and (info.container_runtime_version or "").startswith("containerd://2."),
          "%s, %s" % (info.kubelet_version, info.container_runtime_version))

    cases = [
        ("article", pod("e2e-article", args.image, args.node), finished),
        ("no-toleration", pod("e2e-no-toleration", args.image, args.node, toleration=False), unschedulable),
        ("no-runtimeclass", pod("e2e-no-runtimeclass", args.image, args.node, runtime_class=None), finished),
        ("tolerates-nothing", pod("e2e-tolerates-nothing", args.image, args.node, runtime_class=None,
                                  toleration=False, gpu=False), unschedulable),
    ]
    for case in cases:
        core.create_namespaced_pod("default", case[1])
    results = {}
    deadline = time.monotonic() + args.timeout
    for label, manifest, done in cases:
        obj = wait_for(core, manifest["metadata"]["name"], done, deadline)
        logs = ""
        if obj.spec.node_name and obj.status.phase in ("Succeeded", "Failed", "Running"):
            logs = core.read_namespaced_pod_log(manifest["metadata"]["name"], "default")
        with open("%s/pod-%s.log" % (args.out, label), "w") as fh:
            fh.write(logs)
        with open("%s/pod-%s.json" % (args.out, label), "w") as fh:
            json.dump(api.sanitize_for_serialization(obj), fh, indent=1, sort_keys=True)
        results[label] = (obj, logs)

    obj, logs = results["article"]
    check("the article's pod logs Test PASSED from the GPU", obj.status.phase == "Succeeded" and "Test PASSED" in logs,
          "phase %s, log: %s" % (obj.status.phase, logs.strip()[-300:]))
    obj = results["no-toleration"][0]
    msg = scheduled_message(obj)
    check("a GPU pod without the toleration stays Pending with the taint message",
          obj.status.phase == "Pending" and unschedulable(obj) and "untolerated taint" in msg, msg)
    obj, logs = results["no-runtimeclass"]
    check("a GPU pod without runtimeClassName nvidia sees no GPU (its vectorAdd fails)",
          obj.status.phase == "Failed" and "Test PASSED" not in logs,
          "phase %s, log: %s" % (obj.status.phase, logs.strip()[-300:]))
    obj = results["tolerates-nothing"][0]
    msg = scheduled_message(obj)
    check("a pod that tolerates nothing is not scheduled on the node",
          obj.status.phase == "Pending" and not obj.spec.node_name and "untolerated taint" in msg, msg)
    for case in cases:
        core.delete_namespaced_pod(case[1]["metadata"]["name"], "default", grace_period_seconds=0)
    with open("%s/checks.json" % args.out, "w") as fh:
        json.dump(checks, fh, indent=1)
    return 0 if all(c["passed"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
