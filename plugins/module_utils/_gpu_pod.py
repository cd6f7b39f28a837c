# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run the CUDA vectoradd pod on one node through the Kubernetes API and judge it.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.
"""

from __future__ import annotations

import time
import uuid

from ansible_collections.k3s_gpu.node.plugins.module_utils._kube_client import ApiException, body_message

# The pod of the article (and of NVIDIA's GPU Operator documentation):
# https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/getting-started.html
DEFAULT_IMAGE = "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda11.7.1-ubuntu20.04"
CONTAINER = "cuda-vectoradd"
PASS_MARKER = "Test PASSED"
GPU_RESOURCE = "nvidia.com/gpu"
LOG_TAIL_CHARS = 4000
DELETE_WAIT_S = 30


def pod_options():
    """The argument spec of the vectoradd pod's options (doc fragment k3s_gpu.node.gpu_pod), shared by
    gpu_validate and gpu_cluster_check."""
    return dict(
        pod_image=dict(type="str", default=DEFAULT_IMAGE),
        pod_namespace=dict(type="str", default="default", aliases=["namespace"]),
        pod_runtime_class=dict(type="str", default="nvidia", aliases=["runtime_class"]),
    )


def pod_name():
    return "gpu-validate-vectoradd-%s" % uuid.uuid4().hex[:10]


UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def pod_manifest(name, namespace, node_name, image, runtime_class="nvidia", tolerate_unschedulable=False):
    """The vectoradd pod, pinned to `node_name` through the scheduler.

    `tolerate_unschedulable`: also tolerate the taint a cordoned node carries
    (node.kubernetes.io/unschedulable:NoSchedule, which the node lifecycle controller adds for
    spec.unschedulable and the scheduler's TaintToleration plugin checks), so that
    playbooks/upgrade.yml validates a node before it is uncordoned.

    nodeSelector kubernetes.io/hostname (rather than spec.nodeName) keeps the scheduler in
    the test: it must find the node's nvidia.com/gpu allocatable and the toleration.
    restartPolicy is Never (the article's OnFailure would restart a failing container
    forever, so the pod would never report Failed).
    """
    tolerations = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    if tolerate_unschedulable:
        tolerations.append({"key": UNSCHEDULABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "gpu-validate",
                "app.kubernetes.io/component": "vectoradd",
                "app.kubernetes.io/managed-by": "k3s_gpu.node.gpu_validate",
            },
        },
        "spec": {
            "restartPolicy": "Never",
            "runtimeClassName": runtime_class,
            "nodeSelector": {"kubernetes.io/hostname": node_name},
            "tolerations": tolerations,
            "containers": [{
                "name": CONTAINER,
                "image": image,
                "resources": {"limits": {GPU_RESOURCE: "1"}},
            }],
        },
    }


def api_error(exc):
    """A short text for an ApiException: status, reason and the API's message."""
    message = body_message(exc)
    if message is None and getattr(exc, "body", None):
        message = str(exc.body)[:500]
    return "%s %s%s" % (getattr(exc, "status", None), getattr(exc, "reason", None),
                        (": " + message) if message else "")


def _explain_pending(pod):
    """Why a pod is not done: its conditions and container states."""
    notes = []
    status = pod.status
    if status is None:
        return "no status"
    for cond in status.conditions or []:
        if cond.status != "True" and (cond.reason or cond.message):
            notes.append("%s=%s %s: %s" % (cond.type, cond.status, cond.reason or "", cond.message or ""))
    for cstatus in status.container_statuses or []:
        state = cstatus.state
        if state is not None and state.waiting is not None:
            notes.append("container %s waiting: %s %s"
                         % (cstatus.name, state.waiting.reason or "", state.waiting.message or ""))
    if not pod.spec.node_name:
        notes.append("not scheduled to any node")
    return "; ".join(n.strip() for n in notes) or "no condition explains it"


def _terminated(pod):
    for cstatus in (pod.status.container_statuses or []) if pod.status else []:
        if cstatus.name == CONTAINER and cstatus.state is not None and cstatus.state.terminated is not None:
            return cstatus.state.terminated
    return None


def _read_logs(core, name, namespace):
    try:
        text = core.read_namespaced_pod_log(name, namespace, container=CONTAINER)
        return text, None
    except ApiException as exc:
        return None, "cannot read the pod's logs: %s" % api_error(exc)


def _delete(core, name, namespace, clock, sleep):
    """Delete the pod (grace period 0: the validation pod holds nothing) and wait until it is gone."""
    try:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    except ApiException as exc:
        if exc.status == 404:
            return True, None
        return False, "cannot delete pod %s/%s: %s" % (namespace, name, api_error(exc))
    deadline = clock() + DELETE_WAIT_S
    while True:
        try:
            core.read_namespaced_pod(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return True, None
            return False, "cannot confirm the deletion of pod %s/%s: %s" % (namespace, name, api_error(exc))
        if clock() >= deadline:
            return False, "pod %s/%s still exists %ss after its deletion" % (namespace, name, DELETE_WAIT_S)
        sleep(0.5)


def run_pod_check(core, node_name, namespace, image, timeout, check_mode=False, runtime_class="nvidia",
                  name=None, clock=time.monotonic, sleep=time.sleep, poll_interval=1.0, tolerate_unschedulable=False):
    """Create the vectoradd pod, wait for it (bounded by `timeout` seconds), judge its logs, delete it.

    `core` is a kubernetes.client.CoreV1Api. Returns the check's result dict
    (passed, skipped, reason, details).
    """
    name = name or pod_name()
    manifest = pod_manifest(name, namespace, node_name, image, runtime_class, tolerate_unschedulable)
    details = {"pod_name": name, "namespace": namespace, "node_name": node_name, "image": image,
               "runtime_class": runtime_class, "phase": None, "exit_code": None, "logs": None,
               "deleted": None, "elapsed_s": None}
    result = {"passed": False, "skipped": False, "reason": None, "details": details}

    if check_mode:
        # A server-side dry run validates the pod (admission included: the RuntimeClass must
        # exist) without creating it; nothing runs, so the check is reported as skipped.
        details["dry_run"] = True
        try:
            core.create_namespaced_pod(namespace, manifest, dry_run="All")
            result["reason"] = ("check mode: the API server accepted pod %s/%s in a dry run; "
                                "the pod was not created" % (namespace, name))
        except ApiException as exc:
            result["reason"] = "check mode: the API server rejected pod %s/%s in a dry run: %s" % (
                namespace, name, api_error(exc))
        result["skipped"] = True
        return result

    start = clock()
    reasons = []
    try:
        try:
            core.create_namespaced_pod(namespace, manifest)
        except ApiException as exc:
            hint = ""
            if "RuntimeClass" in (exc.body or ""):
                hint = " (the GPU Operator creates RuntimeClass %s; is it installed?)" % runtime_class
            reasons.append("cannot create pod %s/%s: %s%s" % (namespace, name, api_error(exc), hint))
            return result
        deadline = start + timeout
        pod = None
        while True:
            pod = core.read_namespaced_pod(name, namespace)
            phase = pod.status.phase if pod.status else None
            details["phase"] = phase
            if phase in ("Succeeded", "Failed") or clock() >= deadline:
                break
            sleep(max(0.0, min(poll_interval, deadline - clock())))
        term = _terminated(pod)
        if term is not None:
            details["exit_code"] = term.exit_code
        logs, log_error = (None, None)
        if pod.spec.node_name and details["phase"] != "Pending":
            logs, log_error = _read_logs(core, name, namespace)
        if logs is not None:
            details["logs"] = logs[-LOG_TAIL_CHARS:]
        if details["phase"] not in ("Succeeded", "Failed"):
            reasons.append("pod %s/%s did not complete within %ss (phase %s: %s)" % (
                namespace, name, timeout, details["phase"], _explain_pending(pod)))
        elif details["phase"] == "Failed":
            reasons.append("pod %s/%s failed (container exit code %s%s)" % (
                namespace, name, details["exit_code"],
                ", %s" % term.reason if term is not None and term.reason else ""))
        elif log_error:
            reasons.append(log_error)
        elif PASS_MARKER not in (logs or ""):
            reasons.append("pod %s/%s succeeded but its logs lack %r" % (namespace, name, PASS_MARKER))
        else:
            result["passed"] = True
            reasons.append("pod %s/%s on node %s printed %r" % (namespace, name, pod.spec.node_name, PASS_MARKER))
        return result
    finally:
        deleted, delete_error = _delete(core, name, namespace, clock, sleep)
        details["deleted"] = deleted
        details["elapsed_s"] = round(clock() - start, 2)
        if delete_error:
            result["passed"] = False
            reasons.append(delete_error)
        result["reason"] = "; ".join(reasons)
