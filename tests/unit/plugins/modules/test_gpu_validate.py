# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu_validate's host checks run as Ansible runs the module, without a GPU.

A stand-in nvcc "compiles" each bundled source into a script that prints what the real program
printed on the team's H200 machine (tests/unit/fixtures/device-query); the real programs ran on
GPUs in tests/gpu/run.sh (results in tests/gpu/results). The pod check runs against a real
kube-apiserver in tests/integration/test_gpu_validate_pod.py.
"""

from __future__ import annotations

import os
import stat
import time

import pytest


def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def nvcc(tmp_path, fixture_path):
    """Stand-in nvcc; `outputs` picks the fixture each program prints, `fail` makes it fail."""
    def _make(device_query="h200-2gpu-bundled-deviceQuery.txt", device_query_rc=0,
              vector_add="h200-2gpu-bundled-vectorAdd.txt", vector_add_rc=0, fail=False):
        log = tmp_path / "nvcc.log"
        dq = fixture_path("device-query", device_query)
        va = fixture_path("device-query", vector_add)
        body = (
            'echo "$*" >> %s\n' % log
            + ("echo 'deviceQuery.cu(12): error: identifier \"cudaBogus\" is undefined' >&2; exit 1\n" if fail else "")
            + 'while [ $# -gt 1 ]; do if [ "$1" = -o ]; then out=$2; fi; shift; done\n'
            + 'case "$1" in\n'
            + "*deviceQuery.cu) printf '#!/bin/sh\\ncat %s\\nexit %d\\n' > \"$out\";;\n" % (dq, device_query_rc)
            + "*vectorAdd.cu) printf '#!/bin/sh\\ncat %s\\nexit %d\\n' > \"$out\";;\n" % (va, vector_add_rc)
            + "esac\n"
        )
        return _script(tmp_path / "nvcc", body), log
    return _make


def _args(tmp_path, nvcc_path, **extra):
    args = {"checks": ["device_query", "vector_add"], "build": True, "nvcc_path": nvcc_path,
            "cache_dir": str(tmp_path / "cache")}
    args.update(extra)
    return args


def test_build_and_run_then_cache(run_module, nvcc, tmp_path):
    path, log = nvcc()
    rc, result = run_module("gpu_validate", _args(tmp_path, path))
    assert rc == 0, result
    assert result["changed"] is False and result["failed_checks"] == []
    dq, va, pod = (result["checks"][k] for k in ("device_query", "vector_add", "pod"))
    assert dq["passed"] and not dq["skipped"] and dq["details"]["built"]
    assert dq["details"]["device_count"] == 2 and dq["details"]["runtime_version"] == "13.0"
    assert [d["name"] for d in dq["details"]["devices"]] == ["NVIDIA H200", "NVIDIA H200"]
    assert va["passed"] and va["details"]["built"] and "Test PASSED" in va["details"]["stdout"]
    assert pod == {"passed": False, "skipped": True, "reason": "not selected", "details": {}}
    assert len(log.read_text().splitlines()) == 2

    rc, again = run_module("gpu_validate", _args(tmp_path, path))
    assert rc == 0
    assert not again["checks"]["device_query"]["details"]["built"]
    assert not again["checks"]["vector_add"]["details"]["built"]
    assert len(log.read_text().splitlines()) == 2  # nothing compiled the second time


def test_check_mode_does_not_compile(run_module, nvcc, tmp_path):
    path, log = nvcc()
    rc, result = run_module("gpu_validate", _args(tmp_path, path), check_mode=True)
    assert rc == 0, result
    for name in ("device_query", "vector_add"):
        check = result["checks"][name]
        assert check["skipped"] and not check["passed"]
        assert check["reason"].startswith("check mode: would compile the bundled ")
    assert not log.exists()
    assert not (tmp_path / "cache").exists()


def test_check_mode_runs_cached_programs(run_module, nvcc, tmp_path):
    path, log = nvcc()
    assert run_module("gpu_validate", _args(tmp_path, path))[0] == 0
    rc, result = run_module("gpu_validate", _args(tmp_path, path), check_mode=True)
    assert rc == 0
    assert result["checks"]["device_query"]["passed"] and result["checks"]["vector_add"]["passed"]
    assert len(log.read_text().splitlines()) == 2


def test_no_device_fails_naming_checks(run_module, nvcc, tmp_path):
    path, _log = nvcc(device_query="h200-no-visible-device-bundled-deviceQuery.txt", device_query_rc=1,
                      vector_add="h200-no-visible-device-bundled-vectorAdd.txt", vector_add_rc=1)
    rc, result = run_module("gpu_validate", _args(tmp_path, path))
    assert rc == 1 and result["failed"] and result["changed"] is False
    assert result["failed_checks"] == ["device_query", "vector_add"]
    assert result["msg"] == (
        "gpu_validate: device_query failed: cudaGetDeviceCount returned 100: no CUDA-capable device is detected; "
        "vector_add failed: vectorAdd failed (rc 1): cudaGetDeviceCount failed: no CUDA-capable device is "
        "detected; Test FAILED")


def test_compile_error(run_module, nvcc, tmp_path):
    path, _log = nvcc(fail=True)
    rc, result = run_module("gpu_validate", _args(tmp_path, path, checks=["device_query"]))
    assert rc == 1
    reason = result["checks"]["device_query"]["reason"]
    assert reason.startswith("device_query: nvcc failed with rc 1") and "cudaBogus" in reason


def test_nvcc_missing(run_module, tmp_path):
    rc, result = run_module("gpu_validate", _args(tmp_path, str(tmp_path / "no-nvcc"), checks=["vector_add"]))
    assert rc == 1 and result["failed_checks"] == ["vector_add"]
    assert "nvcc not found" in result["msg"] and "cuda-nvcc" in result["msg"]


def test_device_query_path(run_module, tmp_path, fixture_path):
    dq = _script(tmp_path / "deviceQuery", "cat %s\n" % fixture_path("device-query", "article-quadro-rtx5000-deviceQuery-excerpt.txt"))
    rc, result = run_module("gpu_validate", {"checks": ["device_query"], "device_query_path": dq})
    assert rc == 0, result
    check = result["checks"]["device_query"]
    assert check["passed"] and check["details"]["binary"] == dq and not check["details"]["built"]
    assert check["details"]["devices"][0]["compute_capability"] == "7.5"


def test_device_query_missing(run_module, tmp_path):
    rc, result = run_module("gpu_validate", {"checks": ["device_query"],
                                             "device_query_path": str(tmp_path / "absent")})
    assert rc == 1
    assert "deviceQuery not found" in result["msg"] and "build=true" in result["msg"]


def test_timeout_bounds_a_hanging_program(run_module, tmp_path):
    hang = _script(tmp_path / "deviceQuery", "sleep 60\n")
    start = time.monotonic()
    rc, result = run_module("gpu_validate", {"checks": ["device_query"], "device_query_path": hang, "timeout": 1})
    assert time.monotonic() - start < 30
    assert rc == 1 and result["checks"]["device_query"]["details"]["rc"] == 124


def test_argument_errors(run_module):
    rc, result = run_module("gpu_validate", {"checks": ["pod"]})
    assert rc == 1 and result["msg"] == "the pod check needs node_name: the Kubernetes node to run the vectoradd pod on"
    rc, result = run_module("gpu_validate", {"timeout": 0})
    assert rc == 1 and "timeout must be a positive number" in result["msg"]
    rc, result = run_module("gpu_validate", {"checks": ["gpu_burn"]})
    assert rc == 1 and "gpu_burn" in result["msg"]


def test_kubeconfig_is_no_log(run_module, tmp_path):
    rc, result = run_module("gpu_validate", {"checks": ["device_query"], "device_query_path": str(tmp_path / "x"),
                                             "api_key": "s3cr3t-token"})
    assert "s3cr3t-token" not in str(result)
    assert os.path.exists(str(tmp_path)) and rc == 1


# --- the default node checks on a node with only the driver (issue 15, point 1) ---------------

@pytest.fixture
def driver_only(tmp_path, fixture_path):
    """A PATH holding only a stand-in nvidia-smi that prints the real H200 capture (driver 580.159.04,
    no CUDA demo suite, no nvcc), as on the team's H200 host without its CUDA packages
    (tests/gpu/results/h200-x1/edge-demo-suite-absent.json is that host failing the old default)."""
    if os.path.exists("/usr/local/cuda/extras/demo_suite/deviceQuery") or os.path.exists("/usr/local/cuda/bin/nvcc"):
        pytest.skip("this machine has a CUDA demo suite or nvcc at the default paths")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    xml = fixture_path("nvidia-smi", "h200-1gpu-q.xml")
    _script(bindir / "nvidia-smi", 'echo "$*" >> %s\n[ "$1 $2" = "-q -x" ] && exec cat %s\nexit 2\n'
            % (tmp_path / "smi.log", xml))
    return {"PATH": "%s:/usr/bin:/bin" % bindir}


def test_defaults_pass_on_a_node_with_only_the_driver(run_module, driver_only, tmp_path):
    rc, result = run_module("gpu_validate", {"cache_dir": str(tmp_path / "cache")}, env=driver_only)
    assert rc == 0, result
    health, dq = result["checks"]["gpu_health"], result["checks"]["device_query"]
    assert health["passed"] and not health["skipped"]
    assert health["reason"] == "nvidia-smi: 1 healthy GPU(s): NVIDIA H200 (00000000:00:06.0); driver 580.159.04"
    assert health["details"]["gpu_count"] == 1 and health["details"]["driver_version"] == "580.159.04"
    assert (tmp_path / "smi.log").read_text() == "-q -x\n"
    assert dq["skipped"] and not dq["passed"]
    assert dq["reason"].startswith("deviceQuery is not installed (/usr/local/cuda/extras/demo_suite/deviceQuery, PATH) "
                                   "and nvcc was not found")
    assert dq["reason"].endswith("the gpu_health check covers this node's GPUs")
    assert result["failed_checks"] == []
    assert result["summary"] == (
        "ran: gpu_health passed; not run: device_query (skipped: %s), vector_add (not selected), pod (not selected)"
        % dq["reason"])


def test_defaults_in_check_mode_run_the_health_check(run_module, driver_only, tmp_path):
    rc, result = run_module("gpu_validate", {"cache_dir": str(tmp_path / "cache")}, env=driver_only, check_mode=True)
    assert rc == 0, result
    assert result["checks"]["gpu_health"]["passed"] and result["checks"]["device_query"]["skipped"]
    assert not (tmp_path / "cache").exists()


def test_defaults_build_the_bundled_device_query_when_nvcc_is_there(run_module, driver_only, nvcc, tmp_path):
    path, log = nvcc(device_query="h200-2gpu-bundled-deviceQuery.txt")
    os.symlink(path, str(tmp_path / "bin" / "nvcc"))
    rc, result = run_module("gpu_validate", {"cache_dir": str(tmp_path / "cache")}, env=driver_only)
    assert rc == 0, result
    dq = result["checks"]["device_query"]
    assert dq["passed"] and dq["details"]["source"] == "bundled" and dq["details"]["built"]
    assert len(log.read_text().splitlines()) == 1
    assert result["summary"].startswith("ran: gpu_health passed, device_query passed; not run: vector_add")


def test_device_query_alone_fails_when_it_cannot_run(run_module, driver_only, tmp_path):
    rc, result = run_module("gpu_validate", {"checks": ["device_query"], "cache_dir": str(tmp_path / "cache")},
                            env=driver_only)
    assert rc == 1 and result["failed_checks"] == ["device_query"]
    assert "select the gpu_health check, which needs only the driver" in result["msg"]


def test_build_false_requires_the_demo_suite(run_module, driver_only):
    rc, result = run_module("gpu_validate", {"checks": ["gpu_health", "device_query"], "build": False}, env=driver_only)
    assert rc == 1 and result["failed_checks"] == ["device_query"]
    assert "deviceQuery not found at /usr/local/cuda/extras/demo_suite/deviceQuery or on PATH" in result["msg"]


def test_health_fails_without_a_driver(run_module, tmp_path, fixture_path):
    smi = _script(tmp_path / "nvidia-smi", "cat %s\nexit 9\n" % fixture_path("nvidia-smi", "driver-not-loaded-derived.txt"))
    rc, result = run_module("gpu_validate", {"checks": ["gpu_health"], "nvidia_smi_path": smi})
    assert rc == 1 and result["failed_checks"] == ["gpu_health"]
    assert result["msg"].startswith("gpu_validate: gpu_health failed: nvidia-smi -q -x failed with rc 9: NVIDIA-SMI has "
                                    "failed because it couldn't communicate with the NVIDIA driver")
    assert "modprobe nvidia" in result["msg"]
    rc, result = run_module("gpu_validate", {"checks": ["gpu_health"], "nvidia_smi_path": str(tmp_path / "absent")})
    assert rc == 1 and "nvidia-smi not found at %s" % (tmp_path / "absent") in result["msg"]


def test_health_fails_on_a_recovery_action(run_module, tmp_path, fixture_path):
    with open(fixture_path("nvidia-smi", "h200-2gpu-q.xml")) as handle:
        xml = handle.read()
    # derived: the second GPU asks for a reset (the real capture says None for both)
    head, sep, tail = xml.rpartition("<gpu_recovery_action>None</gpu_recovery_action>")
    (tmp_path / "q.xml").write_text(head + "<gpu_recovery_action>Reset</gpu_recovery_action>" + tail)
    smi = _script(tmp_path / "nvidia-smi", "cat %s\n" % (tmp_path / "q.xml"))
    rc, result = run_module("gpu_validate", {"checks": ["gpu_health"], "nvidia_smi_path": smi})
    assert rc == 1 and result["failed_checks"] == ["gpu_health"]
    assert "GPU 1 (NVIDIA H200, " in result["msg"] and "recovery action Reset" in result["msg"]
    assert result["checks"]["gpu_health"]["details"]["gpu_count"] == 2
