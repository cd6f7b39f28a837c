# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Jinja filters of the gpu_operator role's GPU sharing; the rules live in module_utils/_gpu_sharing.py.

``gpu_sharing_problems``: ``nodes | k3s_gpu.node.gpu_sharing_problems(configs, default, configmap,
mig_strategy)`` returns what is wrong with the sharing inputs (an empty list when nothing is),
each problem naming the variable, the node and the GPU.

``gpu_sharing_configmap_data``: ``configs | k3s_gpu.node.gpu_sharing_configmap_data`` returns the
ConfigMap's data: one key per named config, its value the device plugin's config file (YAML).

``gpu_sharing_node_labels``: ``node | k3s_gpu.node.gpu_sharing_node_labels`` returns the labels
(``{key: value}``) that select the node's time-slicing config and MIG profile.
"""

from __future__ import annotations

import yaml

from ansible_collections.k3s_gpu.node.plugins.module_utils import _gpu_sharing


def gpu_sharing_problems(nodes, configs, default="", configmap="", mig_strategy=""):
    return _gpu_sharing.problems(configs, default, configmap, mig_strategy, nodes)


def gpu_sharing_configmap_data(configs):
    return {
        name: yaml.safe_dump(_gpu_sharing.device_plugin_config(config), default_flow_style=False, sort_keys=False)
        for name, config in sorted((configs or {}).items())
    }


def gpu_sharing_node_labels(node):
    return _gpu_sharing.node_labels(node)


class FilterModule:
    """gpu_sharing filters."""

    def filters(self):
        return {
            "gpu_sharing_problems": gpu_sharing_problems,
            "gpu_sharing_configmap_data": gpu_sharing_configmap_data,
            "gpu_sharing_node_labels": gpu_sharing_node_labels,
        }
