# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: workload_not_ready
short_description: Which Deployments or DaemonSets are not ready, and why
version_added: 0.1.0
description:
  - Returns one message per object that is not ready (its kind, its name and why), or an empty list
    when all are ready; for a bounded wait's C(until) and the assertion after it.
  - Ready is the rule of C(kubectl rollout status) and of kubernetes.core's waiter - the controller has
    observed the object's current generation and every replica (pod) it wants is updated, ready and
    available, with no replica of an older generation left. A DaemonSet must also be scheduled on at
    least O(min_nodes) nodes.
  - The same rule the gpu_workspace role waits on (one implementation, in the collection's module_utils).
positional: kind, names, min_nodes
options:
  _input:
    description: The objects, as C(kubernetes.core.k8s_info) returns them in C(resources).
    type: list
    elements: dict
    required: true
  kind:
    description: Their kind.
    type: str
    choices: [Deployment, DaemonSet]
    required: true
  names:
    description:
      - The names of the objects that must be ready; one that is not among the input is not created yet.
      - By default every object of the input.
    type: list
    elements: str
  min_nodes:
    description: The fewest nodes each DaemonSet must be scheduled on.
    type: int
    default: 0
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
seealso:
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Wait for the DaemonSets to be ready on the two GPU nodes
  kubernetes.core.k8s_info:
    api_version: apps/v1
    kind: DaemonSet
    namespace: gpu-operator
  register: _daemonsets
  until: >-
    _daemonsets.resources | default([])
    | k3s_gpu.node.workload_not_ready('DaemonSet', ['nvidia-device-plugin-daemonset'], 2) | length == 0
  retries: 30
  delay: 10

# [] | k3s_gpu.node.workload_not_ready('Deployment', ['gpu-operator']) -> ["Deployment gpu-operator: not created yet"]
"""

RETURN = r"""
_value:
  description: Why each object is not ready; empty when all are.
  type: list
  elements: str
  sample: ["Deployment gpu-operator: generation 2 not observed yet (observed 1)",
           "DaemonSet nvidia-device-plugin-daemonset: scheduled on 0 node(s), expected at least 1"]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.module_utils._workload import KINDS, not_ready


def workload_not_ready(objects, kind, names=None, min_nodes=0):
    """What is not ready (see DOCUMENTATION)."""
    if kind not in KINDS:
        raise AnsibleFilterError("workload_not_ready: kind must be one of %s, not %r" % (", ".join(KINDS), kind))
    if objects is not None and not (isinstance(objects, list) and all(isinstance(o, dict) for o in objects)):
        raise AnsibleFilterError("workload_not_ready: the input must be a list of objects (k8s_info's resources)")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise AnsibleFilterError("workload_not_ready: names must be a list of names")
    try:
        min_nodes = int(min_nodes or 0)
    except (TypeError, ValueError):
        raise AnsibleFilterError("workload_not_ready: min_nodes must be a number, not %r" % (min_nodes,))
    return not_ready(objects, kind, names, min_nodes)


class FilterModule:
    """The workload_not_ready filter."""

    def filters(self):
        return {"workload_not_ready": workload_not_ready}
