# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k3s_gpu.node.k3s_label through ansible-playbook against the real kube-apiserver.

Real: kube-apiserver + etcd (tests/lab/kube), ansible-playbook, the module, the
kubernetes client. Simulated: the kubelet (kube.kubelet.FakeKubelet registers the node with
the labels K3s's --node-label gives it at first registration).
"""

from __future__ import annotations

import uuid

from api_helpers import labels_of, run_module


def run_label(kube, args, check=False, diff=False, expect_rc=0):
    """Run the module once through ansible-playbook; return (its result, the playbook's stdout)."""
    return run_module(kube, "k3s_label", args, check=check, diff=diff, expect_rc=expect_rc)


def test_changed_labels_of_a_registered_node_are_enforced(kube_cluster, fake_kubelet):
    """Registered with model=a100 (K3s's node-label at first registration); the wanted labels
    changed since: check mode and --diff say what would change and store nothing, a real run
    changes it, a second run changes nothing."""
    name = "label-%s" % uuid.uuid4().hex[:6]
    fake_kubelet(name).register(gpus=1, labels={"gpu.example.com/model": "a100"})
    args = {"name": name, "labels": ["gpu.example.com/model=h200", "team=ml"], "wait_timeout": 0}

    result, out = run_label(kube_cluster, args, check=True, diff=True)
    assert result["changed"] is True
    assert result["changes"] == {"added": ["team=ml"], "removed": [], "updated": ["gpu.example.com/model=h200"]}
    assert labels_of(kube_cluster, name)["gpu.example.com/model"] == "a100"  # dry run: nothing stored
    assert "team" not in labels_of(kube_cluster, name)
    assert "--- before: node/%s labels" % name in out
    assert "-gpu.example.com/model=a100" in out and "+gpu.example.com/model=h200" in out and "+team=ml" in out

    result, _out = run_label(kube_cluster, args)
    assert result["changed"] is True
    labels = labels_of(kube_cluster, name)
    assert labels["gpu.example.com/model"] == "h200" and labels["team"] == "ml"
    assert labels["kubernetes.io/hostname"] == name  # the kubelet's labels are left alone

    result, _out = run_label(kube_cluster, args, check=True)
    assert result["changed"] is False
    result, _out = run_label(kube_cluster, args)
    assert result["changed"] is False

    # As a dictionary, by host name (lowercased as K3s does), and removal.
    result, _out = run_label(kube_cluster, {"hostname": name.upper(), "labels": {"team": "ml"}, "wait_timeout": 0})
    assert result["node"] == name and result["changed"] is False
    result, _out = run_label(kube_cluster, {"name": name, "labels": ["team"], "state": "absent", "wait_timeout": 0})
    assert result["changed"] is True and result["changes"]["removed"] == ["team=ml"]
    assert "team" not in labels_of(kube_cluster, name)


def test_malformed_labels_fail_before_the_api(kube_cluster, fake_kubelet):
    name = "label-bad-%s" % uuid.uuid4().hex[:6]
    fake_kubelet(name).register(gpus=1)
    before = labels_of(kube_cluster, name)
    result, _out = run_label(kube_cluster, {"name": name, "labels": ["gpu.example.com/model"]}, expect_rc=2)
    assert "malformed label: labels[0] 'gpu.example.com/model': no '='" in result["msg"]
    result, _out = run_label(kube_cluster, {"name": "GPU_Node", "labels": ["a=b"]}, expect_rc=2)
    assert "is not a valid Kubernetes node name" in result["msg"]
    assert labels_of(kube_cluster, name) == before


def test_missing_node_times_out_with_a_clear_message(kube_cluster):
    result, _out = run_label(kube_cluster, {"name": "no-such-node", "labels": ["a=b"], "wait_timeout": 2,
                                            "wait_sleep": 1}, expect_rc=2)
    assert "node no-such-node is not registered after 2s (wait_timeout)" in result["msg"]
    # In check mode the module does not wait, and says what it would do.
    result, _out = run_label(kube_cluster, {"name": "no-such-node", "labels": ["a=b"]}, check=True)
    assert result["changed"] is True and result["after"] == {"a": "b"}
