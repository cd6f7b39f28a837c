# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Adding one GPU node to a cluster, the way users run it: playbooks/site.yml with a --limit.

Real: ansible-playbook and the playbooks, a Debian 12 systemd container as the new GPU node
(podman connection), the lab's vendor mirror (stand-ins for NVIDIA's repositories, the K3s
release and the operator chart; tests/lab), a real kube-apiserver (tests/lab/kube),
helm. Simulated: the node's kubelet. The lab's K3s agent is a stand-in that validates its
configuration and records the node name, taints and labels it would register with; the
demo's kubelet (scripts/demo_kubelet.py) registers that Node through the API once the agent
runs, with those taints and labels, as K3s's kubelet does at first registration only.

- The inventory lists two GPU nodes; gpu-06 is not reachable at all (its container does not
  exist), so any contact with it would show as an unreachable host.
- gpu-07's kernel host name (uname -n) is a mixed-case FQDN: K3s names the node after it,
  lowercased, and so must every playbook.
- reset.yml with an IP address as the inventory name deletes the node named after the host.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from kube import cluster as kube_cluster_mod
from pytest_lab import ANSIBLE_PLAYBOOK

REPO = kube_cluster_mod.REPO_ROOT
sys.path.insert(0, os.path.join(REPO, "scripts"))
import demo_kubelet  # noqa: E402  pylint: disable=wrong-import-position,import-error

GPU_TAINT = "nvidia.com/gpu=true:NoSchedule"
# The limit of docs/awx.md ("Limit" of the job template) and of site.yml's own hint.
LIMIT = "gpu-07,localhost"


class DemoKubelet:
    """scripts/demo_kubelet.py's registration, in a thread: registers the container's node once
    its K3s agent runs, then never again (K3s applies taints and labels at first registration)."""

    def __init__(self, cluster, container):
        self.cluster, self.container = cluster, container
        self.kubelet = None
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set() and self.kubelet is None:
            try:
                self.kubelet = demo_kubelet.register(self.cluster, self.container)
            except Exception as exc:  # pylint: disable=broad-except
                self.errors.append(repr(exc))
                return
            self._stop.wait(2)

    def close(self):
        self._stop.set()
        self._thread.join(10)
        if self.kubelet is not None:
            self.kubelet.close()
            self.kubelet.deregister()
        assert not self.errors, self.errors


def write_inventory(path, kube, mirror, token_file, hosts, release):
    """An inventory laid out as a user's: hosts.yml and group_vars; the lab's node settings are
    inventories/demo/group_vars/gpu_nodes.yml (every vendor URL on the lab mirror)."""
    os.makedirs(os.path.join(path, "group_vars"), exist_ok=True)
    shutil.copy(os.path.join(REPO, "inventories", "demo", "group_vars", "gpu_nodes.yml"),
                os.path.join(path, "group_vars", "gpu_nodes.yml"))
    all_vars = {
        "lab_mirror_url": mirror.url,
        "k3s_gpu_server_url": kube.server,
        "k3s_gpu_token": "{{ lookup('ansible.builtin.file', '%s') }}" % token_file,
        "k3s_gpu_kubeconfig": kube.kubeconfig,
        "k3s_gpu_serial": 1,
        # No controllers in the lab: the operator's pods never run (site.yml says so).
        "k3s_gpu_operator_wait": False,
    }
    controller_vars = {
        "gpu_operator_chart_repo_url": "{{ lab_mirror_url }}/helm/nvidia",
        "gpu_operator_helm_binary": kube.helm,
        "gpu_operator_namespace": release,
        "gpu_operator_release_name": release,
    }
    for name, data in (("all", all_vars), ("controller", controller_vars)):
        with open(os.path.join(path, "group_vars", name + ".yml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(data, f)
    doc = {"all": {"children": {
        "gpu_nodes": {"hosts": hosts},
        "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                               "ansible_python_interpreter": sys.executable}}},
    }}}
    with open(os.path.join(path, "hosts.yml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f)
    return path


def node_host(container, **host_vars):
    out = {"ansible_connection": "lab_podman", "ansible_host": container,
           "ansible_python_interpreter": "/usr/bin/python3", "ansible_remote_tmp": "/root/.ansible/tmp"}
    out.update(host_vars)
    return out


def playbook(name, inventory, tmp_path, *args, timeout=1200):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0",
               # one line per message, so that a message is found whole
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(tmp_path / var.lower())
    cmd = [ANSIBLE_PLAYBOOK, "-i", inventory,
           os.path.join(REPO, "playbooks", name + ".yml")] + list(args)
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False)
    with open(tmp_path / ("%s-%s.log" % (name, uuid.uuid4().hex[:6])), "w", encoding="utf-8") as f:
        f.write(" ".join(cmd) + "\n" + proc.stdout)
    return proc


def recap(stdout):
    """{host: {ok, changed, unreachable, failed}} from the PLAY RECAP."""
    out = {}
    for m in re.finditer(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", stdout, re.M):
        out[m.group(1)] = {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                           "failed": int(m.group(5))}
    return out


def read_node(kube, name):
    try:
        return client.CoreV1Api(kube.api_client()).read_node(name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def taints_of(node):
    return sorted("%s%s:%s" % (t.key, "=" + t.value if t.value else "", t.effect) for t in node.spec.taints or [])


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("K10%s::server:%s\n" % (uuid.uuid4().hex, uuid.uuid4().hex))
    path.chmod(0o600)
    return str(path)


def test_add_one_node_with_a_limit(kube_cluster, lab_mirror, lab_container, token_file, tmp_path):
    """Two GPU nodes in the inventory, one added with the documented limit; the other is never
    contacted. Also: the node is named after its FQDN host name, and labels changed after the
    node registered are enforced on the live node."""
    suffix = uuid.uuid4().hex[:6]
    hostname = "GPU-07-%s.Lab.Example" % suffix
    node_name = hostname.lower()  # K3s: os.Hostname(), lowercased
    c = lab_container("debian12", hostname=hostname)
    assert c.exec("uname -n").stdout.strip() == hostname
    release = "addnode-%s" % suffix
    hosts = {
        # Not reachable: no such container. Any task on it would make it unreachable.
        "gpu-06": node_host("k3slab-absent-%s" % suffix, k3s_gpu_node_labels=["gpu.example.com/model=a100"]),
        "gpu-07": node_host(c.name, k3s_gpu_node_labels=["gpu.example.com/model=a100"]),
    }
    inventory = write_inventory(str(tmp_path / "inventory"), kube_cluster, lab_mirror, token_file, hosts, release)
    kubelet = DemoKubelet(kube_cluster, c.name)
    try:
        # 1. Without the controller in the limit: the node is set up, and the run says what it
        #    did not do and the exact limit that finishes the job.
        proc = playbook("site", inventory, tmp_path, "--limit", "gpu-07")
        assert proc.returncode == 0, proc.stdout[-6000:]
        rc = recap(proc.stdout)
        assert set(rc) == {"gpu-07"}, rc
        assert "NOT DONE: the controller (localhost) is not in this run (--limit gpu-07)" in proc.stdout, \
            proc.stdout[-4000:]
        assert ("on %s the taints and labels were not enforced" % node_name) in proc.stdout
        assert "the GPU Operator was not installed or upgraded, and no vectoradd pod ran" in proc.stdout
        assert "run the same command with --limit '%s'" % LIMIT in proc.stdout
        state = c.exec("cat /var/lib/rancher/k3s/agent/standin-state.json").stdout
        assert '"node_name": "%s"' % node_name in state, state

        # The kubelet registered the node under K3s's name, with the first taints and labels.
        deadline = time.monotonic() + 60
        while read_node(kube_cluster, node_name) is None and time.monotonic() < deadline:
            time.sleep(1)
        node = read_node(kube_cluster, node_name)
        assert node is not None, "node %s never registered (kubelet errors %s)" % (node_name, kubelet.errors)
        assert node.metadata.labels["gpu.example.com/model"] == "a100"
        assert taints_of(node) == [GPU_TAINT]

        # 2. The labels change after registration (K3s would not apply them), then the documented
        #    limit: taints and labels enforced on the live node, the operator installed.
        hosts["gpu-07"]["k3s_gpu_node_labels"] = ["gpu.example.com/model=h200", "team=ml"]
        hosts["gpu-06"]["k3s_gpu_node_labels"] = ["gpu.example.com/model=h200", "team=ml"]
        write_inventory(inventory, kube_cluster, lab_mirror, token_file, hosts, release)
        client.CoreV1Api(kube_cluster.api_client()).patch_node(node_name, {"spec": {"taints": []}})
        proc = playbook("site", inventory, tmp_path, "--limit", LIMIT)
        assert proc.returncode == 0, proc.stdout[-6000:]
        rc = recap(proc.stdout)
        assert set(rc) == {"gpu-07", "localhost"}, rc
        assert "NOT DONE" not in proc.stdout
        # The agent's config has the new labels, which K3s would not apply to the registered node.
        assert "team=ml" in c.exec("cat /etc/rancher/k3s/config.yaml").stdout
        node = read_node(kube_cluster, node_name)
        assert node.metadata.labels["gpu.example.com/model"] == "h200"
        assert node.metadata.labels["team"] == "ml"
        assert node.metadata.labels["kubernetes.io/hostname"] == node_name  # the kubelet's own, kept
        assert taints_of(node) == [GPU_TAINT]
        releases = subprocess.run([kube_cluster.helm, "--kubeconfig", kube_cluster.kubeconfig, "list", "-n", release,
                                   "-q"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
        assert releases == [release]

        # 3. The same run again changes nothing, on the node or through the API.
        proc = playbook("site", inventory, tmp_path, "--limit", LIMIT)
        assert proc.returncode == 0, proc.stdout[-6000:]
        rc = recap(proc.stdout)
        assert set(rc) == {"gpu-07", "localhost"}, rc
        assert rc["gpu-07"]["changed"] == 0 and rc["localhost"]["changed"] == 0, proc.stdout[-6000:]
    finally:
        kubelet.close()
    # The documented limit is the one this test runs.
    with open(os.path.join(REPO, "docs", "awx.md"), encoding="utf-8") as f:
        assert "| Limit | `%s`" % LIMIT in f.read()


def test_reset_with_an_ip_address_as_inventory_name(kube_cluster, lab_container, fake_kubelet, tmp_path):
    """reset.yml deletes the node K3s registered for the host (uname -n), not one named after
    the inventory name (an IP address: its first part, '10', used to be taken)."""
    suffix = uuid.uuid4().hex[:6]
    hostname = "gpu-08-%s.lab.example" % suffix
    c = lab_container("debian12", hostname=hostname)
    fake_kubelet(hostname).register(gpus=1)
    decoy = fake_kubelet("10")
    try:
        decoy.register(gpus=1)
    except ApiException as exc:  # another test's "10": fine, it must survive all the same
        assert exc.status == 409
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"k3s_gpu_kubeconfig": kube_cluster.kubeconfig},
        "children": {
            "gpu_nodes": {"hosts": {"10.0.0.8": node_host(c.name)}},
            "controller": {"hosts": {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}},
        }}}))
    proc = playbook("reset", str(inventory), tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert read_node(kube_cluster, hostname) is None, "reset.yml did not delete node %s" % hostname
    assert read_node(kube_cluster, "10") is not None, "reset.yml deleted node '10', named after the inventory name"
