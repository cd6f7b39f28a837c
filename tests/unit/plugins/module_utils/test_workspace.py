# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_workspace.py: the gpu_workspace role's input rules, objects and readiness
reasons (the filter plugin gpu_workspace calls these functions as they are)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.k3s_gpu.node.plugins.filter.gpu_workspace import FilterModule
from ansible_collections.k3s_gpu.node.plugins.module_utils import _workspace as ws

DEFAULTS = {"state": "present", "gpus": 1, "image": "registry.example.org/ds/code-server-pytorch:1",
            "namespace_prefix": "workspace-", "node_selector": {}, "home_size": "50Gi", "storage_class": "",
            "generate_password": False, "remove_home": False, "resources": {"requests": {"cpu": "1"}}}
SETTINGS = {"runtime_class": "nvidia", "gpu_resource": "nvidia.com/gpu", "port": 8443, "uid": 2001,
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "home_path": "/home/cs-user", "shm_size": "2Gi", "image_pull_policy": "IfNotPresent",
            "image_pull_secrets": [], "ingress_class": "", "ingress_tls_secret": "", "ingress_annotations": {}}
SECRET = "s3cr3t-Pa55word"


def resolve(*workspaces, passwords=None, **defaults):
    return ws.resolve(list(workspaces), dict(DEFAULTS, **defaults), passwords)


def test_defaults_filled_in_and_no_password_in_the_specs():
    out = resolve({"name": "alice", "password": SECRET}, {"name": "bob", "gpus": "0", "generate_password": True})
    assert out["problems"] == []
    alice, bob = out["specs"]
    assert alice == {"name": "alice", "state": "present", "namespace": "workspace-alice", "gpus": 1,
                     "image": DEFAULTS["image"], "node_selector": {}, "home_size": "50Gi", "storage_class": "",
                     "ingress_host": "", "resources": {"requests": {"cpu": "1"}}, "remove_home": False,
                     "password_source": "given"}
    assert bob["gpus"] == 0 and bob["password_source"] == "generate"
    assert SECRET not in json.dumps(out)


def test_password_from_the_awx_dictionary():
    out = resolve({"name": "carol"}, passwords={"carol": SECRET})
    assert out["problems"] == [] and out["specs"][0]["password_source"] == "given"
    assert SECRET not in json.dumps(out)


@pytest.mark.parametrize("workspace, message", [
    ({"name": "Alice_1", "password": "x"}, "the name must be a lowercase DNS label of at most 40"),
    ({"name": "1alice", "password": "x"}, "starting with a letter"),
    ({"name": "a" * 41, "password": "x"}, "at most 40 characters"),
    ({"password": "x"}, "has no name"),
    ({"name": "alice", "gpus": -1, "password": "x"}, "gpus must be a whole number of GPUs, 0 or more"),
    ({"name": "alice", "gpus": "two", "password": "x"}, "gpus must be a whole number"),
    ({"name": "alice", "gpus": True, "password": "x"}, "gpus must be a whole number"),
    ({"name": "alice"}, "has no password source: set its password"),
    ({"name": "alice", "password": ""}, "has no password source"),
    ({"name": "alice", "password": "CHANGE-ME-WITH-ANSIBLE-VAULT"}, "the example inventory's placeholder"),
    ({"name": "alice", "password": "x", "generate_password": True}, "both a password and generate_password"),
    ({"name": "alice", "password": "x", "state": "gone"}, "state must be one of: present, absent"),
    ({"name": "alice", "password": "x", "namespace": "Team_A"}, "is not a valid namespace name"),
    ({"name": "alice", "password": "x", "home_size": "lots"}, "home_size must be a Kubernetes quantity"),
    ({"name": "alice", "password": "x", "ingress_host": "https://alice.example.org/"}, "ingress_host"),
    ({"name": "alice", "password": "x", "node_selector": {"gpu": True}}, "quote true, false and numbers"),
    ({"name": "alice", "password": "x", "colour": "blue"}, "unknown keys colour"),
    ({"name": "alice", "password": "x", "image": ""}, None),
    ("alice", "must be a dictionary"),
])
def test_problems_name_the_workspace_and_what_to_set(workspace, message):
    out = resolve(workspace)
    if message is None:  # the role-wide image fills an empty one in
        assert out["problems"] == []
        return
    assert len(out["problems"]) == 1, out["problems"]
    assert message in out["problems"][0]


def test_no_image_anywhere_is_refused():
    out = resolve({"name": "alice", "password": SECRET}, image="")
    assert "no image: set gpu_workspace_image" in out["problems"][0]
    assert SECRET not in " ".join(out["problems"])


def test_absent_needs_no_password_and_duplicates_are_refused():
    assert resolve({"name": "alice", "state": "absent"})["problems"] == []
    out = resolve({"name": "alice", "password": "x"}, {"name": "alice", "password": "y"})
    assert "appears twice in namespace workspace-alice" in out["problems"][0]


def test_not_a_list():
    assert "must be a list" in ws.resolve({"name": "alice"}, DEFAULTS)["problems"][0]


def node(name, gpus, labels=None):
    alloc = {"cpu": "8"}
    if gpus is not None:
        alloc["nvidia.com/gpu"] = str(gpus)
    return {"metadata": {"name": name, "labels": labels or {}}, "status": {"allocatable": alloc}}


def test_capacity_against_the_nodes_allocatable():
    specs = resolve({"name": "a", "gpus": 2, "password": "x"}, {"name": "b", "gpus": 3, "password": "x"},
                    {"name": "c", "gpus": 0, "password": "x"}, {"name": "d", "gpus": 9, "state": "absent"})["specs"]
    nodes = [node("cpu-1", None), node("gpu-1", 2), node("gpu-2", 1)]
    problems = ws.capacity_problems(specs, nodes)
    assert problems == ["workspace 'b': gpus 3 is more than any node can give: the most any node has is 2 "
                        "(gpu-1). Lower its gpus, or add GPU nodes first"]
    assert "no node has allocatable nvidia.com/gpu" in ws.capacity_problems(specs[:1], [node("cpu-1", None)])[0]
    # The node selector narrows the nodes that count.
    sel = resolve({"name": "a", "gpus": 2, "password": "x", "node_selector": {"gpu.example.com/model": "h200"}})
    problems = ws.capacity_problems(sel["specs"], [node("gpu-1", 2), node("gpu-2", 1, {"gpu.example.com/model": "h200"})])
    assert "the most any node matching node_selector {'gpu.example.com/model': 'h200'} has is 1 (gpu-2)" in problems[0]


def test_gpu_manifests():
    spec = resolve({"name": "alice", "password": SECRET, "gpus": 2, "node_selector": {"k": "v"},
                    "ingress_host": "alice.ws.example.org"})["specs"][0]
    m = ws.manifests(spec, dict(SETTINGS, ingress_class="traefik", ingress_tls_secret="ws-tls"), "123")
    pod = m["deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert m["deployment"]["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["tolerations"] == SETTINGS["tolerations"]
    assert pod["nodeSelector"] == {"k": "v"}
    assert c["resources"] == {"requests": {"cpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}
    assert c["env"] == [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "alice-password", "key": "password"}}}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["securityContext"]["runAsUser"] == 2001 and pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}} in pod["volumes"]
    assert m["deployment"]["spec"]["template"]["metadata"]["annotations"] == {ws.PASSWORD_VERSION_ANNOTATION: "123"}
    assert m["pvc"]["metadata"]["name"] == "alice-home" and m["pvc"]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert m["service"]["spec"]["selector"] == m["deployment"]["spec"]["selector"]["matchLabels"]
    assert m["ingress"]["spec"]["ingressClassName"] == "traefik"
    assert m["ingress"]["spec"]["tls"] == [{"hosts": ["alice.ws.example.org"], "secretName": "ws-tls"}]
    assert m["namespace"]["metadata"] == {"name": "workspace-alice",
                                          "labels": {"app.kubernetes.io/managed-by": ws.MANAGED_BY}}
    assert SECRET not in json.dumps(m)


def test_cpu_only_manifests_have_no_runtime_class_nor_toleration():
    spec = resolve({"name": "bob", "password": "x", "gpus": 0})["specs"][0]
    m = ws.manifests(spec, dict(SETTINGS, shm_size=""))
    pod = m["deployment"]["spec"]["template"]["spec"]
    assert "runtimeClassName" not in pod and "tolerations" not in pod
    assert "limits" not in pod["containers"][0]["resources"]
    assert m["ingress"] is None
    assert [v["name"] for v in pod["volumes"]] == ["home"]
    assert "annotations" not in m["deployment"]["spec"]["template"]["metadata"]


def test_secret_manifest():
    spec = resolve({"name": "alice", "password": "x"})["specs"][0]
    assert ws.secret_manifest(spec, "eA==") == {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "alice-password", "namespace": "workspace-alice", "labels": ws.labels(spec)},
        "data": {"password": "eA=="}}


SPEC = {"name": "alice", "namespace": "workspace-alice", "gpus": 1, "image": "reg/ws:1", "node_selector": {}}


def deployment(ready=False, generation=1, observed=1, conditions=None):
    st = {"observedGeneration": observed, "replicas": 1, "updatedReplicas": 1,
          "readyReplicas": 1 if ready else 0, "availableReplicas": 1 if ready else 0}
    if conditions:
        st["conditions"] = conditions
    return {"metadata": {"name": "alice", "generation": generation}, "spec": {"replicas": 1}, "status": st}


def pod(node_name=None, conditions=None, containers=None, phase="Pending", **status):
    st = dict(status, phase=phase, conditions=conditions or [])
    if containers is not None:
        st["containerStatuses"] = containers
    return {"metadata": {"name": "alice-5d8f-x"}, "spec": {"nodeName": node_name} if node_name else {}, "status": st}


PULLING = {"name": "code-server", "image": "reg/ws:1", "ready": False,
           "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}
STARTED = {"name": "code-server", "ready": False, "restartCount": 2, "state": {"running": {}}}
CRASHING = {"name": "code-server", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
            "lastState": {"terminated": {"exitCode": 127, "reason": "Error"}}}


def test_ready():
    assert ws.deployment_ready(deployment(ready=True))
    assert not ws.deployment_ready(deployment(ready=True, generation=2))
    assert ws.not_ready(deployment(ready=True), [], SPEC) == []


@pytest.mark.parametrize("dep, pods, expected", [
    (None, [], "Deployment alice does not exist"),
    (deployment(observed=0), [], "controller: Deployment alice generation 1 is not observed yet"),
    (deployment(), [], "controller: Deployment alice has no pod yet"),
    (deployment(), [pod()], "scheduling: pod alice-5d8f-x is not scheduled to any node yet (no scheduler decision"),
    (deployment(), [pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."}])],
     "GPU: pod alice-5d8f-x cannot be scheduled: 0/2 nodes are available: 2 Insufficient nvidia.com/gpu. "
     "(it asks for 1 nvidia.com/gpu)"),
    (deployment(), [pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node "
                                                "affinity/selector."}])],
     "scheduling: pod alice-5d8f-x cannot be scheduled: 0/1 nodes are available"),
    (deployment(), [pod("gpu-1", containers=[PULLING])],
     "image pull: container code-server of pod alice-5d8f-x cannot pull reg/ws:1: ImagePullBackOff"),
    (deployment(), [pod("gpu-1", containers=[{"name": "code-server", "ready": False, "state": {"waiting": {
        "reason": "RunContainerError", "message": "nvidia-container-cli: initialization error: nvml error"}}}])],
     "GPU: container code-server of pod alice-5d8f-x cannot start: RunContainerError nvidia-container-cli"),
    (deployment(), [pod("gpu-1", phase="Failed", reason="UnexpectedAdmissionError",
                        message="Allocate failed due to no healthy devices present")],
     "GPU: pod alice-5d8f-x was refused by the node: UnexpectedAdmissionError"),
    (deployment(), [pod("gpu-1", phase="Running", containers=[STARTED])],
     "readiness probe: code-server in pod alice-5d8f-x runs on node gpu-1 but /healthz on port 8443"),
    (deployment(), [pod("gpu-1", containers=[CRASHING])],
     "container: code-server of pod alice-5d8f-x is waiting: CrashLoopBackOff back-off (last exit code 127"),
    (deployment(conditions=[{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                             "message": 'pods "alice-5d8f-" is forbidden: pod rejected: RuntimeClass "nvidia" '
                                        'not found'}]), [],
     "GPU: the ReplicaSet cannot create the pod: pods \"alice-5d8f-\" is forbidden"),
])
def test_not_ready_names_what(dep, pods, expected):
    reasons = ws.not_ready(dep, pods, SPEC, {"gpu_resource": "nvidia.com/gpu", "port": 8443})
    assert len(reasons) == 1, reasons
    assert reasons[0].startswith("workspace alice (namespace workspace-alice): ")
    assert expected in reasons[0], reasons[0]


def test_wait_report_over_the_registered_loops():
    ready = {"item": SPEC, "resources": [deployment(ready=True)]}
    stuck = {"item": dict(SPEC, name="bob", namespace="workspace-bob"), "resources": [deployment()]}
    pods = [{"skipped": True, "item": ready}, {"item": stuck, "resources": [pod()]}]
    reasons = ws.wait_report([ready, stuck], pods)
    assert reasons == ["workspace bob (namespace workspace-bob): scheduling: pod alice-5d8f-x is not scheduled to any "
                       "node yet (no scheduler decision: is kube-scheduler running?)"]
    assert ws.wait_report([ready], [{"skipped": True}]) == []


def test_access():
    spec = resolve({"name": "alice", "password": SECRET})["specs"][0]
    text = ws.access(spec, SETTINGS)
    assert "kubectl -n workspace-alice port-forward service/alice 8443:8443" in text
    assert "kubectl -n workspace-alice get secret alice-password -o jsonpath='{.data.password}' | base64 -d" in text
    spec["ingress_host"] = "alice.ws.example.org"
    assert "open https://alice.ws.example.org/" in ws.access(spec, dict(SETTINGS, ingress_tls_secret="t"))
    assert SECRET not in text


def test_filters_are_the_module_utils_functions():
    f = FilterModule().filters()
    assert set(f) == {"gpu_workspace_resolve", "gpu_workspace_capacity", "gpu_workspace_manifests",
                      "gpu_workspace_secret", "gpu_workspace_ready", "gpu_workspace_not_ready",
                      "gpu_workspace_access", "gpu_workspace_wait_report"}
    assert f["gpu_workspace_resolve"]([{"name": "a", "password": "x"}], DEFAULTS) == resolve({"name": "a", "password": "x"})
    assert f["gpu_workspace_ready"](deployment(ready=True)) is True
