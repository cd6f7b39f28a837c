# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu_node_check run as Ansible runs it (its own process), with stand-ins for nvidia-smi and
nvidia-ctk (shell scripts printing captured or derived outputs) and real files for K3s's
containerd config and the CDI specification. This machine has no NVIDIA module loaded, so the
driver check fails here, as on the lab's GPU-less node."""

from __future__ import annotations

import os
import shutil
import stat


def script(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_reports_every_check_without_failing(run_module, tmp_path, fixture_path):
    smi = script(tmp_path / "nvidia-smi", "cat %s" % fixture_path("nvidia-smi", "h200-1gpu-q.xml"))
    config = tmp_path / "containerd" / "config.toml"
    config.parent.mkdir()
    shutil.copy(fixture_path("k3s", "containerd-config-v2-derived.toml"), config)
    (tmp_path / "containerd" / "config.toml.tmpl").write_text("{{ template \"base\" . }}\n")
    spec = tmp_path / "nvidia.yaml"
    spec.write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n  - hostPath: /usr/lib/libcuda.so.580.82.07\n")
    # nvidia-ctk's stand-in writes the spec the current driver would give
    ctk = script(tmp_path / "nvidia-ctk",
                 'out=${3#--output=}; [ "$1 $2" = "cdi generate" ] || exit 2\n'
                 'printf "cdiVersion: 0.5.0\\nkind: nvidia.com/gpu\\n  - hostPath: /usr/lib/libcuda.so.580.95.05\\n" > "$out"')
    rc, result = run_module("gpu_node_check", {
        "nvidia_smi_path": smi, "containerd_config": str(config), "cdi_enabled": True, "cdi_spec": str(spec),
        "nvidia_ctk_path": ctk, "driver_branch": "580", "fail_on_problems": False})
    assert rc == 0, result
    assert result["changed"] is False
    checks = result["checks"]
    assert set(checks) == {"driver", "containerd_runtime", "cdi"}
    if not os.path.exists("/sys/module/nvidia/version"):
        assert checks["driver"]["status"] == "failed"
        assert checks["driver"]["detail"].startswith("no NVIDIA kernel module is loaded")
    # the v2 config names /usr/bin/nvidia-container-runtime, absent here; the user template is named
    assert checks["containerd_runtime"]["status"] == "failed"
    assert "/usr/bin/nvidia-container-runtime, which does not exist" in checks["containerd_runtime"]["detail"] \
        or os.path.exists("/usr/bin/nvidia-container-runtime")
    assert checks["cdi"]["status"] == "failed" and "stale" in checks["cdi"]["detail"]
    assert "libcuda.so.580.95.05" in checks["cdi"]["detail"]
    assert sorted(result["failed_checks"]) == sorted(n for n in checks if checks[n]["status"] == "failed")
    assert result["nvidia_smi"]["gpu_count"] == 1
    assert result["nvidia_smi"]["gpus"][0]["name"] == "NVIDIA H200"
    assert result["nvidia_smi"]["gpus"][0]["memory_total_mib"] > 0
    assert not list(tmp_path.glob("k3s-gpu-cdi-*"))  # nothing left behind in the work directory


def test_fails_naming_the_checks_and_handles_a_driver_not_loaded(run_module, tmp_path, fixture_path):
    with open(fixture_path("nvidia-smi", "driver-not-loaded-derived.txt"), encoding="utf-8") as f:
        message = f.read().strip().splitlines()[0]
    smi = script(tmp_path / "nvidia-smi", "echo %r; exit 9" % message)
    config = tmp_path / "config.toml"
    config.write_text(open(fixture_path("k3s", "containerd-config-v3-derived.toml"), encoding="utf-8").read()
                      .replace("/usr/bin/nvidia-container-runtime", smi))
    rc, result = run_module("gpu_node_check", {"nvidia_smi_path": smi, "containerd_config": str(config),
                                               "checks": ["driver", "containerd_runtime"]})
    if os.path.exists("/sys/module/nvidia/version"):
        return
    assert rc != 0
    assert result["failed_checks"] == ["driver"]
    assert result["msg"].startswith("gpu_node_check: driver failed: no NVIDIA kernel module is loaded")
    assert "Load the kernel module (modprobe nvidia) or reboot" in result["msg"]
    assert result["checks"]["containerd_runtime"]["status"] == "ok"
    assert result["checks"]["cdi"] == {"ok": False, "status": "skipped", "detail": "not selected"}
    assert result["nvidia_smi"]["gpu_count"] == 0
