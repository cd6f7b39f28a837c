# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse deviceQuery and vectorAdd output; build the bundled CUDA programs into a cache.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.
"""

from __future__ import annotations

import os
import re
import tempfile

from ansible_collections.k3s_gpu.node.plugins.module_utils._cuda_programs import SOURCES, source_hash

# Where the CUDA demo suite (package cuda-demo-suite-<major>-<minor>) installs deviceQuery.
DEMO_SUITE_DEVICE_QUERY = "/usr/local/cuda/extras/demo_suite/deviceQuery"
NVCC_DIRS = ["/usr/local/cuda/bin"]

_DETECTED = re.compile(r"^Detected (\d+) CUDA Capable device\(s\)", re.M)
_DEVICE = re.compile(r'^Device (\d+): "(.*)"\s*$', re.M)
_VERSIONS = re.compile(r"CUDA Driver Version / Runtime Version\s+([0-9.]+)\s*/\s*([0-9.]+)")
_CAPABILITY = re.compile(r"CUDA Capability Major/Minor version number:\s+([0-9]+\.[0-9]+)")
_MEMORY = re.compile(r"Total amount of global memory:\s+([0-9.]+) MBytes \((\d+) bytes\)")
_SMS = re.compile(r"\((\d+)\) Multiprocessors")
_SUMMARY = re.compile(
    r"^deviceQuery, CUDA Driver = CUDART, CUDA Driver Version = ([0-9.]+), "
    r"CUDA Runtime Version = ([0-9.]+), NumDevs = (\d+)", re.M)
_RESULT = re.compile(r"^Result = (PASS|FAIL)\s*$", re.M)
_ERROR = re.compile(r"^cudaGetDeviceCount returned (\d+)\s*\n->\s*(.*)$", re.M)


def parse_device_query(text):
    """Parse deviceQuery's output (the CUDA samples' or the bundled one).

    Returns a dict: result (PASS, FAIL or None), device_count, driver_version, runtime_version,
    devices [{index, name, compute_capability, memory_total_bytes, multiprocessors}], error.
    """
    text = text or ""
    devices = []
    starts = list(_DEVICE.finditer(text))
    for pos, match in enumerate(starts):
        end = starts[pos + 1].start() if pos + 1 < len(starts) else len(text)
        block = text[match.end():end]
        cap = _CAPABILITY.search(block)
        mem = _MEMORY.search(block)
        sms = _SMS.search(block)
        devices.append({
            "index": int(match.group(1)),
            "name": match.group(2),
            "compute_capability": cap.group(1) if cap else None,
            "memory_total_bytes": int(mem.group(2)) if mem else None,
            "multiprocessors": int(sms.group(1)) if sms else None,
        })
    detected = _DETECTED.search(text)
    summary = _SUMMARY.search(text)
    versions = _VERSIONS.search(text)
    result = _RESULT.findall(text)
    error = _ERROR.search(text)
    driver_version = runtime_version = None
    if summary:
        driver_version, runtime_version = summary.group(1), summary.group(2)
    elif versions:
        driver_version, runtime_version = versions.group(1), versions.group(2)
    count = None
    if summary:
        count = int(summary.group(3))
    elif detected:
        count = int(detected.group(1))
    return {
        "result": result[-1] if result else None,
        "device_count": count,
        "driver_version": driver_version,
        "runtime_version": runtime_version,
        "devices": devices,
        "error": "cudaGetDeviceCount returned %s: %s" % (error.group(1), error.group(2).strip()) if error else None,
    }


def judge_device_query(rc, parsed):
    """(passed, reason) for a deviceQuery run."""
    if parsed["error"]:
        return False, parsed["error"]
    if parsed["result"] != "PASS":
        return False, "deviceQuery did not print 'Result = PASS' (rc %s, result %s)" % (rc, parsed["result"])
    if rc != 0:
        return False, "deviceQuery printed 'Result = PASS' but exited with rc %s" % rc
    if not parsed["device_count"]:
        return False, "deviceQuery found no CUDA device"
    if len(parsed["devices"]) != parsed["device_count"]:
        return False, "deviceQuery reports %s devices but describes %d" % (parsed["device_count"], len(parsed["devices"]))
    return True, "deviceQuery found %d CUDA device(s): %s" % (
        parsed["device_count"], ", ".join("%s (sm %s)" % (d["name"], d["compute_capability"]) for d in parsed["devices"]))


def judge_vector_add(rc, text):
    """(passed, reason) for a vectorAdd run (the samples' or the bundled one)."""
    text = text or ""
    if re.search(r"^Test PASSED\s*$", text, re.M) and rc == 0:
        return True, "vectorAdd printed 'Test PASSED'"
    if rc != 0 and "Test PASSED" in text:
        return False, "vectorAdd printed 'Test PASSED' but exited with rc %s" % rc
    failed = [line.strip() for line in text.splitlines() if "failed" in line.lower() or "error" in line.lower()]
    detail = ("; ".join(failed[:3])) if failed else "no 'Test PASSED' in its output"
    return False, "vectorAdd failed (rc %s): %s" % (rc, detail)


def cached_binary(cache_dir, name, nvcc, flags):
    """Path the bundled program `name` is compiled to, keyed on its source, nvcc and flags."""
    key = source_hash(name, "%s\0%s" % (nvcc, " ".join(flags)))
    return os.path.join(cache_dir, "%s-%s" % (name, key), name)


def build(module, cache_dir, name, nvcc, flags, timeout):
    """Compile the bundled program `name` with nvcc unless the cache holds it.

    Returns (binary, built, rc, stdout, stderr); `built` is False when the cache was used.
    The binary is written next to its source under a temporary name, then renamed, so a
    concurrent or interrupted build never leaves a half-written binary at the cached path.
    """
    binary = cached_binary(cache_dir, name, nvcc, flags)
    if os.path.isfile(binary) and os.access(binary, os.X_OK):
        return binary, False, 0, "", ""
    directory = os.path.dirname(binary)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    source = os.path.join(directory, name + ".cu")
    with open(source, "w") as handle:
        handle.write(SOURCES[name])
    fd, partial = tempfile.mkstemp(prefix="." + name + "-", dir=directory)
    os.close(fd)
    try:
        cmd = [nvcc] + list(flags) + ["-o", partial, source]
        rc, out, err = run_with_timeout(module, cmd, timeout)
        if rc == 0:
            os.chmod(partial, 0o755)
            os.rename(partial, binary)
            partial = None
        return (binary if rc == 0 else None), True, rc, out, err
    finally:
        if partial and os.path.exists(partial):
            os.unlink(partial)


def run_with_timeout(module, cmd, timeout):
    """run_command with a bound: `timeout` (coreutils) when present, else unbounded."""
    wrapper = module.get_bin_path("timeout")
    if wrapper and timeout:
        cmd = [wrapper, "--kill-after=10", str(int(timeout))] + list(cmd)
    return module.run_command(cmd)


def find_nvcc(module, nvcc_path):
    if nvcc_path:
        return nvcc_path if os.access(nvcc_path, os.X_OK) else None
    return module.get_bin_path("nvcc", opt_dirs=NVCC_DIRS)


def find_device_query(module, device_query_path):
    if device_query_path:
        return device_query_path if os.access(device_query_path, os.X_OK) else None
    if os.access(DEMO_SUITE_DEVICE_QUERY, os.X_OK):
        return DEMO_SUITE_DEVICE_QUERY
    return module.get_bin_path("deviceQuery")
