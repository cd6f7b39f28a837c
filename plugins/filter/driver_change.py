# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: driver_change
short_description: Which NVIDIA driver version a node should run, and what would change
version_added: 0.1.0
description:
  - The one rule of roles/cuda_driver (its install, and its C(change) entry point that
    playbooks/upgrade.yml calls before it cordons a node).
  - The wanted version is O(version) (a full driver version such as V(580.105.08)), or when it is
    empty the newest version of O(branch) that the repository offers for every driver package.
  - One pinning package stays installed (NVIDIA's version locking), C(nvidia-driver-pinning-<version>)
    with O(version) and C(nvidia-driver-pinning-<branch>) without; every other installed
    C(nvidia-driver-pinning-*) package is to be purged.
  - A malformed O(version), one of another branch, or a version or pinning package the repository
    does not offer gives C(error) (a sentence naming the variable) instead of raising.
positional: installed, packages, branch, version
options:
  _input:
    description: What the repositories offer, by package (the P(k3s_gpu.node.apt_madison#filter) filter's result).
    type: dict
    required: true
  installed:
    description: The installed versions, by package (the P(k3s_gpu.node.dpkg_versions#filter) filter's result).
    type: dict
    required: true
  packages:
    description: The driver packages; names with C(=VERSION) are left out.
    type: list
    elements: str
    required: true
  branch:
    description: The driver branch (cuda_driver_branch).
    type: str
    required: true
  version:
    description: The full driver version (cuda_driver_version); empty for the branch's newest.
    type: str
    default: ""
  pinning:
    description: Whether the repository locks versions with pinning packages (NVIDIA's; not the distribution's).
    type: bool
    default: true
  loaded:
    description: The loaded module's version (C(/sys/module/nvidia/version)); empty when none is loaded.
    type: str
    default: ""
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
"""

EXAMPLES = r"""
- name: Work out the driver change
  ansible.builtin.set_fact:
    cuda_driver_change: >-
      {{ _madison.stdout | k3s_gpu.node.apt_madison
         | k3s_gpu.node.driver_change(_dpkg.stdout | k3s_gpu.node.dpkg_versions,
                                      ['nvidia-driver-cuda', 'nvidia-kernel-open-dkms'], '580', '') }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    change:
      description: Whether a package would be installed or purged.
      type: bool
    error:
      description: Why the wanted version cannot be installed; empty when it can.
      type: str
    wanted:
      description: The driver version the node should run (V(580.105.08)).
      type: str
    wanted_deb:
      description: Its Debian version (V(580.105.08-1)).
      type: str
    installed:
      description: The installed driver version (of the first package), empty when none.
      type: str
    install:
      description: The driver packages at the wanted version (C(name=version)).
      type: list
      elements: str
    pinning:
      description: The pinning package the node keeps.
      type: str
    pinning_install:
      description: Whether that pinning package is to be installed.
      type: bool
    pinning_remove:
      description: The installed pinning packages to purge.
      type: list
      elements: str
    summary:
      description: One line, for the plan printed per node.
      type: str
    loaded:
      description: The loaded module's version (O(loaded)).
      type: str
    reboot:
      description: Whether a reboot would follow (the node is to run another version than the loaded one).
      type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.module_utils._driver_change import driver_change as _driver_change


def driver_change(offered, installed, packages, branch, version="", pinning=True, loaded=""):
    """The plan (see DOCUMENTATION)."""
    if not isinstance(offered, dict) or not isinstance(installed, dict):
        raise AnsibleFilterError("driver_change: the input and installed must be dictionaries "
                                 "(the apt_madison and dpkg_versions filters' results)")
    if not isinstance(packages, list):
        raise AnsibleFilterError("driver_change: packages must be a list, not %s" % type(packages).__name__)
    return _driver_change(offered, installed, [str(p) for p in packages], str(branch), str(version or ""),
                          bool(pinning), str(loaded or "").strip())


class FilterModule:
    """The driver_change filter."""

    def filters(self):
        return {"driver_change": driver_change}
