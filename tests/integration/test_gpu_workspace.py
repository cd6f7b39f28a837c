# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/workspace.yml (the gpu_workspace role) through ansible-playbook against the real
kube-apiserver.

Real: kube-apiserver + etcd (every object is validated and stored by it, server-side apply and
its dry runs included), kubernetes.core.k8s / k8s_info, the role, the playbook.

Simulated, said where it is used:
- The cluster has no kube-controller-manager, scheduler nor kubelet. WorkspaceControllers writes
  through the API what the Deployment controller would (its status, once "its" pod is ready);
  where a test needs a pod, it creates the pod from the Deployment's template, as the
  ReplicaSet controller does, and FakeKubelet or the test writes the pod status a scheduler or
  kubelet would (PodScheduled=False, ErrImagePull).
- GPU nodes are registered by kube.kubelet.FakeKubelet with nvidia.com/gpu allocatable.
- Nothing runs code-server or PyTorch here: gpu_workspace_verify_gpu is off (tests/gpu/workspace.md
  says what the GPU run needs).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
import uuid

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from api_helpers import ansible_playbook, Controllers, nvidia_runtime_class, recap
from kube import cluster as kube_cluster_mod

PLAYBOOK = os.path.join(kube_cluster_mod.REPO_ROOT, "playbooks", "workspace.yml")
IMAGE = "registry.example.internal/ds/code-server-pytorch:2.9.0-cuda13.0-cs4.105.1"
GPU_TAINT = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
LABELS = "app.kubernetes.io/name=gpu-workspace"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def run_playbook(kube, extra_vars, tmp_path, check=False, diff=False, expect_rc=0, verbose=False):
    """playbooks/workspace.yml with the controller group = localhost; returns ok/changed/failed and
    the output."""
    inventory = tmp_path / ("inventory-%s.yml" % uuid.uuid4().hex[:6])
    inventory.write_text(yaml.safe_dump({"all": {"children": {"controller": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    stdout = ansible_playbook(kube, PLAYBOOK, dict({"k3s_gpu_kubeconfig": kube.kubeconfig}, **extra_vars),
                              inventory=inventory, check=check, diff=diff, expect_rc=expect_rc,
                              options=["-vv"] if verbose else [], env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
                              timeout=600)
    return recap(stdout)


def role_vars(workspaces, **extra):
    out = {"gpu_workspace_image": IMAGE, "gpu_workspace_workspaces": workspaces,
           "gpu_workspace_wait_timeout": 60, "gpu_workspace_wait_delay": 1, "gpu_workspace_verify_gpu": False}
    out.update(extra)
    return out


def api_state(kube, namespaces):
    """Every object the role could write, in the given namespaces (names and resourceVersions)."""
    api = kube.api_client()
    core, apps, net = client.CoreV1Api(api), client.AppsV1Api(api), client.NetworkingV1Api(api)
    out = []
    for ns in core.list_namespace().items:
        out.append("namespace %s %s" % (ns.metadata.name, ns.metadata.resource_version))
    for ns in namespaces:
        for kind, lister in (("secret", core.list_namespaced_secret), ("pvc", core.list_namespaced_persistent_volume_claim),
                             ("service", core.list_namespaced_service), ("deployment", apps.list_namespaced_deployment),
                             ("ingress", net.list_namespaced_ingress), ("pod", core.list_namespaced_pod)):
            for o in lister(ns).items:
                out.append("%s %s/%s %s" % (kind, ns, o.metadata.name, o.metadata.resource_version))
    return sorted(out)


@pytest.fixture(scope="module")
def runtime_class(kube_cluster):
    return nvidia_runtime_class(kube_cluster)


@pytest.fixture
def gpu_node(fake_kubelet, runtime_class):
    kubelet = fake_kubelet(unique("gpu-node"))
    kubelet.register(gpus=2, taints=GPU_TAINT)
    return kubelet


class WorkspaceControllers(Controllers):
    """The Deployment controller's part (simulation, see the module doc): every Deployment in
    `namespaces` is reported with its one replica updated, ready and available at its current
    generation."""

    def __init__(self, kube, namespaces):
        super().__init__()
        self.apps = client.AppsV1Api(kube.api_client())
        self.namespaces = list(namespaces)

    def step(self):
        for ns in self.namespaces:
            for d in self.apps.list_namespaced_deployment(ns).items:
                st = d.status
                if st is None or st.observed_generation != d.metadata.generation or not st.ready_replicas:
                    self.apps.patch_namespaced_deployment_status(d.metadata.name, ns, {"status": {
                        "observedGeneration": d.metadata.generation, "replicas": 1, "updatedReplicas": 1,
                        "readyReplicas": 1, "availableReplicas": 1}},
                        _content_type="application/merge-patch+json")


def secret_password(kube, ns, name):
    secret = client.CoreV1Api(kube.api_client()).read_namespaced_secret(name + "-password", ns)
    return base64.b64decode(secret.data["password"]).decode()


def test_create_validate_rerun_check_and_remove(kube_cluster, gpu_node, tmp_path):
    """A GPU workspace with a generated password, a CPU-only one with a given password and an
    Ingress: created, validated by the API server, unchanged on a re-run, check mode and --diff
    truthful, the password never in the output, removed keeping the home."""
    alice, bob = unique("alice"), unique("bob")
    given = "given-" + uuid.uuid4().hex
    workspaces = [{"name": alice, "gpus": 1, "generate_password": True},
                  {"name": bob, "gpus": 0, "password": given, "ingress_host": bob + ".ws.example.org"}]
    namespaces = ["workspace-" + alice, "workspace-" + bob]
    variables = role_vars(workspaces)
    core, apps = client.CoreV1Api(kube_cluster.api_client()), client.AppsV1Api(kube_cluster.api_client())
    net = client.NetworkingV1Api(kube_cluster.api_client())

    # Check mode first: nothing exists, nothing is created, and it says what a real run makes.
    before = api_state(kube_cluster, namespaces)
    check = run_playbook(kube_cluster, variables, tmp_path, check=True, diff=True)
    # (the recap counts tasks: every loop over the workspaces is one task)
    assert check["changed"] == 1  # the namespaces (a dry run)
    assert "namespace workspace-%s does not exist yet" % alice in check["stdout"]
    assert api_state(kube_cluster, namespaces) == before

    with WorkspaceControllers(kube_cluster, namespaces):
        first = run_playbook(kube_cluster, variables, tmp_path, diff=True, verbose=True)
        # namespaces, Secrets, PVCs, Deployments, Services, Ingresses
        assert first["changed"] == 6, first["stdout"][-4000:]
        assert "Ready: %s, %s" % (alice, bob) in first["stdout"]
        assert "kubectl -n workspace-%s port-forward service/%s 8443:8443" % (alice, alice) in first["stdout"]
        assert "open http://%s.ws.example.org/" % bob in first["stdout"]
        generated = secret_password(kube_cluster, namespaces[0], alice)
        assert len(generated) == 24
        assert secret_password(kube_cluster, namespaces[1], bob) == given

        dep = apps.read_namespaced_deployment(alice, namespaces[0])
        pod = dep.spec.template.spec
        c = pod.containers[0]
        assert dep.spec.replicas == 1 and dep.spec.strategy.type == "Recreate"
        assert pod.runtime_class_name == "nvidia"
        assert [(t.key, t.operator, t.effect) for t in pod.tolerations] == [("nvidia.com/gpu", "Exists", "NoSchedule")]
        assert c.resources.limits == {"nvidia.com/gpu": "1"}
        assert c.image == IMAGE
        assert pod.security_context.run_as_user == 2001 and pod.security_context.run_as_non_root is True
        assert c.readiness_probe.http_get.path == "/healthz"
        assert [(e.name, e.value_from.secret_key_ref.name) for e in c.env] == [("PASSWORD", alice + "-password")]
        assert c.env[0].value is None
        assert core.read_namespaced_persistent_volume_claim(alice + "-home", namespaces[0]).spec.resources.requests == \
            {"storage": "50Gi"}
        assert core.read_namespaced_service(alice, namespaces[0]).spec.ports[0].port == 8443

        cpu = apps.read_namespaced_deployment(bob, namespaces[1]).spec.template.spec
        assert cpu.runtime_class_name is None and cpu.tolerations is None
        assert "nvidia.com/gpu" not in (cpu.containers[0].resources.limits or {})
        ingress = net.read_namespaced_ingress(bob, namespaces[1])
        assert ingress.spec.rules[0].host == bob + ".ws.example.org"

        # No password in any pod spec, nor anywhere in the output (verbose, with --diff).
        for ns, name in ((namespaces[0], alice), (namespaces[1], bob)):
            spec_json = json.dumps(apps.read_namespaced_deployment(name, ns).to_dict(), default=str)
            assert generated not in spec_json and given not in spec_json
        for secret in (generated, given, base64.b64encode(generated.encode()).decode(),
                       base64.b64encode(given.encode()).decode()):
            assert secret not in first["stdout"]

        # A re-run changes nothing and keeps the generated password.
        second = run_playbook(kube_cluster, variables, tmp_path, diff=True)
        assert second["changed"] == 0, second["stdout"][-6000:]
        assert secret_password(kube_cluster, namespaces[0], alice) == generated

        # Check mode with changes (alice asks for 2 GPUs; bob gets a new password): reported,
        # with a diff, and nothing written.
        rv = apps.read_namespaced_deployment(alice, namespaces[0]).metadata.resource_version
        newpw = "new-" + uuid.uuid4().hex
        more = role_vars([dict(workspaces[0], gpus=2), dict(workspaces[1], password=newpw)])
        check = run_playbook(kube_cluster, more, tmp_path, check=True, diff=True)
        assert check["changed"] == 2, check["stdout"][-6000:]  # the Secrets task, the Deployments task
        assert "nvidia.com/gpu" in check["stdout"]
        assert apps.read_namespaced_deployment(alice, namespaces[0]).metadata.resource_version == rv
        assert secret_password(kube_cluster, namespaces[1], bob) == given
        assert newpw not in check["stdout"]

        # For real, the new password and no ingress_host: the Secret changes, the Deployment rolls
        # (its template annotation) and the Ingress goes; a re-run changes nothing.
        bob_gen = apps.read_namespaced_deployment(bob, namespaces[1]).metadata.generation
        changed_pw = role_vars([workspaces[0], dict(workspaces[1], password=newpw, ingress_host="")])
        real = run_playbook(kube_cluster, changed_pw, tmp_path)
        assert real["changed"] == 3, real["stdout"][-6000:]
        assert secret_password(kube_cluster, namespaces[1], bob) == newpw
        assert apps.read_namespaced_deployment(bob, namespaces[1]).metadata.generation == bob_gen + 1
        assert net.list_namespaced_ingress(namespaces[1]).items == []
        assert newpw not in real["stdout"]
        assert run_playbook(kube_cluster, changed_pw, tmp_path)["changed"] == 0

    # state absent: the workspace goes, its home PVC and namespace stay.
    gone = role_vars([dict(workspaces[0], state="absent"), dict(workspaces[1], state="absent")])
    check = run_playbook(kube_cluster, gone, tmp_path, check=True)
    assert check["changed"] == 1  # the deletions (a dry run)
    assert apps.read_namespaced_deployment(alice, namespaces[0])
    out = run_playbook(kube_cluster, gone, tmp_path)
    assert out["changed"] == 1
    for ns, name in ((namespaces[0], alice), (namespaces[1], bob)):
        assert apps.list_namespaced_deployment(ns).items == []
        assert core.list_namespaced_service(ns).items == []
        assert [s.metadata.name for s in core.list_namespaced_secret(ns).items if s.metadata.name.endswith("-password")] == []
        assert core.read_namespaced_persistent_volume_claim(name + "-home", ns).metadata.deletion_timestamp is None
        assert core.read_namespace(ns).metadata.deletion_timestamp is None
    assert run_playbook(kube_cluster, gone, tmp_path)["changed"] == 0

    # remove_home: the PVC and the namespace the role created go too.
    purge = role_vars([dict(workspaces[0], state="absent", remove_home=True)])
    out = run_playbook(kube_cluster, purge, tmp_path)
    assert out["changed"] == 2
    pvc = core.read_namespaced_persistent_volume_claim(alice + "-home", namespaces[0])
    # No pvc-protection controller nor namespace controller here: both stay Terminating.
    assert pvc.metadata.deletion_timestamp is not None
    assert core.read_namespace(namespaces[0]).metadata.deletion_timestamp is not None


def test_shared_namespace_is_never_deleted(kube_cluster, kube_namespace, tmp_path):
    """A workspace put in a namespace the role did not create: remove_home deletes its PVC only."""
    name = unique("carol")
    ws = {"name": name, "namespace": kube_namespace, "gpus": 0, "password": "pw-" + uuid.uuid4().hex}
    run_playbook(kube_cluster, role_vars([ws], gpu_workspace_wait=False), tmp_path)
    ns = client.CoreV1Api(kube_cluster.api_client()).read_namespace(kube_namespace)
    assert "app.kubernetes.io/managed-by" not in (ns.metadata.labels or {})  # left as it was
    out = run_playbook(kube_cluster, role_vars([dict(ws, state="absent", remove_home=True)]), tmp_path)
    assert out["changed"] == 2  # the workspace's objects, its PVC; not the namespace
    ns = client.CoreV1Api(kube_cluster.api_client()).read_namespace(kube_namespace)
    assert ns.metadata.deletion_timestamp is None


def test_wait_names_what_is_not_ready(kube_cluster, fake_kubelet, runtime_class, tmp_path):
    """Three workspaces stuck three ways within the bound: a pod never scheduled (no scheduler),
    a pod the scheduler cannot place for want of GPUs, a pod whose image cannot be pulled; a
    fourth has no pod at all (no controller created it)."""
    node = fake_kubelet(unique("gpu-node"))
    node.register(gpus=2, taints=GPU_TAINT)
    names = [unique(p) for p in ("sched", "gpu", "pull", "nopod")]
    namespaces = ["workspace-" + n for n in names]
    workspaces = [{"name": n, "gpus": 1, "password": "pw-" + uuid.uuid4().hex} for n in names]
    core = client.CoreV1Api(kube_cluster.api_client())
    apps = client.AppsV1Api(kube_cluster.api_client())
    stop = threading.Event()
    errors = []

    def replicaset_and_kubelet():
        """Plays the ReplicaSet controller (a pod from the template) and the scheduler/kubelet
        status of each case, once its Deployment exists."""
        done = set()
        while not stop.is_set() and len(done) < 3:
            for i, (n, ns) in enumerate(zip(names[:3], namespaces[:3])):
                if n in done:
                    continue
                try:
                    dep = apps.read_namespaced_deployment(n, ns)
                except ApiException:
                    continue
                try:
                    tmpl = dep.spec.template
                    pod = client.V1Pod(metadata=client.V1ObjectMeta(name=n + "-7c9f5d-abcde", labels=tmpl.metadata.labels),
                                       spec=tmpl.spec)
                    core.create_namespaced_pod(ns, pod)
                    if i == 1:
                        core.patch_namespaced_pod_status(pod.metadata.name, ns, {"status": {"conditions": [{
                            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 "
                                       "nodes are available: 1 No preemption victims found for incoming pod."}]}})
                    elif i == 2:
                        node.bind(ns, pod.metadata.name)
                        core.patch_namespaced_pod_status(pod.metadata.name, ns, {"status": {
                            "phase": "Pending", "containerStatuses": [{
                                "name": "code-server", "image": IMAGE, "imageID": "", "ready": False,
                                "restartCount": 0, "state": {"waiting": {
                                    "reason": "ErrImagePull",
                                    "message": "failed to pull and unpack image \"%s\": 404 Not Found" % IMAGE}}}]}})
                    done.add(n)
                except ApiException as exc:
                    errors.append("%s %s" % (exc.status, exc.body))
                    done.add(n)
            stop.wait(0.3)

    player = threading.Thread(target=replicaset_and_kubelet, daemon=True)
    player.start()
    start = time.monotonic()
    try:
        out = run_playbook(kube_cluster, role_vars(workspaces, gpu_workspace_wait_timeout=8), tmp_path,
                           expect_rc=2)["stdout"]
    finally:
        stop.set()
        player.join(10)
    assert not errors, errors
    assert time.monotonic() - start < 150
    assert "Not ready after 8s" in out
    assert ("workspace %s (namespace %s): scheduling: pod %s-7c9f5d-abcde is not scheduled to any node yet"
            % (names[0], namespaces[0], names[0])) in out
    assert ("workspace %s (namespace %s): GPU: pod %s-7c9f5d-abcde cannot be scheduled: 0/1 nodes are available: "
            "1 Insufficient nvidia.com/gpu." % (names[1], namespaces[1], names[1])) in out
    assert ("workspace %s (namespace %s): image pull: container code-server of pod %s-7c9f5d-abcde cannot pull %s: "
            "ErrImagePull" % (names[2], namespaces[2], names[2], IMAGE)) in out
    assert ("workspace %s (namespace %s): controller: Deployment %s generation 1 is not observed yet"
            % (names[3], namespaces[3], names[3])) in out


# The inputs refused whatever the cluster holds are the reliability matrix's (tests/reliability/
# cases.py, ws-*). These two need what only this harness has: GPU nodes with capacity.
BAD = [
    ({"name": "toomany", "gpus": 3, "password": "x"}, {},
     r"workspace 'toomany': gpus 3 is more than any node can give: the most any node has is 2"),
    ({"name": "sel", "gpus": 1, "password": "x", "node_selector": {"gpu.example.com/model": "b200"}}, {},
     r"no node matching node_selector .*has allocatable nvidia\.com/gpu"),
]


@pytest.mark.parametrize("workspace, extra, message", BAD, ids=[b[0]["name"].lower() for b in BAD])
def test_bad_input_refused_before_any_change(kube_cluster, gpu_node, tmp_path, workspace, extra, message):
    namespace = "workspace-" + workspace["name"].lower()
    ok = {"name": unique("fine"), "gpus": 1, "password": "pw-ok"}
    before = api_state(kube_cluster, [namespace, "workspace-" + ok["name"]])
    out = run_playbook(kube_cluster, role_vars([ok, workspace], **extra), tmp_path, expect_rc=2)
    assert re.search(message, out["stdout"]), out["stdout"][-4000:]
    assert out["changed"] == 0
    assert api_state(kube_cluster, [namespace, "workspace-" + ok["name"]]) == before
