# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu_validate's pod check against a real kube-apiserver.

The cluster has no scheduler and no kubelet: while the module runs (in its own process, as
Ansible runs it, or through ansible-playbook), a thread of the test plays them through the
same API: it waits for the pod the module created, checks its spec, binds it to the node,
reports it running then finished, and serves its logs at the kubelet's HTTPS endpoint, which
kube-apiserver proxies `pods/log` to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from api_helpers import nvidia_runtime_class
from pytest_lab import ANSIBLE_PLAYBOOK

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULE = os.path.join(REPO, "plugins", "modules", "gpu_validate.py")
NODE = "gpu-node-1"
SELECTOR = "app.kubernetes.io/name=gpu-validate"
PASS_LOGS = ("[Vector addition of 50000 elements]\nCopy input data from the host memory to the CUDA device\n"
             "CUDA kernel launch with 196 blocks of 256 threads\n"
             "Copy output data from the CUDA device to the host memory\nTest PASSED\nDone\n")


def _collections_path():
    build = os.path.join(REPO, ".build", "collections")
    return build if os.path.isdir(build) else None


@pytest.fixture(scope="module")
def runtime_class(kube_cluster):
    return nvidia_runtime_class(kube_cluster)


@pytest.fixture
def gpu_node(fake_kubelet):
    kubelet = fake_kubelet(NODE)
    kubelet.register(gpus=1, taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}])
    return kubelet


class KubeletPlayer(threading.Thread):
    """Plays scheduler and kubelet for the first gpu-validate pod that appears in `namespace`."""

    def __init__(self, kube_cluster, kubelet, namespace, action, wait_s=30):
        super().__init__(daemon=True)
        self.api = client.CoreV1Api(kube_cluster.api_client())
        self.kubelet = kubelet
        self.namespace = namespace
        self.action = action  # callable(kubelet, namespace, name) or None: leave the pod Pending
        self.wait_s = wait_s
        self.pod = None
        self.error = None

    def run(self):
        try:
            deadline = time.monotonic() + self.wait_s
            while time.monotonic() < deadline:
                pods = self.api.list_namespaced_pod(self.namespace, label_selector=SELECTOR).items
                if pods:
                    self.pod = pods[0]
                    break
                time.sleep(0.2)
            else:
                raise AssertionError("no gpu-validate pod appeared in %s" % self.namespace)
            if self.action:
                self.action(self.kubelet, self.namespace, self.pod.metadata.name)
        except Exception as exc:  # re-raised in the test
            self.error = exc

    def result(self, module_result=None):
        self.join(90)
        if self.error:
            raise AssertionError("%s; the module returned %s" % (self.error, json.dumps(module_result)[-3000:]))
        return self.pod


def run_module(kube_cluster, tmp_path, **args):
    module_args = {"checks": ["pod"], "node_name": NODE, "kubeconfig": kube_cluster.kubeconfig, "timeout": 30}
    module_args.update(args)
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args}))
    env = dict(os.environ)
    if _collections_path():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_collections_path(), env.get("PYTHONPATH")) if p)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, MODULE, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, check=False, timeout=180)
    elapsed = time.monotonic() - start
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from gpu_validate (rc %s): %s %s" % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, result, elapsed


def assert_gone(kube_cluster, namespace, name):
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(kube_cluster.api_client()).read_namespaced_pod(name, namespace)
    assert err.value.status == 404


def assert_article_spec(pod, namespace):
    spec = pod.spec
    assert pod.metadata.namespace == namespace
    assert pod.metadata.name.startswith("gpu-validate-vectoradd-")
    assert spec.runtime_class_name == "nvidia"
    assert spec.restart_policy == "Never"
    assert spec.node_selector == {"kubernetes.io/hostname": NODE}
    assert [(t.key, t.operator, t.effect) for t in spec.tolerations if t.key == "nvidia.com/gpu"] == [
        ("nvidia.com/gpu", "Exists", "NoSchedule")]
    (container,) = spec.containers
    assert container.image == "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda11.7.1-ubuntu20.04"
    assert container.resources.limits == {"nvidia.com/gpu": "1"}


def test_pod_passes(kube_cluster, kube_namespace, gpu_node, runtime_class, tmp_path):
    player = KubeletPlayer(kube_cluster, gpu_node, kube_namespace,
                           lambda k, ns, name: k.run_pod(ns, name, phase="Succeeded", logs=PASS_LOGS))
    player.start()
    rc, result, _elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace)
    pod = player.result(result)
    assert rc == 0, result
    check = result["checks"]["pod"]
    assert check["passed"] and not check["skipped"]
    assert check["reason"] == "pod %s/%s on node %s printed 'Test PASSED'" % (kube_namespace, pod.metadata.name, NODE)
    details = check["details"]
    assert details["phase"] == "Succeeded" and details["exit_code"] == 0
    assert details["logs"] == PASS_LOGS and details["deleted"] is True
    assert result["changed"] is False
    assert_article_spec(pod, kube_namespace)
    assert_gone(kube_cluster, kube_namespace, pod.metadata.name)
    # the logs came from the kubelet's endpoint, through the API server's pods/log proxy
    assert any(path.startswith("/containerLogs/%s/%s/cuda-vectoradd" % (kube_namespace, pod.metadata.name))
               for path in gpu_node.log_requests)


def test_pod_fails(kube_cluster, kube_namespace, gpu_node, runtime_class, tmp_path):
    logs = "[Vector addition of 50000 elements]\nFailed to allocate device vector A (error code no CUDA-capable device is detected)!\n"
    player = KubeletPlayer(kube_cluster, gpu_node, kube_namespace,
                           lambda k, ns, name: k.run_pod(ns, name, phase="Failed", exit_code=1, logs=logs))
    player.start()
    rc, result, _elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace)
    pod = player.result(result)
    assert rc == 1 and result["failed_checks"] == ["pod"]
    assert result["msg"] == "gpu_validate: pod failed: pod %s/%s failed (container exit code 1, Error)" % (
        kube_namespace, pod.metadata.name)
    details = result["checks"]["pod"]["details"]
    assert details["phase"] == "Failed" and details["logs"] == logs and details["deleted"] is True
    assert_gone(kube_cluster, kube_namespace, pod.metadata.name)


def test_pod_never_scheduled_times_out_and_is_deleted(kube_cluster, kube_namespace, gpu_node, runtime_class,
                                                      tmp_path):
    player = KubeletPlayer(kube_cluster, gpu_node, kube_namespace, None)
    player.start()
    rc, result, elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace, timeout=4)
    pod = player.result(result)
    assert rc == 1 and result["failed_checks"] == ["pod"]
    reason = result["checks"]["pod"]["reason"]
    assert reason.startswith("pod %s/%s did not complete within 4s (phase Pending: " % (kube_namespace, pod.metadata.name))
    assert "not scheduled to any node" in reason
    assert result["checks"]["pod"]["details"]["deleted"] is True
    assert 4 <= elapsed < 30
    assert_gone(kube_cluster, kube_namespace, pod.metadata.name)


def test_pod_logs_without_pass(kube_cluster, kube_namespace, gpu_node, runtime_class, tmp_path):
    logs = "[Vector addition of 50000 elements]\nDone\n"
    player = KubeletPlayer(kube_cluster, gpu_node, kube_namespace,
                           lambda k, ns, name: k.run_pod(ns, name, phase="Succeeded", logs=logs))
    player.start()
    rc, result, _elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace)
    pod = player.result(result)
    assert rc == 1
    assert result["checks"]["pod"]["reason"] == "pod %s/%s succeeded but its logs lack 'Test PASSED'" % (
        kube_namespace, pod.metadata.name)
    assert result["checks"]["pod"]["details"]["logs"] == logs
    assert_gone(kube_cluster, kube_namespace, pod.metadata.name)


def test_check_mode_is_a_dry_run(kube_cluster, kube_namespace, gpu_node, runtime_class, tmp_path):
    rc, result, _elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace, _ansible_check_mode=True)
    assert rc == 0, result
    check = result["checks"]["pod"]
    assert check["skipped"] and not check["passed"]
    assert "accepted pod" in check["reason"] and "dry run" in check["reason"]
    pods = client.CoreV1Api(kube_cluster.api_client()).list_namespaced_pod(kube_namespace).items
    assert pods == []


def test_missing_runtime_class(kube_cluster, kube_namespace, gpu_node, runtime_class, tmp_path):
    rc, result, _elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace, runtime_class="no-such-class",
                                      _ansible_check_mode=True)
    assert rc == 0 and "rejected pod" in result["checks"]["pod"]["reason"]
    rc, result, _elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace, runtime_class="no-such-class")
    assert rc == 1
    assert "cannot create pod" in result["msg"] and "is it installed?" in result["msg"]
    assert client.CoreV1Api(kube_cluster.api_client()).list_namespaced_pod(kube_namespace).items == []


def test_forbidden_user(kube_cluster, kube_namespace, gpu_node, runtime_class, tmp_path):
    rc, result, _elapsed = run_module(kube_cluster, tmp_path, namespace=kube_namespace,
                                      kubeconfig=kube_cluster.kubeconfig_limited)
    assert rc == 1 and "403" in result["msg"] and "forbidden" in result["msg"].lower()


def test_through_ansible_playbook(kube_cluster, kube_namespace, gpu_node, runtime_class, tmp_path):
    """The same success, with the module run by ansible-playbook (kubeconfig from K8S_AUTH_KUBECONFIG)."""
    playbook = tmp_path / "pod.yml"
    playbook.write_text(
        "- name: vectoradd pod through the API\n"
        "  hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Run the pod check\n"
        "      k3s_gpu.node.gpu_validate:\n"
        "        checks: [pod]\n"
        "        node_name: %s\n"
        "        namespace: %s\n"
        "        timeout: 60\n"
        "      register: pod_check\n"
        "    - name: Show it\n"
        "      ansible.builtin.debug:\n"
        "        msg: \"RESULT={{ pod_check.checks.pod | to_json }}\"\n" % (NODE, kube_namespace))
    player = KubeletPlayer(kube_cluster, gpu_node, kube_namespace,
                           lambda k, ns, name: k.run_pod(ns, name, phase="Succeeded", logs=PASS_LOGS))
    player.start()
    env = kube_cluster.ansible_env()
    env["ANSIBLE_STDOUT_CALLBACK"] = "default"
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", "localhost,",
         "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=180)
    pod = player.result(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "Test PASSED" in proc.stdout and '\\"passed\\": true' in proc.stdout or '"passed": true' in proc.stdout
    assert_gone(kube_cluster, kube_namespace, pod.metadata.name)
