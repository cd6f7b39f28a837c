# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k3s_gpu.node.k3s_taint through ansible-playbook against the real kube-apiserver.

Real: kube-apiserver + etcd (tests/lab/kube), ansible-playbook, the module, the
kubernetes client, RBAC and authentication. Simulated: the kubelet. Nodes are registered
by kube.kubelet.FakeKubelet, which writes through the same API what a K3s agent's kubelet
writes (the Node, its status, and the node lifecycle controller's not-ready taints).
"""

from __future__ import annotations

import threading
import time
import uuid

from kubernetes import client

from api_helpers import run_module, taints_of

GPU = "nvidia.com/gpu=true:NoSchedule"


def run_taint_with_output(kube, args, check=False, diff=False, expect_rc=0):
    """Run the module once through ansible-playbook; return (its result, the playbook's stdout).

    A failed module run has expect_rc=2 (a failed task) and its result has failed and msg.
    """
    return run_module(kube, "k3s_taint", args, check=check, diff=diff, expect_rc=expect_rc)


def run_taint(kube, args, check=False, diff=False, expect_rc=0):
    """The module's result only."""
    return run_taint_with_output(kube, args, check=check, diff=diff, expect_rc=expect_rc)[0]


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def test_check_apply_check_apply(kube_cluster, fake_kubelet):
    name = unique("taint-cycle")
    fake_kubelet(name).register(gpus=1)
    args = {"name": name, "taints": [GPU, {"key": "dedicated", "value": "ml", "effect": "NoExecute"}]}

    result = run_taint(kube_cluster, args, check=True)
    assert result["changed"] is True
    assert taints_of(kube_cluster, name) == []  # check mode stored nothing
    assert result["after"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
                               {"key": "dedicated", "value": "ml", "effect": "NoExecute"}]

    result = run_taint(kube_cluster, args)
    assert result["changed"] is True and result["before"] == []
    assert taints_of(kube_cluster, name) == ["dedicated=ml:NoExecute", GPU]
    # kubectl taint stamps NoExecute taints with timeAdded; do the same, then check that the
    # module leaves an unchanged taint (and its timeAdded) alone.
    api = client.CoreV1Api(kube_cluster.api_client())
    api.patch_node(name, {"spec": {"taints": [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "ml", "effect": "NoExecute", "timeAdded": "2026-11-27T10:00:00Z"}]}},
        _content_type="application/merge-patch+json")

    result = run_taint(kube_cluster, args, check=True)
    assert result["changed"] is False
    result, out = run_taint_with_output(kube_cluster, args)
    assert result["changed"] is False, out
    node = api.read_node(name)
    stamps = [t.time_added for t in node.spec.taints if t.effect == "NoExecute"]
    assert [s.strftime("%Y-%m-%dT%H:%M:%SZ") for s in stamps] == ["2026-11-27T10:00:00Z"]

    # A new value for the same key and effect updates the taint in place.
    result = run_taint(kube_cluster, {"name": name, "taints": ["nvidia.com/gpu=present:NoSchedule"]})
    assert result["changed"] is True
    assert result["changes"]["updated"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert taints_of(kube_cluster, name) == ["dedicated=ml:NoExecute", "nvidia.com/gpu=present:NoSchedule"]


def test_absent(kube_cluster, fake_kubelet):
    name = unique("taint-absent")
    fake_kubelet(name).register(gpus=1, taints=[
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "ml", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "ml", "effect": "NoExecute"}])
    result = run_taint(kube_cluster, {"name": name, "taints": ["dedicated"], "state": "absent"})
    assert result["changed"] is True
    assert sorted(t["effect"] for t in result["changes"]["removed"]) == ["NoExecute", "NoSchedule"]
    assert taints_of(kube_cluster, name) == [GPU]
    result = run_taint(kube_cluster, {"name": name, "taints": ["dedicated", GPU], "state": "absent"})
    assert result["changed"] is True and taints_of(kube_cluster, name) == []
    result = run_taint(kube_cluster, {"name": name, "taints": [GPU], "state": "absent"})
    assert result["changed"] is False


def test_exclusive_keeps_system_taints(kube_cluster, fake_kubelet):
    name = unique("taint-exclusive")
    kubelet = fake_kubelet(name)
    # NotReady: the (simulated) node lifecycle controller adds node.kubernetes.io/not-ready twice.
    kubelet.register(gpus=1, ready=False, taints=[
        {"key": "dedicated", "value": "ml", "effect": "NoSchedule"},
        {"key": "old", "effect": "PreferNoSchedule"}])
    # A cordon (kubectl cordon adds this taint through the node controller).
    api = client.CoreV1Api(kube_cluster.api_client())
    node = api.read_node(name)
    taints = [t.to_dict() for t in node.spec.taints]
    taints = [{"key": t["key"], "value": t["value"], "effect": t["effect"]} for t in taints]
    taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    api.patch_node(name, {"spec": {"taints": taints}})

    result = run_taint(kube_cluster, {"name": name, "taints": [GPU], "exclusive": True})
    assert result["changed"] is True
    assert sorted(t["key"] for t in result["changes"]["removed"]) == ["dedicated", "old"]
    assert taints_of(kube_cluster, name) == sorted([
        "node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule", GPU])
    result = run_taint(kube_cluster, {"name": name, "taints": [GPU], "exclusive": True})
    assert result["changed"] is False


def test_diff_output(kube_cluster, fake_kubelet):
    name = unique("taint-diff")
    fake_kubelet(name).register(gpus=1, taints=[{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}])
    result, out = run_taint_with_output(kube_cluster, {"name": name, "taints": [GPU], "exclusive": True}, diff=True)
    assert result["diff"] == {"before": "dedicated=ml:NoSchedule\n", "after": GPU + "\n",
                              "before_header": "node/%s taints" % name, "after_header": "node/%s taints" % name}
    # The callback shows it as a unified diff.
    assert "--- before: node/%s taints" % name in out
    assert "+++ after: node/%s taints" % name in out
    assert "-dedicated=ml:NoSchedule" in out
    assert "+" + GPU in out


def test_malformed_taints_fail_before_the_api(kube_cluster, fake_kubelet):
    name = unique("taint-bad")
    fake_kubelet(name).register(gpus=1)
    result = run_taint(kube_cluster, {"name": name, "taints": [GPU, "nvidia.com/gpu=true:NoScheduel"]},
                       expect_rc=2)
    out = result["msg"]
    assert "malformed taint: taints[1] 'nvidia.com/gpu=true:NoScheduel': key 'nvidia.com/gpu': the effect " \
           "'NoScheduel' must be one of NoSchedule, PreferNoSchedule, NoExecute" in out
    out = run_taint(kube_cluster, {"name": name, "taints": ["Bad_Prefix/gpu=true:NoSchedule"]}, expect_rc=2)["msg"]
    assert "must be a lowercase DNS subdomain" in out
    out = run_taint(kube_cluster, {"name": name, "taints": [{"key": "gpu", "effect": "NoSchedule",
                                                             "operator": "Exists"}]}, expect_rc=2)["msg"]
    assert "unknown field(s) operator" in out
    assert taints_of(kube_cluster, name) == []


def test_node_that_registers_late_is_waited_for(kube_cluster, fake_kubelet):
    """The K3s agent registers its node asynchronously: the module waits for it."""
    name = unique("taint-late")
    kubelet = fake_kubelet(name)
    # Long enough that the module's first read comes first even on a loaded machine
    # (ansible-playbook's start-up alone takes several seconds there).
    timer = threading.Timer(15.0, lambda: kubelet.register(gpus=1))
    timer.start()
    try:
        start = time.monotonic()
        result = run_taint(kube_cluster, {"name": name, "taints": [GPU], "wait_timeout": 60, "wait_sleep": 1})
    finally:
        timer.join()
    assert result["changed"] is True
    assert result["waited"] >= 1.0  # the first read found no node
    assert time.monotonic() - start < 60
    assert taints_of(kube_cluster, name) == [GPU]


def test_missing_node_times_out_with_a_clear_message(kube_cluster, fake_kubelet):
    present = unique("taint-present")
    fake_kubelet(present).register(gpus=1)
    start = time.monotonic()
    out = run_taint(kube_cluster, {"name": "no-such-node", "taints": [GPU], "wait_timeout": 3, "wait_sleep": 1},
                    expect_rc=2)["msg"]
    assert time.monotonic() - start < 60
    assert "node no-such-node is not registered after 3s (wait_timeout)" in out
    assert "systemctl status k3s-agent" in out
    assert present in out  # the registered nodes are listed


def test_node_name_resolved_like_k3s(kube_cluster, fake_kubelet):
    """No name: the (lowercased) host name, as K3s names the node."""
    name = unique("gpu-host")
    fake_kubelet(name).register(gpus=1)
    result = run_taint(kube_cluster, {"hostname": name.upper(), "taints": [GPU], "wait_timeout": 0})
    assert result["node"] == name and result["changed"] is True
    # An empty node-name falls back to the host name too; a set one wins over it.
    result = run_taint(kube_cluster, {"name": "", "hostname": name, "taints": [GPU], "wait_timeout": 0})
    assert result["node"] == name and result["changed"] is False
    out = run_taint(kube_cluster, {"name": "other-" + name, "hostname": name, "taints": [GPU],
                                   "wait_timeout": 0}, expect_rc=2)["msg"]
    assert "node other-%s is not registered" % name in out


def test_wrong_credentials(kube_cluster, fake_kubelet):
    name = unique("taint-auth")
    fake_kubelet(name).register(gpus=1)
    # Authenticated but granted nothing by RBAC: 403.
    result = run_taint(kube_cluster, {"name": name, "taints": [GPU], "kubeconfig": kube_cluster.kubeconfig_limited},
                       expect_rc=2)
    assert result["status"] == 403
    assert "forbidden by the Kubernetes API" in result["msg"]
    assert 'User "limited" cannot get resource "nodes"' in result["msg"]
    # A token the API server does not know: 401.
    result, out = run_taint_with_output(kube_cluster, {"name": name, "taints": [GPU], "host": kube_cluster.server,
                                                       "ca_cert": kube_cluster.ca_file,
                                                       "api_key": "not-a-valid-token"},
                                        expect_rc=2)
    assert "refused the credentials (401 Unauthorized)" in result["msg"]
    assert "not-a-valid-token" not in out  # api_key is no_log
    # Nothing listens: unreachable.
    result = run_taint(kube_cluster, {"name": name, "taints": [GPU], "host": "https://127.0.0.1:9",
                                      "ca_cert": kube_cluster.ca_file, "api_key": "x"}, expect_rc=2)
    assert "cannot reach the Kubernetes API" in result["msg"]
    assert taints_of(kube_cluster, name) == []
