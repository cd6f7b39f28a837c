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
      - Shows the node's taints before and after, one C(key[=value]:Effect) per line.
options:
  name:
    description:
      - Name of the Kubernetes node, as set by K3s's C(node-name) (C(--node-name), E(K3S_NODE_NAME)).
      - When empty or not set, O(hostname) is used.
      - Lowercased, as K3s does.
    type: str
    aliases: [node_name]
  hostname:
    description:
      - Host name of the K3s host; the node name when O(name) is not set, lowercased, as K3s does
        (K3s uses the kernel's host name, C(uname -n), which is Ansible's C(ansible_facts.nodename)).
      - One of O(name) and O(hostname) is required.
      - K3s's C(--with-node-id) appends a random id to the name; pass the full name in O(name) then.
    type: str
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
  state:
    description:
      - V(present) adds or updates the taints; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), remove every taint not in O(taints), except the system's
        (C(node.kubernetes.io/*), C(node.cloudprovider.kubernetes.io/*)).
      - O(taints=[]) with O(exclusive=true) removes every taint but the system's.
    type: bool
    default: false
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
  - A conflicting write (HTTP 409) is retried up to 5 times, each time from a fresh read.
seealso:
  - module: kubernetes.core.k8s_taint
  - name: K3s agent options (node-name, node-taint)
    description: K3s documentation of the agent's node options.
    link: https://docs.k3s.io/cli/agent
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

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.k3s_gpu.node.plugins.module_utils import _taints as taintlib
from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import (
    change_node,
    ConflictError,
    get_node,
    NodeNameError,
    patch_taints,
    resolve_node_name,
    wait_for_node,
)
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

CONFLICT_RETRIES = 5


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type="str", aliases=["node_name"]),
        hostname=dict(type="str"),
        taints=dict(type="list", elements="raw", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        exclusive=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=120),
        wait_sleep=dict(type="int", default=2),
    )
    return spec


def _registered_nodes(nodes):
    """Up to 10 node names, for the message of a missing node (empty when not readable)."""
    try:
        items = nodes.get().to_dict().get("items") or []
    except Exception:  # pylint: disable=broad-except
        return None
    return [i["metadata"]["name"] for i in items][:10]


def run(module, nodes, node_name, wanted):
    params = module.params
    result = dict(changed=False, node=node_name, waited=0.0)
    timeout = 0 if module.check_mode else max(0, params["wait_timeout"])
    node, waited = wait_for_node(nodes, node_name, timeout, sleep=max(1, params["wait_sleep"]))
    result["waited"] = waited
    if node is None:
        if module.check_mode:
            after = taintlib.desired_taints([], wanted, params["state"], params["exclusive"])
            module.warn("node %s is not registered (yet); in a real run the module waits up to %ss for it"
                        % (node_name, params["wait_timeout"]))
            result.update(changed=bool(after), before=[], after=taintlib.public(after),
                          changes=taintlib.changes([], after))
            if module._diff:
                result["diff"] = dict(before="", after=taintlib.diff_text(after),
                                      before_header="node/%s taints" % node_name,
                                      after_header="node/%s taints" % node_name)
            return result
        known = _registered_nodes(nodes)
        hint = ""
        if known is not None:
            hint = " Registered nodes: %s." % (", ".join(known) if known else "none")
        module.fail_json(
            msg="node %s is not registered after %ss (wait_timeout). Check that the K3s agent runs on that host "
                "(systemctl status k3s-agent) and that name/hostname give its node name (kubectl get nodes)."
                "%s" % (node_name, params["wait_timeout"], hint),
            **result)

    for _attempt in range(CONFLICT_RETRIES):
        before = taintlib.from_api((node.get("spec") or {}).get("taints"))
        after = taintlib.desired_taints(before, wanted, params["state"], params["exclusive"])
        changed = not taintlib.taints_equal(before, after)
        if changed:
            try:
                patch_taints(nodes, node_name, taintlib.to_api(after), node["metadata"]["resourceVersion"],
                             dry_run=module.check_mode)
            except ConflictError:
                node = get_node(nodes, node_name)
                if node is None:
                    module.fail_json(msg="node %s was deleted while its taints were being changed" % node_name,
                                     **result)
                continue
        break
    else:
        module.fail_json(msg="node %s changed under every one of %d attempts to patch its taints (409 Conflict); "
                             "something else rewrites it continuously" % (node_name, CONFLICT_RETRIES), **result)

    result.update(changed=changed, before=taintlib.public(before), after=taintlib.public(after),
                  changes=taintlib.changes(before, after))
    if module._diff:
        result["diff"] = dict(before=taintlib.diff_text(before), after=taintlib.diff_text(after),
                              before_header="node/%s taints" % node_name, after_header="node/%s taints" % node_name)
    return result


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
    if params["exclusive"] and params["state"] == "absent":
        module.fail_json(msg="exclusive applies to state=present only; with state=absent list the taints to remove")
    if params["wait_timeout"] < 0 or params["wait_sleep"] < 0:
        module.fail_json(msg="wait_timeout and wait_sleep must be 0 or more seconds")
    try:
        wanted = taintlib.parse_taints(params["taints"], require_effect=params["state"] == "present")
    except taintlib.TaintError as exc:
        module.fail_json(msg="malformed taint: %s" % exc, node=node_name)

    change_node(module, node_name, run, wanted)


if __name__ == "__main__":
    main()
