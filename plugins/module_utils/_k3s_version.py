# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""K3s release tags, the API server's version, and the kubelet version-skew rule.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.
The filter plugin ``k3s_gpu.node.k3s_version`` exposes them to the roles (one home).

Versions:

- A K3s release tag is ``vMAJOR.MINOR.PATCH[-rcN]+k3sN`` (https://github.com/k3s-io/k3s/releases).
- A K3s server answers ``GET /version`` with that tag as ``gitVersion``: K3s's build stamps
  ``k8s.io/component-base/version.gitVersion=${VERSION}`` (k3s-io/k3s scripts/build,
  VERSIONFLAGS). A plain kube-apiserver answers ``vMAJOR.MINOR.PATCH`` (upstream's
  hack/lib/version.sh), without a ``+k3sN``.

Skew (https://kubernetes.io/releases/version-skew-policy/#kubelet): "kubelet must not be
newer than kube-apiserver"; "kubelet may be up to three minor versions older than
kube-apiserver (kubelet < 1.25 may only be up to two minor versions older than
kube-apiserver)". kube-proxy, which the K3s agent also runs, has the same rule
(#kube-proxy of the same page). The policy counts minor versions: a patch release newer
than the server's (agent v1.36.4, server v1.36.3) is within it.
"""

from __future__ import annotations

import re

# kubelet may be this many minor versions older than kube-apiserver (since 1.25;
# before that, 2): https://kubernetes.io/releases/version-skew-policy/#kubelet
MAX_KUBELET_MINOR_SKEW = 3
MAX_KUBELET_MINOR_SKEW_BEFORE_1_25 = 2

K3S_TAG_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(-rc\d+)?\+k3s(\d+)$")
_GIT_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)([-+][0-9A-Za-z.+-]*)?$")
_PLAIN_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
SUFFIX_RE = re.compile(r"^\+k3s\d+$")


def parse_version(version):
    """Return (major, minor, patch) of a Kubernetes or K3s version string, or None.

    Accepts ``v1.36.3+k3s1``, ``v1.36.3-rc1+k3s1``, ``v1.36.3`` and ``1.36.3``, and the
    build or pre-release suffixes other distributions add (``v1.36.3-eks-4a5b``).
    """
    if not isinstance(version, str):
        return None
    m = _GIT_VERSION_RE.match(version.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def is_k3s_tag(version):
    """True when ``version`` is a K3s release tag (vX.Y.Z[-rcN]+k3sN)."""
    return isinstance(version, str) and K3S_TAG_RE.match(version) is not None


def server_release(git_version, suffix="+k3s1"):
    """The K3s release tag that matches a server's ``gitVersion``, or '' when none does.

    A K3s server's gitVersion is its release tag and is returned as it is. A plain
    kube-apiserver's ``vX.Y.Z`` gets ``suffix`` (``+k3sN``) appended: the K3s release of
    that Kubernetes version. Anything else (another distribution's ``+rke2r1``, an
    ``-eks-...`` build, garbage) names no K3s release: ''.
    """
    if not isinstance(git_version, str):
        return ""
    git_version = git_version.strip()
    if is_k3s_tag(git_version):
        return git_version
    if _PLAIN_RE.match(git_version) and isinstance(suffix, str) and SUFFIX_RE.match(suffix):
        return git_version + suffix
    return ""


def _max_older(agent_minor):
    return MAX_KUBELET_MINOR_SKEW if agent_minor >= 25 else MAX_KUBELET_MINOR_SKEW_BEFORE_1_25


def check_skew(agent_version, server_version):
    """Check a K3s agent (kubelet, kube-proxy) version against the API server's.

    Returns a dict ``{ok, reason, agent, server, msg}``; ``reason`` is one of ``ok``,
    ``unparsable``, ``major``, ``newer``, ``too_old``, and ``msg`` names both versions and
    says what to change.
    """
    agent = parse_version(agent_version)
    server = parse_version(server_version)
    result = {"ok": False, "agent": agent_version, "server": server_version}
    if agent is None or server is None:
        which = "agent" if agent is None else "server"
        result.update(reason="unparsable", msg=(
            "cannot compare K3s agent version %r with server version %r: the %s version is not "
            "vMAJOR.MINOR.PATCH" % (agent_version, server_version, which)))
        return result
    if agent[0] != server[0]:
        result.update(reason="major", msg=(
            "K3s agent %s and server %s differ in their major version: the kubelet and the API "
            "server must share it (https://kubernetes.io/releases/version-skew-policy/)"
            % (agent_version, server_version)))
        return result
    if agent[1] > server[1]:
        result.update(reason="newer", msg=(
            "K3s agent %s is newer than the server %s: a kubelet must not be newer than "
            "kube-apiserver (https://kubernetes.io/releases/version-skew-policy/#kubelet). "
            "Set k3s_agent_version to the server's version (k3s_agent_version: server) or "
            "upgrade the server first" % (agent_version, server_version)))
        return result
    allowed = _max_older(agent[1])
    if server[1] - agent[1] > allowed:
        result.update(reason="too_old", msg=(
            "K3s agent %s is %d minor versions older than the server %s: a kubelet may be at "
            "most %d minor versions older than kube-apiserver "
            "(https://kubernetes.io/releases/version-skew-policy/#kubelet). Set "
            "k3s_agent_version to v%d.%d.x or newer (k3s_agent_version: server matches the "
            "server)" % (agent_version, server[1] - agent[1], server_version, allowed,
                         server[0], server[1] - allowed)))
        return result
    result.update(ok=True, reason="ok", msg=(
        "K3s agent %s and server %s are within the supported skew" % (agent_version, server_version)))
    return result
