# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: runtime_class_tolerations
short_description: The tolerations a GPU-only RuntimeClass needs for the GPU nodes' taints
version_added: 0.1.0
description:
  - Turns node taints (C(key[=value]:Effect) strings, the syntax of K3s's C(--node-taint), or
    dictionaries with key, value and effect) into the tolerations of a RuntimeClass's
    C(scheduling), one per key and effect, operator C(Exists), so that any value of the key is
    tolerated.
  - Fails, naming the taint, when one is malformed (the parser of M(k3s_gpu.node.k3s_taint)).
options:
  _input:
    description: The taints.
    type: list
    elements: raw
    required: true
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
"""

EXAMPLES = r"""
# ['nvidia.com/gpu=true:NoSchedule'] | k3s_gpu.node.runtime_class_tolerations
#   -> [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
"""

RETURN = r"""
_value:
  description: The tolerations.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.module_utils._runtime_class import tolerations_for
from ansible_collections.k3s_gpu.node.plugins.module_utils._taints import TaintError


def runtime_class_tolerations(taints):
    if not isinstance(taints, list):
        raise AnsibleFilterError("runtime_class_tolerations: the taints must be a list, not %s" % type(taints).__name__)
    try:
        return tolerations_for(taints)
    except TaintError as exc:
        raise AnsibleFilterError("runtime_class_tolerations: %s" % exc)


class FilterModule:
    """The runtime_class_tolerations filter."""

    def filters(self):
        return {"runtime_class_tolerations": runtime_class_tolerations}
