# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Re-check the committed evidence of tests/gpu/day2.sh (issue 18 on a real NVIDIA H200).

tests/gpu/results/day2-h200/ is the day2/ folder of a run's evidence.tar.gz, with the run's
checks.txt; e2e-h200-2026-12-03/day2/ is the same of the later run (the issue-17 task cuts).
These tests read each again: validate.yml's rows on the real node, its failure when the nvidia
runtime was planted away, and the GPU-only RuntimeClass's pods.
"""

from __future__ import annotations

import re

import pytest
from evidence import committed

RUNS = ("day2-h200", "e2e-h200-2026-12-03/day2")
NODE = "gpu-h200"


@pytest.fixture(params=RUNS)
def run(request):
    return committed(request.param, "rc-checks.json")


# validate.yml's rows: one per check, and one runtime_class row per RuntimeClass (the collection's
# own and the GPU-only one of the day-2 run).
ROWS = ("driver", "containerd_runtime", "runtime_class nvidia", "runtime_class k3s-gpu-nvidia",
        "gpu_allocatable", "taints", "pod")


def test_every_day2_check_of_the_run_passed(run):
    lines = [line for line in run.text("checks.txt").splitlines() if " day 2: " in line]
    assert len(lines) >= 14, lines
    assert [line for line in lines if not line.startswith("PASS ")] == []


def test_validate_reported_every_check_ok_on_the_real_node_and_changed_nothing(run):
    log = run.joined("validate-run1.log")
    for check in ROWS:
        assert re.search(r"%s +%s +OK " % (NODE, check), log), check
    assert re.search(r"%s +driver +OK +loaded driver 580\.\d+\.\d+" % NODE, log)
    assert "validate.yml: every check passed on 1 node" in log
    recap = run.recap("validate-run1.log")
    assert recap and all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), recap


def test_validate_named_the_planted_fault_and_only_that_one(run):
    log = run.joined("validate-planted.log")
    assert re.search(r"%s +containerd_runtime +FAILED .*no 'nvidia' runtime" % NODE, log)
    assert "check(s) failed" in log
    for check in (row for row in ROWS if row not in ("containerd_runtime", "pod")):  # the planted one, the skipped pod
        assert re.search(r"%s +%s +OK " % (NODE, check), log), check
    assert not re.search(r"%s +pod +OK " % NODE, log)  # the pod runs only where the rest passed


def test_the_runtime_class_selects_gpu_nodes_and_its_pod_ran_on_the_gpu(run):
    checks = run.json("rc-checks.json")
    assert checks and all(c["passed"] for c in checks), checks
    rc = run.json("rc-runtimeclass.json")
    assert rc["handler"] == "nvidia"
    assert rc["scheduling"]["nodeSelector"] == {"k3s-gpu.node/gpu": "true"}
    assert any(t["key"] == "nvidia.com/gpu" for t in rc["scheduling"]["tolerations"])
    ran = run.json("rc-labelled.json")
    assert ran["spec"]["nodeName"] == NODE and ran["status"]["phase"] == "Succeeded"
    assert ran["spec"]["nodeSelector"]["k3s-gpu.node/gpu"] == "true"
    assert "Test PASSED" in run.text("rc-labelled.log")
    pending = run.json("rc-unlabelled.json")
    assert "nodeName" not in pending["spec"] and pending["status"]["phase"] == "Pending"
    (cond,) = [c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond["reason"] == "Unschedulable" and "node affinity/selector" in cond["message"]
