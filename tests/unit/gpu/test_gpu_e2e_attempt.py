# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Re-check what the first whole-job attempt on an H200 established (tests/gpu/results/
e2e-h200-attempt-2026-12-01/README.md): the real kubelet and containerd joined the node with
its taint and K3s's nvidia runtime, the scheduler's taint reasons held, and the GPU pods did
not run because runc could not lower oom_score_adj (no CAP_SYS_RESOURCE on that machine).
"""

from __future__ import annotations

import json

from evidence import Evidence, pinned

RUN = Evidence("e2e-h200-attempt-2026-12-01")


_text = RUN.text


_pinned = pinned


def test_the_real_node_components_joined_the_h200_node_with_its_taint():
    node = json.loads(_text("run2", "node.json"))
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == _pinned(r"^\s*k8s.io/kubernetes (v\S+)", "tests/gpu/build/kube/go.mod")
    assert info["containerRuntimeVersion"] == "containerd://" + _pinned(r"^CONTAINERD_VERSION=v(\S+)", "tests/gpu/build.sh")
    assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"} in [
        {k: t.get(k) for k in ("key", "value", "effect")} for t in node["spec"]["taints"]]
    assert [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    assert "NVIDIA H200" in _text("run2", "node-boot.txt")


def test_k3s_containerd_config_got_the_nvidia_runtime_and_the_rerun_restarted_nothing():
    config = _text("run2", "containerd-config.toml")
    assert "runtimes.'nvidia'" in config and 'BinaryName = "/usr/bin/nvidia-container-runtime"' in config
    checks = _text("run2", "checks.txt")
    assert "PASS second run restarted nothing" in checks
    assert "PASS first run: the toolkit install notified the agent restart" in checks


def test_the_scheduler_keeps_pods_without_the_toleration_off_the_node():
    for name in ("pod-no-toleration.json", "pod-tolerates-nothing.json"):
        pod = json.loads(_text("run2", name))
        assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
        assert any("untolerated taint" in (c.get("message") or "") for c in pod["status"]["conditions"])


def test_why_no_gpu_pod_ran_yet():
    # run 1: the node's cgroup delegated no controller (fixed in node.sh: run 2 has no such error)
    assert "has some missing controllers" in _text("run1", "k3s-agent.journal")
    assert "has some missing controllers" not in _text("run2", "k3s-agent.journal")
    # run 2: runc could not lower oom_score_adj for the sandboxes, so nvidia.com/gpu never appeared
    assert "failed to update /proc/self/oom_score_adj: Permission denied" in _text("run2", "k3s-agent.journal")
    node = json.loads(_text("run2", "node.json"))
    assert "nvidia.com/gpu" not in node["status"]["allocatable"]
    assert "FAIL first run: the vectoradd pod passed" in _text("run2", "checks.txt")
