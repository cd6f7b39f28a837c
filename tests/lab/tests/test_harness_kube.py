"""The Kubernetes test harness works: a real kube-apiserver with RBAC, reachable
from kubernetes.core.k8s and kubernetes.core.helm, and a fake kubelet whose node,
pod status and container logs go through that API server."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from kube import cluster as kube_cluster_mod
from pytest_lab import ANSIBLE_PLAYBOOK

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kube", "testdata", "playbooks")


def run_playbook(kube, playbook, tmp_path, extra_vars=None):
    """Run ansible-playbook (the venv's) against localhost with the admin kubeconfig."""
    env = kube.ansible_env()
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(tmp_path / var.lower())
    cmd = [
        ANSIBLE_PLAYBOOK,
        "-i", "localhost,", "-c", "local",
        "-e", "ansible_python_interpreter=%s" % sys.executable,
        "-e", json.dumps(extra_vars or {}),
        os.path.join(PLAYBOOKS, playbook),
    ]
    proc = subprocess.run(cmd, cwd=kube_cluster_mod.REPO_ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def test_server_version_and_authn(kube_cluster):
    version = client.VersionApi(kube_cluster.api_client()).get_code()
    assert version.git_version == "v1.36.3"
    assert (version.major, version.minor) == ("1", "36")

    # No credentials: anonymous auth is off, so 401.
    ctx = ssl.create_default_context(cafile=kube_cluster.ca_file)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(kube_cluster.server + "/api/v1/namespaces", context=ctx, timeout=10)
    assert err.value.code == 401


def test_rbac_forbids_the_limited_user(kube_cluster):
    admin = client.CoreV1Api(kube_cluster.api_client())
    assert "default" in [ns.metadata.name for ns in admin.list_namespace().items]

    limited = client.CoreV1Api(kube_cluster.api_client(limited=True))
    with pytest.raises(ApiException) as err:
        limited.list_namespace()
    assert err.value.status == 403
    assert 'User "limited" cannot list resource "namespaces"' in json.loads(err.value.body)["message"]
    with pytest.raises(ApiException) as err:
        limited.create_namespace({"metadata": {"name": "limited-should-not-create"}})
    assert err.value.status == 403


def test_k8s_module_creates_and_reads_a_namespace(kube_cluster, tmp_path):
    run_playbook(kube_cluster, "k8s_namespace.yml", tmp_path)
    ns = client.CoreV1Api(kube_cluster.api_client()).read_namespace("harness-k8s")
    assert ns.status.phase == "Active"


def test_helm_module_installs_and_uninstalls_a_local_chart(kube_cluster, tmp_path):
    out = subprocess.run([kube_cluster.helm, "version"], stdout=subprocess.PIPE, text=True, check=True).stdout
    assert 'Version:"v3.22.0"' in out
    run_playbook(kube_cluster, "helm_chart.yml", tmp_path, {"harness_helm": kube_cluster.helm})
    # helm stores releases in Secrets; uninstall removed them.
    secrets = client.CoreV1Api(kube_cluster.api_client()).list_namespaced_secret(
        "harness-helm", label_selector="owner=helm,name=hello")
    assert secrets.items == []


def test_node_registered_and_patched(kube_cluster, fake_kubelet):
    kubelet = fake_kubelet("gpu-node-1")
    kubelet.register(gpus=2, labels={"nvidia.com/gpu.present": "true"},
                     taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])
    api = client.CoreV1Api(kube_cluster.api_client())
    node = api.read_node("gpu-node-1")
    assert node.status.capacity["nvidia.com/gpu"] == "2"
    assert node.status.allocatable["nvidia.com/gpu"] == "2"
    assert node.metadata.labels["nvidia.com/gpu.present"] == "true"
    assert [(t.key, t.effect) for t in node.spec.taints] == [("nvidia.com/gpu", "NoSchedule")]
    ready = {c.type: c.status for c in node.status.conditions}
    assert ready["Ready"] == "True"
    assert node.status.node_info.kubelet_version == "v1.36.3+k3s1"

    # Patch as an administrator (or k3s_taint) would: a label and a second taint.
    api.patch_node("gpu-node-1", {"metadata": {"labels": {"gpu-validated": "true"}},
                                  "spec": {"taints": [
                                      {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
                                      {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]}})
    node = api.read_node("gpu-node-1")
    assert node.metadata.labels["gpu-validated"] == "true"
    assert {(t.key, t.effect) for t in node.spec.taints} == {("nvidia.com/gpu", "NoSchedule"),
                                                             ("dedicated", "NoExecute")}
    # The kubelet's heartbeat keeps the taints and flips Ready.
    kubelet.set_ready(False)
    node = api.read_node("gpu-node-1")
    assert {c.type: c.status for c in node.status.conditions}["Ready"] == "False"
    assert {(t.key, t.effect) for t in node.spec.taints} == {
        ("nvidia.com/gpu", "NoSchedule"), ("dedicated", "NoExecute"),
        ("node.kubernetes.io/not-ready", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoExecute")}
    kubelet.set_ready(True)
    node = api.read_node("gpu-node-1")
    assert {(t.key, t.effect) for t in node.spec.taints} == {("nvidia.com/gpu", "NoSchedule"),
                                                             ("dedicated", "NoExecute")}

    # The limited user may not touch nodes.
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(kube_cluster.api_client(limited=True)).patch_node(
            "gpu-node-1", {"metadata": {"labels": {"x": "y"}}})
    assert err.value.status == 403


def _vectoradd_pod(name, runtime_class="nvidia"):
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "runtimeClassName": runtime_class,
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "cuda-vectoradd",
                            "image": "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
        },
    }


def test_pod_runs_and_its_logs_come_through_the_api(kube_cluster, kube_namespace, fake_kubelet):
    api = client.CoreV1Api(kube_cluster.api_client())
    node_api = client.NodeV1Api(kube_cluster.api_client())
    # The RuntimeClass admission plugin rejects a pod whose RuntimeClass is missing
    # (a name of this test's own: other tests of the session create "nvidia").
    runtime_class = "nvidia-" + kube_namespace[-6:]
    with pytest.raises(ApiException) as err:
        api.create_namespaced_pod(kube_namespace, _vectoradd_pod("before-runtimeclass", runtime_class))
    assert err.value.status == 403 and "RuntimeClass" in err.value.body
    node_api.create_runtime_class({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                   "metadata": {"name": runtime_class}, "handler": "nvidia"})

    kubelet = fake_kubelet("gpu-node-logs")
    kubelet.register(gpus=1, taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])
    api.create_namespaced_pod(kube_namespace, _vectoradd_pod("vectoradd", runtime_class))
    assert api.read_namespaced_pod("vectoradd", kube_namespace).status.phase == "Pending"

    kubelet.run_pod(kube_namespace, "vectoradd", phase="Running", logs="[Vector addition of 50000 elements]\n")
    pod = api.read_namespaced_pod("vectoradd", kube_namespace)
    assert pod.spec.node_name == "gpu-node-logs"
    assert pod.status.phase == "Running"
    assert pod.status.container_statuses[0].state.running is not None

    text = "[Vector addition of 50000 elements]\nCopy input data\nTest PASSED\nDone\n"
    kubelet.finish(kube_namespace, "vectoradd", exit_code=0, logs=text)
    pod = api.read_namespaced_pod("vectoradd", kube_namespace)
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0

    # pods/log: kube-apiserver -> https://127.0.0.1:<kubeletEndpoint port>/containerLogs/...
    assert api.read_namespaced_pod_log("vectoradd", kube_namespace) == text
    assert api.read_namespaced_pod_log("vectoradd", kube_namespace, tail_lines=2) == "Test PASSED\nDone\n"
    assert "/containerLogs/%s/vectoradd/cuda-vectoradd" % kube_namespace in kubelet.log_requests[0]

    # A failing pod: exit code and phase as a kubelet reports them.
    api.create_namespaced_pod(kube_namespace, _vectoradd_pod("vectoradd-fails", runtime_class))
    kubelet.run_pod(kube_namespace, "vectoradd-fails", phase="Failed", exit_code=3, logs="Test FAILED\n")
    pod = api.read_namespaced_pod("vectoradd-fails", kube_namespace)
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 3
    assert pod.status.container_statuses[0].state.terminated.reason == "Error"
    assert api.read_namespaced_pod_log("vectoradd-fails", kube_namespace) == "Test FAILED\n"

    # Logs of a container the kubelet does not know: the kubelet's 404 comes back.
    api.create_namespaced_pod(kube_namespace, _vectoradd_pod("no-logs", runtime_class))
    kubelet.run_pod(kube_namespace, "no-logs", phase="Running")
    with pytest.raises(ApiException) as err:
        api.read_namespaced_pod_log("no-logs", kube_namespace)
    assert err.value.status == 404

    # A graceful delete of a running pod bound to the node stays pending until
    # the kubelet (here: its deletion sync) deletes it with grace period 0.
    api.delete_namespaced_pod("no-logs", kube_namespace)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            api.read_namespaced_pod("no-logs", kube_namespace)
        except ApiException as exc:
            assert exc.status == 404
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the fake kubelet did not finish the pod's graceful deletion")


def test_k8s_log_module_reads_pod_logs(kube_cluster, kube_namespace, fake_kubelet, tmp_path):
    api = client.CoreV1Api(kube_cluster.api_client())
    kubelet = fake_kubelet("node-k8s-log")
    kubelet.register(gpus=0)
    api.create_namespaced_pod(kube_namespace, {
        "metadata": {"name": "hello"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}})
    kubelet.run_pod(kube_namespace, "hello", logs="hello from the fake kubelet\n")
    playbook = tmp_path / "k8s_log.yml"
    playbook.write_text("""---
- name: Read pod logs through kubernetes.core.k8s_log
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the logs
      kubernetes.core.k8s_log:
        namespace: "%s"
        name: hello
      register: harness_log
    - name: Check them
      ansible.builtin.assert:
        that:
          - harness_log.log.splitlines() == ['hello from the fake kubelet']
        fail_msg: "log_lines: {{ harness_log.log_lines }}, log: {{ harness_log.log }}"
""" % kube_namespace)
    run_playbook(kube_cluster, str(playbook), tmp_path)


def test_start_and_stop_leave_no_process(kube_cluster, tmp_path):
    """A second, independent cluster starts on other ports and stop.sh ends both processes."""
    other = kube_cluster_mod.start(str(tmp_path / "state"), kube_cluster.bin_dir)
    pids = other.pids()
    try:
        assert set(pids) == {"etcd", "kube-apiserver"}
        assert other.server != kube_cluster.server
        assert client.VersionApi(other.api_client()).get_code().git_version == "v1.36.3"
    finally:
        kube_cluster_mod.stop(other.state_dir)
    for pid in pids.values():
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    assert other.pids() == {}


def test_deleted_namespace_is_finalized_on_demand(kube_cluster, fake_kubelet):
    """No namespace controller runs: a deleted namespace stays Terminating until
    controllers.finalize_namespace does that controller's work."""
    from kube.controllers import finalize_namespace

    api = client.CoreV1Api(kube_cluster.api_client())
    api.create_namespace({"metadata": {"name": "to-delete"}})
    api.create_namespaced_config_map("to-delete", {"metadata": {"name": "cm"}, "data": {"a": "b"}})
    api.create_namespaced_pod("to-delete", {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "main", "image": "busybox:1.36"}]}})
    kubelet = fake_kubelet("node-ns-delete")
    kubelet.register(gpus=0)
    kubelet.run_pod("to-delete", "p", phase="Running")
    assert finalize_namespace(kube_cluster.api_client(), "to-delete") is False  # not deleted yet
    api.delete_namespace("to-delete")
    assert api.read_namespace("to-delete").status.phase == "Terminating"
    assert finalize_namespace(kube_cluster.api_client(), "to-delete") is True
    with pytest.raises(ApiException) as err:
        api.read_namespace("to-delete")
    assert err.value.status == 404
    assert api.list_namespaced_pod("to-delete").items == []
    assert api.list_namespaced_config_map("to-delete").items == []


def test_podman_container_on_host_network_reaches_the_api(kube_cluster):
    """A lab container (tests/lab/images.sh, `make lab-images`) started with
    --network=host reaches the API server at the kubeconfig's 127.0.0.1 address."""
    image = "localhost/k3s-gpu-lab:debian12"
    probe = (
        "import json, ssl, sys, urllib.request\n"
        "ctx = ssl.create_default_context(cafile='/kube/ca.crt')\n"
        "req = urllib.request.Request(sys.argv[1] + '/version',"
        " headers={'Authorization': 'Bearer ' + open('/kube/token').read().strip()})\n"
        "print(json.load(urllib.request.urlopen(req, context=ctx, timeout=10))['gitVersion'])\n"
    )
    token = os.path.join(kube_cluster.state_dir, "probe-token")
    with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        f.write(kube_cluster.limited_token)
    cmd = ["podman", "run", "--rm", "--network=host",
           "-v", "%s:/kube/ca.crt:ro,Z" % kube_cluster.ca_file, "-v", "%s:/kube/token:ro,Z" % token,
           image, "python3", "-c", probe, kube_cluster.server]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, timeout=120)
    assert proc.returncode == 0, "%s failed (is %s built? make lab-images): %s" % (cmd[:4], image, proc.stderr)
    # /version is open to every authenticated user (system:public-info-viewer).
    assert proc.stdout.strip() == "v1.36.3"
