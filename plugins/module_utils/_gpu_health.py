# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Judge a GPU node's health from what nvidia-smi, sysfs and the kernel log say.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

The check needs nothing but the driver (nvidia-smi and its NVML library): no CUDA toolkit,
no demo suite. It fails on the node's current state only:

- nvidia-smi cannot talk to the driver, or lists no GPU;
- the loaded kernel module (/sys/module/nvidia/version) is not the driver nvidia-smi uses;
- an NVIDIA GPU on the PCI bus that nvidia-smi does not list (fallen off the bus, no driver);
- a GPU whose recovery action is not None (NVML's GPU recovery action, nvidia-smi
  "GPU Recovery Action": Reset, Reboot, Drain_P2P, Drain_and_Reset), rows pending remapping
  or a remapping failure, pages pending retirement, unrepairable memory, a channel/TPC repair
  pending, or an NVSwitch fabric whose registration did not complete.

Xid events in the kernel log and volatile uncorrectable ECC counts are reported as warnings:
they stay in the log (and the counters) after the GPU was reset, so they describe the past.
NVIDIA's Xid catalog (https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html)
gives each Xid's resolution; the driver's own recovery action is the live verdict.
"""

from __future__ import annotations

import os
import re

# sysfs: vendor 0x10de; classes 0x0300xx (VGA controller) and 0x0302xx (3D controller) are GPUs,
# NVSwitches (0x0680xx) and the boards' audio functions (0x0403xx) are not.
NVIDIA_VENDOR = "0x10de"
GPU_CLASSES = ("0x0300", "0x0302")
PCI_DEVICES = "/sys/bus/pci/devices"
MODULE_VERSION = "/sys/module/nvidia/version"

# "NVRM: Xid (PCI:0000:00:06): 79, pid=..., name=..., GPU has fallen off the bus."
_XID = re.compile(r"NVRM: Xid \((?:PCI:)?([0-9A-Fa-f:.]+)\): (\d+),\s*(.*?)\s*$", re.M)
# the process that met the event: differs per line, left out of the message
_PROCESS = re.compile(r"^pid=[^,]*, name=[^,]*, ")
_YES = "yes"


def normalize_bus_id(bus_id):
    """'00000000:00:06.0' (nvidia-smi) and '0000:00:06.0' (sysfs) -> '0000:00:06.0'."""
    if not bus_id:
        return None
    bus_id = bus_id.strip().lower()
    parts = bus_id.split(":")
    if len(parts) == 3:
        parts[0] = "%04x" % int(parts[0], 16)
    elif len(parts) == 2:
        parts.insert(0, "0000")
    return ":".join(parts)


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def pci_gpus(devices=PCI_DEVICES):
    """NVIDIA GPUs on the PCI bus: [{bus_id, device_id, class, driver}]; [] when sysfs has none."""
    found = []
    try:
        names = sorted(os.listdir(devices))
    except (IOError, OSError):
        return found
    for name in names:
        path = os.path.join(devices, name)
        if (_read(os.path.join(path, "vendor")) or "").lower() != NVIDIA_VENDOR:
            continue
        klass = (_read(os.path.join(path, "class")) or "").lower()
        if not klass.startswith(GPU_CLASSES):
            continue
        driver = os.path.join(path, "driver")
        found.append({
            "bus_id": normalize_bus_id(name),
            "device_id": _read(os.path.join(path, "device")),
            "class": klass,
            "driver": os.path.basename(os.readlink(driver)) if os.path.islink(driver) else None,
        })
    return found


def module_version(path=MODULE_VERSION):
    """The loaded nvidia kernel module's version, or None when it is not readable."""
    return _read(path) or None


def parse_xids(text):
    """Xid events of the kernel log: [{bus_id, xid, message}]."""
    return [{"bus_id": normalize_bus_id(match.group(1)), "xid": int(match.group(2)),
             "message": _PROCESS.sub("", match.group(3))}
            for match in _XID.finditer(text or "")]


def _gpu_problems(gpu):
    health = gpu.get("health") or {}
    where = "GPU %s (%s, %s)" % (gpu["index"], gpu.get("name"), gpu.get("pci_bus_id"))
    problems = []
    action = health.get("recovery_action")
    if action:
        problems.append("%s: the driver asks for recovery action %s (nvidia-smi -q: GPU Recovery Action); "
                        "drain the node and %s" % (where, action,
                                                   "reboot it" if "reboot" in action.lower() else "reset the GPU (nvidia-smi -r) or reboot"))
    if (health.get("remapped_rows_failure") or "").lower() == _YES:
        problems.append("%s: row remapping failed; the GPU needs service" % where)
    if (health.get("remapped_rows_pending") or "").lower() == _YES:
        problems.append("%s: memory rows are pending remapping; reset the GPU (nvidia-smi -r) or reboot to apply it" % where)
    for key in ("retired_pages_pending_retirement", "retired_pages_pending_blacklist"):
        if (health.get(key) or "").lower() == _YES:
            problems.append("%s: memory pages are pending retirement; reboot (or reset the GPU) to retire them" % where)
            break
    if (health.get("unrepairable_memory") or "").lower() == _YES:
        problems.append("%s: nvidia-smi reports unrepairable memory; the GPU needs service" % where)
    for key in ("channel_repair_pending", "tpc_repair_pending"):
        if (health.get(key) or "").lower() == _YES:
            problems.append("%s: %s; reset the GPU (nvidia-smi -r) or reboot" % (where, key.replace("_", " ")))
    fabric = gpu.get("fabric") or {}
    if fabric.get("state") and fabric["state"].lower() != "completed":
        problems.append("%s: NVLink fabric registration is %r, not Completed; start nvidia-fabricmanager "
                        "(CUDA fails until the fabric is up)" % (where, fabric["state"]))
    elif fabric.get("state") and fabric.get("status") and fabric["status"].lower() != "success":
        problems.append("%s: NVLink fabric registration completed with status %r" % (where, fabric["status"]))
    return problems


def _gpu_warnings(gpu):
    health = gpu.get("health") or {}
    count = health.get("ecc_volatile_uncorrectable")
    if count:
        return ["GPU %s (%s): %s uncorrectable ECC error(s) since the driver loaded (volatile counters)"
                % (gpu["index"], gpu.get("pci_bus_id"), count)]
    return []


def judge(facts, loaded_module=None, pci=None, xids=None, xid_note=None):
    """(passed, reason, details) for the gpu_health check.

    facts: _nvidia_smi.parse_xml's result; loaded_module: module_version(); pci: pci_gpus();
    xids: parse_xids() of the kernel log, or None with xid_note saying why it was not read.
    details: gpu_count, gpus [{index, name, pci_bus_id, health}], driver_version, module_version,
    pci_gpus, missing_from_nvidia_smi, problems, warnings, xids, checked (what was compared).
    """
    pci = pci or []
    problems, warnings, checked = [], [], []
    gpus = facts.get("gpus") or []
    if not gpus:
        problems.append("nvidia-smi lists no GPU")
    checked.append("nvidia-smi lists %d GPU(s), driver %s" % (len(gpus), facts.get("driver_version")))
    for gpu in gpus:
        problems.extend(_gpu_problems(gpu))
        warnings.extend(_gpu_warnings(gpu))
    checked.append("recovery action, row remapping, page retirement, ECC repair and fabric state of each GPU")

    if loaded_module is None:
        checked.append("kernel module version not read (%s is missing)" % MODULE_VERSION)
    elif loaded_module != facts.get("driver_version"):
        problems.append("the loaded kernel module is %s but nvidia-smi uses driver %s; reboot to load the "
                        "installed driver" % (loaded_module, facts.get("driver_version")))
    else:
        checked.append("kernel module %s is the driver nvidia-smi uses" % loaded_module)

    listed = set(normalize_bus_id(gpu.get("pci_bus_id")) for gpu in gpus)
    missing = [dev for dev in pci if dev["bus_id"] not in listed]
    for dev in missing:
        if dev["driver"] and dev["driver"] not in ("nvidia",):
            warnings.append("NVIDIA GPU %s on the PCI bus is bound to %s, not to the NVIDIA driver; nvidia-smi "
                            "does not list it" % (dev["bus_id"], dev["driver"]))
        else:
            problems.append("NVIDIA GPU %s is on the PCI bus (driver: %s) but nvidia-smi does not list it: "
                            "look for Xid 79 or NVRM errors in dmesg, reseat or service the GPU"
                            % (dev["bus_id"], dev["driver"] or "none"))
    if pci:
        checked.append("%d NVIDIA GPU(s) on the PCI bus, %d not listed by nvidia-smi" % (len(pci), len(missing)))
    else:
        checked.append("no NVIDIA GPU visible in %s (container or VM without PCI sysfs): bus not compared"
                       % PCI_DEVICES)

    if xids is None:
        checked.append("kernel log not read (%s)" % (xid_note or "unknown reason"))
    else:
        checked.append("kernel log: %d Xid event(s)" % len(xids))
        seen = {}
        for event in xids:
            seen.setdefault((event["bus_id"], event["xid"]), event)
        for (bus_id, xid), event in sorted(seen.items()):
            warnings.append("Xid %d on %s in the kernel log: %s (see NVIDIA's Xid catalog)"
                            % (xid, bus_id, event["message"]))

    details = {
        "gpu_count": len(gpus),
        "gpus": [{"index": g["index"], "name": g.get("name"), "pci_bus_id": g.get("pci_bus_id"),
                  "health": g.get("health")} for g in gpus],
        "driver_version": facts.get("driver_version"),
        "module_version": loaded_module,
        "pci_gpus": pci,
        "missing_from_nvidia_smi": [dev["bus_id"] for dev in missing],
        "problems": problems,
        "warnings": warnings,
        "xids": xids,
        "checked": checked,
    }
    if problems:
        return False, "; ".join(problems), details
    names = ", ".join("%s (%s)" % (g.get("name"), g.get("pci_bus_id")) for g in gpus)
    return True, "nvidia-smi: %d healthy GPU(s): %s; driver %s%s" % (
        len(gpus), names, facts.get("driver_version"),
        "; %d warning(s)" % len(warnings) if warnings else ""), details
