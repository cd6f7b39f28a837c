# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Re-check the committed evidence of tests/gpu/e2e.sh (the whole job on a real NVIDIA H200).

tests/gpu/results/e2e-h200/ (2026-12-01) and e2e-h200-2026-12-03/ (the issue-17 task cuts, on
the code of branch m11) are the unpacked evidence.tar.gz of two real runs. These tests read each
again: the playbook recaps of both runs, the article's pod log, the node object, K3s's
containerd config and the checks the run made, against the versions this checkout pins.
"""

from __future__ import annotations

import re

import pytest
from evidence import committed, pinned, recap_of

RUNS = ("e2e-h200", "e2e-h200-2026-12-03")
_recap = recap_of
_pinned = pinned


@pytest.fixture(params=RUNS)
def run(request):
    return committed(request.param, "checks.json")


def test_every_check_of_the_run_passed(run):
    checks = run.json("checks.json")
    assert checks and all(c["passed"] for c in checks), [c for c in checks if not c["passed"]]
    lines = run.text("checks.txt").splitlines()
    assert lines and not [line for line in lines if not line.startswith("PASS ")]


def test_first_run_went_from_bare_host_to_test_passed(run):
    log = run.text("site-run1.log")
    recap = _recap(log)
    assert set(recap) == {"gpu-h200", "localhost"}
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values())
    assert recap["gpu-h200"]["changed"] > 0
    assert "Test PASSED" in log
    # no node-side check was turned off or skipped for want of a GPU
    assert "SKIPPED (not passed)" not in log


def test_second_run_changed_nothing(run):
    recap = _recap(run.text("site-run2.log"))
    assert set(recap) == {"gpu-h200", "localhost"}
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), recap


def test_the_article_pod_ran_on_the_h200_through_the_real_kubelet(run):
    log = run.text("pod-article.log")
    assert "Test PASSED" in log
    pod = run.json("pod-article.json")
    assert pod["spec"]["runtimeClassName"] == "nvidia"
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["spec"]["nodeName"] == "gpu-h200"


def test_node_is_tainted_and_advertises_every_gpu(run):
    node = run.json("node.json")
    taints = [(t["key"], t.get("value"), t["effect"]) for t in node["spec"]["taints"]]
    assert ("nvidia.com/gpu", "true", "NoSchedule") in taints
    gpus = [line for line in run.text("environment.txt").splitlines() if "NVIDIA H200" in line]
    assert gpus and node["status"]["allocatable"]["nvidia.com/gpu"] == str(len(gpus))
    info = node["status"]["nodeInfo"]
    kube = _pinned(r"^\s*k8s.io/kubernetes (v\S+)", "tests/gpu/build/kube/go.mod")
    containerd = _pinned(r"^CONTAINERD_VERSION=(\S+)", "tests/gpu/build.sh")
    assert info["kubeletVersion"] == kube
    assert info["containerRuntimeVersion"] == "containerd://%s" % containerd.lstrip("v")


def test_the_articles_reasons_hold_on_the_real_cluster(run):
    no_tol = run.json("pod-no-toleration.json")
    assert no_tol["status"]["phase"] == "Pending" and not no_tol["spec"].get("nodeName")
    assert any("untolerated taint" in (c.get("message") or "") for c in no_tol["status"]["conditions"])
    no_rc = run.json("pod-no-runtimeclass.json")
    assert no_rc["status"]["phase"] == "Failed" and "runtimeClassName" not in no_rc["spec"]
    assert "Test PASSED" not in run.text("pod-no-runtimeclass.log")
    nothing = run.json("pod-tolerates-nothing.json")
    assert nothing["status"]["phase"] == "Pending" and not nothing["spec"].get("nodeName")


def test_k3s_containerd_config_has_the_nvidia_runtime_and_the_agent_was_restarted_once(run):
    config = run.text("containerd-config.toml")
    assert "runtimes.'nvidia'" in config
    assert re.search(r"BinaryName = \"/usr/bin/nvidia-container-runtime\"", config)
    run1, run2 = run.text("site-run1.log"), run.text("site-run2.log")
    assert re.search(r"RUNNING HANDLER \[k3s_gpu\.node\.\w+ : Restart k3s-agent", run1)
    assert "RUNNING HANDLER" not in run2


def test_each_phase_was_timed(run):
    timings = run.text("timings.txt")
    for phase in ("control plane", "boot the GPU host", "site.yml, first run", "site.yml, second run"):
        assert phase in timings
    assert "CPU machine: build components" in run.text("cpu-times.txt")
