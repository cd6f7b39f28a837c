# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse the output of nvidia-smi.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

The input comes from a local binary run as the module's user (normally root), so the
standard library's ElementTree is used (defusedxml is not installed on the targets);
ElementTree does not fetch the external DTD that nvidia-smi names in its DOCTYPE.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

# Values nvidia-smi prints where a field does not apply or cannot be read.
_UNAVAILABLE = frozenset((
    "",
    "n/a",
    "[n/a]",
    "not supported",
    "[not supported]",
    "unknown error",
    "[unknown error]",
    "requested functionality has been deprecated",
    "none",
))

# nvidia-smi exit codes, from `nvidia-smi -h` ("RETURN VALUE"):
# 6 = a query to find an object was unsuccessful ("No devices were found"),
# 9 = NVIDIA driver is not loaded.
RC_NOT_FOUND = 6
RC_DRIVER_NOT_LOADED = 9

DRIVER_NOT_LOADED_MARKERS = (
    "couldn't communicate with the nvidia driver",
    "nvidia driver is not loaded",
)
NO_DEVICES_MARKER = "no devices were found"
# "Failed to initialize NVML: Driver/library version mismatch": the user-space libraries were
# upgraded and the old kernel module is still loaded (nvidia-smi exits 18).
VERSION_MISMATCH_MARKER = "driver/library version mismatch"
# Where nvidia-smi is looked for after PATH (the GPU Operator's and some cloud images' driver root).
NVIDIA_SMI_DIRS = ["/usr/local/nvidia/bin"]

COMPUTE_CAP_QUERY = ["--query-gpu=index,pci.bus_id,compute_cap", "--format=csv,noheader"]


class NvidiaSmiParseError(ValueError):
    """The output of nvidia-smi could not be understood."""


def _clean(value):
    if value is None:
        return None
    value = value.strip()
    if value.lower() in _UNAVAILABLE:
        return None
    return value


def _text(element, path):
    if element is None:
        return None
    found = element.find(path)
    if found is None:
        return None
    return _clean(found.text)


_NUMBER = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/%]*)\s*$")


def _number(value, unit=None, cast=int):
    """Turn '81559 MiB', '700.00 W', '33 C', '1980 MHz' into numbers; None where absent."""
    if value is None:
        return None
    match = _NUMBER.match(value)
    if not match:
        return None
    if unit is not None and match.group(2) and match.group(2).lower() != unit.lower():
        return None
    number = float(match.group(1))
    if cast is int:
        return int(round(number))
    return number


def _mib(element, path):
    return _number(_text(element, path), "MiB")


def _pair(element, path, current, pending):
    node = element.find(path) if element is not None else None
    return {
        "current": _text(node, current),
        "pending": _text(node, pending),
    }


def _mig_devices(gpu):
    devices = []
    container = gpu.find("mig_devices")
    if container is None:
        return devices
    for dev in container.findall("mig_device"):
        devices.append({
            "index": _number(_text(dev, "index")),
            "gpu_instance_id": _number(_text(dev, "gpu_instance_id")),
            "compute_instance_id": _number(_text(dev, "compute_instance_id")),
            "multiprocessor_count": _number(_text(dev, "device_attributes/shared/multiprocessor_count")),
            "copy_engine_count": _number(_text(dev, "device_attributes/shared/copy_engine_count")),
            "memory_total_mib": _mib(dev, "fb_memory_usage/total"),
            "memory_used_mib": _mib(dev, "fb_memory_usage/used"),
        })
    return devices


def _compute_capability(gpu):
    """Some nvidia-smi builds may print the compute capability; 580 does not."""
    for major_path, minor_path in (
        ("cuda_compute_capability/major", "cuda_compute_capability/minor"),
        ("compute_capability/major", "compute_capability/minor"),
    ):
        major = _text(gpu, major_path)
        minor = _text(gpu, minor_path)
        if major is not None and minor is not None:
            return "%s.%s" % (major, minor)
    for path in ("compute_cap", "compute_capability", "cuda_compute_capability"):
        value = _text(gpu, path)
        if value is not None and re.match(r"^[0-9]+\.[0-9]+$", value):
            return value
    return None


def _counter(element, path):
    """An error counter ('0', '12'); None where nvidia-smi prints N/A."""
    return _number(_text(element, path))


def _health(gpu):
    """The fields of `nvidia-smi -q -x` that say whether a GPU needs a reset, a reboot or service.

    Names as nvidia-smi 5xx prints them (tests/unit/fixtures/nvidia-smi/h200-1gpu-q.xml, driver 580):
    gpu_recovery_action (NVML's GPU recovery action: None, Reset, Reboot, Drain_P2P,
    Drain_and_Reset), remapped_rows (Ampere and newer), retired_pages (older GPUs), ecc_errors.
    Values nvidia-smi prints as N/A are None.
    """
    ecc = gpu.find("ecc_errors")
    volatile = ecc.find("volatile") if ecc is not None else None
    uncorrectable = [_counter(volatile, name) for name in
                     ("dram_uncorrectable", "sram_uncorrectable_parity", "sram_uncorrectable_secded",
                      "sram_uncorrectable", "double_bit/total")]
    uncorrectable = [value for value in uncorrectable if value is not None]
    return {
        "recovery_action": _text(gpu, "gpu_recovery_action"),
        "remapped_rows_pending": _text(gpu, "remapped_rows/remapped_row_pending"),
        "remapped_rows_failure": _text(gpu, "remapped_rows/remapped_row_failure"),
        "remapped_rows_uncorrectable": _counter(gpu, "remapped_rows/remapped_row_unc"),
        "retired_pages_pending_blacklist": _text(gpu, "retired_pages/pending_blacklist"),
        "retired_pages_pending_retirement": _text(gpu, "retired_pages/pending_retirement"),
        "ecc_volatile_uncorrectable": sum(uncorrectable) if uncorrectable else None,
        "unrepairable_memory": _text(ecc, "unrepairable_memory"),
        "channel_repair_pending": _text(ecc, "channel_repair_pending"),
        "tpc_repair_pending": _text(ecc, "tpc_repair_pending"),
    }


def _gpu(gpu, index):
    clocks = gpu.find("max_clocks")
    power = gpu.find("gpu_power_readings")
    if power is None:
        # drivers before 530 name the section power_readings
        power = gpu.find("power_readings")
    power_limit = _number(_text(power, "current_power_limit"), "W", float)
    if power_limit is None:
        power_limit = _number(_text(power, "power_limit"), "W", float)
    mig_mode = _pair(gpu, "mig_mode", "current_mig", "pending_mig")
    return {
        "index": index,
        "minor_number": _number(_text(gpu, "minor_number")),
        "name": _text(gpu, "product_name"),
        "brand": _text(gpu, "product_brand"),
        "architecture": _text(gpu, "product_architecture"),
        "compute_capability": _compute_capability(gpu),
        "uuid": _text(gpu, "uuid"),
        "serial": _text(gpu, "serial"),
        "pci_bus_id": _text(gpu, "pci/pci_bus_id") or _clean(gpu.get("id")),
        "pci_device_id": _text(gpu, "pci/pci_device_id"),
        "vbios_version": _text(gpu, "vbios_version"),
        "memory_total_mib": _mib(gpu, "fb_memory_usage/total"),
        "memory_used_mib": _mib(gpu, "fb_memory_usage/used"),
        "memory_reserved_mib": _mib(gpu, "fb_memory_usage/reserved"),
        "persistence_mode": _text(gpu, "persistence_mode"),
        "compute_mode": _text(gpu, "compute_mode"),
        "mig_mode": mig_mode,
        "mig_enabled": mig_mode["current"] == "Enabled",
        "mig_devices": _mig_devices(gpu),
        "ecc_mode": _pair(gpu, "ecc_mode", "current_ecc", "pending_ecc"),
        "power_limit_w": power_limit,
        "temperature_c": _number(_text(gpu, "temperature/gpu_temp"), "C"),
        "max_clocks_mhz": {
            "graphics": _number(_text(clocks, "graphics_clock"), "MHz"),
            "sm": _number(_text(clocks, "sm_clock"), "MHz"),
            "memory": _number(_text(clocks, "mem_clock"), "MHz"),
            "video": _number(_text(clocks, "video_clock"), "MHz"),
        },
        "virtualization_mode": _text(gpu, "gpu_virtualization_mode/virtualization_mode"),
        "fabric": {
            "state": _text(gpu, "fabric/state"),
            "status": _text(gpu, "fabric/status"),
        },
        "health": _health(gpu),
    }


def parse_xml(text):
    """Parse `nvidia-smi -q -x` into the facts' driver fields and GPU list.

    Raises NvidiaSmiParseError when the text is not nvidia-smi's XML.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text or not text.strip():
        raise NvidiaSmiParseError("nvidia-smi printed nothing")
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise NvidiaSmiParseError("nvidia-smi -q -x did not print valid XML: %s" % exc)
    if root.tag != "nvidia_smi_log":
        raise NvidiaSmiParseError("unexpected XML root element <%s>, expected <nvidia_smi_log>" % root.tag)
    gpus = [_gpu(gpu, index) for index, gpu in enumerate(root.findall("gpu"))]
    attached = _number(_text(root, "attached_gpus"))
    if attached is not None and attached != len(gpus):
        raise NvidiaSmiParseError(
            "nvidia-smi reports %d attached GPUs but lists %d" % (attached, len(gpus)))
    return {
        "driver_version": _text(root, "driver_version"),
        "cuda_version": _text(root, "cuda_version"),
        "gpu_count": len(gpus),
        "gpus": gpus,
    }


def parse_compute_caps(text):
    """Parse `nvidia-smi --query-gpu=index,pci.bus_id,compute_cap --format=csv,noheader`.

    Returns {pci_bus_id: "9.0"}; raises NvidiaSmiParseError on lines it does not understand.
    """
    caps = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 3 or not fields[0].isdigit():
            raise NvidiaSmiParseError("unexpected --query-gpu line: %r" % line)
        cap = _clean(fields[2])
        if cap is not None and not re.match(r"^[0-9]+\.[0-9]+$", cap):
            raise NvidiaSmiParseError("unexpected compute capability %r in line %r" % (cap, line))
        caps[fields[1].upper()] = cap
    return caps


def merge_compute_caps(facts, caps):
    """Fill compute_capability of each GPU from parse_compute_caps' result (by PCI bus id)."""
    for gpu in facts["gpus"]:
        if gpu["compute_capability"] is None and gpu["pci_bus_id"]:
            gpu["compute_capability"] = caps.get(gpu["pci_bus_id"].upper())
    return facts


def needs_compute_caps(facts):
    return any(gpu["compute_capability"] is None for gpu in facts["gpus"])


def classify_failure(rc, stdout, stderr):
    """Name a failed nvidia-smi run: 'driver_not_loaded', 'no_devices', 'version_mismatch' or None (unknown).

    Returns (kind, message) where message is nvidia-smi's own first line of explanation.
    """
    text = "%s\n%s" % (stdout or "", stderr or "")
    lowered = text.lower()
    message = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    if VERSION_MISMATCH_MARKER in lowered:
        return "version_mismatch", message
    if rc == RC_DRIVER_NOT_LOADED or any(marker in lowered for marker in DRIVER_NOT_LOADED_MARKERS):
        return "driver_not_loaded", message or "nvidia-smi: NVIDIA driver is not loaded (rc %s)" % rc
    if NO_DEVICES_MARKER in lowered or (rc == RC_NOT_FOUND and not lowered.strip().startswith("<")):
        return "no_devices", message or "nvidia-smi: no devices were found (rc %s)" % rc
    return None, message


def empty_facts(installed, path=None, error=None, driver_loaded=False):
    return {
        "installed": installed,
        "driver_loaded": driver_loaded,
        "nvidia_smi_path": path,
        "driver_version": None,
        "cuda_version": None,
        "gpu_count": 0,
        "gpus": [],
        "error": error,
    }


def hint(facts):
    """What to do about the error of nvidia-smi facts (installed, driver_loaded as empty_facts sets them)."""
    if not facts["installed"]:
        return "Install the NVIDIA driver (role k3s_gpu.node.cuda_driver) or set executable."
    if not facts["driver_loaded"]:
        return ("Load the kernel module (modprobe nvidia) or reboot after installing the driver; "
                "check dmesg for NVRM errors and Secure Boot module signing.")
    return "Check that the GPU is on the PCI bus (lspci -d 10de:) and not bound to another driver (vfio-pci, nouveau)."
