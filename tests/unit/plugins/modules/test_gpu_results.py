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
        # health is newer than these runs' facts.json; the real GPUs needed no reset or service
        health = ours.pop("health")
        assert health["recovery_action"] is None and health["remapped_rows_pending"] == "No", health
        assert theirs.pop("health", health) == health
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


def test_node_check_defaults_on_a_real_h200():
    """Issue 15: the old default failed on an H200 without the demo suite; the new one passes there,
    builds the bundled deviceQuery with the machine's nvcc, and with nvcc out of reach (a node with
    only the driver) passes on gpu_health alone, saying why deviceQuery did not run."""
    old = _load("h200-x1", "edge-demo-suite-absent.json")
    assert old["failed"] and old["failed_checks"] == ["device_query"] and "deviceQuery not found" in old["msg"]
    run = "h200-x1-node-checks"
    facts = _load(run, "facts.json")
    defaults = _load(run, "edge-defaults.json")
    assert not defaults.get("failed") and defaults["failed_checks"] == []
    health = defaults["checks"]["gpu_health"]
    assert health["passed"] and health["details"]["gpu_count"] == facts["gpu_count"] == 1
    assert health["details"]["module_version"] == health["details"]["driver_version"] == facts["driver_version"]
    assert [d["bus_id"] for d in health["details"]["pci_gpus"]] == ["0000:00:06.0"]
    assert health["details"]["missing_from_nvidia_smi"] == [] and health["details"]["problems"] == []
    assert health["details"]["xids"] == []  # the kernel log was read there, and had none
    dq = defaults["checks"]["device_query"]
    assert dq["passed"] and dq["details"]["source"] == "bundled" and dq["details"]["built"]
    assert defaults["summary"].startswith("ran: gpu_health passed, device_query passed; not run: vector_add")
    check = _load(run, "edge-defaults-check-mode.json")
    assert check["checks"]["gpu_health"]["passed"] and check["checks"]["device_query"]["skipped"]
    assert check["checks"]["device_query"]["reason"].startswith("check mode: would compile the bundled deviceQuery")
    driver_only = _load(run, "edge-driver-only.json")
    assert not driver_only.get("failed") and driver_only["checks"]["gpu_health"]["passed"]
    assert driver_only["checks"]["device_query"]["skipped"]
    assert "nvcc was not found (/nonexistent/nvcc)" in driver_only["checks"]["device_query"]["reason"]
    assert driver_only["summary"].startswith("ran: gpu_health passed; not run: device_query (skipped: deviceQuery is not installed")
    demo_absent = _load(run, "edge-demo-suite-absent.json")  # checks: [device_query], as before
    assert not demo_absent.get("failed") and demo_absent["checks"]["device_query"]["details"]["source"] == "bundled"


def test_cuda_driver_auto_on_a_real_h200():
    log = _load(".", "preinstalled-h200-580-auto.txt")
    for line in ("RESULT: first run changed=0 failed=0", "RESULT: auto chose preinstalled and said so",
                 "RESULT: check-mode run changed=0 failed=0", "RESULT: branch 581 refused (rc 2)",
                 "RESULT: nothing changed"):
        assert line in log
    assert "driver packages (dpkg -l '*nvidia*'):\n  none installed" in log
    assert ("cuda_driver_source=auto: localhost runs NVIDIA driver 580.159.04 (branch 580), not cuda_driver_branch 581, "
            "and this role did not install it") in log


def test_benchmark_target_met():
    bench = _load("h200-x2", "bench.json")
    assert bench["target"] == 1.5
    assert bench["ratio"] < 1.5
