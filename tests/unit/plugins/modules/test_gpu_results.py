# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Re-check the committed results of tests/gpu/run.sh (real H200 machines).

- the facts the module returned there match nvidia-smi's own --query-gpu output of the same run;
- today's parser, given the XML captured there, returns those facts (temperature within 5 C);
- the playbook's gpu_validate runs passed, compiled once, and compiled nothing in check mode;
- the benchmark met its target.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils._nvidia_smi import (
    merge_compute_caps,
    parse_compute_caps,
    parse_xml,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
RESULTS = os.path.join(REPO, "tests", "gpu", "results")
# The runs of run.sh (each has facts.json); e2e-h200/ holds e2e.sh's evidence (test_gpu_e2e.py).
RUNS = sorted(d for d in os.listdir(RESULTS) if os.path.isfile(os.path.join(RESULTS, d, "facts.json")))


def _load(run, name):
    with open(os.path.join(RESULTS, run, name)) as handle:
        return json.load(handle) if name.endswith(".json") else handle.read()


def _compare_facts():
    spec = importlib.util.spec_from_file_location("compare_facts", os.path.join(REPO, "tests", "gpu", "compare_facts.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_results():
    assert "h200-x2" in RUNS


@pytest.mark.parametrize("run", RUNS)
def test_facts_match_nvidia_smi(run):
    rows = _compare_facts().compare(os.path.join(RESULTS, run))
    bad = [row for row in rows if not row[4]]
    assert not bad
    facts = _load(run, "facts.json")
    assert len(rows) == 3 + 14 * facts["gpu_count"]


@pytest.mark.parametrize("run", RUNS)
def test_parser_reproduces_the_facts(run):
    facts = _load(run, "facts.json")
    parsed = parse_xml(_load(run, "nvidia-smi-q.xml"))
    merge_compute_caps(parsed, parse_compute_caps(_load(run, "query-compute-cap.csv")))
    for key in ("driver_version", "cuda_version", "gpu_count"):
        assert parsed[key] == facts[key], key
    # The XML was captured a few seconds before the module ran: only the temperature may move.
    for ours, theirs in zip(parsed["gpus"], facts["gpus"]):
        assert abs(ours.pop("temperature_c") - theirs.pop("temperature_c")) <= 5
        assert ours == theirs
    assert facts["installed"] and facts["driver_loaded"] and facts["error"] is None


@pytest.mark.parametrize("run", RUNS)
def test_validation_runs(run):
    runs = _load(run, "validate.json")
    facts = _load(run, "facts.json")
    for name in ("device_query", "vector_add"):
        assert runs["check_mode_empty_cache"][name]["skipped"]
        assert runs["first"][name]["passed"] and runs["first"][name]["details"]["built"]
        assert runs["cached_check_mode"][name]["passed"] and not runs["cached_check_mode"][name]["details"]["built"]
    devices = runs["first"]["device_query"]["details"]["devices"]
    assert [d["name"] for d in devices] == [g["name"] for g in facts["gpus"]]
    assert [d["compute_capability"] for d in devices] == [g["compute_capability"] for g in facts["gpus"]]


def test_benchmark_target_met():
    bench = _load("h200-x2", "bench.json")
    assert bench["target"] == 1.5
    assert bench["ratio"] < 1.5
