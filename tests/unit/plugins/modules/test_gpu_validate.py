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
