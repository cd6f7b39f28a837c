# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_operator role through ansible-playbook against the real kube-apiserver.

Real: kube-apiserver + etcd, helm (built from its pinned Go module), kubernetes.core.helm /
helm_info / k8s / k8s_info, the role, k3s_gpu.node.k3s_taint, the lab mirror serving a Helm
repository laid out like NVIDIA's (index.yaml + charts/).

Stand-ins and simulated parts, said where they are used:
- The chart is the lab's STAND-IN gpu-operator chart (tests/lab/standins/gpu-operator): same
  name, versions and top-level values as NVIDIA's, but it renders only the operator
  Deployment and a ConfigMap holding its merged values.
- The cluster has no kube-controller-manager, kubelet nor GPU operator. OperatorControllers
  (below) writes through the API what they would write: the Deployment controller's status
  of the gpu-operator Deployment, the operand DaemonSets the operator creates, and the
  DaemonSet controller's status once their pods run on the GPU nodes.
- GPU nodes are registered by kube.kubelet.FakeKubelet.
- K3s's helm controller is absent: the HelmChart CRD is created by the test from a minimal
  schema (k3s-io/helm-controller's CRD, reduced), and the test asserts the HelmChart resource
  the role writes, not an installation by K3s.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from api_helpers import ansible_playbook, Controllers, recap, taints_of
from kube import cluster as kube_cluster_mod

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE_PLAYBOOK = os.path.join(HERE, "playbooks", "gpu_operator_role.yml")
INFO_PLAYBOOK = os.path.join(HERE, "playbooks", "gpu_operator_release_info.yml")
K3S_CONTAINERD_CONFIG = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
K3S_CONTAINERD_SOCKET = "/run/k3s/containerd/containerd.sock"


# --- running ansible ----------------------------------------------------------------------
def run_playbook(kube, playbook, extra_vars, tmp_path, check=False, expect_rc=0):
    """The playbook on localhost; its recap (ok, changed, failed) and output. Helm's homes are in tmp_path."""
    env = {var: str(tmp_path / var.lower()) for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"  # one line per message: easy to search
    return recap(ansible_playbook(kube, playbook, extra_vars, check=check, expect_rc=expect_rc, env=env,
                                  timeout=600))


def role_vars(kube, mirror, namespace, **extra):
    out = {
        "gpu_operator_chart_repo_url": mirror.url + "/helm/nvidia",
        "gpu_operator_helm_binary": kube.helm,
        "gpu_operator_kubeconfig": kube.kubeconfig,
        "gpu_operator_namespace": namespace,
        "gpu_operator_release_name": namespace,
        "gpu_operator_wait_timeout": 60,
        "gpu_operator_wait_delay": 1,
    }
    out.update(extra)
    return out


def release_info(kube, namespace, tmp_path):
    """kubernetes.core.helm_info's result for the release (values, revision, chart)."""
    out = tmp_path / ("helm-info-%s.json" % uuid.uuid4().hex)
    run_playbook(kube, INFO_PLAYBOOK, {"info_release": namespace, "info_namespace": namespace,
                                       "info_helm": kube.helm, "info_kubeconfig": kube.kubeconfig,
                                       "info_result_file": str(out)}, tmp_path)
    return json.loads(out.read_text())


def rendered_values(kube, namespace):
    """The values the stand-in chart rendered into its ConfigMap (the merged values)."""
    cm = client.CoreV1Api(kube.api_client()).read_namespaced_config_map("gpu-operator-standin-values", namespace)
    return cm.data["chartVersion"], yaml.safe_load(cm.data["values.yaml"])


# --- the controllers' part ------------------------------------------------------------------
class OperatorControllers(Controllers):
    """Write, through the API, what the absent controllers would (simulation, see module doc).

    - Deployment controller: once it "observes" a Deployment, its status says every replica is
      updated, ready and available at the current generation.
    - GPU operator: once its Deployment exists, it creates the operand DaemonSets `daemonsets`
      (selected to nodes labelled nvidia.com/gpu.present=true, tolerating nvidia.com/gpu).
    - DaemonSet controller + kubelets: each operand DaemonSet is scheduled and ready on
      `gpu_nodes` nodes.
    """

    def __init__(self, kube, namespace, daemonsets, gpu_nodes=1):
        super().__init__()
        self.apps = client.AppsV1Api(kube.api_client())
        self.namespace = namespace
        self.daemonsets = list(daemonsets)
        self.gpu_nodes = gpu_nodes
        self.created = []

    def step(self):
        deployments = self.apps.list_namespaced_deployment(self.namespace).items
        for d in deployments:
            want = d.spec.replicas if d.spec.replicas is not None else 1
            st = d.status
            if st is None or st.observed_generation != d.metadata.generation or (st.available_replicas or 0) != want:
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self.apps.patch_namespaced_deployment_status(d.metadata.name, self.namespace, {"status": {
                    "observedGeneration": d.metadata.generation, "replicas": want, "updatedReplicas": want,
                    "readyReplicas": want, "availableReplicas": want,
                    "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                    "message": "Deployment has minimum availability.",
                                    "lastUpdateTime": now, "lastTransitionTime": now}]}},
                    _content_type="application/merge-patch+json")
        if not any(d.metadata.name == "gpu-operator" for d in deployments):
            return
        existing = {ds.metadata.name: ds for ds in self.apps.list_namespaced_daemon_set(self.namespace).items}
        for name in self.daemonsets:
            if name not in existing:
                self.apps.create_namespaced_daemon_set(self.namespace, self._daemonset(name))
                self.created.append(name)
                continue
            ds = existing[name]
            st = ds.status
            if st is None or st.observed_generation != ds.metadata.generation or st.number_ready != self.gpu_nodes:
                n = self.gpu_nodes
                self.apps.patch_namespaced_daemon_set_status(name, self.namespace, {"status": {
                    "observedGeneration": ds.metadata.generation, "desiredNumberScheduled": n,
                    "currentNumberScheduled": n, "updatedNumberScheduled": n, "numberReady": n,
                    "numberAvailable": n, "numberMisscheduled": 0}}, _content_type="application/merge-patch+json")

    def _daemonset(self, name):
        labels = {"app": name, "app.kubernetes.io/managed-by": "gpu-operator"}
        return {"apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": name, "namespace": self.namespace, "labels": labels},
                "spec": {"selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": labels}, "spec": {
                             "nodeSelector": {"nvidia.com/gpu.present": "true"},
                             "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                             "containers": [{"name": name, "image": "nvcr.io/nvidia/" + name + ":stand-in"}]}}}}


RUNTIME_CLASS = "k3s-gpu-nvidia"
RUNTIME_CLASS_LABEL = ("k3s-gpu.node/gpu", "true")


def assert_gpu_only_runtime_class(kube, node):
    """The role's RuntimeClass exists with its scheduling and the node carries its label; the API
    server's RuntimeClass admission merges that scheduling into a pod that names the class (a
    server-side dry run: nothing is created), and refuses a pod whose nodeSelector conflicts."""
    rc = client.NodeV1Api(kube.api_client()).read_runtime_class(RUNTIME_CLASS)
    assert rc.handler == "nvidia"
    assert rc.metadata.labels["app.kubernetes.io/managed-by"] == "k3s_gpu.node.gpu_operator"
    assert rc.scheduling.node_selector == dict([RUNTIME_CLASS_LABEL])
    assert [(t.key, t.operator, t.effect) for t in rc.scheduling.tolerations] == [
        ("nvidia.com/gpu", "Exists", "NoSchedule")]
    labels = client.CoreV1Api(kube.api_client()).read_node(node).metadata.labels
    assert labels[RUNTIME_CLASS_LABEL[0]] == RUNTIME_CLASS_LABEL[1]
    core = client.CoreV1Api(kube.api_client())
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rc-probe"},
           "spec": {"runtimeClassName": RUNTIME_CLASS, "containers": [{"name": "c", "image": "example.invalid/c:1"}]}}
    admitted = core.create_namespaced_pod("default", pod, dry_run="All")
    assert admitted.spec.node_selector == dict([RUNTIME_CLASS_LABEL])
    assert any(t.key == "nvidia.com/gpu" and t.operator == "Exists" and t.effect == "NoSchedule"
               for t in admitted.spec.tolerations)
    pod["spec"]["nodeSelector"] = {RUNTIME_CLASS_LABEL[0]: "false"}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", pod, dry_run="All")
    assert err.value.status == 403 and "conflict" in err.value.body.lower()


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


# --- tests -------------------------------------------------------------------------------
def test_helm_install_rerun_upgrade_and_remove(kube_cluster, fake_kubelet, lab_mirror, tmp_path):
    """Host toolkit (the default): driver and toolkit off, no containerd env; the repository URL."""
    ns = unique("gpuop-helm")
    node = unique("gpu-node")
    fake_kubelet(node).register(gpus=1, labels={"nvidia.com/gpu.present": "true"})
    variables = role_vars(kube_cluster, lab_mirror, ns, gpu_operator_gpu_nodes=[node])

    with OperatorControllers(kube_cluster, ns, ["nvidia-device-plugin-daemonset", "nvidia-operator-validator"]) as ctl:
        first = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)
        assert first["changed"] >= 1  # the release
        assert "Ready: gpu-operator, nvidia-device-plugin-daemonset, nvidia-operator-validator" in first["stdout"]
        assert sorted(ctl.created) == ["nvidia-device-plugin-daemonset", "nvidia-operator-validator"]
        assert taints_of(kube_cluster, node) == []  # taints are k3s_node_policy's job, not this role's
        assert_gpu_only_runtime_class(kube_cluster, node)

        info = release_info(kube_cluster, ns, tmp_path)
        assert info["status"]["revision"] == "1" or info["status"]["revision"] == 1
        assert info["status"]["chart"] == "gpu-operator-v26.7.0"
        assert info["status"]["values"] == {"driver": {"enabled": False}, "toolkit": {"enabled": False}}
        version, values = rendered_values(kube_cluster, ns)
        assert version == "v26.7.0"
        assert values["driver"]["enabled"] is False and values["toolkit"]["enabled"] is False
        assert values["toolkit"]["env"] == []  # no containerd paths with the host toolkit

        second = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)
        assert second["changed"] == 0, second["stdout"][-4000:]

        check = run_playbook(kube_cluster, ROLE_PLAYBOOK,
                             dict(variables, gpu_operator_values={"operator": {"defaultRuntime": "containerd"}}),
                             tmp_path, check=True)
        assert check["changed"] == 1
        assert release_info(kube_cluster, ns, tmp_path)["status"]["revision"] in ("1", 1)

        third = run_playbook(kube_cluster, ROLE_PLAYBOOK,
                             dict(variables, gpu_operator_values={"operator": {"defaultRuntime": "containerd"}}),
                             tmp_path)
        assert third["changed"] == 1
        info = release_info(kube_cluster, ns, tmp_path)
        assert info["status"]["revision"] in ("2", 2)
        assert info["status"]["values"] == {"driver": {"enabled": False}, "toolkit": {"enabled": False},
                                            "operator": {"defaultRuntime": "containerd"}}
        deploy = client.AppsV1Api(kube_cluster.api_client()).read_namespaced_deployment("gpu-operator", ns)
        env = {e.name: e.value for e in deploy.spec.template.spec.containers[0].env}
        assert env["DEFAULT_RUNTIME"] == "containerd"
        assert deploy.metadata.generation == 2  # the upgrade rolled the Deployment, and the wait saw it ready

    gone = run_playbook(kube_cluster, ROLE_PLAYBOOK, dict(variables, gpu_operator_state="absent"), tmp_path)
    assert gone["changed"] == 3  # release, namespace and the GPU-only RuntimeClass
    with pytest.raises(ApiException) as err:
        client.NodeV1Api(kube_cluster.api_client()).read_runtime_class(RUNTIME_CLASS)
    assert err.value.status == 404
    secrets = client.CoreV1Api(kube_cluster.api_client()).list_namespaced_secret(ns, label_selector="owner=helm")
    assert secrets.items == []
    namespace = client.CoreV1Api(kube_cluster.api_client()).read_namespace(ns)
    # No namespace controller here: a deleted namespace stays Terminating, with its deletion stamped.
    assert namespace.metadata.deletion_timestamp is not None
    again = run_playbook(kube_cluster, ROLE_PLAYBOOK, dict(variables, gpu_operator_state="absent"), tmp_path)
    assert again["changed"] <= 1  # the release is gone; a Terminating namespace is deleted again by k8s


def test_operator_toolkit_from_archive_with_k3s_paths(kube_cluster, fake_kubelet, lab_mirror, tmp_path):
    """Operator-managed toolkit, the article's v25.3.4, from a chart archive on the controller."""
    ns = unique("gpuop-tk")
    node = unique("gpu-node")
    fake_kubelet(node).register(gpus=1, labels={"nvidia.com/gpu.present": "true"})
    archive = tmp_path / "gpu-operator-v25.3.4.tgz"
    shutil.copy(os.path.join(lab_mirror.root, "helm", "nvidia", "charts", archive.name), archive)
    variables = role_vars(kube_cluster, lab_mirror, ns, gpu_operator_chart_ref=str(archive),
                          gpu_operator_chart_version="v25.3.4", gpu_operator_toolkit_enabled=True,
                          gpu_operator_host_toolkit=False, gpu_operator_gpu_nodes=[node])

    check = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path, check=True)
    assert check["changed"] >= 1
    assert client.CoreV1Api(kube_cluster.api_client()).list_namespaced_secret(ns, label_selector="owner=helm").items == []

    operands = ["nvidia-device-plugin-daemonset", "nvidia-operator-validator", "nvidia-container-toolkit-daemonset"]
    with OperatorControllers(kube_cluster, ns, operands):
        run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)
        second = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)
        assert second["changed"] == 0
    info = release_info(kube_cluster, ns, tmp_path)
    assert info["status"]["chart"] == "gpu-operator-v25.3.4"
    assert info["status"]["values"] == {
        "driver": {"enabled": False},
        "toolkit": {"enabled": True, "env": [{"name": "CONTAINERD_CONFIG", "value": K3S_CONTAINERD_CONFIG},
                                             {"name": "CONTAINERD_SOCKET", "value": K3S_CONTAINERD_SOCKET}]}}
    version, values = rendered_values(kube_cluster, ns)
    assert version == "v25.3.4"
    assert all(isinstance(e["value"], str) for e in values["toolkit"]["env"])

    # An archive holding another version than the pinned one is refused after install.
    wrong = run_playbook(kube_cluster, ROLE_PLAYBOOK, dict(variables, gpu_operator_chart_version="v26.7.0"),
                         tmp_path, expect_rc=2)
    assert "runs chart gpu-operator-v25.3.4, not gpu-operator-v26.7.0" in wrong["stdout"]


def test_bounded_wait_names_what_is_not_ready(kube_cluster, fake_kubelet, lab_mirror, tmp_path):
    ns = unique("gpuop-wait")
    node = unique("gpu-node")
    fake_kubelet(node).register(gpus=1)
    variables = role_vars(kube_cluster, lab_mirror, ns, gpu_operator_wait_timeout=4, gpu_operator_gpu_nodes=[node])
    # Nothing plays the controllers: the Deployment is never observed, no DaemonSet appears.
    start = time.monotonic()
    out = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path, expect_rc=2)["stdout"]
    assert time.monotonic() - start < 120
    assert "Not ready after 4s in namespace %s" % ns in out
    assert "Deployment gpu-operator: generation 1 not observed yet (observed 0)" in out
    assert "DaemonSet nvidia-device-plugin-daemonset: not created yet" in out
    assert "DaemonSet nvidia-operator-validator: not created yet" in out

    # The operator runs and creates its DaemonSets, but they are scheduled on no GPU node.
    with OperatorControllers(kube_cluster, ns, ["nvidia-device-plugin-daemonset", "nvidia-operator-validator"],
                             gpu_nodes=0):
        out = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path, expect_rc=2)["stdout"]
    assert "Deployment gpu-operator:" not in out
    assert "DaemonSet nvidia-device-plugin-daemonset: scheduled on 0 node(s), expected at least 1" in out


def _fixture_gpus(name):
    """nvidia_smi_facts' gpus for an nvidia-smi capture (the collection's own parser)."""
    from ansible_collections.k3s_gpu.node.plugins.module_utils import _nvidia_smi  # pylint: disable=import-outside-toplevel
    path = os.path.join(kube_cluster_mod.REPO_ROOT, "tests", "unit", "fixtures", "nvidia-smi", name)
    with open(path, encoding="utf-8") as handle:
        return _nvidia_smi.parse_xml(handle.read())["gpus"]


def test_gpu_sharing_configmap_labels_and_values(kube_cluster, fake_kubelet, lab_mirror, tmp_path):
    """Time-slicing configs and MIG profiles: the ConfigMap, the node labels and the chart values.

    The GPUs are nvidia-smi's real H200 capture (MIG-capable, MIG disabled) and the derived L4 one
    (no MIG mode). Refused values are in tests/reliability/cases.py (op-ts-*, op-mig-*).
    """
    ns = unique("gpuop-share")
    h200, l4 = unique("gpu-h200"), unique("gpu-l4")
    for node in (h200, l4):
        fake_kubelet(node).register(gpus=1)
    configs = {"ts-4": {"replicas": 4},
               "ts-2-strict": {"replicas": 2, "rename_by_default": True, "fail_requests_greater_than_one": True}}
    nodes = [{"name": h200, "mig_config": "all-1g.18gb", "sharing_config": "ts-2-strict",
              "gpus": _fixture_gpus("h200-1gpu-q.xml")},
             {"name": l4, "sharing_config": "ts-4", "gpus": _fixture_gpus("l4-1gpu-derived-no-mig-q.xml")}]
    variables = role_vars(kube_cluster, lab_mirror, ns, gpu_operator_wait=False, gpu_operator_gpu_nodes=nodes,
                          gpu_operator_sharing_configs=configs, gpu_operator_sharing_default="ts-4",
                          gpu_operator_mig_strategy="mixed")
    core = client.CoreV1Api(kube_cluster.api_client())

    def sharing_labels(name):
        labels = core.read_node(name).metadata.labels or {}
        return {k: v for k, v in labels.items() if k in ("nvidia.com/device-plugin.config", "nvidia.com/mig.config")}

    check = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path, check=True)
    assert check["changed"] >= 4  # namespace, ConfigMap, two nodes' labels (and taints, release)
    assert sharing_labels(h200) == {} and sharing_labels(l4) == {}
    assert [n.metadata.name for n in core.list_namespace().items if n.metadata.name == ns] == []

    run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)
    cm = core.read_namespaced_config_map("time-slicing-config", ns)
    assert sorted(cm.data) == ["ts-2-strict", "ts-4"]
    assert yaml.safe_load(cm.data["ts-4"]) == {"version": "v1", "sharing": {"timeSlicing": {
        "renameByDefault": False, "failRequestsGreaterThanOne": False,
        "resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}}
    strict = yaml.safe_load(cm.data["ts-2-strict"])["sharing"]["timeSlicing"]
    assert strict == {"renameByDefault": True, "failRequestsGreaterThanOne": True,
                      "resources": [{"name": "nvidia.com/gpu", "replicas": 2}]}
    assert sharing_labels(h200) == {"nvidia.com/device-plugin.config": "ts-2-strict",
                                    "nvidia.com/mig.config": "all-1g.18gb"}
    assert sharing_labels(l4) == {"nvidia.com/device-plugin.config": "ts-4"}
    # What helm stored and what the chart rendered: devicePlugin.config names the ConfigMap.
    assert release_info(kube_cluster, ns, tmp_path)["status"]["values"] == {
        "driver": {"enabled": False}, "toolkit": {"enabled": False},
        "devicePlugin": {"config": {"name": "time-slicing-config", "default": "ts-4"}}, "mig": {"strategy": "mixed"}}
    _version, values = rendered_values(kube_cluster, ns)
    assert values["devicePlugin"]["config"] == {"create": False, "name": "time-slicing-config", "default": "ts-4"}
    assert values["mig"]["strategy"] == "mixed"

    second = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)
    assert second["changed"] == 0, second["stdout"][-4000:]


# A minimal HelmChart CRD: group, names and the spec fields the role writes, from
# k3s-io/helm-controller's CRD (pkg/apis/helm.cattle.io/v1/types.go); not the full schema.
HELMCHART_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "helmcharts.helm.cattle.io"},
    "spec": {"group": "helm.cattle.io", "scope": "Namespaced",
             "names": {"kind": "HelmChart", "listKind": "HelmChartList", "plural": "helmcharts",
                       "singular": "helmchart"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {
                     "spec": {"type": "object", "properties": {
                         "chart": {"type": "string"}, "chartContent": {"type": "string"},
                         "repo": {"type": "string"}, "version": {"type": "string"},
                         "targetNamespace": {"type": "string"}, "createNamespace": {"type": "boolean"},
                         "valuesContent": {"type": "string"}}},
                     "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


@pytest.fixture
def helmchart_crd(kube_cluster):
    ext = client.ApiextensionsV1Api(kube_cluster.api_client())
    try:
        ext.create_custom_resource_definition(HELMCHART_CRD)
    except ApiException as exc:
        if exc.status != 409:
            raise
    for _attempt in range(50):
        crd = ext.read_custom_resource_definition("helmcharts.helm.cattle.io")
        if any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])):
            break
        time.sleep(0.2)
    return client.CustomObjectsApi(kube_cluster.api_client())


def test_helmchart_mode_writes_the_k3s_resource(kube_cluster, lab_mirror, helmchart_crd, tmp_path):
    """K3s's helm controller is absent: the HelmChart resource itself is what is checked."""
    ns = unique("gpuop-hc")
    variables = role_vars(kube_cluster, lab_mirror, ns, gpu_operator_install_method="helmchart",
                          gpu_operator_wait=False, gpu_operator_toolkit_enabled=True,
                          gpu_operator_host_toolkit=False, gpu_operator_values={"cdi": {"enabled": False}})
    # No helm on the controller is needed in this mode.
    variables["gpu_operator_helm_binary"] = "/nonexistent/helm"

    run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)
    hc = helmchart_crd.get_namespaced_custom_object("helm.cattle.io", "v1", "kube-system", "helmcharts", ns)
    spec = hc["spec"]
    assert spec["chart"] == "gpu-operator"
    assert spec["repo"] == lab_mirror.url + "/helm/nvidia"
    assert spec["version"] == "v26.7.0"
    assert spec["targetNamespace"] == ns and spec["createNamespace"] is True
    assert yaml.safe_load(spec["valuesContent"]) == {
        "cdi": {"enabled": False}, "driver": {"enabled": False},
        "toolkit": {"enabled": True, "env": [{"name": "CONTAINERD_CONFIG", "value": K3S_CONTAINERD_CONFIG},
                                             {"name": "CONTAINERD_SOCKET", "value": K3S_CONTAINERD_SOCKET}]}}
    assert "value: /run/k3s/containerd/containerd.sock" in spec["valuesContent"]
    assert run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path)["changed"] == 0

    # An OCI reference goes to spec.chart, without a repo.
    oci = "oci://registry.example.internal/nvidia/cloud-native-charts/gpu-operator"
    run_playbook(kube_cluster, ROLE_PLAYBOOK, dict(variables, gpu_operator_chart_ref=oci), tmp_path)
    spec = helmchart_crd.get_namespaced_custom_object("helm.cattle.io", "v1", "kube-system", "helmcharts", ns)["spec"]
    assert spec["chart"] == oci and "repo" not in spec

    gone = run_playbook(kube_cluster, ROLE_PLAYBOOK, dict(variables, gpu_operator_state="absent"), tmp_path)
    assert gone["changed"] >= 1
    with pytest.raises(ApiException) as err:
        helmchart_crd.get_namespaced_custom_object("helm.cattle.io", "v1", "kube-system", "helmcharts", ns)
    assert err.value.status == 404


@pytest.mark.parametrize("extra, message", [
    ({"gpu_operator_chart_version": "latest"}, "gpu_operator_chart_version must be a pinned chart version"),
    ({"gpu_operator_toolkit_enabled": True}, "the NVIDIA Container Toolkit would be installed twice"),
    ({"gpu_operator_chart_ref": "/nonexistent/gpu-operator-v26.7.0.tgz"},
     "is neither an oci:// reference nor a chart archive on the controller"),
    ({"gpu_operator_helm_binary": "/nonexistent/helm"}, "does not run on the controller"),
    ({"gpu_operator_install_method": "kubectl"}, "gpu_operator_install_method"),
])
def test_preflight_refuses(kube_cluster, lab_mirror, tmp_path, extra, message):
    variables = role_vars(kube_cluster, lab_mirror, unique("gpuop-pre"), **extra)
    out = run_playbook(kube_cluster, ROLE_PLAYBOOK, variables, tmp_path, expect_rc=2)["stdout"]
    assert message in out
