#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_label
short_description: Ensure the labels of a K3s node, waiting for the node to register
version_added: 0.1.0
description:
  - Ensures that the labels in O(labels) are on (O(state=present)) or off (O(state=absent)) the
    Kubernetes node of a K3s host, through the Kubernetes API.
  - K3s applies C(--node-label) (C(node-label) in C(/etc/rancher/k3s/config.yaml)) only when the node
    registers for the first time; later changes to that setting never reach an existing node. This
    module enforces the labels on the node itself, as M(k3s_gpu.node.k3s_taint) does for taints.
  - It resolves the node name the way K3s does (O(name), else O(hostname) lowercased) and waits up
    to O(wait_timeout) seconds for the node to register. Labels it is not given are left alone (the
    kubelet, K3s and the GPU Operator's feature discovery own many); the change is a JSON merge patch
    of the given keys only.
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
  - k3s_gpu.node.k3s_node
  - kubernetes.core.k8s_auth_options
options:
  labels:
    description:
      - Labels, as a list of C(key=value) strings (the syntax of K3s's C(--node-label); the value may
        be empty, C(key=)) or as a dictionary of keys to values.
      - With O(state=absent) a string may be C(key) alone; a value given must match for the label to
        be removed.
      - Keys are qualified names (C([prefix/]name)), values label values (at most 63 characters);
        anything else fails before the API is contacted.
    type: raw
    required: true
seealso:
  - module: k3s_gpu.node.k3s_taint
  - module: kubernetes.core.k8s
  - name: Labels and selectors
    description: Kubernetes documentation.
    link: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
"""

EXAMPLES = r"""
- name: Label the GPU node (string syntax of K3s's --node-label)
  k3s_gpu.node.k3s_label:
    hostname: "{{ hostvars[item].ansible_facts.nodename }}"
    labels:
      - gpu.example.com/model=h200
    kubeconfig: ~/.kube/k3s.yaml
  loop: "{{ groups['gpu_nodes'] }}"
  delegate_to: localhost

- name: The same as a dictionary, without waiting for the node
  k3s_gpu.node.k3s_label:
    name: gpu-node-1
    labels:
      gpu.example.com/model: h200
    wait_timeout: 0

- name: Remove a label
  k3s_gpu.node.k3s_label:
    name: gpu-node-1
    labels: [gpu.example.com/model]
    state: absent
"""

RETURN = r"""
node:
  description: The node name, resolved as K3s does.
  returned: always
  type: str
  sample: gpu-node-1
before:
  description: The node's labels before the change.
  returned: when the node was read
  type: dict
  sample: {kubernetes.io/hostname: gpu-node-1}
after:
  description: The node's labels after the change (in check mode, what they would be).
  returned: when the node was read
  type: dict
  sample: {kubernetes.io/hostname: gpu-node-1, gpu.example.com/model: h200}
changes:
  description: The labels added, removed and updated (new value), each C(key=value).
  returned: when the node was read
  type: dict
  sample: {added: [gpu.example.com/model=h200], removed: [], updated: []}
diff:
  description: The labels before and after, one C(key=value) per line, sorted.
  returned: with C(--diff)
  type: dict
  sample: {before: "kubernetes.io/hostname=gpu-node-1\n", after: "gpu.example.com/model=h200\nkubernetes.io/hostname=gpu-node-1\n"}
waited:
  description: Seconds spent waiting for the node to register.
  returned: always
  type: float
  sample: 0.0
"""

from ansible_collections.k3s_gpu.node.plugins.module_utils import _labels as labellib
from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import (
    change_node,
    LABELS,
    node_change,
    node_module,
    patch_labels,
)


def run(module, nodes, node_name, wanted):
    state = module.params["state"]

    def change(node, _result):
        # node None: check mode, not registered yet; the change it would make to a node without labels
        before = {} if node is None else dict((node.get("metadata") or {}).get("labels") or {})
        after = labellib.desired_labels(before, wanted, state)
        if node is not None and before != after:
            patch_labels(nodes, node_name, labellib.merge_patch(before, after), dry_run=module.check_mode)
        return before, after

    return node_change(module, nodes, node_name, LABELS, change)


def main():
    module, node_name = node_module(labels=dict(type="raw", required=True))
    params = module.params
    try:
        wanted = labellib.parse_labels(params["labels"], require_value=params["state"] == "present")
    except labellib.LabelError as exc:
        module.fail_json(msg="malformed label: %s" % exc, node=node_name)

    change_node(module, node_name, run, wanted)


if __name__ == "__main__":
    main()
