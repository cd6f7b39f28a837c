# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_health judgement on real captures of H200 hosts (driver 580.159.04, no CUDA demo suite).

Unhealthy states no machine here shows are derived from the real XML by changing one element,
in the test, so each test says which field it changed.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils._gpu_health import (
    judge,
    module_version,
    normalize_bus_id,
    parse_xids,
    pci_gpus,
)
from ansible_collections.k3s_gpu.node.plugins.module_utils._nvidia_smi import classify_failure, parse_xml


def _xml(fixture_path, name="h200-1gpu-q.xml"):
    with open(fixture_path("nvidia-smi", name)) as handle:
        return handle.read()


def _sysfs(tmp_path, fixture_path, drop=(), driver=None):
    """A /sys/bus/pci/devices tree from the real GPU host's listing (vendor, device, class per entry)."""
    root = tmp_path / "devices"
    with open(fixture_path("host", "gpu-host-sysfs-pci.txt")) as handle:
        for line in handle:
            name, vendor, device, klass = line.split()
            if name in drop:
                continue
            entry = root / name
            entry.mkdir(parents=True)
            (entry / "vendor").write_text(vendor + "\n")
            (entry / "device").write_text(device + "\n")
            (entry / "class").write_text(klass + "\n")
            if vendor == "0x10de" and driver:
                target = tmp_path / "drivers" / driver
                target.mkdir(parents=True, exist_ok=True)
                os.symlink(str(target), str(entry / "driver"))
    return str(root)


def test_healthy_h200_passes(fixture_path, tmp_path):
    facts = parse_xml(_xml(fixture_path))
    pci = pci_gpus(_sysfs(tmp_path, fixture_path, driver="nvidia"))
    assert pci == [{"bus_id": "0000:00:06.0", "device_id": "0x2330", "class": "0x030200", "driver": "nvidia"}]
    passed, reason, details = judge(facts, "580.159.04", pci, [], None)
    assert passed, details["problems"]
    assert reason == "nvidia-smi: 1 healthy GPU(s): NVIDIA H200 (00000000:00:06.0); driver 580.159.04"
    assert details["problems"] == [] and details["warnings"] == []
    assert details["missing_from_nvidia_smi"] == []
    assert details["gpus"][0]["health"] == {
        "recovery_action": None, "remapped_rows_pending": "No", "remapped_rows_failure": "No",
        "remapped_rows_uncorrectable": 0, "retired_pages_pending_blacklist": None,
        "retired_pages_pending_retirement": None, "ecc_volatile_uncorrectable": 0,
        "unrepairable_memory": "No", "channel_repair_pending": "No", "tpc_repair_pending": "No"}
    assert "kernel module 580.159.04 is the driver nvidia-smi uses" in details["checked"]
    assert "1 NVIDIA GPU(s) on the PCI bus, 0 not listed by nvidia-smi" in details["checked"]


@pytest.mark.parametrize("name", ["h200-2gpu-q.xml", "h100-1gpu-q.xml", "h200-1gpu-q.xml"])
def test_every_real_capture_is_healthy(fixture_path, name):
    facts = parse_xml(_xml(fixture_path, name))
    passed, _reason, details = judge(facts, facts["driver_version"], [], None, "not read in this test")
    assert passed, details["problems"]
    assert "kernel log not read (not read in this test)" in details["checked"]
    assert any(line.startswith("no NVIDIA GPU visible in") for line in details["checked"])


def test_gpu_on_the_bus_but_not_in_nvidia_smi_fails(fixture_path, tmp_path):
    facts = parse_xml(_xml(fixture_path))
    pci = pci_gpus(_sysfs(tmp_path, fixture_path))
    facts["gpus"][0]["pci_bus_id"] = "00000000:00:07.0"  # nvidia-smi lists another GPU than the bus has
    passed, reason, details = judge(facts, "580.159.04", pci, [], None)
    assert not passed
    assert details["missing_from_nvidia_smi"] == ["0000:00:06.0"]
    assert "NVIDIA GPU 0000:00:06.0 is on the PCI bus (driver: none) but nvidia-smi does not list it" in reason


def test_gpu_bound_to_vfio_is_a_warning(fixture_path, tmp_path):
    facts = parse_xml(_xml(fixture_path))
    facts["gpus"][0]["pci_bus_id"] = "00000000:00:07.0"
    pci = pci_gpus(_sysfs(tmp_path, fixture_path, driver="vfio-pci"))
    passed, _reason, details = judge(facts, "580.159.04", pci, [], None)
    assert passed
    assert details["warnings"] == ["NVIDIA GPU 0000:00:06.0 on the PCI bus is bound to vfio-pci, not to the "
                                   "NVIDIA driver; nvidia-smi does not list it"]


def test_module_and_library_mismatch_fails(fixture_path):
    passed, reason, _details = judge(parse_xml(_xml(fixture_path)), "580.126.09", [], [], None)
    assert not passed
    assert reason == ("the loaded kernel module is 580.126.09 but nvidia-smi uses driver 580.159.04; "
                      "reboot to load the installed driver")


@pytest.mark.parametrize("element, value, expect", [
    ("gpu_recovery_action", "Reset", "the driver asks for recovery action Reset"),
    ("gpu_recovery_action", "Reboot", "recovery action Reboot (nvidia-smi -q: GPU Recovery Action); drain the node and reboot it"),
    ("remapped_row_pending", "Yes", "memory rows are pending remapping"),
    ("remapped_row_failure", "Yes", "row remapping failed; the GPU needs service"),
    ("unrepairable_memory", "Yes", "unrepairable memory"),
    ("tpc_repair_pending", "Yes", "tpc repair pending"),
])
def test_a_gpu_that_needs_a_reset_or_service_fails(fixture_path, element, value, expect):
    xml = _xml(fixture_path)
    old = "<%s>%s</%s>" % (element, "None" if element == "gpu_recovery_action" else "No", element)
    assert xml.count(old) == 1
    facts = parse_xml(xml.replace(old, "<%s>%s</%s>" % (element, value, element)))
    passed, reason, _details = judge(facts, "580.159.04", [], [], None)
    assert not passed
    assert reason.startswith("GPU 0 (NVIDIA H200, 00000000:00:06.0): ") and expect in reason


def test_fabric_not_registered_fails(fixture_path):
    xml = _xml(fixture_path)
    old = "<fabric>\n\t\t\t<state>N/A</state>\n\t\t\t<status>N/A</status>"
    assert xml.count(old) == 1
    facts = parse_xml(xml.replace(old, "<fabric>\n\t\t\t<state>In Progress</state>\n\t\t\t<status>N/A</status>"))
    passed, reason, _details = judge(facts, "580.159.04", [], [], None)
    assert not passed and "NVLink fabric registration is 'In Progress', not Completed" in reason


def test_no_gpu_fails():
    passed, reason, _details = judge({"driver_version": "580.159.04", "gpus": []}, None, [], None, "dmesg not found")
    assert not passed and reason == "nvidia-smi lists no GPU"


def test_xids_and_ecc_counts_are_warnings(fixture_path):
    with open(fixture_path("host", "dmesg-xid-derived.txt")) as handle:
        xids = parse_xids(handle.read())
    assert [(x["bus_id"], x["xid"]) for x in xids] == [("0000:00:06", 13), ("0000:00:06", 13), ("0000:00:06", 94)]
    xml = _xml(fixture_path).replace("<dram_uncorrectable>0</dram_uncorrectable>",
                                     "<dram_uncorrectable>2</dram_uncorrectable>", 1)
    passed, _reason, details = judge(parse_xml(xml), "580.159.04", [], xids, None)
    assert passed, details["problems"]
    assert details["warnings"][0] == ("GPU 0 (00000000:00:06.0): 2 uncorrectable ECC error(s) since the driver "
                                      "loaded (volatile counters)")
    assert len(details["warnings"]) == 3  # one per (GPU, Xid), not per log line
    assert details["warnings"][2] == ("Xid 94 on 0000:00:06 in the kernel log: Contained: SM (0x1). RST: No, D-RST: No "
                                      "(see NVIDIA's Xid catalog)")
    assert "kernel log: 3 Xid event(s)" in details["checked"]


def test_helpers(tmp_path, fixture_path):
    assert normalize_bus_id("00000000:9A:00.0") == "0000:9a:00.0"
    assert normalize_bus_id("0000:9a:00.0") == "0000:9a:00.0"
    assert pci_gpus(str(tmp_path / "absent")) == []
    version = tmp_path / "version"
    version.write_text("580.159.04\n")
    assert module_version(str(version)) == "580.159.04"
    assert module_version(str(tmp_path / "absent")) is None
    # The H200 host's sysfs without its GPU: nothing to compare.
    assert pci_gpus(_sysfs(tmp_path, fixture_path, drop=("0000:00:06.0",))) == []


def test_version_mismatch_is_named():
    kind, message = classify_failure(18, "Failed to initialize NVML: Driver/library version mismatch\n", "")
    assert kind == "version_mismatch" and message == "Failed to initialize NVML: Driver/library version mismatch"
