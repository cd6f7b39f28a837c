# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils._nvidia_smi import (
    NvidiaSmiParseError,
    classify_failure,
    merge_compute_caps,
    needs_compute_caps,
    parse_compute_caps,
    parse_xml,
)


def test_h100_real_xml(fixture_text):
    facts = parse_xml(fixture_text("nvidia-smi", "h100-1gpu-q.xml"))
    assert facts["driver_version"] == "580.159.04"
    assert facts["cuda_version"] == "13.0"
    assert facts["gpu_count"] == 1
    gpu = facts["gpus"][0]
    assert gpu == {
        "index": 0,
        "minor_number": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "brand": "NVIDIA",
        "architecture": "Hopper",
        "compute_capability": None,  # 580's XML lacks it: the module asks --query-gpu
        "uuid": "GPU-90f3fe77-0eb9-af1e-31b3-15c1c7558cc9",
        "serial": "1652324105601",
        "pci_bus_id": "00000000:00:06.0",
        "pci_device_id": "233010DE",
        "vbios_version": "96.00.DA.00.0C",
        "memory_total_mib": 81559,
        "memory_used_mib": 0,
        "memory_reserved_mib": 480,
        "persistence_mode": "Enabled",
        "compute_mode": "Default",
        "mig_mode": {"current": "Disabled", "pending": "Disabled"},
        "mig_enabled": False,
        "mig_devices": [],
        "ecc_mode": {"current": "Enabled", "pending": "Enabled"},
        "power_limit_w": 700.0,
        "temperature_c": 33,
        "max_clocks_mhz": {"graphics": 1980, "sm": 1980, "memory": 2619, "video": 1545},
        "virtualization_mode": "Pass-Through",
        "fabric": {"state": None, "status": None},
        "health": {
            "recovery_action": None, "remapped_rows_pending": "No", "remapped_rows_failure": "No",
            "remapped_rows_uncorrectable": 0, "retired_pages_pending_blacklist": None,
            "retired_pages_pending_retirement": None, "ecc_volatile_uncorrectable": 0,
            "unrepairable_memory": "No", "channel_repair_pending": "No", "tpc_repair_pending": "No",
        },
    }
    assert needs_compute_caps(facts)


def test_h200_real_xml(fixture_text):
    facts = parse_xml(fixture_text("nvidia-smi", "h200-1gpu-q.xml"))
    gpu = facts["gpus"][0]
    assert gpu["name"] == "NVIDIA H200"
    assert gpu["uuid"] == "GPU-ae9a7ea3-82db-2bd6-b28c-70e60454def3"
    assert gpu["memory_total_mib"] == 143771
    assert gpu["architecture"] == "Hopper"


def test_real_xml_agrees_with_real_query_gpu_csv(fixture_text):
    """The H100 capture's -q -x and --query-gpu (same machine, same driver) tell the same story."""
    gpu = parse_xml(fixture_text("nvidia-smi", "h100-1gpu-q.xml"))["gpus"][0]
    fields = [f.strip() for f in fixture_text("nvidia-smi", "h100-query-gpu.csv").strip().split(",")]
    (index, name, uuid, cap, mem_total, _mem_used, driver, bus, persistence, mig_cur, mig_pend,
     ecc, power, _temp, max_sm) = fields
    assert (gpu["index"], gpu["name"], gpu["uuid"]) == (int(index), name, uuid)
    assert gpu["memory_total_mib"] == int(mem_total)
    assert gpu["pci_bus_id"] == bus
    assert gpu["persistence_mode"] == persistence
    assert gpu["mig_mode"] == {"current": mig_cur, "pending": mig_pend}
    assert gpu["ecc_mode"]["current"] == ecc
    assert gpu["power_limit_w"] == float(power)
    assert gpu["max_clocks_mhz"]["sm"] == int(max_sm)
    assert driver == "580.159.04" and cap == "9.0"


def test_eight_gpus_and_compute_caps(fixture_text):
    facts = parse_xml(fixture_text("nvidia-smi", "h100-8gpu-derived-q.xml"))
    assert facts["gpu_count"] == 8
    assert [g["index"] for g in facts["gpus"]] == list(range(8))
    assert [g["minor_number"] for g in facts["gpus"]] == list(range(8))
    assert facts["gpus"][3]["pci_bus_id"] == "00000000:5D:00.0"
    assert len({g["uuid"] for g in facts["gpus"]}) == 8
    caps = parse_compute_caps(fixture_text("nvidia-smi", "h100-8gpu-derived-query-compute-cap.csv"))
    assert len(caps) == 8
    merge_compute_caps(facts, caps)
    assert [g["compute_capability"] for g in facts["gpus"]] == ["9.0"] * 8
    assert not needs_compute_caps(facts)


def test_compute_caps_matched_by_bus_id_not_order(fixture_text):
    facts = parse_xml(fixture_text("nvidia-smi", "h100-8gpu-derived-q.xml"))
    merge_compute_caps(facts, {"00000000:DB:00.0": "8.9", "00000000:18:00.0": "9.0"})
    assert facts["gpus"][7]["compute_capability"] == "8.9"
    assert facts["gpus"][0]["compute_capability"] == "9.0"
    assert facts["gpus"][1]["compute_capability"] is None


def test_mig_enabled_with_devices(fixture_text):
    facts = parse_xml(fixture_text("nvidia-smi", "h100-2gpu-derived-mig-q.xml"))
    gpu0, gpu1 = facts["gpus"]
    assert gpu0["mig_enabled"] is True
    assert gpu0["mig_mode"] == {"current": "Enabled", "pending": "Enabled"}
    assert gpu0["mig_devices"] == [
        {"index": 0, "gpu_instance_id": 2, "compute_instance_id": 0, "multiprocessor_count": 60,
         "copy_engine_count": 3, "memory_total_mib": 40192, "memory_used_mib": 13},
        {"index": 1, "gpu_instance_id": 1, "compute_instance_id": 0, "multiprocessor_count": 60,
         "copy_engine_count": 3, "memory_total_mib": 40192, "memory_used_mib": 13},
    ]
    assert gpu1["mig_enabled"] is False
    assert gpu1["mig_mode"] == {"current": "Disabled", "pending": "Enabled"}
    assert gpu1["mig_devices"] == []


def test_compute_cap_in_xml_is_used(fixture_text, tmp_path):
    text = fixture_text("nvidia-smi", "h100-1gpu-q.xml").replace(
        "<product_architecture>Hopper</product_architecture>",
        "<product_architecture>Hopper</product_architecture>\n\t\t<cuda_compute_capability>"
        "<major>9</major><minor>0</minor></cuda_compute_capability>")
    facts = parse_xml(text)
    assert facts["gpus"][0]["compute_capability"] == "9.0"
    assert not needs_compute_caps(facts)


@pytest.mark.parametrize("text, match", [
    ("", "printed nothing"),
    ("garbage", "valid XML"),
    ("<nvidia_smi_log><gpu>", "valid XML"),
    ("<?xml version='1.0'?><other/>", "unexpected XML root"),
    ("<nvidia_smi_log><attached_gpus>2</attached_gpus><gpu id='x'/></nvidia_smi_log>", "2 attached GPUs"),
])
def test_unparseable(text, match):
    with pytest.raises(NvidiaSmiParseError, match=match):
        parse_xml(text)


def test_truncated_real_xml(fixture_text):
    text = fixture_text("nvidia-smi", "h100-1gpu-q.xml")
    with pytest.raises(NvidiaSmiParseError):
        parse_xml(text[: len(text) // 2])


def test_no_gpu_xml():
    facts = parse_xml("<nvidia_smi_log><driver_version>580.159.04</driver_version>"
                      "<attached_gpus>0</attached_gpus></nvidia_smi_log>")
    assert facts["gpu_count"] == 0 and facts["gpus"] == []


def test_compute_caps_csv_errors():
    assert parse_compute_caps("0, 00000000:00:06.0, 9.0\n") == {"00000000:00:06.0": "9.0"}
    assert parse_compute_caps("0, 00000000:00:06.0, [N/A]\n") == {"00000000:00:06.0": None}
    with pytest.raises(NvidiaSmiParseError):
        parse_compute_caps("index, pci.bus_id, compute_cap\n")
    with pytest.raises(NvidiaSmiParseError):
        parse_compute_caps("0, 00000000:00:06.0, nine\n")


def test_classify_driver_not_loaded(fixture_text):
    kind, message = classify_failure(9, fixture_text("nvidia-smi", "driver-not-loaded-derived.txt"), "")
    assert kind == "driver_not_loaded"
    assert message.startswith("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")


def test_classify_no_devices(fixture_text):
    assert classify_failure(6, fixture_text("nvidia-smi", "no-devices-derived.txt"), "") == ("no_devices", "No devices were found")


def test_classify_unknown():
    kind, message = classify_failure(255, "", "Segmentation fault")
    assert kind is None and message == "Segmentation fault"


def test_two_real_h200(fixture_text):
    facts = parse_xml(fixture_text("nvidia-smi", "h200-2gpu-q.xml"))
    assert facts["gpu_count"] == 2
    assert [g["pci_bus_id"] for g in facts["gpus"]] == ["00000000:00:06.0", "00000000:00:07.0"]
    merge_compute_caps(facts, parse_compute_caps(fixture_text("nvidia-smi", "h200-2gpu-query-compute-cap.csv")))
    assert [g["compute_capability"] for g in facts["gpus"]] == ["9.0", "9.0"]
    rows = [line.split(", ") for line in fixture_text("nvidia-smi", "h200-2gpu-query-gpu.csv").splitlines()]
    assert [(g["index"], g["uuid"], g["memory_total_mib"]) for g in facts["gpus"]] == [
        (int(r[0]), r[2], int(r[4])) for r in rows]
