# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_records.py, the one reading of apt-cache madison's and dpkg-query's lines, and its two
callers on the lines that only one of them accepts."""

from __future__ import annotations

import re

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils._apt_madison import MadisonParseError, parse_madison
from ansible_collections.k3s_gpu.node.plugins.module_utils._dpkg import DpkgParseError, parse_dpkg_query
from ansible_collections.k3s_gpu.node.plugins.module_utils._records import split_records


class RecordError(ValueError):
    pass


def records(output, required=1):
    return list(split_records(output, "|", 3, required, RecordError, "tool", "'a | b | c'"))


def test_string_and_lines_give_the_same_records_blank_lines_skipped():
    text = " a | 1 | x \n\n  \nb|2|\n"
    assert records(text) == [["a", "1", "x"], ["b", "2", ""]]
    assert records(text.splitlines()) == records(text)
    assert records(None) == [] and records("") == []


@pytest.mark.parametrize("line, message", [
    ("a | 1", "unexpected tool line 'a | 1' (expected 'a | b | c')"),
    ("a | 1 | x | y", "unexpected tool line 'a | 1 | x | y'"),
    (" | 1 | x", "unexpected tool line ' | 1 | x'"),
])
def test_a_line_of_other_fields_names_the_tool_the_line_and_the_form(line, message):
    with pytest.raises(RecordError, match="^" + re.escape(message)):
        records(["a | 1 | x", line])


def test_required_fields_must_be_set():
    assert records("a |  | x") == [["a", "", "x"]]
    with pytest.raises(RecordError, match="unexpected tool line"):
        records("a |  | x", required=2)


def test_a_line_that_is_not_a_string_is_named():
    with pytest.raises(RecordError, match=r"^tool line 3 is not a string$"):
        records(["a | 1 | x", 3])


def test_madison_needs_a_version_dpkg_query_does_not():
    with pytest.raises(MadisonParseError, match="unexpected apt-cache madison line"):
        parse_madison("foo |  | http://127.0.0.1/x  Packages\n")
    # dpkg-query lists a package it knows but that is not installed with an empty version
    assert parse_dpkg_query("foo\t\tun \nbar\t1.0-1\tii \n") == {"bar": "1.0-1"}
    with pytest.raises(DpkgParseError, match=r"^unexpected dpkg-query line 'foo 1.0' \(expected 'package<TAB>"):
        parse_dpkg_query("foo 1.0\n")
