# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: apt_madison
short_description: The package versions the apt repositories offer, from apt-cache madison
version_added: 0.1.0
description:
  - Parses the output of C(apt-cache madison PACKAGE...) into a dictionary of the versions of each
    package, versions in apt-cache's order, each once (a version two repositories offer is listed once); a
    package no repository offers is not in it. Source packages (C(Sources) lines of C(deb-src)
    indexes) are left out.
  - With O(version), only the packages that offer a matching version, with those versions; the
    pattern is read as the C(ansible.builtin.apt) module reads C(name=pattern) - an exact version
    (V(1.17.8-1)) or a glob (V(580.*), a driver branch).
  - Fails on a line that is not C(package | version | source).
positional: version
options:
  _input:
    description: The standard output of C(apt-cache madison), a string (C(stdout)) or its lines (C(stdout_lines)).
    type: raw
    required: true
  version:
    description: A version or version glob; only the packages that offer a matching version are returned.
    type: str
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
"""

EXAMPLES = r"""
- name: List the versions the repositories offer
  ansible.builtin.command:
    argv: [apt-cache, madison, nvidia-container-toolkit, libnvidia-container1]
  register: _madison
  changed_when: false

- name: Check that the repository offers 1.17.8-1 of both
  vars:
    _missing: >-
      {{ ['nvidia-container-toolkit', 'libnvidia-container1']
         | reject('in', _madison.stdout | k3s_gpu.node.apt_madison('1.17.8-1')) | list }}
  ansible.builtin.assert:
    that: _missing | length == 0
    fail_msg: "1.17.8-1 of {{ _missing | join(', ') }} is not offered: {{ _madison.stdout | k3s_gpu.node.apt_madison }}"

# "nvidia-open | 595.71.05-1 | http://mirror/x86_64  Packages\nnvidia-open | 580.105.08-1 | http://mirror/x86_64  Packages"
#   | k3s_gpu.node.apt_madison          -> {"nvidia-open": ["595.71.05-1", "580.105.08-1"]}
#   | k3s_gpu.node.apt_madison('580.*') -> {"nvidia-open": ["580.105.08-1"]}
"""

RETURN = r"""
_value:
  description: The versions offered, by package.
  type: dict
  sample: {nvidia-container-toolkit: [1.20.0-1, 1.17.8-1], libnvidia-container1: [1.20.0-1, 1.17.8-1]}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.module_utils._apt_madison import (
    MadisonParseError,
    parse_madison,
    select_versions,
)


def apt_madison(output, version=None):
    """The versions apt-cache madison lists, by package (see DOCUMENTATION)."""
    if output is not None and not isinstance(output, (str, list)):
        raise AnsibleFilterError("apt_madison: the input must be apt-cache madison's stdout or stdout_lines, not %s"
                                 % type(output).__name__)
    if version is not None and not isinstance(version, str):
        raise AnsibleFilterError("apt_madison: version must be a string, not %s" % type(version).__name__)
    try:
        offered = parse_madison(output or "")
    except MadisonParseError as exc:
        raise AnsibleFilterError("apt_madison: %s" % exc)
    return offered if version is None else select_versions(offered, version)


class FilterModule:
    """The apt_madison filter."""

    def filters(self):
        return {"apt_madison": apt_madison}
