# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/reliability-doc.py: docs/reliability.md comes from the results a complete reliability
run writes (tests/reliability/conftest.py write_results), never from the tests themselves. Its
--check (scripts/lint.sh) fails on a malformed document, --stale on one the results do not render
to. Everything here is written under tmp_path: the committed document is only read."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "reliability-doc.py")
DOC = os.path.join(ROOT, "docs", "reliability.md")

_spec = importlib.util.spec_from_file_location("reliability_doc", SCRIPT)
rdoc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rdoc)


def _results(**changes):
    rows = {
        "bad": [{"target": "k3s_agent", "input": "k3s_agent_state: installed", "expect": r"must be one of: a\|b|c",
                 "seen": "value of k3s_agent_state must be one of: present, absent", "state": "node", "result": "passed"}],
        "fault": [{"fault": "mirror down", "how": "stopped", "expect": "clear failure", "state": "nothing half-installed",
                   "rerun": "converges", "result": "passed"}],
        "leak": [{"secret": "K3s token", "where": "every log | output", "how": "verbatim", "result": "passed"}],
    }
    results = {"format": 1, "date": "2026-12-03", "node_state": "files under /etc", "api_state": "nodes", "rows": rows}
    results.update(changes)
    return results


def _run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, check=False)


def test_the_suite_writes_what_the_script_reads(tmp_path):
    path = tmp_path / "sub" / "results.json"
    rows = _results()["rows"]
    rows["bad"][0]["keep_failed"] = False  # the suite's own bookkeeping keys travel along
    rdoc.write_results(path, rows, "files under /etc", "nodes", date="2026-12-03")
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["format"] == rdoc.FORMAT and written["rows"]["bad"][0]["keep_failed"] is False
    assert rdoc.render(written) == rdoc.render(_results())
    assert not (tmp_path / "sub" / "results.json.part").exists()
    # The suite writes there, through this same function, never to a tracked file.
    with open(os.path.join(ROOT, "tests", "reliability", "conftest.py"), encoding="utf-8") as f:
        conftest = f.read()
    assert 'RESULTS = os.path.join(lab.REPO, ".tmp", "reliability", "results.json")' in conftest
    assert "write_results(RESULTS," in conftest and "docs\", \"reliability.md" not in conftest


def test_render_and_parse_round_trip():
    text = rdoc.render(_results())
    assert "Generated 2026-12-03: 1 bad inputs, 1 injected faults, 1 leak checks; all passed." in text
    assert "| 1 | k3s_agent | k3s_agent_state: installed | `must be one of: a\\\\|b\\|c` |" in text
    assert rdoc.parse(text) == _results()
    assert rdoc.check_committed(text) == []


def test_write_then_check(tmp_path):
    results, doc = tmp_path / "results.json", tmp_path / "reliability.md"
    results.write_text(json.dumps(_results()))
    proc = _run("--results", str(results), "--doc", str(doc))
    assert proc.returncode == 0, proc.stderr
    assert doc.read_text() == rdoc.render(_results())
    assert _run("--stale", "--results", str(results), "--doc", str(doc)).returncode == 0
    # A new run (another date, a failed row): --stale says the committed document is stale, while
    # --check (lint) still passes, because it looks at the document only: a second make test on the
    # same clone must not fail lint because the last run had another date.
    newer = _results(date="2026-12-04")
    newer["rows"]["leak"][0]["result"] = "FAILED"
    results.write_text(json.dumps(newer))
    proc = _run("--stale", "--results", str(results), "--doc", str(doc))
    assert proc.returncode == 1 and "is stale" in proc.stderr and "make reliability-doc" in proc.stderr
    assert _run("--check", "--results", str(results), "--doc", str(doc)).returncode == 0
    assert doc.read_text() == rdoc.render(_results())  # neither writes


def test_check_verifies_the_document_is_well_formed(tmp_path):
    missing, doc = tmp_path / "none.json", tmp_path / "reliability.md"
    doc.write_text(rdoc.render(_results()))
    proc = _run("--check", "--results", str(missing), "--doc", str(doc))
    assert proc.returncode == 0 and "is well-formed" in proc.stdout
    for edit, why in [
        (lambda t: t.replace("1 leak checks", "2 leak checks"), "not what make reliability-doc renders"),
        (lambda t: t.replace("| 1 | K3s token", "| 2 | K3s token"), "not numbered"),
        (lambda t: t.replace("| verbatim | passed |", "| verbatim | FAILED |"), "rows that did not pass: leak 1"),
        (lambda t: t.replace("| node | passed |", "| passed |"), "a bad row has 6 cells"),
        (lambda t: t.replace("Generated 2026-12-03", "Written 2026-12-03"), "no date line"),
    ]:
        doc.write_text(edit(rdoc.render(_results())))
        proc = _run("--check", "--results", str(missing), "--doc", str(doc))
        assert proc.returncode == 1 and why in proc.stderr, (why, proc.stderr)
    # Without results there is nothing to write from.
    proc = _run("--results", str(missing), "--doc", str(doc))
    assert proc.returncode == 1 and "make reliability" in proc.stderr


def test_the_committed_document_is_well_formed():
    with open(DOC, encoding="utf-8") as f:
        assert rdoc.check_committed(f.read()) == []
