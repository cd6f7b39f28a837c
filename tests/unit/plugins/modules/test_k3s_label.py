# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k3s_label: argument errors (a real module process, no API needed), and the node handling it
shares with k3s_taint (module_utils/_k8s_node.py node_module, registered_node) against an
in-memory Node resource; tests/integration/test_k3s_label.py runs it against a real kube-apiserver."""

from __future__ import annotations

import pytest

from ansible_collections.k3s_gpu.node.plugins.modules import k3s_label, k3s_taint
from test_k3s_taint import FakeModule, MemoryNodes, _Inst


@pytest.mark.parametrize("args, message", [
    ({"name": "n1", "labels": ["gpu.example.com/model"]},
     "malformed label: labels[0] 'gpu.example.com/model': no '=' (expected key=value"),
    ({"name": "n1", "labels": {"shared": True}}, "malformed label: labels['shared']: key 'shared': the value True is a boolean"),
    ({"name": "bad_name!", "labels": []}, "is not a valid Kubernetes node name"),
    ({"labels": []}, "one of the following is required: name, hostname"),
    ({"name": "n1", "labels": [], "wait_sleep": -1}, "wait_timeout and wait_sleep must be 0 or more"),
    ({"name": "n1", "labels": [], "state": "gone"}, "value of state must be one of: present, absent"),
])
def test_argument_errors_fail_before_any_api_call(run_module, args, message):
    # host points nowhere: reaching the API would give another message.
    rc, result = run_module("k3s_label", dict(args, host="https://127.0.0.1:1"))
    assert rc == 1 and result["failed"]
    assert message in result["msg"]


class ListedNodes(MemoryNodes):
    """No node n1; a list of the nodes that did register."""

    def __init__(self, names):
        super().__init__(exists=False)
        self.names = names

    def get(self, name=None):
        if name is None:
            return _Inst({"items": [{"metadata": {"name": n}} for n in self.names]})
        return super().get(name=name)


@pytest.mark.parametrize("module_, wanted", [
    (k3s_label, k3s_label.labellib.parse_labels(["gpu.example.com/model=h200"])),
    (k3s_taint, k3s_taint.taintlib.parse_taints(["nvidia.com/gpu=present:NoSchedule"])),
])
def test_both_modules_name_the_registered_nodes_when_theirs_is_missing(module_, wanted):
    with pytest.raises(AssertionError, match=r"node n1 is not registered after 0s \(wait_timeout\)\..* "
                                             r"Registered nodes: gpu-01, gpu-02\."):
        module_.run(FakeModule(), ListedNodes(["gpu-01", "gpu-02"]), "n1", wanted)


def test_check_mode_reports_the_labels_a_missing_node_would_get():
    module = FakeModule(check_mode=True, diff=True, wait_timeout=300)
    result = k3s_label.run(module, ListedNodes([]), "n1", k3s_label.labellib.parse_labels(["a=b"]))
    assert result["changed"] is True and result["before"] == {} and result["after"] == {"a": "b"}
    assert result["diff"] == {"before": "", "after": "a=b\n", "before_header": "node/n1 labels",
                              "after_header": "node/n1 labels"}
    assert "not registered (yet)" in module.warnings[0] and result["waited"] < 1


def test_labels_are_patched_with_a_dry_run_in_check_mode_and_only_when_they_change():
    nodes = MemoryNodes()
    nodes.node["metadata"]["labels"] = {"a": "b"}
    sent = []
    nodes.patch = lambda body, name, content_type, dry_run=None: sent.append((body, dry_run)) or _Inst(nodes.node)
    wanted = k3s_label.labellib.parse_labels(["a=b"])
    assert k3s_label.run(FakeModule(), nodes, "n1", wanted)["changed"] is False and sent == []
    result = k3s_label.run(FakeModule(check_mode=True), nodes, "n1", k3s_label.labellib.parse_labels(["a=c"]))
    assert result["changed"] is True and result["changes"]["updated"] == ["a=c"]
    assert sent == [({"metadata": {"labels": {"a": "c"}}}, "All")]
