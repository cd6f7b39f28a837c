# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: k8s_node_name
short_description: The Kubernetes node name K3s registers for a host
version_added: 0.1.0
description:
  - Returns the name under which the K3s agent of a host registers its Kubernetes node, the rule
    of K3s itself (pkg/util/net.go, GetHostnameAndIPs) - the node name (K3s C(node-name)) when it
    is set, otherwise the kernel's host name (C(uname -n)), lowercased.
  - The host name to pass is Ansible's C(ansible_facts.nodename), which is what C(uname -n) prints
    and may be a fully qualified name; not C(ansible_facts.hostname) (cut at the first dot) and not
    the inventory name.
  - Fails, saying what to set, when neither is given or the result is not a valid Kubernetes node
    name (a lowercase DNS subdomain of at most 253 characters); it never falls back to another name.
  - The same rule as the O(k3s_gpu.node.k3s_taint#module:name) and
    O(k3s_gpu.node.k3s_taint#module:hostname) options of the modules (one implementation, in the
    collection's module_utils).
positional: hostname
options:
  _input:
    description: The node name (K3s C(node-name), C(k3s_gpu_node_name)); empty or null when not set.
    type: str
    required: true
  hostname:
    description: The kernel's host name of the node, C(ansible_facts.nodename).
    type: str
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
seealso:
  - name: K3s agent options (node-name)
    description: K3s documentation of the agent's node options.
    link: https://docs.k3s.io/cli/agent
"""

EXAMPLES = r"""
- name: The node name of this host (gather the facts first, subset min)
  ansible.builtin.set_fact:
    k3s_gpu_node_name_resolved: "{{ k3s_gpu_node_name | default('') | k3s_gpu.node.k8s_node_name(ansible_facts['nodename']) }}"

# "" | k3s_gpu.node.k8s_node_name('GPU-07.Lab.Example') -> gpu-07.lab.example
# "Worker-7" | k3s_gpu.node.k8s_node_name('gpu-07.lab.example') -> worker-7
"""

RETURN = r"""
_value:
  description: The Kubernetes node name.
  type: str
  sample: gpu-07.lab.example
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import NodeNameError, resolve_node_name


def k8s_node_name(name, hostname=None):
    """The node name K3s registers (see DOCUMENTATION)."""
    for what, value in (("the node name", name), ("the host name", hostname)):
        if value is not None and not isinstance(value, str):
            raise AnsibleFilterError("k8s_node_name: %s must be a string, not %s" % (what, type(value).__name__))
    try:
        return resolve_node_name(name, hostname)
    except NodeNameError as exc:
        raise AnsibleFilterError("k8s_node_name: %s" % exc)


class FilterModule:
    """The k8s_node_name filter."""

    def filters(self):
        return {"k8s_node_name": k8s_node_name}
