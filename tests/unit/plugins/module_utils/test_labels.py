# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_labels.py: label parsing, validation and the merge patch."""

from __future__ import annotations

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils import _labels as lab


def test_parse_list_and_dict():
    assert lab.parse_labels(["gpu.example.com/model=h200", "empty="]) == {"gpu.example.com/model": "h200", "empty": ""}
    assert lab.parse_labels({"gpu.example.com/count": 8, "zone": None}) == {"gpu.example.com/count": "8", "zone": ""}
    assert lab.parse_labels(None) == {}
    assert lab.parse_labels(["a", "b=c"], require_value=False) == {"a": None, "b": "c"}


@pytest.mark.parametrize("specs, message", [
    (["gpu.example.com/model"], "labels[0] 'gpu.example.com/model': no '='"),
    (["model=" + "a" * 64], "must be at most 63 characters"),
    (["Bad_Prefix/x=1"], "must be a lowercase DNS subdomain"),
    (["a=b=c"], "more than one '='"),
    (["a=1", "a=2"], "key 'a' is given twice"),
    ([7], "a label must be a string key=value, not int"),
    ({"enabled": True}, "is a boolean; quote it"),
    ("a=b", "labels must be a list of key=value strings or a dictionary"),
])
def test_malformed(specs, message):
    with pytest.raises(lab.LabelError, match=message.replace("[", r"\[").replace("]", r"\]")):
        lab.parse_labels(specs)


def test_desired_present_keeps_others_and_updates():
    existing = {"kubernetes.io/hostname": "gpu-07", "gpu.example.com/model": "a100"}
    after = lab.desired_labels(existing, {"gpu.example.com/model": "h200", "team": "ml"})
    assert after == {"kubernetes.io/hostname": "gpu-07", "gpu.example.com/model": "h200", "team": "ml"}
    assert lab.changes(existing, after) == {"added": ["team=ml"], "removed": [], "updated": ["gpu.example.com/model=h200"]}
    assert lab.merge_patch(existing, after) == {"gpu.example.com/model": "h200", "team": "ml"}


def test_desired_absent_matches_value_when_given():
    existing = {"team": "ml", "zone": "a"}
    assert lab.desired_labels(existing, {"team": None}, "absent") == {"zone": "a"}
    assert lab.desired_labels(existing, {"zone": "b"}, "absent") == existing
    after = lab.desired_labels(existing, {"zone": "a"}, "absent")
    assert lab.merge_patch(existing, after) == {"zone": None}
    assert lab.changes(existing, after)["removed"] == ["zone=a"]


def test_diff_text_sorted():
    assert lab.diff_text({"b": "2", "a": ""}) == "a=\nb=2\n"
