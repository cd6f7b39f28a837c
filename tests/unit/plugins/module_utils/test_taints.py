# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Taint parsing, validation and diffing (plugins/module_utils/_taints.py)."""

from __future__ import annotations

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils import _taints as t
from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import k3s_node_name, wait_for_node


def T(key, value, effect, **extra):
    out = {"key": key, "value": value, "effect": effect}
    out.update(extra)
    return out


@pytest.mark.parametrize("spec, expected", [
    ("nvidia.com/gpu=present:NoSchedule", T("nvidia.com/gpu", "present", "NoSchedule")),
    ("nvidia.com/gpu:NoSchedule", T("nvidia.com/gpu", "", "NoSchedule")),
    ("dedicated=gpu:NoExecute", T("dedicated", "gpu", "NoExecute")),
    ("k=:PreferNoSchedule", T("k", "", "PreferNoSchedule")),
    ("  spaced=v:NoSchedule ", T("spaced", "v", "NoSchedule")),
    ({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}, T("nvidia.com/gpu", "present", "NoSchedule")),
    ({"key": "nvidia.com/gpu", "effect": "NoSchedule"}, T("nvidia.com/gpu", "", "NoSchedule")),
    ({"key": "n", "value": None, "effect": "NoExecute"}, T("n", "", "NoExecute")),
    ({"key": "count", "value": 2, "effect": "NoExecute"}, T("count", "2", "NoExecute")),
    ("a.b-c/E_d.f-9=V_1.x:NoSchedule", T("a.b-c/E_d.f-9", "V_1.x", "NoSchedule")),
])
def test_parse_valid(spec, expected):
    assert t.parse_taint(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("nvidia.com/gpu=present", "no effect"),
    ("nvidia.com/gpu=present:", "nothing after ':'"),
    ("nvidia.com/gpu=present:Noschedule", "must be one of NoSchedule, PreferNoSchedule, NoExecute"),
    ("a=b=c:NoSchedule", "more than one '='"),
    ("=v:NoSchedule", "the key is empty"),
    ("/name:NoSchedule", "prefix before '/' is empty"),
    ("Upper.Example/x:NoSchedule", "lowercase DNS subdomain"),
    ("nvidia.com/:NoSchedule", "the name after '/' is empty"),
    ("a_b/x:NoSchedule", "lowercase DNS subdomain"),
    ("-bad:NoSchedule", "starting and ending with a letter or digit"),
    ("k" * 64 + ":NoSchedule", "at most 63 characters"),
    ("k=" + "v" * 64 + ":NoSchedule", "value"),
    ("k=has space:NoSchedule", "value"),
    ("k=v:al:NoSchedule", "value 'v:al'"),
    ("", "empty string"),
    ({"key": "k", "effect": "NoSchedule", "operator": "Exists"}, "unknown field(s) operator"),
    ({"value": "v", "effect": "NoSchedule"}, "the key is empty"),
    ({"key": "k", "value": ["x"], "effect": "NoSchedule"}, "must be a string"),
    (42, "must be a string key[=value]:Effect or a dict"),
])
def test_parse_invalid(spec, message):
    with pytest.raises(t.TaintError) as err:
        t.parse_taint(spec)
    assert message in str(err.value)


def test_removal_syntax_without_effect():
    assert t.parse_taint("dedicated", require_effect=False) == T("dedicated", "", None)
    assert t.parse_taint("dedicated:NoExecute", require_effect=False) == T("dedicated", "", "NoExecute")
    with pytest.raises(t.TaintError, match="no effect"):
        t.parse_taint("dedicated")


def test_parse_taints_names_the_item_and_refuses_duplicates():
    with pytest.raises(t.TaintError) as err:
        t.parse_taints(["ok:NoSchedule", "bad:Nope"])
    assert str(err.value).startswith("taints[1] 'bad:Nope': ")
    with pytest.raises(t.TaintError) as err:
        t.parse_taints(["k=a:NoSchedule", {"key": "k", "value": "b", "effect": "NoSchedule"}])
    assert "same key and effect as taints[0]" in str(err.value)
    # Same key, different effects: two taints, allowed.
    assert len(t.parse_taints(["k=a:NoSchedule", "k=a:NoExecute"])) == 2
    assert t.parse_taints(None) == []
    with pytest.raises(t.TaintError, match="must be a list"):
        t.parse_taints("k:NoSchedule")


def test_format_round_trip():
    for text in ("nvidia.com/gpu=present:NoSchedule", "k:NoExecute", "a/b=c:PreferNoSchedule"):
        assert t.format_taint(t.parse_taint(text)) == text


NOT_READY = T("node.kubernetes.io/not-ready", "", "NoSchedule")
UNSCHED = T("node.kubernetes.io/unschedulable", "", "NoSchedule")
CLOUD = T("node.cloudprovider.kubernetes.io/uninitialized", "true", "NoSchedule")
GPU = T("nvidia.com/gpu", "present", "NoSchedule")
OTHER = T("dedicated", "ml", "NoExecute", timeAdded="2026-11-27T10:00:00Z")


def test_present_adds_and_keeps_others_in_order():
    after = t.desired_taints([NOT_READY, OTHER], [GPU])
    assert after == [NOT_READY, OTHER, GPU]
    assert after[1]["timeAdded"] == "2026-11-27T10:00:00Z"  # unchanged taints keep timeAdded


def test_present_updates_value_in_place_and_drops_time_added():
    existing = [T("dedicated", "old", "NoExecute", timeAdded="2026-11-27T10:00:00Z"), NOT_READY]
    after = t.desired_taints(existing, [T("dedicated", "new", "NoExecute")])
    assert after == [T("dedicated", "new", "NoExecute"), NOT_READY]
    assert t.changes(existing, after) == {"added": [], "removed": [], "updated": [T("dedicated", "new", "NoExecute")]}


def test_present_is_idempotent():
    existing = [NOT_READY, GPU]
    after = t.desired_taints(existing, [GPU])
    assert t.taints_equal(existing, after)
    assert t.changes(existing, after) == {"added": [], "removed": [], "updated": []}


def test_same_key_other_effect_is_another_taint():
    existing = [T("nvidia.com/gpu", "present", "NoExecute")]
    after = t.desired_taints(existing, [GPU])
    assert after == [T("nvidia.com/gpu", "present", "NoExecute"), GPU]


def test_exclusive_keeps_only_wanted_and_system_taints():
    existing = [NOT_READY, OTHER, UNSCHED, CLOUD, T("nvidia.com/gpu", "old", "NoSchedule")]
    after = t.desired_taints(existing, [GPU], exclusive=True)
    assert after == [NOT_READY, UNSCHED, CLOUD, GPU]
    ch = t.changes(existing, after)
    assert ch["removed"] == [T("dedicated", "ml", "NoExecute")]
    assert ch["updated"] == [GPU]
    # Nothing wanted + exclusive: only the system's taints remain.
    assert t.desired_taints(existing, [], exclusive=True) == [NOT_READY, UNSCHED, CLOUD]


def test_system_prefix_is_a_prefix_not_a_substring():
    lookalike = T("example.com/node.kubernetes.io", "", "NoSchedule")
    assert not t.is_system(lookalike)
    assert t.desired_taints([lookalike], [], exclusive=True) == []


def test_absent_matches_key_and_optional_effect_ignoring_value():
    existing = [T("dedicated", "ml", "NoExecute"), T("dedicated", "ml", "NoSchedule"), GPU, NOT_READY]
    wanted = t.parse_taints(["dedicated:NoExecute"], require_effect=False)
    assert t.desired_taints(existing, wanted, state="absent") == [T("dedicated", "ml", "NoSchedule"), GPU, NOT_READY]
    wanted = t.parse_taints(["dedicated"], require_effect=False)
    assert t.desired_taints(existing, wanted, state="absent") == [GPU, NOT_READY]
    wanted = t.parse_taints(["nvidia.com/gpu=other:NoSchedule"], require_effect=False)
    assert t.desired_taints(existing, wanted, state="absent") == existing[:2] + [NOT_READY]
    # Removing what is not there changes nothing.
    wanted = t.parse_taints(["missing"], require_effect=False)
    assert t.taints_equal(t.desired_taints(existing, wanted, state="absent"), existing)


def test_bad_state():
    with pytest.raises(ValueError):
        t.desired_taints([], [], state="gone")


def test_api_conversions():
    api = [{"key": "k", "effect": "NoSchedule"},
           {"key": "d", "value": "v", "effect": "NoExecute", "timeAdded": "2026-11-27T10:00:00Z"}]
    parsed = t.from_api(api)
    assert parsed == [T("k", "", "NoSchedule"), T("d", "v", "NoExecute", timeAdded="2026-11-27T10:00:00Z")]
    assert t.to_api(parsed) == api
    assert t.public(parsed) == [T("k", "", "NoSchedule"), T("d", "v", "NoExecute")]
    assert t.from_api(None) == []


def test_equality_ignores_order_and_time_added():
    a = [GPU, OTHER]
    b = [T("dedicated", "ml", "NoExecute"), GPU]
    assert t.taints_equal(a, b)
    assert not t.taints_equal(a, [GPU])
    assert not t.taints_equal([GPU], [T("nvidia.com/gpu", "other", "NoSchedule")])


def test_diff_text_sorted_one_per_line():
    assert t.diff_text([OTHER, GPU, NOT_READY]) == (
        "dedicated=ml:NoExecute\nnode.kubernetes.io/not-ready:NoSchedule\nnvidia.com/gpu=present:NoSchedule\n")
    assert t.diff_text([]) == ""


@pytest.mark.parametrize("name, hostname, expected", [
    ("gpu-node-1", "ignored", "gpu-node-1"),
    (None, "GPU-Node-1.Example.COM", "gpu-node-1.example.com"),
    ("", "Host1", "host1"),
    ("Custom", None, "custom"),
    (None, None, None),
    ("", "", None),
])
def test_k3s_node_name(name, hostname, expected):
    assert k3s_node_name(name, hostname) == expected


class _Clock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class _Nodes:
    """A stand-in for the dynamic client's Node resource: the node exists from read number `appears_at`."""

    def __init__(self, appears_at):
        self.reads = 0
        self.appears_at = appears_at

    def get(self, name):
        from kubernetes.dynamic.exceptions import NotFoundError
        from kubernetes.client.rest import ApiException

        self.reads += 1
        if self.appears_at is None or self.reads < self.appears_at:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))

        class _Inst:
            @staticmethod
            def to_dict():
                return {"metadata": {"name": name}}
        return _Inst()


def test_wait_for_node_polls_until_it_appears():
    clock = _Clock()
    nodes = _Nodes(appears_at=3)
    node, waited = wait_for_node(nodes, "n1", timeout=10, sleep=2, monotonic=clock.monotonic, sleeper=clock.sleep)
    assert node == {"metadata": {"name": "n1"}}
    assert nodes.reads == 3 and clock.sleeps == [2, 2] and waited == 4.0


def test_wait_for_node_gives_up_at_the_timeout_and_reads_at_least_once():
    clock = _Clock()
    nodes = _Nodes(appears_at=None)
    node, waited = wait_for_node(nodes, "n1", timeout=5, sleep=2, monotonic=clock.monotonic, sleeper=clock.sleep)
    assert node is None and waited == 5.0 and clock.sleeps == [2, 2, 1]
    clock = _Clock()
    nodes = _Nodes(appears_at=None)
    assert wait_for_node(nodes, "n1", timeout=0, monotonic=clock.monotonic, sleeper=clock.sleep) == (None, 0.0)
    assert nodes.reads == 1 and clock.sleeps == []
