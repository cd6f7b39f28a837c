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
  - Run it where the API is reachable, usually the controller (C(delegate_to) or a play on localhost).
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
  - k3s_gpu.node.attributes.PLATFORM
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    details:
      - In check mode the change is sent as a server-side dry run (C(dryRun=All)), so the API server
        validates it and checks the permissions without storing anything.
      - A node that is not registered yet is not waited for in check mode; the module reports the
        change it would make once the node exists, with a warning.
  diff_mode:
    support: full
    details:
      - Shows the node's labels before and after, one C(key=value) per line.
options:
  name:
    description:
      - Name of the Kubernetes node, as set by K3s's C(node-name) (C(--node-name), E(K3S_NODE_NAME)).
      - When empty or not set, O(hostname) is used. Lowercased, as K3s does.
    type: str
    aliases: [node_name]
  hostname:
    description:
      - The kernel's host name of the K3s host (C(uname -n), Ansible's C(ansible_facts.nodename));
        the node name when O(name) is not set, lowercased, as K3s does.
      - One of O(name) and O(hostname) is required.
    type: str
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
  state:
    description:
      - V(present) adds the labels or updates their values; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description:
      - Seconds to wait for the node to register before failing. V(0) does not wait.
    type: int
    default: 120
  wait_sleep:
    description:
      - Seconds between two reads of the node while waiting.
    type: int
    default: 2
requirements:
  - kubernetes >= 24.2.0 (Python library, where the module runs)
  - PyYAML >= 3.11
notes:
  - The user needs C(get) and C(patch) on C(nodes) (cluster scope).
seealso:
  - module: k3s_gpu.node.k3s_taint
  - module: kubernetes.core.k8s
  - name: K3s agent options (node-label)
    description: K3s documentation of the agent's node options.
    link: https://docs.k3s.io/cli/agent
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

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.k3s_gpu.node.plugins.module_utils import _labels as labellib
from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import (
    change_node,
    NodeNameError,
    patch_labels,
    resolve_node_name,
    wait_for_node,
)
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type="str", aliases=["node_name"]),
        hostname=dict(type="str"),
        labels=dict(type="raw", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        wait_timeout=dict(type="int", default=120),
        wait_sleep=dict(type="int", default=2),
    )
    return spec


def _result(module, result, node_name, before, after):
    result.update(changed=before != after, before=before, after=after, changes=labellib.changes(before, after))
    if module._diff:
        result["diff"] = dict(before=labellib.diff_text(before), after=labellib.diff_text(after),
                              before_header="node/%s labels" % node_name, after_header="node/%s labels" % node_name)
    return result


def run(module, nodes, node_name, wanted):
    params = module.params
    result = dict(changed=False, node=node_name, waited=0.0)
    timeout = 0 if module.check_mode else max(0, params["wait_timeout"])
    node, waited = wait_for_node(nodes, node_name, timeout, sleep=max(1, params["wait_sleep"]))
    result["waited"] = waited
    if node is None:
        if module.check_mode:
            module.warn("node %s is not registered (yet); in a real run the module waits up to %ss for it"
                        % (node_name, params["wait_timeout"]))
            return _result(module, result, node_name, {}, labellib.desired_labels({}, wanted, params["state"]))
        module.fail_json(
            msg="node %s is not registered after %ss (wait_timeout). Check that the K3s agent runs on that host "
                "(systemctl status k3s-agent) and that name/hostname give its node name (kubectl get nodes)."
                % (node_name, params["wait_timeout"]), **result)
    before = dict((node.get("metadata") or {}).get("labels") or {})
    after = labellib.desired_labels(before, wanted, params["state"])
    if before != after:
        patch_labels(nodes, node_name, labellib.merge_patch(before, after), dry_run=module.check_mode)
    return _result(module, result, node_name, before, after)


def main():
    module = AnsibleK8SModule(
        module_class=AnsibleModule,
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("name", "hostname")],
    )
    params = module.params
    try:
        node_name = resolve_node_name(params["name"], params["hostname"])
    except NodeNameError as exc:
        module.fail_json(msg=str(exc))
    if params["wait_timeout"] < 0 or params["wait_sleep"] < 0:
        module.fail_json(msg="wait_timeout and wait_sleep must be 0 or more seconds")
    try:
        wanted = labellib.parse_labels(params["labels"], require_value=params["state"] == "present")
    except labellib.LabelError as exc:
        module.fail_json(msg="malformed label: %s" % exc, node=node_name)

    change_node(module, node_name, run, wanted)


if __name__ == "__main__":
    main()
