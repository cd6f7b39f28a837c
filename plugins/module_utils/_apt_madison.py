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


class MadisonParseError(ValueError):
    """A line that is not ``package | version | source``."""


def parse_madison(output):
    """``{package: [version, ...]}`` from apt-cache madison's stdout (a string or its lines).

    Versions keep apt-cache's order (by the candidate order of the indexes, newest first within
    one), each once. Blank lines are skipped; any other line without three fields raises
    MadisonParseError naming it.
    """
    lines = output.splitlines() if isinstance(output, str) else list(output or [])
    offered = {}
    for line in lines:
        if not isinstance(line, str):
            raise MadisonParseError("apt-cache madison line %r is not a string" % (line,))
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 3 or not fields[0] or not fields[1]:
            raise MadisonParseError("unexpected apt-cache madison line %r (expected 'package | version | source')"
                                    % line)
        package, version, source = fields
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
