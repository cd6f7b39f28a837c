# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: k8s_node_name_errors
short_description: Why no valid Kubernetes node name comes out of a node name and a host name
version_added: 0.1.0
description:
  - The checking half of P(k3s_gpu.node.k8s_node_name#filter), for assertions - instead of failing,
    returns what that filter's failure would say, as a list with one message that names the variable,
    or an empty list when the node name K3s registers (the node name when set, else the kernel's host
    name, lowercased) is a valid Kubernetes node name.
  - With neither a node name nor a host name the node name is not known here (K3s takes the host name
    when it starts); that is no error.
positional: hostname
options:
  _input:
    description: The node name (K3s C(node-name)); empty or null when not set.
    type: str
    required: true
  hostname:
    description: The kernel's host name of the node, C(ansible_facts.nodename); null when not known.
    type: str
  name:
    description: What the message calls the node name, usually the variable's name.
    type: str
    default: node name
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
seealso:
  - plugin: k3s_gpu.node.k8s_node_name
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the node name before anything changes
  vars:
    _errors: >-
      {{ k3s_agent_node_name | k3s_gpu.node.k8s_node_name_errors(ansible_facts['nodename'] | default(none),
                                                                 name='k3s_agent_node_name') }}
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join('; ') }}"

# "GPU_Node_1" | k3s_gpu.node.k8s_node_name_errors(name='k3s_agent_node_name')
#   -> ["k3s_agent_node_name: node name 'gpu_node_1' (from node-name 'GPU_Node_1', lowercased as K3s
#       does) is not a valid Kubernetes node name: ..."]
"""

RETURN = r"""
_value:
  description: The problem, as a list of at most one message; empty when the node name is valid.
  type: list
  elements: str
  sample: []
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import NodeNameError, k3s_node_name, resolve_node_name


def k8s_node_name_errors(node_name, hostname=None, name="node name"):
    """Why k8s_node_name would fail (see DOCUMENTATION)."""
    for what, value in (("the node name", node_name), ("the host name", hostname), ("name", name)):
        if value is not None and not isinstance(value, str):
            raise AnsibleFilterError("k8s_node_name_errors: %s must be a string, not %s" % (what, type(value).__name__))
    if k3s_node_name(node_name, hostname) is None:
        return []
    try:
        resolve_node_name(node_name, hostname)
    except NodeNameError as exc:
        return ["%s: %s" % (name, exc)]
    return []


class FilterModule:
    """The k8s_node_name_errors filter."""

    def filters(self):
        return {"k8s_node_name_errors": k8s_node_name_errors}
