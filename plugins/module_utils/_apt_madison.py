# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse ``apt-cache madison`` output: which versions of which packages the repositories offer.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

apt-cache madison (apt's cmdline/apt-cache.cc, Madison) prints one line per package version and
index that offers it, three fields separated by ``|`` and padded with spaces::

    nvidia-container-toolkit |   1.17.8-1 | http://127.0.0.1:8080/libnvidia-container/stable/deb/amd64  Packages

A version offered by two repositories is printed twice; a package no repository knows prints
nothing. Lines of source indexes (``... Sources``) name source packages, which apt cannot install,
and are left out.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.k3s_gpu.node.plugins.module_utils._records import split_records


class MadisonParseError(ValueError):
    """A line that is not ``package | version | source``."""


def parse_madison(output):
    """``{package: [version, ...]}`` from apt-cache madison's stdout (a string or its lines).

    Versions keep apt-cache's order (by the candidate order of the indexes, newest first within
    one), each once. Blank lines are skipped; any other line without three fields raises
    MadisonParseError naming it.
    """
    offered = {}
    for package, version, source in split_records(output, "|", 3, 2, MadisonParseError, "apt-cache madison",
                                                  "'package | version | source'"):
        if source.endswith(" Sources"):
            continue
        versions = offered.setdefault(package, [])
        if version not in versions:
            versions.append(version)
    return offered


def select_versions(offered, pattern):
    """The packages of parse_madison()'s result offering a version that matches `pattern`, with
    only those versions: the pattern as apt reads ``name=pattern`` (an exact version, or a glob
    such as ``580.*``, apt's version pattern)."""
    out = {}
    for package, versions in offered.items():
        matching = [v for v in versions if fnmatch.fnmatchcase(v, pattern)]
        if matching:
            out[package] = matching
    return out
