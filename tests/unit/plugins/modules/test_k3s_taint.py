# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""k3s_taint: argument errors (run as a real module process, no API needed) and the
conflict-retry / check-mode logic of run() against an in-memory Node resource.

The in-memory resource below stands in for kubernetes' dynamic client only in these unit
tests; tests/integration/test_k3s_taint.py runs the module against a real kube-apiserver.
"""

from __future__ import annotations

import copy

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

from ansible_collections.k3s_gpu.node.plugins.modules import k3s_taint


@pytest.mark.parametrize("args, message", [
    ({"name": "n1", "taints": ["gpu=x:Sometimes"]},
     "malformed taint: taints[0] 'gpu=x:Sometimes': key 'gpu': the effect 'Sometimes' must be one of"),
    ({"name": "n1", "taints": ["gpu=x"]}, "malformed taint: taints[0] 'gpu=x': key 'gpu': no effect"),
    ({"name": "n1", "taints": ["a:NoSchedule", "a=b:NoSchedule"]}, "same key and effect as taints[0]"),
    ({"name": "n1", "taints": [], "state": "absent", "exclusive": True}, "exclusive applies to state=present only"),
    ({"name": "bad_name!", "taints": []}, "is not a valid Kubernetes node name"),
    ({"taints": []}, "one of the following is required: name, hostname"),
    ({"name": "n1", "taints": [], "wait_timeout": -1}, "wait_timeout and wait_sleep must be 0 or more"),
])
def test_argument_errors_fail_before_any_api_call(run_module, args, message):
    # host points nowhere: reaching the API would give another message.
    rc, result = run_module("k3s_taint", dict(args, host="https://127.0.0.1:1"))
    assert rc == 1 and result["failed"]
    assert message in result["msg"]


class FakeModule:
    def __init__(self, check_mode=False, diff=False, **params):
        self.params = dict(state="present", exclusive=False, wait_timeout=0, wait_sleep=1)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)

    def fail_json(self, **kwargs):
        raise AssertionError("fail_json: %s" % kwargs)


class _Inst:
    def __init__(self, data):
        self._data = data

    def to_dict(self):
        return copy.deepcopy(self._data)


class MemoryNodes:
    """Node storage with resourceVersion preconditions, as the API server enforces them."""

    def __init__(self, taints=None, exists=True):
        self.node = {"metadata": {"name": "n1", "resourceVersion": "1"}, "spec": {"taints": taints or []}}
        self.exists = exists
        self.patches = []
        self.interfere = []  # taint lists another writer stores just before our next patches

    def get(self, name=None):
        if not self.exists:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        return _Inst(self.node)

    def _store(self, taints):
        self.node["spec"]["taints"] = taints
        self.node["metadata"]["resourceVersion"] = str(int(self.node["metadata"]["resourceVersion"]) + 1)

    def patch(self, body, name, content_type, dry_run=None):
        assert content_type == "application/merge-patch+json"
        self.patches.append((body, dry_run))
        if self.interfere:
            self._store(self.interfere.pop(0))
        if body["metadata"]["resourceVersion"] != self.node["metadata"]["resourceVersion"]:
            raise ConflictError(ApiException(status=409, reason="Conflict"))
        if dry_run != "All":
            self._store(body["spec"]["taints"])
        return _Inst(self.node)


GPU = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


def _wanted(*specs, present=True):
    return k3s_taint.taintlib.parse_taints(list(specs), require_effect=present)


def test_conflict_is_retried_from_a_fresh_read():
    nodes = MemoryNodes(taints=[NOT_READY])
    # The kubelet's lifecycle part removes not-ready between our read and our patch.
    nodes.interfere = [[]]
    result = k3s_taint.run(FakeModule(), nodes, "n1", _wanted("nvidia.com/gpu=present:NoSchedule"))
    assert result["changed"] is True
    assert len(nodes.patches) == 2
    assert nodes.patches[0][0]["metadata"]["resourceVersion"] == "1"
    assert nodes.patches[1][0]["metadata"]["resourceVersion"] == "2"
    # The second patch was computed from the fresh node: not-ready is not resurrected.
    assert nodes.node["spec"]["taints"] == [GPU]
    assert result["before"] == []


def test_gives_up_after_repeated_conflicts():
    nodes = MemoryNodes()
    nodes.interfere = [[NOT_READY]] * k3s_taint.CONFLICT_RETRIES
    with pytest.raises(AssertionError, match="changed under every one of 5 attempts"):
        k3s_taint.run(FakeModule(), nodes, "n1", _wanted("nvidia.com/gpu=present:NoSchedule"))


def test_check_mode_sends_a_dry_run_and_stores_nothing():
    nodes = MemoryNodes(taints=[NOT_READY])
    result = k3s_taint.run(FakeModule(check_mode=True, diff=True), nodes, "n1", _wanted("nvidia.com/gpu=present:NoSchedule"))
    assert result["changed"] is True
    assert [p[1] for p in nodes.patches] == ["All"]
    assert nodes.node["spec"]["taints"] == [NOT_READY]
    assert result["diff"]["before"] == "node.kubernetes.io/not-ready:NoSchedule\n"
    assert result["diff"]["after"] == "node.kubernetes.io/not-ready:NoSchedule\nnvidia.com/gpu=present:NoSchedule\n"


def test_no_patch_when_nothing_changes():
    nodes = MemoryNodes(taints=[GPU])
    result = k3s_taint.run(FakeModule(), nodes, "n1", _wanted("nvidia.com/gpu=present:NoSchedule"))
    assert result["changed"] is False and nodes.patches == []


def test_check_mode_does_not_wait_for_a_missing_node():
    nodes = MemoryNodes(exists=False)
    module = FakeModule(check_mode=True, wait_timeout=300)
    result = k3s_taint.run(module, nodes, "n1", _wanted("nvidia.com/gpu=present:NoSchedule"))
    assert result["changed"] is True and result["before"] == [] and result["after"] == [GPU]
    assert "not registered (yet)" in module.warnings[0]
    assert result["waited"] < 1
