# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_gpu_sharing.py: the gpu_operator role's GPU sharing rules (the filter plugin
gpu_sharing calls them as they are). The GPUs are nvidia-smi's real XML, parsed by the collection's
own parser, as nvidia_smi_facts reports them."""

from __future__ import annotations

import os

import yaml

from ansible_collections.k3s_gpu.node.plugins.filter.gpu_sharing import FilterModule
from ansible_collections.k3s_gpu.node.plugins.module_utils import _gpu_sharing as sharing
from ansible_collections.k3s_gpu.node.plugins.module_utils import _nvidia_smi

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nvidia-smi")
FILTERS = FilterModule().filters()


def gpus(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return _nvidia_smi.parse_xml(handle.read())["gpus"]


H200 = gpus("h200-1gpu-q.xml")  # real: MIG disabled, MIG-capable
H100_MIG = gpus("h100-2gpu-derived-mig-q.xml")  # GPU 0 MIG enabled, GPU 1 enabling pending
L4 = gpus("l4-1gpu-derived-no-mig-q.xml")  # no MIG mode (N/A)
CONFIGS = {"ts-4": {"replicas": 4},
           "ts-2-strict": {"replicas": 2, "fail_requests_greater_than_one": True, "rename_by_default": True}}


def problems(nodes, configs=None, default="", configmap="time-slicing-config", mig_strategy=""):
    return sharing.problems(CONFIGS if configs is None else configs, default, configmap, mig_strategy, nodes)


def test_fixtures_say_which_gpus_can_do_mig():
    assert H200[0]["mig_mode"] == {"current": "Disabled", "pending": "Disabled"}
    assert L4[0]["name"] == "NVIDIA L4" and L4[0]["mig_mode"] == {"current": None, "pending": None}
    assert sharing.mig_incapable_gpus(H200 + H100_MIG) == []
    assert sharing.mig_incapable_gpus(H200 + L4) == L4


def test_accepted_inputs_have_no_problem():
    nodes = ["plain-node", {"name": "gpu-01", "sharing_config": "ts-4", "gpus": L4},
             {"name": "gpu-02", "mig_config": "all-1g.18gb", "gpus": H200},
             {"name": "gpu-03", "mig_config": "all-balanced", "sharing_config": "ts-2-strict", "gpus": H100_MIG},
             {"name": "gpu-04", "mig_config": "all-disabled", "gpus": L4},
             {"name": "", "hostname": "gpu-05", "mig_config": "all-1g.10gb"}]  # no facts given: not checked
    assert problems(nodes, default="ts-4", mig_strategy="mixed") == []
    assert problems([], configs={}) == []


def test_mig_profile_on_a_gpu_without_mig_names_variable_node_and_gpu():
    out = problems([{"name": "gpu-l4", "mig_config": "all-1g.18gb", "gpus": H200 + L4}])
    assert len(out) == 1
    assert out[0].startswith("gpu_operator_gpu_nodes: node gpu-l4 has mig_config 'all-1g.18gb' (k3s_gpu_mig_config")
    assert "GPU 0 (NVIDIA L4) cannot do MIG" in out[0]


def test_mig_profile_needs_known_gpus_and_a_strategy_that_advertises_them():
    out = problems([{"hostname": "gpu-x", "mig_config": "all-1g.10gb", "gpus": []}], mig_strategy="none")
    assert len(out) == 2
    assert "gpu_operator_mig_strategy is none" in out[0]
    assert "node gpu-x has mig_config 'all-1g.10gb'" in out[1] and "nvidia-smi reports no GPU" in out[1]
    assert problems([{"name": "n", "mig_config": "all-disabled", "gpus": []}], mig_strategy="none") == []


def test_bad_configs_and_choices_are_named():
    configs = {"ts-1": {"replicas": 1}, "Bad Name": {"replicas": 4},
               "ts-x": {"replicas": "4", "devices": "all", "rename_by_default": "yes", "resource": "gpu"}}
    out = problems([{"name": "gpu-01", "sharing_config": "ts-8"}, {"name": "gpu-02", "mig_config": "all 1g"}],
                   configs=configs, default="ts-9", configmap="Time_Slicing", mig_strategy="auto")
    text = "\n".join(out)
    assert "gpu_operator_sharing_configs['ts-1']: replicas must be a whole number of at least 2" in text
    assert "gpu_operator_sharing_configs['Bad Name']: the name is not valid" in text
    assert "gpu_operator_sharing_configs['ts-x']: unknown key(s) devices" in text
    assert "gpu_operator_sharing_configs['ts-x']: replicas must be" in text  # a string is not a number
    assert "gpu_operator_sharing_configs['ts-x']: resource must be" in text
    assert "gpu_operator_sharing_configs['ts-x']: rename_by_default must be true or false" in text
    assert "gpu_operator_sharing_default 'ts-9' is not a config" in text
    assert "gpu_operator_sharing_configmap 'Time_Slicing' must be a ConfigMap name" in text
    assert "gpu_operator_mig_strategy 'auto' must be one of none, single, mixed" in text
    assert "node gpu-01 has sharing_config 'ts-8'" in text and "(Bad Name, ts-1, ts-x)" in text
    assert "node gpu-02 has mig_config 'all 1g'" in text
    assert sharing.config_problems(["ts-4"]) == [
        "gpu_operator_sharing_configs must be a dictionary of named configs ({ts-4: {replicas: 4}}), got list"]


def test_configmap_data_is_the_device_plugins_config_file():
    data = FILTERS["gpu_sharing_configmap_data"](CONFIGS)
    assert sorted(data) == ["ts-2-strict", "ts-4"]
    assert yaml.safe_load(data["ts-4"]) == {"version": "v1", "sharing": {"timeSlicing": {
        "renameByDefault": False, "failRequestsGreaterThanOne": False,
        "resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}}
    strict = yaml.safe_load(data["ts-2-strict"])["sharing"]["timeSlicing"]
    assert strict["renameByDefault"] is True and strict["failRequestsGreaterThanOne"] is True
    mig = yaml.safe_load(FILTERS["gpu_sharing_configmap_data"]({"m": {"replicas": 3, "resource": "nvidia.com/mig-1g.10gb"}})["m"])
    assert mig["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/mig-1g.10gb", "replicas": 3}]


def test_node_labels():
    labels = FILTERS["gpu_sharing_node_labels"]
    assert labels({"name": "a", "sharing_config": "ts-4", "mig_config": "all-1g.18gb"}) == {
        "nvidia.com/device-plugin.config": "ts-4", "nvidia.com/mig.config": "all-1g.18gb"}
    assert labels({"name": "a", "sharing_config": "", "mig_config": ""}) == {}
    assert labels("plain-node") == {}
