# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The apt_madison filter on real apt-cache madison output (tests/unit/fixtures/apt-cache)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.filter.apt_madison import FilterModule, apt_madison

TOOLKIT = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
           "libnvidia-container1"]


def test_toolkit_repository(fixture_text):
    offered = apt_madison(fixture_text("apt-cache", "madison-toolkit.txt"))
    assert offered == {p: ["1.20.0-1", "1.17.8-1"] for p in TOOLKIT}
    assert list(offered) == TOOLKIT  # apt-cache's order


def test_stdout_lines_give_the_same(fixture_text):
    text = fixture_text("apt-cache", "madison-toolkit.txt")
    assert apt_madison(text.splitlines()) == apt_madison(text)


def test_exact_version(fixture_text):
    text = fixture_text("apt-cache", "madison-toolkit.txt")
    assert apt_madison(text, "1.17.8-1") == {p: ["1.17.8-1"] for p in TOOLKIT}
    assert apt_madison(text, "1.17.8") == {}  # a version, not a prefix
    assert apt_madison(text, "1.18.0-1") == {}


def test_branch_glob_and_a_package_nobody_offers(fixture_text):
    text = fixture_text("apt-cache", "madison-cuda.txt")
    offered = apt_madison(text)
    assert offered == {
        "nvidia-open": ["595.71.05-1", "595.58.03-1", "580.105.08-1", "580.95.05-1"],
        "nvidia-driver-cuda": ["595.71.05-1", "595.58.03-1", "580.105.08-1", "580.95.05-1"],
        "nvidia-driver-pinning-580": ["580-1"],
    }
    assert "nvidia-driver-pinning-610" not in offered
    assert apt_madison(text, "580.*") == {"nvidia-open": ["580.105.08-1", "580.95.05-1"],
                                          "nvidia-driver-cuda": ["580.105.08-1", "580.95.05-1"]}
    assert apt_madison(text, "58.*") == {}  # branch 58 is not 580
    assert apt_madison(text, "610.*") == {}


def test_two_repositories_and_a_source_index(fixture_text):
    # Each version once although two repositories offer it; the deb-src index's Sources lines
    # (source packages, not installable) are left out.
    assert apt_madison(fixture_text("apt-cache", "madison-toolkit-two-repos-sources.txt")) == {
        "nvidia-container-toolkit": ["1.20.0-1", "1.17.8-1"],
        "nvidia-container-toolkit-base": ["1.20.0-1", "1.17.8-1"],
    }


def test_nothing_offered():
    assert apt_madison("") == {}
    assert apt_madison(None) == {}
    assert apt_madison([]) == {}


@pytest.mark.parametrize("output, message", [
    ("N: Unable to locate package foo\n", "unexpected apt-cache madison line 'N: Unable to locate package foo'"),
    (" foo | | http://127.0.0.1/x  Packages\n", "unexpected apt-cache madison line"),
    ({"stdout": ""}, "the input must be apt-cache madison's stdout or stdout_lines, not dict"),
])
def test_refuses_what_is_not_madison_output(output, message):
    with pytest.raises(AnsibleFilterError, match=message):
        apt_madison(output)


def test_registered_under_its_name():
    assert FilterModule().filters() == {"apt_madison": apt_madison}
