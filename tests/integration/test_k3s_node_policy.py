# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k3s_gpu.node.k3s_node_policy through ansible-playbook against the real kube-apiserver.

Real: kube-apiserver + etcd (tests/lab/kube), ansible-playbook, the role, the k3s_taint
and k3s_label modules, the kubernetes client. Simulated: the kubelet (FakeKubelet registers the
nodes, one of them without the taint, as a node that joined before the taint was configured).
"""

from __future__ import annotations

import os
import uuid

from api_helpers import ansible_playbook, labels_of, recap, taints_of

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "k3s_node_policy_role.yml")
GPU_TAINT = "nvidia.com/gpu=true:NoSchedule"


def run_role(kube, extra_vars, check=False, expect_rc=0):
    stdout = ansible_playbook(kube, PLAYBOOK, extra_vars, check=check, expect_rc=expect_rc)
    return recap(stdout)["changed"], stdout


def test_taints_and_labels_enforced_on_live_nodes(kube_cluster, fake_kubelet):
    """Two nodes: one given by name, with a label; one by its host name (uname -n, upper case),
    resolved as K3s does. Check mode stores nothing, a run enforces, a second run changes nothing."""
    first = "policy-%s" % uuid.uuid4().hex[:6]
    second = "policy-%s" % uuid.uuid4().hex[:6]
    fake_kubelet(first).register(gpus=1)
    fake_kubelet(second).register(gpus=1)
    nodes = [{"name": first, "taints": [GPU_TAINT], "labels": ["gpu.example.com/model=h200"]},
             {"name": "", "hostname": second.upper(), "taints": [GPU_TAINT], "labels": []}]
    variables = {"k3s_node_policy_kubeconfig": kube_cluster.kubeconfig, "k3s_node_policy_nodes": nodes,
                 "k3s_node_policy_wait_timeout": 0}

    changed, _out = run_role(kube_cluster, variables, check=True)
    assert changed == 2  # the taint task (two nodes) and the label task (one node)
    assert taints_of(kube_cluster, first) == [] and taints_of(kube_cluster, second) == []
    assert "gpu.example.com/model" not in labels_of(kube_cluster, first)

    changed, _out = run_role(kube_cluster, variables)
    assert changed == 2
    assert GPU_TAINT in taints_of(kube_cluster, first) and GPU_TAINT in taints_of(kube_cluster, second)
    assert labels_of(kube_cluster, first)["gpu.example.com/model"] == "h200"
    assert "gpu.example.com/model" not in labels_of(kube_cluster, second)

    changed, _out = run_role(kube_cluster, variables)
    assert changed == 0


def test_no_nodes_no_api_calls(kube_cluster):
    """Without nodes the role changes nothing and needs no node to exist."""
    changed, _out = run_role(kube_cluster, {"k3s_node_policy_kubeconfig": kube_cluster.kubeconfig})
    assert changed == 0


def test_a_node_entry_that_is_not_a_dictionary_is_refused(kube_cluster):
    _changed, out = run_role(kube_cluster, {"k3s_node_policy_kubeconfig": kube_cluster.kubeconfig,
                                            "k3s_node_policy_nodes": ["gpu-01"]}, expect_rc=2)
    assert "k3s_node_policy_nodes" in out and "dict" in out
