# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/upgrade.yml as users run it, one node at a time, with drain and uncordon against the
real API: a driver version upgrade (580.95.05 -> the branch's newest, 580.105.08), the plan in check
mode for a 580 -> 595 branch switch, that switch stopped by a PodDisruptionBudget (the drain waits,
fails at its bound, the node stays cordoned, the message names the step and the resume command,
the next node is not touched), the resume, and a second run that changes nothing.

Real: ansible-playbook and the playbook, a Debian 12 systemd container as the GPU node (podman
connection; real apt and dpkg installing the lab mirror's driver, pinning, toolkit packages and
the K3s release), a real kube-apiserver: cordon, evictions (the API refuses those a
PodDisruptionBudget forbids), uncordon and the annotation are real API calls.

Stand-ins, as the rest of the lab: the packages' contents (tests/lab/mirror), the K3s agent, the
kubelet (FakeKubelet: the node's registration and status, the pods' binding, running and graceful
deletion, the vectoradd pod's logs), nvidia-smi replaying the H200 host's capture, and the reboot:
a container cannot reboot or load a kernel module, so the node's /sys/module is a host directory
and cuda_driver_reboot_command is a script (tests/lab/fake-gpu.sh writes it and the replay files)
that does what a reboot does to the driver: the installed module becomes the loaded one
(/sys/module/nvidia/version, and the driver version nvidia-smi reports), and the boot id that
cuda_driver_boot_time_command reads changes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from test_add_node import node_host, playbook, recap  # pylint: disable=import-error

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE_GPU = os.path.join(REPO, "tests", "lab", "fake-gpu.sh")
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
ANNOTATION = "k3s-gpu.node/upgrade"
PASS_LOGS = "[Vector addition of 50000 elements]\nTest PASSED\nDone\n"
PACKAGES = "dpkg-query -W -f '${Package}=${Version} ${db:Status-Abbrev}\\n' 'nvidia-*' libcuda1 | grep ' ii' | sort"


class PodPlayer(threading.Thread):
    """The scheduler and kubelet for the vectoradd pods upgrade.yml creates for the node: each is
    bound to the node, run and finished with vectorAdd's output; their tolerations are kept."""

    def __init__(self, kube, kubelet):
        super().__init__(daemon=True)
        self.api = client.CoreV1Api(kube.api_client())
        self.kubelet = kubelet
        self.seen = {}
        self.errors = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                pods = self.api.list_namespaced_pod("default", label_selector="app.kubernetes.io/name=gpu-validate").items
                for pod in pods:
                    if (pod.spec.node_selector or {}).get("kubernetes.io/hostname") != self.kubelet.node_name:
                        continue
                    if pod.metadata.name in self.seen or pod.metadata.deletion_timestamp:
                        continue
                    self.seen[pod.metadata.name] = sorted("%s:%s" % (t.key, t.effect) for t in pod.spec.tolerations or [])
                    self.kubelet.run_pod("default", pod.metadata.name, phase="Succeeded", logs=PASS_LOGS)
            except ApiException as exc:
                if exc.status != 404:  # a pod deleted meanwhile
                    self.errors.append(repr(exc))
            except Exception as exc:  # pylint: disable=broad-except
                self.errors.append(repr(exc))
            self._halt.wait(0.3)

    def close(self):
        self._halt.set()
        self.join(10)
        assert not self.errors, self.errors


@pytest.fixture
def upgrade_node(lab_container, tmp_path):
    """A fresh Debian 12 node whose /sys/module is a host directory (no module loaded yet)."""
    sys_module = tmp_path / "sys-module"
    sys_module.mkdir()
    node = lab_container("debian12", podman_args=["-v", "%s:/sys/module" % sys_module])
    subprocess.run([FAKE_GPU, node.name], check=True)  # the fake GPU and the reboot stand-in
    node.sys_module = sys_module
    return node


def write_inventory(path, kube, mirror, token_file, hosts):
    with open(os.path.join(REPO, "inventories", "demo", "group_vars", "gpu_nodes.yml"), encoding="utf-8") as f:
        lab = yaml.safe_load(f)
    lab.update({
        "lab_mirror_url": mirror.url,
        "k3s_gpu_server_url": kube.server,
        "k3s_gpu_token": "{{ lookup('ansible.builtin.file', '%s') }}" % token_file,
        "k3s_gpu_kubeconfig": kube.kubeconfig,
        "cuda_driver_reboot_allowed": True,
        "cuda_driver_reboot_command": "/usr/local/sbin/lab-reboot",
        "cuda_driver_boot_time_command": "cat /run/lab-boot-id",
        "cuda_driver_install_demo_suite": False,
        # deviceQuery needs CUDA: the health check of nvidia-smi's capture
        "k3s_gpu_node_checks": ["gpu_health"],
        "k3s_gpu_ready_timeout": 30,
        "k3s_gpu_pod_timeout": 60,
    })
    path.write_text(yaml.safe_dump({"all": {"vars": lab, "children": {
        "gpu_nodes": {"hosts": hosts},
        "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                               "ansible_python_interpreter": sys.executable}}},
    }}}))
    return str(path)


def one_line(stdout):
    return " ".join(stdout.split())


def plan_line(stdout, host):
    match = re.search(r'"msg": "(upgrade\.yml plan for %s .*?)"' % re.escape(host), stdout)
    assert match, stdout[-6000:]
    return match.group(1)


def workload(core, apps, kubelet, namespace, name, pdb=False):
    """A ReplicaSet's pod running on the node (the drain evicts only managed pods), and with
    pdb=True a PodDisruptionBudget that allows no disruption of it. Running: the API lets a
    Pending pod be evicted whatever its budget says."""
    node_name = kubelet.node_name
    labels = {"app": name}
    rs = apps.create_namespaced_replica_set(namespace, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.lab.invalid/app:1"}]}}}})
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name + "-0", "labels": labels, "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": rs.metadata.uid,
            "controller": True}]},
        "spec": {"nodeName": node_name, "containers": [{"name": "app", "image": "registry.lab.invalid/app:1"}]}})
    kubelet.set_running(namespace, name + "-0")
    if pdb:
        client.PolicyV1Api(core.api_client).create_namespaced_pod_disruption_budget(namespace, {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}}})
    return name + "-0"


def pins(packages):
    return [line.strip() for line in packages.splitlines() if line.startswith("nvidia-driver-pinning-")]


def pod_exists(core, namespace, name):
    try:
        core.read_namespaced_pod(name, namespace)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def wait_gone(core, namespace, name, timeout=30):
    deadline = time.monotonic() + timeout
    while pod_exists(core, namespace, name) and time.monotonic() < deadline:
        time.sleep(0.5)
    return not pod_exists(core, namespace, name)


def test_upgrade_switch_pdb_resume_and_idempotence(kube_cluster, kube_namespace, lab_mirror, fake_kubelet,
                                                   upgrade_node, tmp_path):
    node = upgrade_node
    api = kube_cluster.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    try:
        client.NodeV1Api(api).create_runtime_class({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                                    "metadata": {"name": "nvidia"}, "handler": "nvidia"})
    except ApiException as exc:
        if exc.status != 409:
            raise
    name = "gpu-up-%s" % uuid.uuid4().hex[:6]
    kubelet = fake_kubelet(name)
    kubelet.register(gpus=1, taints=[GPU_TAINT])
    token = tmp_path / "token"
    token.write_text("K10%s::server:%s\n" % (uuid.uuid4().hex, uuid.uuid4().hex))
    hosts = {"gpu-a": node_host(node.name, k3s_gpu_node_name=name),
             # After gpu-a in the rolling order, and not reachable at all: a run that reaches it fails.
             "gpu-b": node_host("k3slab-absent-%s" % uuid.uuid4().hex[:6], k3s_gpu_node_name=name + "-b")}
    inventory = write_inventory(tmp_path / "hosts.yml", kube_cluster, lab_mirror, str(token), hosts)
    player = PodPlayer(kube_cluster, kubelet)
    player.start()
    try:
        def installed():
            return node.exec(PACKAGES).stdout

        def loaded():
            return (node.sys_module / "nvidia" / "version").read_text().strip()

        def node_obj():
            return core.read_node(name)

        # 1. The node at 580.95.05 (cuda_driver_version pins it; its version pinning package).
        proc = playbook("upgrade", inventory, tmp_path, "--limit", "gpu-a", "-e", "cuda_driver_version=580.95.05")
        assert proc.returncode == 0, proc.stdout[-8000:]
        assert "nvidia-driver-cuda=580.95.05-1 ii" in installed()
        assert "nvidia-driver-pinning-580.95.05=580.95.05-1 ii" in installed()
        assert loaded() == "580.95.05"
        assert not node_obj().spec.unschedulable

        # 2. A version upgrade: cuda_driver_version empty is the branch's newest (580.105.08); the
        #    branch's pinning package replaces the version's. The drain evicts a workload's pod; the
        #    vectoradd pod ran on the cordoned node (it tolerates the cordon's taint).
        pod = workload(core, apps, kubelet, kube_namespace, "web")
        seen = len(player.seen)
        proc = playbook("upgrade", inventory, tmp_path, "--limit", "gpu-a")
        assert proc.returncode == 0, proc.stdout[-8000:]
        line = plan_line(proc.stdout, "gpu-a")
        assert ("upgrade: driver 580.95.05 -> 580.105.08; pinning nvidia-driver-pinning-580.95.05 -> "
                "nvidia-driver-pinning-580") in line, line
        assert "reboot would follow" in line, line
        pkgs = installed()
        assert "nvidia-driver-cuda=580.105.08-1 ii" in pkgs and "nvidia-kernel-open-dkms=580.105.08-1 ii" in pkgs
        assert pins(pkgs) == ["nvidia-driver-pinning-580=580-1 ii"], pkgs
        assert loaded() == "580.105.08"
        assert node.exec("cat /var/log/lab-reboots").stdout.split() == ["580.95.05", "580.105.08"]
        assert wait_gone(core, kube_namespace, pod), "the drain did not evict %s" % pod
        assert not node_obj().spec.unschedulable
        assert ANNOTATION not in (node_obj().metadata.annotations or {})
        assert len(player.seen) > seen
        assert all("node.kubernetes.io/unschedulable:NoSchedule" in t for t in player.seen.values()), player.seen

        # 3. Check mode: one line per node for the 580 -> 595 switch; nothing changes.
        switch = ["-e", "cuda_driver_branch=595", "-e", "cuda_driver_version=595.71.05"]
        before = installed()
        proc = playbook("upgrade", inventory, tmp_path, "--limit", "gpu-a", "--check", *switch)
        assert proc.returncode == 0, proc.stdout[-8000:]
        assert recap(proc.stdout)["gpu-a"]["changed"] == 0, proc.stdout[-6000:]
        line = plan_line(proc.stdout, "gpu-a")
        assert line == ("upgrade.yml plan for gpu-a (node %s): would upgrade: driver 580.105.08 -> 595.71.05; "
                        "pinning nvidia-driver-pinning-580 -> nvidia-driver-pinning-595.71.05; "
                        "toolkit 1.20.0-1 (nothing to change); k3s v1.36.3+k3s1 (nothing to change); "
                        "reboot would follow (check mode: nothing changed)" % name), line
        assert installed() == before and loaded() == "580.105.08"
        assert not node_obj().spec.unschedulable

        # 4. The switch, with a pod whose PodDisruptionBudget allows no eviction: the drain waits
        #    (retried every 5 s), fails at its bound, the node stays cordoned with the step in its
        #    annotation, nothing changed on it, and gpu-b (next in the rolling order) is not touched.
        guarded = workload(core, apps, kubelet, kube_namespace, "db", pdb=True)
        start = time.monotonic()
        proc = playbook("upgrade", inventory, tmp_path, "-e", "k3s_gpu_drain_timeout=10", *switch)
        elapsed = time.monotonic() - start
        assert proc.returncode != 0, proc.stdout[-8000:]
        out = one_line(proc.stdout)
        assert re.search(r"upgrade\.yml stopped on gpu-a \(node %s\) at step 2 of 7, drain \(Drain the node[^)]*\): "
                         r"Failed to delete pod %s/%s due to: .*disruption budget" % (name, kube_namespace, guarded),
                         out), out[-6000:]
        assert ("The node stays cordoned (annotation %s=drain); the nodes after it were not touched. Fix the cause, "
                "then resume with: ansible-playbook k3s_gpu.node.upgrade -i %s --limit gpu-a"
                % (ANNOTATION, inventory)) in out, out[-6000:]
        assert "FAILED - RETRYING: [gpu-a -> localhost]: Drain the node" in proc.stdout
        assert elapsed > 10
        counts = recap(proc.stdout)
        assert "gpu-b" not in counts and counts["gpu-a"]["failed"] == 1, counts
        assert node_obj().spec.unschedulable
        assert node_obj().metadata.annotations[ANNOTATION] == "drain"
        assert pod_exists(core, kube_namespace, guarded)
        assert installed() == before and loaded() == "580.105.08"

        # 5. The budget lifted, the documented resume: the annotation makes it finish the switch.
        client.PolicyV1Api(api).delete_namespaced_pod_disruption_budget("db", kube_namespace)
        proc = playbook("upgrade", inventory, tmp_path, "--limit", "gpu-a", *switch)
        assert proc.returncode == 0, proc.stdout[-8000:]
        assert "resuming the upgrade stopped at step drain" in plan_line(proc.stdout, "gpu-a")
        pkgs = installed()
        assert "nvidia-driver-cuda=595.71.05-1 ii" in pkgs and "nvidia-smi=595.71.05-1 ii" in pkgs, pkgs
        assert pins(pkgs) == ["nvidia-driver-pinning-595.71.05=595.71.05-1 ii"], pkgs
        assert "Pin: version 595.71.05-*" in node.exec("cat /etc/apt/preferences.d/*.pref").stdout
        assert loaded() == "595.71.05"
        assert wait_gone(core, kube_namespace, guarded)
        assert not node_obj().spec.unschedulable
        assert ANNOTATION not in (node_obj().metadata.annotations or {})

        # 6. The same run again: nothing to upgrade, the node not cordoned, changed=0.
        version = node_obj().metadata.resource_version
        proc = playbook("upgrade", inventory, tmp_path, "--limit", "gpu-a", *switch)
        assert proc.returncode == 0, proc.stdout[-8000:]
        assert recap(proc.stdout)["gpu-a"]["changed"] == 0, proc.stdout[-6000:]
        assert "nothing to upgrade: driver 595.71.05 (nothing to change)" in plan_line(proc.stdout, "gpu-a")
        assert node_obj().metadata.resource_version == version
        assert node.exec("cat /var/log/lab-reboots").stdout.split()[-1] == "595.71.05"
    finally:
        player.close()
