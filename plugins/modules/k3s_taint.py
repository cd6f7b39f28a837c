#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_taint
short_description: Ensure the taints of a K3s node, waiting for the node to register
version_added: 0.1.0
description:
  - Ensures that the taints in O(taints) are on (O(state=present)) or off (O(state=absent)) the
    Kubernetes node of a K3s host, through the Kubernetes API.
  - K3s applies C(--node-taint) (C(node-taint) in C(/etc/rancher/k3s/config.yaml)) only when the node
    registers for the first time; later changes to that setting never reach an existing node. This
    module enforces the taints on the node itself, so a GPU node stays tainted whatever its history.
  - Why beside M(kubernetes.core.k8s_taint) - it resolves the node name the way K3s does
    (O(name), else O(hostname) lowercased); it waits up to O(wait_timeout) seconds for the node to
    register, since the K3s agent registers it asynchronously after its service starts; it accepts
    the taint syntax of K3s's C(--node-taint) (C(key[=value]:Effect)) as well as dictionaries; it
    reports the taints before and after and shows them with C(--diff); O(exclusive=true) replaces
    every other taint but keeps those the system owns (C(node.kubernetes.io/*),
    C(node.cloudprovider.kubernetes.io/*)), so it never removes C(node.kubernetes.io/not-ready) or
    C(node.kubernetes.io/unschedulable); the patch is guarded by the node's C(resourceVersion) and
    retried when another writer (the kubelet, a controller) changed the node in between.
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
  - k3s_gpu.node.k3s_node
  - kubernetes.core.k8s_auth_options
options:
  taints:
    description:
      - Taints, each a string C(key[=value]:Effect) (the syntax of K3s's C(--node-taint)) or a
        dictionary with C(key), C(value) and C(effect).
      - A node has at most one taint per key and effect; with O(state=present) a taint with the same
        key and effect but another value is updated.
      - With O(state=absent) a string may be C(key) alone (every effect of that key) or C(key:Effect);
        values are ignored when matching, as C(kubectl taint ... key:Effect-) does.
      - Keys are qualified names (C([prefix/]name)), values label values (at most 63 characters),
        effects V(NoSchedule), V(PreferNoSchedule) or V(NoExecute); anything else fails before the API is
        contacted.
    type: list
    elements: raw
    required: true
  exclusive:
    description:
      - With O(state=present), remove every taint not in O(taints), except the system's
        (C(node.kubernetes.io/*), C(node.cloudprovider.kubernetes.io/*)).
      - O(taints=[]) with O(exclusive=true) removes every taint but the system's.
    type: bool
    default: false
notes:
  - A conflicting write (HTTP 409) is retried up to 5 times, each time from a fresh read.
seealso:
  - module: kubernetes.core.k8s_taint
  - name: Taints and tolerations
    description: Kubernetes documentation.
    link: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
"""

EXAMPLES = r"""
- name: Taint the GPU node (string syntax of K3s's --node-taint)
  k3s_gpu.node.k3s_taint:
    hostname: "{{ hostvars[item].ansible_facts.nodename }}"
    name: "{{ hostvars[item].k3s_agent_node_name | default('') }}"
    taints:
      - nvidia.com/gpu=present:NoSchedule
    kubeconfig: ~/.kube/k3s.yaml
  loop: "{{ groups['gpu_nodes'] }}"
  delegate_to: localhost

- name: Only this taint (system taints kept), as dictionaries, without waiting
  k3s_gpu.node.k3s_taint:
    name: gpu-node-1
    taints:
      - key: nvidia.com/gpu
        value: present
        effect: NoSchedule
    exclusive: true
    wait_timeout: 0

- name: Remove every taint with key dedicated
  k3s_gpu.node.k3s_taint:
    name: gpu-node-1
    taints: [dedicated]
    state: absent
"""

RETURN = r"""
node:
  description: The node name, resolved as K3s does.
  returned: always
  type: str
  sample: gpu-node-1
before:
  description: The node's taints before the change.
  returned: when the node was read
  type: list
  elements: dict
  contains:
    key:
      description: Taint key.
      type: str
    value:
      description: Taint value, empty when unset.
      type: str
    effect:
      description: NoSchedule, PreferNoSchedule or NoExecute.
      type: str
  sample: [{key: node.kubernetes.io/not-ready, value: "", effect: NoSchedule}]
after:
  description: The node's taints after the change (in check mode, what they would be).
  returned: when the node was read
  type: list
  elements: dict
  sample:
    - {key: node.kubernetes.io/not-ready, value: "", effect: NoSchedule}
    - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
changes:
  description: The taints added, removed and updated (new value).
  returned: when the node was read
  type: dict
  sample: {added: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}], removed: [], updated: []}
diff:
  description: The taints before and after, one C(key[=value]:Effect) per line, sorted.
  returned: with C(--diff)
  type: dict
  sample: {before: "", after: "nvidia.com/gpu=present:NoSchedule\n"}
waited:
  description: Seconds spent waiting for the node to register.
  returned: always
  type: float
  sample: 0.0
"""

from ansible_collections.k3s_gpu.node.plugins.module_utils import _taints as taintlib
from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import (
    change_node,
    ConflictError,
    get_node,
    node_change,
    node_module,
    patch_taints,
    TAINTS,
)

CONFLICT_RETRIES = 5


def run(module, nodes, node_name, wanted):
    params = module.params

    def desired(before):
        return taintlib.desired_taints(before, wanted, params["state"], params["exclusive"])

    def change(node, result):
        if node is None:  # check mode, not registered yet: the change it would make once it registers
            return [], desired([])
        for _attempt in range(CONFLICT_RETRIES):
            before = taintlib.from_api((node.get("spec") or {}).get("taints"))
            after = desired(before)
            if taintlib.taints_equal(before, after):
                return before, after
            try:
                patch_taints(nodes, node_name, taintlib.to_api(after), node["metadata"]["resourceVersion"],
                             dry_run=module.check_mode)
                return before, after
            except ConflictError:
                node = get_node(nodes, node_name)
                if node is None:
                    module.fail_json(msg="node %s was deleted while its taints were being changed" % node_name,
                                     **result)
        module.fail_json(msg="node %s changed under every one of %d attempts to patch its taints (409 Conflict); "
                             "something else rewrites it continuously" % (node_name, CONFLICT_RETRIES), **result)
        return None  # not reached: fail_json exits

    return node_change(module, nodes, node_name, TAINTS, change)


def main():
    module, node_name = node_module(
        taints=dict(type="list", elements="raw", required=True),
        exclusive=dict(type="bool", default=False),
    )
    params = module.params
    if params["exclusive"] and params["state"] == "absent":
        module.fail_json(msg="exclusive applies to state=present only; with state=absent list the taints to remove")
    try:
        wanted = taintlib.parse_taints(params["taints"], require_effect=params["state"] == "present")
    except taintlib.TaintError as exc:
        module.fail_json(msg="malformed taint: %s" % exc, node=node_name)

    change_node(module, node_name, run, wanted)


if __name__ == "__main__":
    main()
