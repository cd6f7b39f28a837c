# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles' checks that call the collection's filters, run by ansible-playbook as they are.

Each check is the task of the role's own task file (read from roles/, not copied), given the
variables it reads, among them what the task before it would have registered (apt-cache madison's
real output from tests/unit/fixtures/apt-cache, k8s_info's resources). All cases run in one
ansible-playbook run; each case's failure message (or "ok") is collected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "unit" / "fixtures" / "apt-cache"


def role_task(role, task_file, name_start):
    """The task of roles/<role>/tasks/<task_file> whose name starts with `name_start` (in blocks too)."""
    def walk(tasks):
        for task in tasks or []:
            if str(task.get("name", "")).startswith(name_start):
                yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key))
    found = list(walk(yaml.safe_load((REPO_ROOT / "roles" / role / "tasks" / task_file).read_text())))
    assert len(found) == 1, "%s/%s: %d tasks named %r..." % (role, task_file, len(found), name_start)
    return found[0]


K3S_CHECK = ("k3s_agent", "preflight.yml", "Check the node name, taints, labels")
K3S_OK = {"ansible_facts": {"nodename": "gpu-07.lab.example"}, "k3s_agent_node_name": "",
          "k3s_agent_node_taints": ["nvidia.com/gpu=true:NoSchedule"], "k3s_agent_node_labels": [],
          "k3s_agent_default_runtime": "", "k3s_agent_kubelet_args": []}
OP_CHECK = ("gpu_operator", "preflight.yml", "Check the chart values and names")
OP_OK = {"gpu_operator_values": {}, "gpu_operator_namespace": "gpu-operator", "gpu_operator_release_name": "gpu-operator",
         "gpu_operator_wait_timeout": 600, "gpu_operator_gpu_nodes": ["gpu-07", {"name": "gpu-08", "labels": ["a=b"]}],
         "gpu_operator_runtime_class_taints": ["nvidia.com/gpu=true:NoSchedule"]}
CUDA_CHECK = ("cuda_driver", "repository.yml", "Check that the repositories offer branch")
CUDA_OK = {"_cuda_driver_madison": {"stdout": (FIXTURES / "madison-cuda.txt").read_text()}, "cuda_driver_branch": 580,
           "_cuda_driver_check_packages": ["nvidia-open", "nvidia-driver-cuda", "nvidia-driver-pinning-580"],
           "_cuda_driver_pinning_package": "nvidia-driver-pinning-580"}
CTK_CHECK = ("container_toolkit", "repository.yml", "Check that the repository offers version")
CTK_OK = {"_container_toolkit_madison": {"stdout": (FIXTURES / "madison-toolkit.txt").read_text()},
          "container_toolkit_version": "1.17.8-1",
          "_container_toolkit_packages": ["nvidia-container-toolkit", "nvidia-container-toolkit-base",
                                          "libnvidia-container-tools", "libnvidia-container1"]}
OP_WAIT = ("gpu_operator", "verify.yml", "Check that the operator and its operands are ready")


def _ready_deployment(name):
    return {"metadata": {"name": name, "generation": 2}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                       "availableReplicas": 1}}


def _daemonset(name, n):
    return {"metadata": {"name": name, "generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": n, "updatedNumberScheduled": n,
                       "numberReady": n, "numberAvailable": n}}


OP_WAIT_OK = {"gpu_operator_wait_timeout": 4, "gpu_operator_namespace": "gpu-operator",
              "gpu_operator_wait_deployments": ["gpu-operator"], "gpu_operator_gpu_nodes": ["gpu-07", "gpu-08"],
              "_gpu_operator_wait_daemonsets_all": ["nvidia-device-plugin-daemonset", "nvidia-operator-validator"],
              "_gpu_operator_workloads": {"results": [
                  {"resources": [_ready_deployment("gpu-operator")]},
                  {"resources": [_daemonset("nvidia-device-plugin-daemonset", 2),
                                 _daemonset("nvidia-operator-validator", 2)]}]}}

CASES = {
    "k3s-ok": (K3S_CHECK, K3S_OK),
    "k3s-bad": (K3S_CHECK, dict(K3S_OK, k3s_agent_node_name="GPU_Node_1",
                                k3s_agent_node_taints=["nvidia.com/gpu=true", "ok:NoSchedule"],
                                k3s_agent_node_labels=["ok=1", "gpu.example.com/model"],
                                k3s_agent_kubelet_args=["--max-pods=50"])),
    "k3s-bad-hostname": (K3S_CHECK, dict(K3S_OK, ansible_facts={"nodename": "Lab_Node"})),
    "op-ok": (OP_CHECK, OP_OK),
    "op-bad-taint-and-label": (OP_CHECK, dict(OP_OK, gpu_operator_runtime_class_taints=["nvidia.com/gpu=true:Sometimes"],
                                              gpu_operator_gpu_nodes=[{"name": "gpu-08", "labels": ["model"]}])),
    "op-bad-namespace": (OP_CHECK, dict(OP_OK, gpu_operator_namespace="GPU_Operator")),
    "cuda-580": (CUDA_CHECK, CUDA_OK),
    "cuda-610": (CUDA_CHECK, dict(CUDA_OK, cuda_driver_branch=610, _cuda_driver_pinning_package="nvidia-driver-pinning-610",
                                  _cuda_driver_check_packages=["nvidia-open", "nvidia-driver-cuda",
                                                               "nvidia-driver-pinning-610"])),
    "cuda-595-no-pinning-package": (CUDA_CHECK, dict(CUDA_OK, cuda_driver_branch=595,
                                                     _cuda_driver_pinning_package="nvidia-driver-pinning-595",
                                                     _cuda_driver_check_packages=["nvidia-open",
                                                                                  "nvidia-driver-pinning-595"])),
    "ctk-1.17.8-1": (CTK_CHECK, CTK_OK),
    "ctk-1.18.0-1": (CTK_CHECK, dict(CTK_OK, container_toolkit_version="1.18.0-1")),
    "op-wait-ready": (OP_WAIT, OP_WAIT_OK),
    "op-wait-not-ready": (OP_WAIT, dict(OP_WAIT_OK, _gpu_operator_workloads={"results": [
        {"resources": []}, {"resources": [_daemonset("nvidia-device-plugin-daemonset", 1)]}]})),
}


def run_cases(tmp_path):
    tasks = []
    for case, ((role, task_file, name), variables) in CASES.items():
        task_path = tmp_path / ("%s.yml" % case)
        task_path.write_text(yaml.safe_dump([role_task(role, task_file, name)], sort_keys=False))
        tasks.append({"name": case, "block": [
            {"ansible.builtin.include_tasks": str(task_path), "vars": variables},
            {"ansible.builtin.set_fact": {"_results": "{{ _results | default({}) | combine({%r: 'ok'}) }}" % case}},
        ], "rescue": [
            {"ansible.builtin.set_fact": {
                "_results": "{{ _results | default({}) | combine({%r: ansible_failed_result.msg}) }}" % case}},
        ]})
    out = tmp_path / "results.json"
    tasks.append({"ansible.builtin.copy": {"dest": str(out), "content": "{{ _results | to_json }}", "mode": "0600"}})
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable, str(book)],
                          cwd=str(REPO_ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return json.loads(out.read_text())


def test_role_checks(tmp_path):
    results = run_cases(tmp_path)
    assert set(results) == set(CASES)
    for case in ("k3s-ok", "op-ok", "cuda-580", "ctk-1.17.8-1", "op-wait-ready"):
        assert results[case] == "ok", (case, results[case])

    # Every problem at once, each naming the variable and the bad item.
    bad = results["k3s-bad"]
    assert "k3s_agent_node_name: node name 'gpu_node_1' (from node-name 'GPU_Node_1'" in bad
    assert "k3s_agent_node_taints[0] 'nvidia.com/gpu=true': key 'nvidia.com/gpu': no effect" in bad
    assert "k3s_agent_node_labels[1] 'gpu.example.com/model': no '='" in bad
    assert "k3s_agent_kubelet_args ['--max-pods=50']: entries flag=value without leading dashes" in bad
    assert "ok:NoSchedule" not in bad and "ok=1" not in bad
    assert "from the host name 'Lab_Node', uname -n" in results["k3s-bad-hostname"]

    op = results["op-bad-taint-and-label"]
    assert "gpu_operator_runtime_class_taints[0] 'nvidia.com/gpu=true:Sometimes': key 'nvidia.com/gpu': the effect" in op
    assert "gpu_operator_gpu_nodes[].labels[0] 'model': no '='" in op
    assert "gpu_operator_namespace a DNS label" in results["op-bad-namespace"]

    assert results["cuda-610"].startswith(
        "Driver branch 610 is not available from the configured repositories: no 610.x version of nvidia-open, "
        "nvidia-driver-cuda, nvidia-driver-pinning-610 (offered: nvidia-open 595.71.05-1, 595.58.03-1, 580.105.08-1, "
        "580.95.05-1; nvidia-driver-cuda 595.71.05-1, 595.58.03-1, 580.105.08-1, 580.95.05-1; "
        "nvidia-driver-pinning-580 580-1).")
    # 595 drivers are offered; only the pinning package of that branch is not.
    assert "no 595.x version of nvidia-driver-pinning-595 (offered:" in results["cuda-595-no-pinning-package"]

    assert results["ctk-1.18.0-1"].startswith(
        "Version 1.18.0-1 of nvidia-container-toolkit, nvidia-container-toolkit-base, libnvidia-container-tools, "
        "libnvidia-container1 is not available from the configured repositories (offered: 1.20.0-1, 1.17.8-1).")

    assert results["op-wait-not-ready"].startswith(
        "Not ready after 4s in namespace gpu-operator: Deployment gpu-operator: not created yet; "
        "DaemonSet nvidia-device-plugin-daemonset: scheduled on 1 node(s), expected at least 2; "
        "DaemonSet nvidia-operator-validator: not created yet.")
