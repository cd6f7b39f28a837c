# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: dpkg_versions
short_description: The installed package versions, from dpkg-query
version_added: 0.1.0
description:
  - Parses the output of
    C(dpkg-query --show --showformat='${Package}\t${Version}\t${db:Status-Abbrev}\n' PACKAGE...) into a
    dictionary of the installed version of each package. A package whose current state is not
    installed (C(rc), removed with its configuration left; C(un)) is not in it.
  - Fails on a line that is not C(package<TAB>version<TAB>status).
options:
  _input:
    description: The standard output of that dpkg-query command, a string or its lines.
    type: raw
    required: true
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
"""

EXAMPLES = r"""
- name: Read the installed versions
  ansible.builtin.command:
    argv: [dpkg-query, --show, "--showformat=${Package}\t${Version}\t${db:Status-Abbrev}\n", nvidia-driver-cuda]
  register: _dpkg
  changed_when: false
  failed_when: _dpkg.rc not in [0, 1]

# "nvidia-driver-cuda\t580.105.08-1\tii \n" | k3s_gpu.node.dpkg_versions -> {"nvidia-driver-cuda": "580.105.08-1"}
- name: Say it
  ansible.builtin.debug:
    msg: "{{ _dpkg.stdout | k3s_gpu.node.dpkg_versions }}"
"""

RETURN = r"""
_value:
  description: The installed version, by package.
  type: dict
  sample: {nvidia-driver-cuda: 580.105.08-1, nvidia-driver-pinning-580: 580-1}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.module_utils._dpkg import DpkgParseError, parse_dpkg_query


def dpkg_versions(output):
    """The installed versions, by package (see DOCUMENTATION)."""
    if output is not None and not isinstance(output, (str, list)):
        raise AnsibleFilterError("dpkg_versions: the input must be dpkg-query's stdout or stdout_lines, not %s"
                                 % type(output).__name__)
    try:
        return parse_dpkg_query(output or "")
    except DpkgParseError as exc:
        raise AnsibleFilterError("dpkg_versions: %s" % exc)


class FilterModule:
    """The dpkg_versions filter."""

    def filters(self):
        return {"dpkg_versions": dpkg_versions}
