# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Installed package versions from dpkg-query, and an order of Debian versions.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

The roles read what is installed with::

    dpkg-query --show --showformat='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' PACKAGE...

(dpkg-query(1): ``db:Status-Abbrev`` is the three status letters that ``dpkg -l`` prints: the
wanted state, the current state and the error flag). A package is installed when the current
state is ``i``; ``rc`` (removed, its configuration files left) and ``un`` are not installed.
dpkg-query prints nothing on stdout for a name it has never seen (rc 1, a line on stderr).
"""

from __future__ import annotations

import re

from ansible_collections.k3s_gpu.node.plugins.module_utils._records import split_records


class DpkgParseError(ValueError):
    """A line that is not ``package<TAB>version<TAB>status``."""


def parse_dpkg_query(output):
    """``{package: version}`` of the installed packages in dpkg-query's output (see above)."""
    installed = {}
    for package, version, status in split_records(
            output, "\t", 3, 1, DpkgParseError, "dpkg-query",
            "'package<TAB>version<TAB>status', from --showformat='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'"):
        if len(status) >= 2 and status[1] == "i" and version:
            installed[package.split(":")[0]] = version
    return installed


def upstream_version(version):
    """The upstream part of a Debian version: ``580.105.08-1`` -> ``580.105.08`` (no epoch)."""
    version = version.split(":", 1)[1] if ":" in version else version
    return version.rsplit("-", 1)[0] if "-" in version else version


def version_key(version):
    """A sort key for Debian versions made of digits and dots (NVIDIA's driver versions):
    numbers compare as numbers (580.105.08 is newer than 580.95.05), then the revision. Other
    characters compare as text after the numbers; good enough for the versions the driver
    repository publishes, not a full dpkg --compare-versions."""
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        epoch = int(head) if head.isdigit() else 0
    upstream, _sep, revision = version.rpartition("-") if "-" in version else (version, "", "")

    def parts(text):
        return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.+~]", text) if p != "")

    return (epoch, parts(upstream), parts(revision))
