# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nvidia_smi_facts run as Ansible runs it (its own process), against a stand-in nvidia-smi.

The stand-in is a shell script that prints the real (or derived) captures of
tests/unit/fixtures/nvidia-smi with the exit code nvidia-smi gives, and logs its arguments.
"""

from __future__ import annotations

import os
import stat

import pytest


@pytest.fixture
def smi(tmp_path, fixture_path):
    """Write a stand-in nvidia-smi; returns (path, calls-log path)."""
    def _make(xml=None, xml_rc=0, caps=None, caps_rc=0, text=None):
        log = tmp_path / "calls.log"
        script = tmp_path / "nvidia-smi"
        xml_src = fixture_path("nvidia-smi", xml) if xml else "/dev/null"
        caps_src = fixture_path("nvidia-smi", caps) if caps else "/dev/null"
        lines = [
            "#!/bin/sh",
            'echo "$*" >> %s' % log,
            'case "$1" in',
            "-q) cat %s; %s exit %d;;" % (xml_src, 'printf "%s";' % text.replace("\n", "\\n") if text else "", xml_rc),
            "--query-gpu=*) cat %s; exit %d;;" % (caps_src, caps_rc),
            "*) echo unexpected arguments >&2; exit 2;;",
            "esac",
        ]
        script.write_text("\n".join(lines) + "\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return str(script), log
    return _make


def calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_h100(run_module, smi):
    path, log = smi(xml="h100-1gpu-q.xml", caps="h100-8gpu-derived-query-compute-cap.csv")
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 0, result
    facts = result["ansible_facts"]["nvidia_smi"]
    assert facts["installed"] and facts["driver_loaded"] and facts["error"] is None
    assert facts["gpu_count"] == 1
    assert facts["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    # 00000000:00:06.0 is not in the 8-GPU csv: the capability stays unknown, no guessing by order
    assert facts["gpus"][0]["compute_capability"] is None
    assert result["changed"] is False
    assert sorted(calls(log)) == ["--query-gpu=index,pci.bus_id,compute_cap --format=csv,noheader", "-q -x"]


def test_eight_gpus_with_compute_caps(run_module, smi):
    path, log = smi(xml="h100-8gpu-derived-q.xml", caps="h100-8gpu-derived-query-compute-cap.csv")
    rc, result = run_module("nvidia_smi_facts", {"executable": path, "required": True})
    assert rc == 0, result
    facts = result["ansible_facts"]["nvidia_smi"]
    assert facts["gpu_count"] == 8
    assert [g["compute_capability"] for g in facts["gpus"]] == ["9.0"] * 8
    assert len(calls(log)) == 2  # one -q -x, at most one --query-gpu


def test_compute_capability_false_runs_nvidia_smi_once(run_module, smi):
    path, log = smi(xml="h100-8gpu-derived-q.xml", caps="h100-8gpu-derived-query-compute-cap.csv")
    rc, result = run_module("nvidia_smi_facts", {"executable": path, "compute_capability": False})
    assert rc == 0, result
    assert calls(log) == ["-q -x"]
    assert result["ansible_facts"]["nvidia_smi"]["gpus"][0]["compute_capability"] is None


def test_mig(run_module, smi):
    path, _log = smi(xml="h100-2gpu-derived-mig-q.xml")
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 0, result
    gpus = result["ansible_facts"]["nvidia_smi"]["gpus"]
    assert [g["mig_enabled"] for g in gpus] == [True, False]
    assert len(gpus[0]["mig_devices"]) == 2
    assert gpus[1]["mig_mode"]["pending"] == "Enabled"


def test_compute_cap_query_failure_warns(run_module, smi):
    path, _log = smi(xml="h100-1gpu-q.xml", caps="no-devices-derived.txt", caps_rc=6)
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 0, result
    assert any("compute capability unknown" in str(w) for w in result.get("warnings", []))


def test_driver_not_loaded_reported(run_module, smi, fixture_path):
    path, _log = smi(xml="driver-not-loaded-derived.txt", xml_rc=9)
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 0, result
    facts = result["ansible_facts"]["nvidia_smi"]
    assert facts["installed"] is True and facts["driver_loaded"] is False
    assert "couldn't communicate with the NVIDIA driver" in facts["error"]
    assert facts["gpu_count"] == 0 and facts["gpus"] == []


def test_driver_not_loaded_required_fails(run_module, smi):
    path, _log = smi(xml="driver-not-loaded-derived.txt", xml_rc=9)
    rc, result = run_module("nvidia_smi_facts", {"executable": path, "required": True})
    assert rc == 1 and result["failed"]
    assert result["msg"].startswith("NVIDIA GPU required: NVIDIA-SMI has failed")
    assert "modprobe nvidia" in result["msg"]
    assert result["ansible_facts"]["nvidia_smi"]["driver_loaded"] is False


def test_no_devices(run_module, smi):
    path, _log = smi(xml="no-devices-derived.txt", xml_rc=6)
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 0
    facts = result["ansible_facts"]["nvidia_smi"]
    assert facts["driver_loaded"] is True and facts["error"] == "No devices were found"
    rc, result = run_module("nvidia_smi_facts", {"executable": path, "required": True})
    assert rc == 1 and "lspci" in result["msg"]


def test_not_installed(run_module, tmp_path):
    env = {"PATH": str(tmp_path)}  # no nvidia-smi there, nor in /usr/local/nvidia/bin here
    if os.path.exists("/usr/local/nvidia/bin/nvidia-smi"):
        pytest.skip("this machine has nvidia-smi in /usr/local/nvidia/bin")
    rc, result = run_module("nvidia_smi_facts", {}, env=env)
    assert rc == 0, result
    facts = result["ansible_facts"]["nvidia_smi"]
    assert facts["installed"] is False and "not found" in facts["error"]
    rc, result = run_module("nvidia_smi_facts", {"required": True}, env=env)
    assert rc == 1 and "Install the NVIDIA driver" in result["msg"]


def test_unparseable_output_fails_with_context(run_module, smi):
    path, _log = smi(text="<nvidia_smi_log><gpu>\n")
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 1 and result["failed"]
    assert result["msg"].startswith("cannot parse nvidia-smi -q -x output")
    assert result["rc"] == 0 and result["stdout"] == "<nvidia_smi_log><gpu>\n" and "stderr" in result


def test_unknown_failure_fails_with_context(run_module, smi):
    path, _log = smi(text="Unable to determine the device handle for GPU0000:00:06.0: Unknown Error\n", xml_rc=15)
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 1 and result["rc"] == 15
    assert "Unknown Error" in result["msg"] and "Unknown Error" in result["stdout"]


def test_check_mode_same_facts(run_module, smi):
    path, _log = smi(xml="h100-1gpu-q.xml")
    rc, normal = run_module("nvidia_smi_facts", {"executable": path})
    rc2, checked = run_module("nvidia_smi_facts", {"executable": path}, check_mode=True)
    assert rc == rc2 == 0
    assert checked["ansible_facts"] == normal["ansible_facts"]
    assert checked["changed"] is False


def test_executable_missing(run_module, tmp_path):
    missing = str(tmp_path / "nvidia-smi")
    rc, result = run_module("nvidia_smi_facts", {"executable": missing})
    assert rc == 0
    facts = result["ansible_facts"]["nvidia_smi"]
    assert facts["installed"] is False and facts["error"] == "nvidia-smi not found at %s (executable)" % missing


def test_failed_xml_query_runs_no_second_command(run_module, smi):
    # The compute-capability query runs only after the XML was read and lacked it; a driver that
    # is not loaded is found with one nvidia-smi run, and no second one races it.
    path, log = smi(xml="driver-not-loaded-derived.txt", xml_rc=9, caps="h100-8gpu-derived-query-compute-cap.csv")
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 0, result
    assert calls(log) == ["-q -x"]


def test_xml_with_compute_capability_runs_nvidia_smi_once(run_module, smi, fixture_path, tmp_path):
    # A driver whose XML carries the compute capability (derived here from the real H200 capture)
    # needs no second query: the --query-gpu run happens only when the XML lacks it.
    with open(fixture_path("nvidia-smi", "h200-2gpu-q.xml")) as f:
        xml = f.read()
    derived = tmp_path / "h200-2gpu-derived-with-cuda-cc-q.xml"
    derived.write_text(xml.replace("<product_architecture>",
                                   "<cuda_compute_capability><major>9</major><minor>0</minor></cuda_compute_capability>"
                                   "<product_architecture>"))
    assert derived.read_text().count("<cuda_compute_capability>") == 2
    path, log = smi(xml=str(derived), caps="h200-2gpu-query-compute-cap.csv")
    rc, result = run_module("nvidia_smi_facts", {"executable": path})
    assert rc == 0, result
    assert [g["compute_capability"] for g in result["ansible_facts"]["nvidia_smi"]["gpus"]] == ["9.0", "9.0"]
    assert calls(log) == ["-q -x"]


def test_nvidia_smi_that_cannot_start_gives_one_result(run_module, tmp_path):
    # run_command calls fail_json when the command cannot start; the module must then print that one
    # result only (run_module fails on a second JSON document).
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    rc, result = run_module("nvidia_smi_facts", {"executable": str(script)})
    assert rc == 1 and result["failed"] is True
    assert result["cmd"].startswith(str(script))


def test_second_query_that_cannot_start_gives_one_result(run_module, fixture_path, tmp_path):
    # The XML lacks the compute capability; by the time the second query runs, nvidia-smi cannot
    # start any more. Its failure is the module's one result: the XML facts are not printed as a
    # second one (as a query run from a thread would).
    log = tmp_path / "calls.log"
    script = tmp_path / "nvidia-smi"
    script.write_text("\n".join([
        "#!/bin/sh",
        'echo "$*" >> %s' % log,
        "cat %s" % fixture_path("nvidia-smi", "h200-1gpu-q.xml"),
        "printf '#!/nonexistent/interpreter\\n' > \"$0\"",
    ]) + "\n")
    script.chmod(0o755)
    rc, result = run_module("nvidia_smi_facts", {"executable": str(script)})
    assert rc == 1 and result["failed"] is True
    assert "--query-gpu=index,pci.bus_id,compute_cap" in result["cmd"]
    assert "ansible_facts" not in result
    assert calls(log) == ["-q -x"]
