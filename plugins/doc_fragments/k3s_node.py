# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # The options of the node modules (k3s_taint, k3s_label): module_utils/_k8s_node.py
    # NODE_OPTIONS is their argument spec, node_module() and registered_node() their behaviour.
    DOCUMENTATION = r"""
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
      - K3s's C(--with-node-id) appends a random id to the name; pass the full name in O(name) then.
    type: str
  state:
    description:
      - V(present) puts the given items on the node (adding them, or updating their values);
        V(absent) takes them off.
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
      - Shows the node's taints or labels (the module's items) before and after, one per line in the
        syntax of K3s's C(--node-taint) (C(key[=value]:Effect)) or C(--node-label) (C(key=value)).
requirements:
  - kubernetes >= 24.2.0 (Python library, where the module runs)
  - PyYAML >= 3.11
notes:
  - Run it where the API is reachable, usually the controller (C(delegate_to) or a play on localhost).
  - The user needs C(get) and C(patch) on C(nodes) (cluster scope).
seealso:
  - name: K3s agent options (node-name, node-taint, node-label)
    description: K3s documentation of the agent's node options, which apply only when a node registers.
    link: https://docs.k3s.io/cli/agent
"""
