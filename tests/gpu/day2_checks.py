# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The GPU-only RuntimeClass on the live GPU cluster (tests/gpu/day2.sh, issue 18).

After site.yml, a pod that names only ``runtimeClassName: <the class>`` and asks for a GPU (no
toleration, no nodeSelector) must get both from the class's ``scheduling`` (the API server's
RuntimeClass admission merges them, docs/runtime-class.md) and run the article's vectoradd on the
GPU. With the node's GPU label removed, the same pod stays Pending with the scheduler's selector
message: the class does not land pods on nodes without the label. The label is put back before the
script ends. Writes rc-*.json, rc-*.log and rc-checks.json into --out; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from kubernetes import client, config

# The acceptance checks' pod wait, one home (this script runs from tests/gpu, beside it).
from e2e_checks import wait_for


def class_pod(name, image, runtime_class):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "gpu-e2e-day2"}},
            "spec": {"restartPolicy": "Never", "runtimeClassName": runtime_class,
                     "containers": [{"name": "cuda-vectoradd", "image": image,
                                     "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}


def scheduled(obj):
    for c in obj.status.conditions or []:
        if c.type == "PodScheduled":
            return c
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--runtime-class", default="k3s-gpu-nvidia")
    parser.add_argument("--label", default="k3s-gpu.node/gpu=true", help="the node label the class selects")
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=int, default=90)
    args = parser.parse_args(argv)
    config.load_kube_config()
    core = client.CoreV1Api()
    node_api = client.NodeV1Api()
    api = client.ApiClient()
    key, value = args.label.split("=", 1)
    checks = []
    deadline = time.monotonic() + args.timeout

    def check(name, ok, detail):
        checks.append({"check": name, "passed": bool(ok), "detail": detail})
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail))

    def dump(label, obj, logs=""):
        with open("%s/rc-%s.json" % (args.out, label), "w") as fh:
            json.dump(api.sanitize_for_serialization(obj), fh, indent=1, sort_keys=True)
        with open("%s/rc-%s.log" % (args.out, label), "w") as fh:
            fh.write(logs)

    rc = node_api.read_runtime_class(args.runtime_class)
    dump("runtimeclass", rc)
    sched = rc.scheduling
    selector = (sched.node_selector if sched else None) or {}
    tolerations = [(t.key, t.operator, t.effect) for t in (sched.tolerations if sched else None) or []]
    check("RuntimeClass %s: handler nvidia, selects %s, tolerates the GPU taint" % (args.runtime_class, args.label),
          rc.handler == "nvidia" and selector.get(key) == value and any(t[0] == "nvidia.com/gpu" for t in tolerations),
          {"handler": rc.handler, "nodeSelector": selector, "tolerations": tolerations})

    # 1. Without the label the class's pod is not scheduled (a node without GPUs looks like this).
    core.patch_node(args.node, {"metadata": {"labels": {key: None}}})
    try:
        name = "e2e-rc-unlabelled"
        core.create_namespaced_pod("default", class_pod(name, args.image, args.runtime_class))
        obj = wait_for(core, name, lambda o: (scheduled(o) is not None and scheduled(o).status == "False")
                       or o.spec.node_name, deadline)
        cond = scheduled(obj)
        msg = "%s %s: %s" % (cond.status, cond.reason, cond.message) if cond else "no PodScheduled condition"
        dump("unlabelled", obj)
        check("without the node label, the class's pod stays Pending (the selector does not match)",
              not obj.spec.node_name and cond is not None and cond.reason == "Unschedulable"
              and "node affinity/selector" in (cond.message or ""), msg)
        core.delete_namespaced_pod(name, "default", grace_period_seconds=0)
    finally:
        core.patch_node(args.node, {"metadata": {"labels": {key: value}}})

    # 2. With the label: admission merged the selector and the toleration, the pod runs on the GPU.
    name = "e2e-rc-labelled"
    created = core.create_namespaced_pod("default", class_pod(name, args.image, args.runtime_class))
    merged_tolerations = [t.key for t in created.spec.tolerations or []]
    check("admission merged the class's nodeSelector and toleration into a pod that named neither",
          (created.spec.node_selector or {}).get(key) == value and "nvidia.com/gpu" in merged_tolerations,
          {"nodeSelector": created.spec.node_selector, "tolerations": merged_tolerations})
    obj = wait_for(core, name, lambda o: o.status.phase in ("Succeeded", "Failed"), deadline)
    logs = core.read_namespaced_pod_log(name, "default") if obj.spec.node_name else ""
    dump("labelled", obj, logs)
    check("the class's pod ran the vectoradd on %s's GPU (Test PASSED)" % args.node,
          obj.spec.node_name == args.node and obj.status.phase == "Succeeded" and "Test PASSED" in logs,
          "node %s, phase %s, log: %s" % (obj.spec.node_name, obj.status.phase, logs.strip()[-200:]))
    core.delete_namespaced_pod(name, "default", grace_period_seconds=0)
    with open("%s/rc-checks.json" % args.out, "w") as fh:
        json.dump(checks, fh, indent=1)
    return 0 if all(c["passed"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
