# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""K3s versions and the kubelet skew rule (plugins/module_utils/_k3s_version.py)."""

from __future__ import annotations

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils import _k3s_version as v


@pytest.mark.parametrize("text, expected", [
    ("v1.36.3+k3s1", (1, 36, 3)),
    ("v1.36.3-rc1+k3s2", (1, 36, 3)),
    ("v1.35.4", (1, 35, 4)),
    ("1.37.2", (1, 37, 2)),
    (" v1.36.3+k3s1 ", (1, 36, 3)),
    ("v1.36.3-eks-4a5b6c", (1, 36, 3)),
    ("v1.36", None),
    ("latest", None),
    ("server", None),
    ("", None),
    (None, None),
    (136, None),
])
def test_parse_version(text, expected):
    assert v.parse_version(text) == expected


@pytest.mark.parametrize("git_version, suffix, expected", [
    # A K3s server's gitVersion is its release tag (k3s-io/k3s scripts/build).
    ("v1.36.3+k3s1", "+k3s1", "v1.36.3+k3s1"),
    ("v1.36.4+k3s2", "+k3s1", "v1.36.4+k3s2"),
    ("v1.37.0-rc1+k3s1", "+k3s9", "v1.37.0-rc1+k3s1"),
    # A plain kube-apiserver (the test harness's) gets the suffix.
    ("v1.35.4", "+k3s1", "v1.35.4+k3s1"),
    ("v1.35.4", "+k3s3", "v1.35.4+k3s3"),
    # Not a K3s release: another distribution, a bad suffix, garbage.
    ("v1.36.3+rke2r1", "+k3s1", ""),
    ("v1.36.3-eks-4a5b6c", "+k3s1", ""),
    ("v1.35.4", "k3s1", ""),
    ("v1.35.4", "", ""),
    ("v1.35.4", "+k3s", ""),
    ("", "+k3s1", ""),
    (None, "+k3s1", ""),
])
def test_server_release(git_version, suffix, expected):
    assert v.server_release(git_version, suffix) == expected


@pytest.mark.parametrize("agent, server, reason", [
    ("v1.36.3+k3s1", "v1.36.3+k3s1", "ok"),
    # Patch releases are within the policy, both ways (upgrade.yml's v1.36.3 -> v1.36.4).
    ("v1.36.4+k3s1", "v1.36.3", "ok"),
    ("v1.36.2+k3s1", "v1.36.3", "ok"),
    # Up to three minors older since 1.25.
    ("v1.33.9+k3s1", "v1.36.3", "ok"),
    ("v1.34.1+k3s1", "v1.37.2", "ok"),
    ("v1.32.9+k3s1", "v1.36.3", "too_old"),
    ("v1.31.0+k3s1", "v1.35.4", "too_old"),
    # Before 1.25: only two.
    ("v1.22.0+k3s1", "v1.24.0", "ok"),
    ("v1.22.0+k3s1", "v1.25.0", "too_old"),
    # Never newer than the server.
    ("v1.36.3+k3s1", "v1.35.4", "newer"),
    ("v1.37.2+k3s1", "v1.36.3+k3s1", "newer"),
    ("v2.0.0+k3s1", "v1.36.3", "major"),
    ("server", "v1.36.3", "unparsable"),
    ("v1.36.3+k3s1", "", "unparsable"),
])
def test_check_skew(agent, server, reason):
    result = v.check_skew(agent, server)
    assert result["reason"] == reason
    assert result["ok"] is (reason == "ok")
    assert result["agent"] == agent and result["server"] == server


def test_skew_messages_name_both_versions_and_the_fix():
    newer = v.check_skew("v1.36.3+k3s1", "v1.35.4")["msg"]
    assert "v1.36.3+k3s1" in newer and "v1.35.4" in newer
    assert "newer than the server" in newer and "k3s_agent_version: server" in newer
    old = v.check_skew("v1.32.9+k3s1", "v1.36.3")["msg"]
    assert "v1.32.9+k3s1" in old and "v1.36.3" in old
    assert "4 minor versions older" in old and "at most 3" in old and "v1.33.x or newer" in old
