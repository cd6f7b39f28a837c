# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The records of a package tool's output: one line per record, a fixed number of fields.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

apt-cache madison (``_apt_madison.py``) and dpkg-query (``_dpkg.py``) both print such lines; this
is the one reading of them: the output as a string or as its lines (Ansible's ``stdout`` or
``stdout_lines``), blank lines skipped, every other line split into exactly its fields.
"""

from __future__ import annotations


def split_records(output, separator, fields, required, error, tool, expected):
    """Yield each non-blank line of `output` (a string, its lines, or None) split at `separator`
    into `fields` fields with the white space around them stripped.

    A line that is not a string, that does not split into `fields` fields, or whose first
    `required` fields are not all set raises ``error(message)``; the message names the `tool`, the
    line and what was `expected`.
    """
    lines = output.splitlines() if isinstance(output, str) else list(output or [])
    for line in lines:
        if not isinstance(line, str):
            raise error("%s line %r is not a string" % (tool, line))
        if not line.strip():
            continue
        record = [f.strip() for f in line.split(separator)]
        if len(record) != fields or not all(record[:required]):
            raise error("unexpected %s line %r (expected %s)" % (tool, line, expected))
        yield record
