# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Jinja filters for K3s versions; the rules live in module_utils/_k3s_version.py.

``k3s_version_skew``: ``agent_version | k3s_gpu.node.k3s_version_skew(server_version)``
returns ``{ok, reason, agent, server, msg}``: whether a K3s agent of that version may join
an API server of that version (the kubelet rule of
https://kubernetes.io/releases/version-skew-policy/), and a message naming both.

``k3s_server_release``: ``git_version | k3s_gpu.node.k3s_server_release(suffix)`` returns
the K3s release tag matching a server's ``gitVersion`` (itself for a K3s server, ``vX.Y.Z``
+ suffix for a plain kube-apiserver), or '' when it names no K3s release.

``k3s_is_release_tag``: ``version | k3s_gpu.node.k3s_is_release_tag`` is true when the value is
a K3s release tag (``v1.36.3+k3s1``, ``v1.36.0-rc1+k3s1``): the k3s_agent role's one rule.
"""

from __future__ import annotations

from ansible_collections.k3s_gpu.node.plugins.module_utils._k3s_version import (
    check_skew,
    is_k3s_tag,
    server_release,
)


def k3s_version_skew(agent_version, server_version):
    return check_skew(agent_version, server_version)


def k3s_server_release(git_version, suffix="+k3s1"):
    return server_release(git_version, suffix)


def k3s_is_release_tag(version):
    return is_k3s_tag(version)


class FilterModule:
    """K3s version filters."""

    def filters(self):
        return {
            "k3s_version_skew": k3s_version_skew,
            "k3s_server_release": k3s_server_release,
            "k3s_is_release_tag": k3s_is_release_tag,
        }
