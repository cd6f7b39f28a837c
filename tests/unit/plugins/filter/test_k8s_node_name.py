# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The k8s_node_name filter: K3s's node-name rule (pkg/util/net.go GetHostnameAndIPs), through
the filter as Jinja calls it and through a real ansible-playbook run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.filter.k8s_node_name import FilterModule, k8s_node_name

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


@pytest.mark.parametrize("name, hostname, expected", [
    # node-name wins over the host name, lowercased (K3s: strings.ToLower)
    ("gpu-07", "other.example.org", "gpu-07"),
    ("Worker-7", None, "worker-7"),
    # no node-name: the kernel's host name (uname -n), a FQDN kept whole, lowercased
    ("", "GPU-07.Lab.Example", "gpu-07.lab.example"),
    (None, "gpu-07.lab.example", "gpu-07.lab.example"),
    ("  ", "gpu-08", "gpu-08"),
    ("", "10-0-0-7", "10-0-0-7"),
])
def test_resolves_like_k3s(name, hostname, expected):
    assert k8s_node_name(name, hostname) == expected


@pytest.mark.parametrize("name, hostname, message", [
    ("", "", "no node name: neither a node name"),
    (None, None, "no node name: neither a node name"),
    ("GPU_07", None, "node name 'gpu_07' (from node-name 'GPU_07', lowercased as K3s does) is not a valid"),
    ("", "gpu_07.lab", "from the host name 'gpu_07.lab', uname -n"),
    ("gpu-07.", None, "must be a lowercase DNS name"),
    ("a" * 254, None, "longer than 253 characters"),
    (7, None, "the node name must be a string, not int"),
])
def test_refuses_what_k3s_cannot_register(name, hostname, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        k8s_node_name(name, hostname)


def test_registered_under_its_name():
    assert FilterModule().filters() == {"k8s_node_name": k8s_node_name}


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'fqdn': '' | k3s_gpu.node.k8s_node_name('GPU-07.Lab.Example'),
                      'set': 'Worker-7' | k3s_gpu.node.k8s_node_name('gpu-07.lab.example'),
                      'unset': (none | k3s_gpu.node.k8s_node_name('gpu-08'))} | to_json }}"
        mode: "0600"
"""


def test_through_ansible_playbook(tmp_path):
    """The filter as playbooks call it: by its FQCN, from the collections path."""
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-e", "out=%s" % out, str(book)],
                          cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert json.loads(out.read_text()) == {"fqdn": "gpu-07.lab.example", "set": "worker-7", "unset": "gpu-08"}
