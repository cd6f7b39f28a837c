# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: label_errors
short_description: What is wrong with Kubernetes node labels
version_added: 0.1.0
description:
  - Returns one message per malformed label, each naming the variable, the item and what is wrong;
    an empty list when every label is valid.
  - Labels are a list of C(key=value) strings (K3s C(node-label), the kubelet's C(--node-labels); the
    value may be empty, C(key=)) or a dictionary; keys are qualified names, values label values
    (a boolean must be quoted), no key twice.
  - The same rule as the O(k3s_gpu.node.k3s_label#module:labels) option of the module (one
    implementation, in the collection's module_utils), so a role can refuse bad labels before it
    changes anything.
positional: name
options:
  _input:
    description: The labels (a list or a dictionary); null is no label.
    type: raw
    required: true
  name:
    description: What the messages call the labels, usually the variable's name.
    type: str
    default: labels
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
seealso:
  - module: k3s_gpu.node.k3s_label
  - name: Labels, syntax and character set
    description: Kubernetes documentation of label keys and values.
    link: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
"""

EXAMPLES = r"""
# The labels of every node given as a dictionary, in one list of messages.
- name: Refuse bad node labels
  ansible.builtin.fail:
    msg: "{{ _label_errors | join('; ') }}"
  vars:
    _label_errors: >-
      {{ gpu_nodes | select('mapping') | map(attribute='labels', default=[])
         | map('k3s_gpu.node.label_errors', 'gpu_nodes[].labels') | flatten }}
  when: _label_errors | length > 0

# ['gpu.example.com/model'] | k3s_gpu.node.label_errors('k3s_agent_node_labels')
#   -> ["k3s_agent_node_labels[0] 'gpu.example.com/model': no '=' (expected key=value; the value may be empty: key=)"]
# {'gpu.example.com/shared': true} | k3s_gpu.node.label_errors
#   -> ["labels['gpu.example.com/shared']: key 'gpu.example.com/shared': the value True is a boolean; quote it ('true' or 'false')"]
"""

RETURN = r"""
_value:
  description: The problems, one message per bad item; empty when all labels are valid.
  type: list
  elements: str
  sample: ["labels[0] 'gpu.example.com/model': no '=' (expected key=value; the value may be empty: key=)"]
"""

from ansible_collections.k3s_gpu.node.plugins.module_utils._labels import label_problems


def label_errors(labels, name="labels"):
    """What is wrong with `labels` (see DOCUMENTATION)."""
    return label_problems(labels, name=str(name))


class FilterModule:
    """The label_errors filter."""

    def filters(self):
        return {"label_errors": label_errors}
