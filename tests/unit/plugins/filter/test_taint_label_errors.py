# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The taint_errors, label_errors and k8s_node_name_errors filters: every problem at once, each
naming the variable and the item, by the same rules the k3s_taint and k3s_label modules apply."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.filter import k8s_node_name_errors as nne
from ansible_collections.k3s_gpu.node.plugins.filter import taint_label_errors as tle
from ansible_collections.k3s_gpu.node.plugins.module_utils import _labels, _taints


def test_valid_taints_have_no_error():
    assert tle.taint_errors(["nvidia.com/gpu=true:NoSchedule", "dedicated:NoExecute", "k=:PreferNoSchedule",
                            {"key": "a", "value": "1", "effect": "NoSchedule"}], "t") == []
    assert tle.taint_errors(None) == []
    assert tle.taint_errors([]) == []


def test_every_bad_taint_is_named_with_its_variable():
    errors = tle.taint_errors(["nvidia.com/gpu=true", "ok=1:NoSchedule", "nvidia.com/gpu=true:NoScheduel",
                              "nvidia gpu=true:NoSchedule", "ok=2:NoSchedule"], "k3s_agent_node_taints")
    assert errors == [
        "k3s_agent_node_taints[0] 'nvidia.com/gpu=true': key 'nvidia.com/gpu': no effect (expected "
        "key[=value]:Effect, Effect one of NoSchedule, PreferNoSchedule, NoExecute)",
        "k3s_agent_node_taints[2] 'nvidia.com/gpu=true:NoScheduel': key 'nvidia.com/gpu': the effect "
        "'NoScheduel' must be one of NoSchedule, PreferNoSchedule, NoExecute",
        "k3s_agent_node_taints[3] 'nvidia gpu=true:NoSchedule': key 'nvidia gpu': the name 'nvidia gpu' must be "
        "at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.', starting and ending with a letter or digit",
        "k3s_agent_node_taints[4] 'ok=2:NoSchedule': same key and effect as k3s_agent_node_taints[1]; a node has "
        "at most one taint per key and effect",
    ]


def test_not_a_list():
    assert tle.taint_errors("nvidia.com/gpu=true:NoSchedule", "gpu_operator_runtime_class_taints") == [
        "gpu_operator_runtime_class_taints must be a list of key[=value]:Effect taints, not str"]


def test_the_module_refuses_the_first_problem_the_filter_reports():
    specs = ["ok:NoSchedule", "bad:Nope", "worse"]
    with pytest.raises(_taints.TaintError) as err:
        _taints.parse_taints(specs)
    assert str(err.value) == _taints.taint_problems(specs)[0] == tle.taint_errors(specs)[0]
    assert len(tle.taint_errors(specs)) == 2


def test_valid_labels_have_no_error():
    assert tle.label_errors(["gpu.example.com/model=h200", "empty="], "l") == []
    assert tle.label_errors({"gpu.example.com/count": 8, "zone": None}) == []
    assert tle.label_errors(None) == []


def test_every_bad_label_is_named_with_its_variable():
    errors = tle.label_errors(["gpu.example.com/model", "ok=1", "model=" + "a" * 64, "ok=2"], "k3s_agent_node_labels")
    assert errors[0] == ("k3s_agent_node_labels[0] 'gpu.example.com/model': no '=' (expected key=value; the value "
                         "may be empty: key=)")
    assert errors[1].startswith("k3s_agent_node_labels[2] 'model=%s': key 'model': the value" % ("a" * 64))
    assert "must be at most 63 characters" in errors[1]
    assert errors[2] == "k3s_agent_node_labels[3] 'ok=2': key 'ok' is given twice"
    assert len(errors) == 3
    assert tle.label_errors({"gpu.example.com/shared": True}, "labels") == [
        "labels['gpu.example.com/shared']: key 'gpu.example.com/shared': the value True is a boolean; quote it "
        "('true' or 'false')"]
    assert tle.label_errors("a=b", "x") == ["x must be a list of key=value strings or a dictionary, not str"]


def test_the_label_module_refuses_the_first_problem_the_filter_reports():
    specs = ["a", "b=c", "d=e=f"]
    with pytest.raises(_labels.LabelError) as err:
        _labels.parse_labels(specs)
    assert str(err.value) == tle.label_errors(specs)[0]
    assert len(tle.label_errors(specs)) == 2


@pytest.mark.parametrize("node_name, hostname, expected", [
    ("gpu-07", None, []),
    ("", "gpu-07.lab.example", []),
    ("GPU-07", None, []),  # K3s lowercases it: gpu-07
    ("", None, []),  # not known here; K3s takes uname -n when it starts
    (None, None, []),
])
def test_node_name_without_error(node_name, hostname, expected):
    assert nne.k8s_node_name_errors(node_name, hostname, name="k3s_agent_node_name") == expected


def test_node_name_errors_name_the_variable_and_the_name():
    assert nne.k8s_node_name_errors("GPU_Node_1", None, name="k3s_agent_node_name") == [
        "k3s_agent_node_name: node name 'gpu_node_1' (from node-name 'GPU_Node_1', lowercased as K3s does) is not "
        "a valid Kubernetes node name: it must be a lowercase DNS name: labels of a-z, 0-9 and '-', starting and "
        "ending with a letter or digit, separated by '.'. Set the node name (K3s node-name) to a valid one"]
    errors = nne.k8s_node_name_errors("", "Lab_Node", name="k3s_agent_node_name")
    assert len(errors) == 1 and "from the host name 'Lab_Node', uname -n" in errors[0]
    with pytest.raises(AnsibleFilterError, match="the node name must be a string, not int"):
        nne.k8s_node_name_errors(7)


def test_registered_under_their_names():
    assert tle.FilterModule().filters() == {"taint_errors": tle.taint_errors, "label_errors": tle.label_errors}
    assert nne.FilterModule().filters() == {"k8s_node_name_errors": nne.k8s_node_name_errors}


def test_taint_and_label_messages_have_one_shape():
    # The item is shown the same way by both rules (module_utils/_taints.py item_problem), even
    # when it holds a quote, which repr() would show with other quotes.
    assert tle.taint_errors(["it's:NoSchedule"], "t")[0].startswith("t[0] 'it's:NoSchedule': key \"it's\":")
    assert tle.label_errors(["it's=x"], "l")[0].startswith("l[0] 'it's=x': key \"it's\":")
    assert tle.taint_errors([7], "t") == ["t[0] 7: " + str(pytest.raises(_taints.TaintError, _taints.parse_taint, 7).value)]
    assert tle.label_errors([7], "l") == ["l[0] 7: a label must be a string key=value, not int"]
