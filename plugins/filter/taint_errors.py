# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: taint_errors
short_description: What is wrong with a list of Kubernetes node taints
version_added: 0.1.0
description:
  - Returns one message per malformed taint, each naming the variable, the item's index and the item,
    and saying what is wrong; an empty list when every taint is valid.
  - A taint is C(key[=value]:Effect) (K3s C(node-taint), the kubelet's C(--register-with-taints)) or a
    dictionary with C(key), C(value) and C(effect); the key a qualified name, the value a label value,
    the effect one of C(NoSchedule), C(PreferNoSchedule), C(NoExecute); no two taints with the same key
    and effect.
  - The same rule as the O(k3s_gpu.node.k3s_taint#module:taints) option of the module (one
    implementation, in the collection's module_utils), so a role can refuse bad taints before it
    changes anything.
positional: name
options:
  _input:
    description: The taints (a list); null is an empty list.
    type: raw
    required: true
  name:
    description: What the messages call the list, usually the variable's name.
    type: str
    default: taints
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
seealso:
  - module: k3s_gpu.node.k3s_taint
  - name: Taints and tolerations
    description: Kubernetes documentation of taints and their effects.
    link: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
"""

EXAMPLES = r"""
- name: Check the taints before anything changes
  vars:
    _errors: "{{ k3s_agent_node_taints | k3s_gpu.node.taint_errors('k3s_agent_node_taints') }}"
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join('; ') }}"

# ['nvidia.com/gpu=true'] | k3s_gpu.node.taint_errors('k3s_agent_node_taints')
#   -> ["k3s_agent_node_taints[0] 'nvidia.com/gpu=true': key 'nvidia.com/gpu': no effect (expected
#       key[=value]:Effect, Effect one of NoSchedule, PreferNoSchedule, NoExecute)"]
"""

RETURN = r"""
_value:
  description: The problems, one message per bad item; empty when all taints are valid.
  type: list
  elements: str
  sample: ["taints[1] 'gpu=true:NoScheduel': key 'gpu': the effect 'NoScheduel' must be one of NoSchedule, PreferNoSchedule, NoExecute"]
"""

from ansible_collections.k3s_gpu.node.plugins.module_utils._taints import taint_problems


def taint_errors(taints, name="taints"):
    """What is wrong with `taints` (see DOCUMENTATION)."""
    return taint_problems(taints, name=str(name))


class FilterModule:
    """The taint_errors filter."""

    def filters(self):
        return {"taint_errors": taint_errors}
