# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules of the GPU node self-check (module_utils/_node_check.py, _runtime_class.py)."""

from __future__ import annotations

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils import _node_check as rules
from ansible_collections.k3s_gpu.node.plugins.module_utils import _runtime_class as rc
from ansible_collections.k3s_gpu.node.plugins.module_utils._taints import TaintError

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
SMI_OK = {"driver_version": "580.95.05", "error": None, "kind": None, "hint": None}


def node(labels=None, taints=None, gpus=None):
    out = {"metadata": {"name": "gpu-1", "labels": dict(labels or {})}, "spec": {}, "status": {"allocatable": {}}}
    if taints is not None:
        out["spec"]["taints"] = taints
    if gpus is not None:
        out["status"]["allocatable"]["nvidia.com/gpu"] = str(gpus)
    return out


# --- driver -------------------------------------------------------------------------------------

@pytest.mark.parametrize("deb, upstream", [
    ("580.95.05-1", "580.95.05"), ("580.95.05-0ubuntu0.24.04.2", "580.95.05"), ("1:595.45.04-1", "595.45.04"),
    ("", None), (None, None)])
def test_upstream_version(deb, upstream):
    assert rules.upstream_version(deb) == upstream


def test_pick_driver_package_prefers_the_list_order_and_skips_pinning_and_removed():
    rows = rules.parse_dpkg_rows(
        "installed\tnvidia-driver-pinning-580\t580.95.05-1\n"
        "config-files\tnvidia-driver-cuda\t575.57.08-1\n"
        "installed\tnvidia-kernel-open-dkms\t580.95.05-1\n"
        "installed\tnvidia-driver-580-server-open\t580.82.07-0ubuntu1\n"
        "garbage line\n")
    assert rules.pick_driver_package(rows) == ("nvidia-kernel-open-dkms", "580.95.05-1")
    assert rules.pick_driver_package(rows, ["nvidia-driver-*"]) == ("nvidia-driver-580-server-open", "580.82.07-0ubuntu1")
    assert rules.pick_driver_package(rows, ["cuda-drivers"]) is None


def test_driver_ok_names_the_installed_package():
    result = rules.judge_driver("580", "580.95.05", SMI_OK, ("nvidia-driver-cuda", "580.95.05-1"), ["nvidia-driver-cuda"])
    assert result == {"ok": True, "status": "ok",
                      "detail": "loaded driver 580.95.05 (branch 580) is the installed nvidia-driver-cuda 580.95.05-1"}


def test_driver_not_loaded_says_what_nvidia_smi_says_and_what_to_do():
    smi = {"driver_version": None, "kind": "driver_not_loaded", "error": "NVIDIA-SMI has failed because it couldn't "
           "communicate with the NVIDIA driver.", "hint": "Load the kernel module (modprobe nvidia) or reboot."}
    result = rules.judge_driver("580", None, smi, ("nvidia-driver-cuda", "580.95.05-1"), [])
    assert result["status"] == "failed"
    assert result["detail"].startswith("no NVIDIA kernel module is loaded (/sys/module/nvidia/version is missing); "
                                       "nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate")
    assert "the installed driver is nvidia-driver-cuda 580.95.05-1" in result["detail"]
    assert result["detail"].endswith("Load the kernel module (modprobe nvidia) or reboot.")


def test_driver_pending_reboot_after_an_upgrade():
    result = rules.judge_driver("580", "580.82.07", SMI_OK | {"driver_version": "580.82.07"},
                                ("nvidia-driver-cuda", "580.95.05-1"), [])
    assert result["status"] == "failed"
    assert "installed driver is nvidia-driver-cuda 580.95.05-1 but the loaded kernel module is 580.82.07" in result["detail"]
    assert "reboot" in result["detail"]


def test_driver_library_mismatch():
    smi = {"driver_version": None, "kind": "version_mismatch", "hint": None,
           "error": "Failed to initialize NVML: Driver/library version mismatch"}
    result = rules.judge_driver("580", "580.82.07", smi, ("nvidia-driver-cuda", "580.95.05-1"), [])
    assert result["status"] == "failed" and "version mismatch" in result["detail"] and "580.82.07" in result["detail"]


def test_driver_of_another_branch():
    result = rules.judge_driver(595, "580.95.05", SMI_OK, ("nvidia-driver-cuda", "580.95.05-1"), [])
    assert result["status"] == "failed"
    assert "is of branch 580, not of branch 595 (cuda_driver_branch)" in result["detail"]


def test_driver_nvidia_smi_and_module_disagree():
    result = rules.judge_driver("580", "580.95.05", SMI_OK | {"driver_version": "580.82.07"}, None, [])
    assert result["status"] == "failed" and "nvidia-smi reports driver 580.82.07" in result["detail"]


def test_driver_loaded_but_nvidia_smi_sees_no_gpu():
    smi = {"driver_version": None, "kind": "no_devices", "error": "No devices were found", "hint": "Check the PCI bus."}
    result = rules.judge_driver("580", "580.95.05", smi, None, [])
    assert result["status"] == "failed" and "No devices were found" in result["detail"]


def test_driver_without_package_checks_the_module_only():
    result = rules.judge_driver(None, "580.159.04", SMI_OK | {"driver_version": "580.159.04"}, None,
                                ["nvidia-driver-cuda"])
    assert result["status"] == "ok"
    assert "no driver package is installed (nvidia-driver-cuda)" in result["detail"]


# --- containerd ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture, plugin, version, names", [
    ("containerd-config-v3-derived.toml", "io.containerd.cri.v1.runtime", 3, ["nvidia", "nvidia-cdi", "runc"]),
    ("containerd-config-v2-derived.toml", "io.containerd.grpc.v1.cri", 2, ["nvidia", "runc"]),
])
def test_containerd_runtimes_of_k3s_templates(fixture_path, fixture, plugin, version, names):
    with open(fixture_path("k3s", fixture), encoding="utf-8") as f:
        parsed = rules.containerd_runtimes(f.read())
    assert parsed["version"] == version
    assert sorted(parsed["runtimes"]) == names
    assert parsed["runtimes"]["nvidia"] == {"plugin": plugin, "runtime_type": "io.containerd.runc.v2",
                                            "binary_name": "/usr/bin/nvidia-container-runtime"}


def test_containerd_runtime_ok_and_lost(fixture_path):
    with open(fixture_path("k3s", "containerd-config-v3-derived.toml"), encoding="utf-8") as f:
        text = f.read()
    path = rules.K3S_CONTAINERD_CONFIG
    result = rules.judge_containerd(path, text, "nvidia", lambda p: True, [])
    assert result["status"] == "ok" and "version 3" in result["detail"]
    # the runtime binary was removed since the agent rendered its config
    result = rules.judge_containerd(path, text, "nvidia", lambda p: False, [])
    assert result["status"] == "failed" and "/usr/bin/nvidia-container-runtime, which does not exist" in result["detail"]
    # the nvidia tables removed (a user template without them, or the agent started before the toolkit)
    cut = text[:text.index("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'nvidia']")]
    result = rules.judge_containerd(path, cut, "nvidia", lambda p: True, ["config-v3.toml.tmpl"])
    assert result["status"] == "failed"
    assert "has no 'nvidia' runtime (runtimes: runc)" in result["detail"]
    assert "restart k3s-agent" in result["detail"] and "config-v3.toml.tmpl" in result["detail"]
    result = rules.judge_containerd(path, None, "nvidia", lambda p: True, [])
    assert result["status"] == "failed" and "does not exist" in result["detail"]


@pytest.mark.parametrize("key, parts", [
    ("a.'b.c'.\"d\"", ["a", "b.c", "d"]), ("a . b", ["a", "b"]), ("a.'b", None), ("a..b", None)])
def test_split_toml_key(key, parts):
    assert rules.split_toml_key(key) == parts


# --- CDI ----------------------------------------------------------------------------------------

def test_cdi():
    assert rules.judge_cdi(False, "/etc/cdi/nvidia.yaml", None, None)["status"] == "skipped"
    assert "does not exist" in rules.judge_cdi(True, "/etc/cdi/nvidia.yaml", None, None)["detail"]
    spec = "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05\n"
    assert rules.judge_cdi(True, "/etc/cdi/nvidia.yaml", spec, spec + "\n")["status"] == "ok"
    stale = rules.judge_cdi(True, "/etc/cdi/nvidia.yaml", spec.replace("580.95.05", "580.82.07"), spec)
    assert stale["status"] == "failed"
    assert "first at line 3" in stale["detail"] and "libcuda.so.580.82.07" in stale["detail"]
    broken = rules.judge_cdi(True, "/etc/cdi/nvidia.yaml", spec, None, "nvidia-ctk cdi generate failed with rc 1: NVML")
    assert broken["status"] == "failed" and "NVML" in broken["detail"]


# --- the API ------------------------------------------------------------------------------------

def test_runtime_class_checks():
    plain = {"metadata": {"name": "nvidia"}, "handler": "nvidia"}
    gpu_only = {"metadata": {"name": "k3s-gpu-nvidia"}, "handler": "nvidia",
                "scheduling": {"nodeSelector": {"k3s-gpu.node/gpu": "true"},
                               "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}}
    labelled = node(labels={"k3s-gpu.node/gpu": "true"}, taints=[GPU_TAINT])
    assert rules.judge_runtime_class("nvidia", None, "nvidia", labelled, [GPU_TAINT])["status"] == "failed"
    assert "handler 'crun'" in rules.judge_runtime_class("nvidia", dict(plain, handler="crun"), "nvidia", labelled, [])["detail"]
    assert rules.judge_runtime_class("nvidia", plain, "nvidia", node(), [GPU_TAINT])["status"] == "ok"
    result = rules.judge_runtime_class("k3s-gpu-nvidia", gpu_only, "nvidia", labelled, [GPU_TAINT])
    assert result["status"] == "ok" and "nodeSelector k3s-gpu.node/gpu=true" in result["detail"]
    result = rules.judge_runtime_class("k3s-gpu-nvidia", gpu_only, "nvidia", node(), [GPU_TAINT])
    assert result["status"] == "failed" and "k3s-gpu.node/gpu=true, which this node lacks" in result["detail"]
    other = dict(GPU_TAINT, key="example.com/reserved")
    result = rules.judge_runtime_class("k3s-gpu-nvidia", gpu_only, "nvidia", labelled, [GPU_TAINT, other])
    assert result["status"] == "failed" and "example.com/reserved=true:NoSchedule" in result["detail"]


@pytest.mark.parametrize("toleration, tolerated", [
    ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, True),
    ({"key": "nvidia.com/gpu", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),
    ({"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}, True),
    ({"key": "nvidia.com/gpu", "value": "false", "effect": "NoSchedule"}, False),
    ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, False),
])
def test_tolerates(toleration, tolerated):
    assert rc.tolerates([toleration], GPU_TAINT) is tolerated


def test_tolerations_for_taints():
    assert rc.tolerations_for(["nvidia.com/gpu=true:NoSchedule", {"key": "nvidia.com/gpu", "effect": "NoExecute"}]) == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}]
    with pytest.raises(TaintError):
        rc.tolerations_for(["nvidia.com/gpu=true"])


def test_allocatable():
    assert rules.judge_allocatable(node(gpus=2), 2)["status"] == "ok"
    lower = rules.judge_allocatable(node(gpus=1), 2)
    assert lower["status"] == "failed" and "allocatable nvidia.com/gpu is 1 but nvidia-smi lists 2 GPU(s)" in lower["detail"]
    assert rules.judge_allocatable(node(), 1)["detail"].startswith("allocatable nvidia.com/gpu is 0")
    assert rules.judge_allocatable(node(gpus=1), 0)["status"] == "skipped"


def test_taints_and_labels():
    wanted_taints, wanted_labels = rules.parse_wanted(["nvidia.com/gpu=true:NoSchedule"], ["gpu.example.com/model=h200"])
    assert rules.judge_taints(node(taints=[GPU_TAINT]), wanted_taints)["status"] == "ok"
    missing = rules.judge_taints(node(taints=[dict(GPU_TAINT, value="yes")]), wanted_taints)
    assert missing["status"] == "failed"
    assert missing["detail"].startswith("taint(s) nvidia.com/gpu=true:NoSchedule missing (the node has nvidia.com/gpu=yes:NoSchedule)")
    assert rules.judge_taints(node(), [])["status"] == "skipped"
    assert rules.judge_labels(node(labels={"gpu.example.com/model": "h200"}), wanted_labels)["status"] == "ok"
    wrong = rules.judge_labels(node(labels={"gpu.example.com/model": "a100"}), wanted_labels)
    assert wrong["status"] == "failed" and "gpu.example.com/model=h200 (is a100)" in wrong["detail"]


def test_gfd_labels():
    gpus = [{"name": "NVIDIA H200", "memory_total_mib": 143771}]
    good = {"nvidia.com/gpu.product": "NVIDIA-H200", "nvidia.com/gpu.memory": "143771", "nvidia.com/gpu.count": "1",
            "nvidia.com/gfd.timestamp": "1764660000"}
    assert rules.judge_gfd(node(), gpus)["status"] == "skipped"
    assert rules.judge_gfd(node(labels=good), gpus)["status"] == "ok"
    assert rules.judge_gfd(node(labels=dict(good, **{"nvidia.com/gpu.product": "NVIDIA-H200-SHARED"})), gpus)["ok"]
    stale = rules.judge_gfd(node(labels=dict(good, **{"nvidia.com/gpu.count": "2"})), gpus)
    assert stale["status"] == "failed" and "nvidia.com/gpu.count=2 but nvidia-smi lists 1 GPU(s)" in stale["detail"]
    partial = rules.judge_gfd(node(labels={"nvidia.com/gfd.timestamp": "1"}), gpus)
    assert partial["status"] == "failed" and "nvidia.com/gpu.product" in partial["detail"]
    assert rules.judge_gfd(node(), gpus, expected=True)["status"] == "failed"
    assert rules.judge_gfd(node(labels=good), gpus, expected=False)["status"] == "skipped"


# --- the report ---------------------------------------------------------------------------------

def test_report_rows_and_failures():
    report = {
        "gpu-a": {"driver": rules.ok("loaded driver 580.95.05"), "taints": rules.failed("taint(s) x missing")},
        "gpu-b": rules.from_node({}),
    }
    names = {"gpu-a": "gpu-a.lab", "gpu-b": None}
    lines = [r["line"] for r in rules.rows(report, names)]
    assert lines[0].split() == ["gpu-a", "(gpu-a.lab)", "driver", "OK", "loaded", "driver", "580.95.05"]
    assert lines[1].split()[:4] == ["gpu-a", "(gpu-a.lab)", "taints", "FAILED"]
    assert lines[2].split()[:3] == ["gpu-b", "node", "FAILED"]
    assert rules.failures(report, names) == [
        "gpu-a (gpu-a.lab) check taints: taint(s) x missing",
        "gpu-b check node: the host reported nothing: it was unreachable, or failed before its checks ran "
        "(see its tasks above)"]


def test_node_side_results():
    checks = {"driver": rules.ok("d"), "containerd_runtime": rules.failed("c"), "cdi": rules.skipped("off")}
    assert list(rules.from_node({"checks": checks})) == ["driver", "containerd_runtime", "cdi"]
    assert rules.from_node({"failed": True, "msg": "boom"})["node"]["detail"] == "gpu_node_check failed: boom"
    assert rules.from_gpu_validate({"skipped": True})["status"] == "skipped"
    assert rules.from_gpu_validate({"failed": True, "msg": "gpu_validate: gpu_health failed: Xid"}) == rules.failed(
        "gpu_validate: gpu_health failed: Xid")
    assert rules.from_gpu_validate({"summary": "ran: gpu_health passed"}) == rules.ok("ran: gpu_health passed")
    assert rules.from_pod({"passed": False, "skipped": True, "reason": "check mode"})["status"] == "skipped"
