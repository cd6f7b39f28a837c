# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/validate.yml, the self-check after a reboot, as users run it: a clean node passes, and
four faults planted at once (the runtime removed from K3s's containerd config, the RuntimeClass
deleted, allocatable lower than the GPU count, a taint removed) are each reported, naming the
node and the check, with nothing changed.

Real: ansible-playbook and the playbook, a Debian 12 systemd container as the GPU node (podman
connection; real dpkg, real files), a real kube-apiserver. Stand-ins, as the rest of the lab:
nvidia-smi (tests/lab/standins/bin/nvidia-smi replaying the H200 host's real 2-GPU capture), the
loaded module's /sys/module/nvidia/version (a host directory bound over /sys/module, as in
test_cuda_driver_source.py), a driver package built here with dpkg-deb (name and version of
NVIDIA's nvidia-driver-cuda), the containerd config K3s renders with the nvidia runtime
(tests/unit/fixtures/k3s, derived from K3s's v3 template) and the runtime binary it names (an
empty executable). The kubelet is FakeKubelet (tests/lab/kube); the RuntimeClasses are
written as the GPU Operator (nvidia) and the gpu_operator role (k3s-gpu-nvidia) write them.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from test_add_node import node_host, playbook, recap  # pylint: disable=import-error

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "unit", "fixtures")
DRIVER = "580.159.04"  # the driver of the capture
CONFIG = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
RC_LABEL = {"k3s-gpu.node/gpu": "true"}
GFD = {"nvidia.com/gpu.product": "NVIDIA-H200", "nvidia.com/gpu.memory": "143771", "nvidia.com/gpu.count": "2",
       "nvidia.com/gfd.timestamp": "1764660000"}


@pytest.fixture
def gpu_node(lab_container, tmp_path):
    """A lab node as a GPU node looks after site.yml: driver loaded and installed, K3s's config rendered."""
    sys_module = tmp_path / "sys-module"
    (sys_module / "nvidia").mkdir(parents=True)
    (sys_module / "nvidia" / "version").write_text(DRIVER + "\n")
    node = lab_container("debian12", podman_args=["-v", "%s:/sys/module:ro" % sys_module])
    node.put(os.path.join(REPO, "tests", "lab", "standins", "bin", "nvidia-smi"), "/usr/bin/nvidia-smi")
    node.exec("chmod 0755 /usr/bin/nvidia-smi && mkdir -p /etc/k3s-gpu-lab/fake-gpu")
    node.put(os.path.join(FIXTURES, "nvidia-smi", "h200-2gpu-q.xml"), "/etc/k3s-gpu-lab/fake-gpu/nvidia-smi-q.xml")
    node.write("/tmp/pkg/DEBIAN/control", "Package: nvidia-driver-cuda\nVersion: %s-1\nArchitecture: all\n"
               "Maintainer: k3s_gpu.node tests\nDescription: STAND-IN for k3s_gpu.node tests\n" % DRIVER)
    node.exec("dpkg-deb --build /tmp/pkg /tmp/driver.deb >/dev/null && dpkg -i /tmp/driver.deb >/dev/null && rm -r /tmp/pkg")
    with open(os.path.join(FIXTURES, "k3s", "containerd-config-v3-derived.toml"), encoding="utf-8") as f:
        node.write(CONFIG, f.read(), mode="0600")
    node.write("/usr/bin/nvidia-container-runtime", "#!/bin/sh\nexit 0\n", mode="0755")
    return node


def runtime_classes(api):
    """nvidia as the GPU Operator makes it, k3s-gpu-nvidia as the gpu_operator role does."""
    node_api = client.NodeV1Api(api)
    wanted = [{"metadata": {"name": "nvidia"}, "handler": "nvidia"},
              {"metadata": {"name": "k3s-gpu-nvidia", "labels": {"app.kubernetes.io/managed-by": "k3s_gpu.node.gpu_operator"}},
               "handler": "nvidia", "scheduling": {"nodeSelector": RC_LABEL, "tolerations": [
                   {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}}]
    for body in wanted:
        body.update(apiVersion="node.k8s.io/v1", kind="RuntimeClass")
        try:
            node_api.delete_runtime_class(body["metadata"]["name"])
        except ApiException as exc:
            if exc.status != 404:
                raise
        node_api.create_runtime_class(body)


def write_inventory(path, kube, hosts):
    path.write_text(yaml.safe_dump({"all": {
        "vars": {"k3s_gpu_kubeconfig": kube.kubeconfig, "cuda_driver_branch": "580",
                 "k3s_gpu_node_labels": ["gpu.example.com/model=h200"], "k3s_gpu_validate_pod": False,
                 # deviceQuery needs CUDA: the health check of nvidia-smi's capture and sysfs
                 "k3s_gpu_node_checks": ["gpu_health"]},
        "children": {
            "gpu_nodes": {"hosts": hosts},
            "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}},
        }}}))
    return str(path)


def rows(stdout):
    """{(host, check): (STATUS, line)} from the report's debug lines (one JSON line each)."""
    out = {}
    for match in re.finditer(r'"msg": "((\S+) .*?)"\n', stdout):
        line = json.loads('"%s"' % match.group(1))
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("gpu-a", "gpu-b"):
            check_at = 2 if parts[1].startswith("(") else 1
            check = parts[check_at]
            if check == "runtime_class":
                check += " " + parts[check_at + 1]
                check_at += 1
            out[(parts[0], check)] = (parts[check_at + 1], line)
    return out


def test_validate_passes_clean_then_reports_four_planted_faults(kube_cluster, fake_kubelet, gpu_node, tmp_path):
    api = kube_cluster.api_client()
    core = client.CoreV1Api(api)
    name_a = "gpu-a-%s" % uuid.uuid4().hex[:6]
    kubelet = fake_kubelet(name_a)
    kubelet.register(gpus=2, taints=[GPU_TAINT], labels=dict(RC_LABEL, **GFD, **{"gpu.example.com/model": "h200"}))
    runtime_classes(api)
    hosts = {"gpu-a": node_host(gpu_node.name, k3s_gpu_node_name=name_a)}
    inventory = write_inventory(tmp_path / "hosts.yml", kube_cluster, hosts)
    try:
        # 1. Clean: every check passes or says why it was not run; nothing changes.
        proc = playbook("validate", inventory, tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stdout[-8000:]
        assert {h: r["changed"] for h, r in recap(proc.stdout).items()} == {"gpu-a": 0, "localhost": 0}
        report = rows(proc.stdout)
        expected_ok = ["driver", "containerd_runtime", "gpu_health", "runtime_class nvidia",
                       "runtime_class k3s-gpu-nvidia", "gpu_allocatable", "taints", "labels", "gfd_labels"]
        assert {c: report[("gpu-a", c)][0] for c in expected_ok} == dict.fromkeys(expected_ok, "OK"), report
        assert report[("gpu-a", "cdi")][0] == "SKIPPED"
        assert "loaded driver 580.159.04 (branch 580) is the installed nvidia-driver-cuda 580.159.04-1" in proc.stdout
        assert "allocatable nvidia.com/gpu 2 = nvidia-smi's 2 GPU(s)" in proc.stdout
        assert "validate.yml: every check passed on 1 node(s)" in proc.stdout

        # 2. Four faults at once, and a second host whose node never registered.
        text = gpu_node.exec("cat %s" % CONFIG).stdout
        gpu_node.write(CONFIG, text[:text.index("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia']")],
                       mode="0600")
        client.NodeV1Api(api).delete_runtime_class("nvidia")
        kubelet.update_status(gpus=1)
        core.patch_node(name_a, {"spec": {"taints": []}})
        name_b = "gpu-b-%s" % uuid.uuid4().hex[:6]
        hosts["gpu-b"] = node_host(gpu_node.name, k3s_gpu_node_name=name_b)
        write_inventory(tmp_path / "hosts.yml", kube_cluster, hosts)
        before = (gpu_node.exec("sha256sum %s; dpkg -l | sha256sum" % CONFIG).stdout,
                  core.read_node(name_a).metadata.resource_version)
        proc = playbook("validate", inventory, tmp_path, timeout=600)
        assert proc.returncode == 2, proc.stdout[-8000:]
        counts = recap(proc.stdout)
        assert {h: r["changed"] for h, r in counts.items()} == {"gpu-a": 0, "gpu-b": 0, "localhost": 0}
        assert counts["gpu-a"]["failed"] == 0 and counts["localhost"]["failed"] == 1  # only the final verdict
        report = rows(proc.stdout)
        planted = {"containerd_runtime": "has no 'nvidia' runtime (runtimes: runc)",
                   "runtime_class nvidia": "RuntimeClass nvidia does not exist",
                   "gpu_allocatable": "allocatable nvidia.com/gpu is 1 but nvidia-smi lists 2 GPU(s)",
                   "taints": "taint(s) nvidia.com/gpu=true:NoSchedule missing (the node has none)"}
        for check, detail in planted.items():
            status, line = report[("gpu-a", check)]
            assert status == "FAILED" and detail in line, (check, line)
        assert report[("gpu-a", "driver")][0] == "OK" and report[("gpu-a", "labels")][0] == "OK"
        assert report[("gpu-b", "node_registered")][0] == "FAILED"
        verdict = re.search(r'"msg": "(validate.yml: \d+ check\(s\) failed: .*?)"', proc.stdout).group(1)
        # gpu-b shares gpu-a's container: its containerd config lost the runtime too
        assert verdict.startswith("validate.yml: 6 check(s) failed: "), verdict
        assert "gpu-b (%s) check containerd_runtime: " % name_b in verdict
        for check in planted:
            assert "gpu-a (%s) check %s: " % (name_a, check) in verdict, verdict
        assert "gpu-b (%s) check node_registered: node %s is not registered" % (name_b, name_b) in verdict
        # read-only: the node's files and packages and the API objects are as they were
        assert (gpu_node.exec("sha256sum %s; dpkg -l | sha256sum" % CONFIG).stdout,
                core.read_node(name_a).metadata.resource_version) == before
    finally:
        runtime_classes(api)  # as other tests expect them
