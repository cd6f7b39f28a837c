# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils._cuda_programs import SOURCES, source_hash
from ansible_collections.k3s_gpu.node.plugins.module_utils._device_query import (
    build,
    cached_binary,
    judge_device_query,
    judge_vector_add,
    parse_device_query,
)


def test_bundled_device_query_on_two_h200(fixture_text):
    parsed = parse_device_query(fixture_text("device-query", "h200-2gpu-bundled-deviceQuery.txt"))
    assert parsed == {
        "result": "PASS",
        "device_count": 2,
        "driver_version": "13.0",
        "runtime_version": "13.0",
        "devices": [
            {"index": 0, "name": "NVIDIA H200", "compute_capability": "9.0",
             "memory_total_bytes": 150109880320, "multiprocessors": 132},
            {"index": 1, "name": "NVIDIA H200", "compute_capability": "9.0",
             "memory_total_bytes": 150109880320, "multiprocessors": 132},
        ],
        "error": None,
    }
    passed, reason = judge_device_query(0, parsed)
    assert passed and reason == "deviceQuery found 2 CUDA device(s): NVIDIA H200 (sm 9.0), NVIDIA H200 (sm 9.0)"


def test_cuda_samples_device_query_from_article(fixture_text):
    parsed = parse_device_query(fixture_text("device-query", "article-quadro-rtx5000-deviceQuery-excerpt.txt"))
    assert parsed["result"] == "PASS"
    assert parsed["device_count"] == 1
    assert parsed["devices"] == [{"index": 0, "name": "Quadro RTX 5000", "compute_capability": "7.5",
                                  "memory_total_bytes": 15634726912, "multiprocessors": 48}]
    assert judge_device_query(0, parsed)[0]


def test_no_visible_device(fixture_text):
    parsed = parse_device_query(fixture_text("device-query", "h200-no-visible-device-bundled-deviceQuery.txt"))
    assert parsed["result"] == "FAIL"
    assert parsed["device_count"] is None and parsed["devices"] == []
    assert parsed["error"] == "cudaGetDeviceCount returned 100: no CUDA-capable device is detected"
    assert judge_device_query(1, parsed) == (False, parsed["error"])


def test_pass_but_nonzero_rc_fails(fixture_text):
    parsed = parse_device_query(fixture_text("device-query", "h200-2gpu-bundled-deviceQuery.txt"))
    passed, reason = judge_device_query(139, parsed)
    assert not passed and "rc 139" in reason


def test_no_result_line_fails(fixture_text):
    text = fixture_text("device-query", "h200-2gpu-bundled-deviceQuery.txt").replace("Result = PASS\n", "")
    passed, reason = judge_device_query(0, parse_device_query(text))
    assert not passed and "Result = PASS" in reason


def test_device_count_mismatch_fails(fixture_text):
    text = fixture_text("device-query", "h200-2gpu-bundled-deviceQuery.txt")
    text = text[:text.index('Device 1: "')] + text[text.index("deviceQuery, CUDA Driver"):]
    passed, reason = judge_device_query(0, parse_device_query(text))
    assert not passed and "reports 2 devices but describes 1" in reason


def test_vector_add(fixture_text):
    assert judge_vector_add(0, fixture_text("device-query", "h200-2gpu-bundled-vectorAdd.txt")) == (True, "vectorAdd printed 'Test PASSED'")
    passed, reason = judge_vector_add(1, fixture_text("device-query", "h200-no-visible-device-bundled-vectorAdd.txt"))
    assert not passed
    assert reason == ("vectorAdd failed (rc 1): cudaGetDeviceCount failed: no CUDA-capable device is detected; "
                      "Test FAILED")
    assert not judge_vector_add(0, "Done\n")[0]
    assert "exited with rc 2" in judge_vector_add(2, "Test PASSED\n")[1]


def test_source_hash_depends_on_inputs():
    assert source_hash("vectorAdd") != source_hash("deviceQuery")
    assert source_hash("vectorAdd", "/usr/local/cuda/bin/nvcc") != source_hash("vectorAdd", "/opt/nvcc")
    assert len(source_hash("vectorAdd")) == 16
    assert "Result = PASS" in SOURCES["deviceQuery"] and "Test PASSED" in SOURCES["vectorAdd"]


class _Runner(object):
    """The two AnsibleModule methods build() uses, over subprocess."""

    def get_bin_path(self, name):
        return None  # no `timeout` wrapper: run the command as it is

    def run_command(self, cmd):
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.fixture
def nvcc(tmp_path):
    """A stand-in nvcc that writes a script printing 'Test PASSED' and counts its runs."""
    count = tmp_path / "nvcc-runs"
    script = tmp_path / "nvcc"
    script.write_text(
        "#!/bin/sh\n"
        "echo run >> %s\n"
        'while [ $# -gt 1 ]; do if [ "$1" = -o ]; then out=$2; fi; shift; done\n'
        'grep -q "__global__" "$1" || exit 3\n'
        "if [ -n \"$NVCC_FAIL\" ]; then echo 'error: bad source' >&2; exit 2; fi\n"
        "printf '#!/bin/sh\\necho Test PASSED\\n' > \"$out\"\n" % count)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), count


def test_build_compiles_once_then_uses_cache(tmp_path, nvcc):
    path, count = nvcc
    cache = str(tmp_path / "cache")
    binary, built, rc, _out, _err = build(_Runner(), cache, "vectorAdd", path, [], 60)
    assert built and rc == 0 and binary == cached_binary(cache, "vectorAdd", path, [])
    assert subprocess.run([binary], stdout=subprocess.PIPE, check=True).stdout == b"Test PASSED\n"
    with open(os.path.join(os.path.dirname(binary), "vectorAdd.cu")) as handle:
        assert handle.read() == SOURCES["vectorAdd"]
    again = build(_Runner(), cache, "vectorAdd", path, [], 60)
    assert again[:2] == (binary, False)
    assert count.read_text().count("run") == 1
    other = build(_Runner(), cache, "vectorAdd", path, ["-arch=native"], 60)
    assert other[1] and other[0] != binary


def test_build_failure_leaves_no_binary(tmp_path, nvcc, monkeypatch):
    path, _count = nvcc
    monkeypatch.setenv("NVCC_FAIL", "1")
    cache = str(tmp_path / "cache")
    binary, built, rc, _out, err = build(_Runner(), cache, "vectorAdd", path, [], 60)
    assert binary is None and built and rc == 2 and "bad source" in err
    directory = os.path.dirname(cached_binary(cache, "vectorAdd", path, []))
    assert sorted(os.listdir(directory)) == ["vectorAdd.cu"]
