# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading the committed evidence of the real-GPU runs (tests/gpu/results/<run>/): the one
home for the helpers that the evidence tests in this folder share (a file's text, its JSON, a
playbook log's lines joined, a PLAY RECAP as numbers, a version pinned in the source tree).
"""

from __future__ import annotations

import json
import os
import re

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
RESULTS = os.path.join(REPO, "tests", "gpu", "results")

_RECAP_LINE = re.compile(r"^(\S+)\s+:\s+(ok=.*)$", re.M)


def recap_of(log):
    """{host: {"ok": n, "changed": n, ...}} from the PLAY RECAP lines of a playbook log's text."""
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in _RECAP_LINE.finditer(log)}


def pinned(pattern, path):
    """The first group of PATTERN in a file of the repository (a version pinned in the source)."""
    with open(os.path.join(REPO, path)) as handle:
        found = re.search(pattern, handle.read(), re.M)
    assert found, f"{pattern!r} not in {path}"
    return found.group(1)


class Evidence:
    """One committed run: tests/gpu/results/NAME/."""

    def __init__(self, name):
        self.dir = os.path.join(RESULTS, name)

    def path(self, *name):
        return os.path.join(self.dir, *name)

    def has(self, *name):
        return os.path.exists(self.path(*name))

    def text(self, *name):
        with open(self.path(*name)) as handle:
            return handle.read()

    def json(self, *name):
        return json.loads(self.text(*name))

    def joined(self, *name):
        """A playbook log with its lines joined (the YAML callback folds long messages)."""
        return " ".join(self.text(*name).split())

    def recap(self, *name):
        return recap_of(self.text(*name))


def committed(name, marker):
    """The committed run NAME, or skip the test when its MARKER file is not committed (yet)."""
    run = Evidence(name)
    if not run.has(marker):
        pytest.skip("no run committed in tests/gpu/results/%s (no %s)" % (name, marker))
    return run
