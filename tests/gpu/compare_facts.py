# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compare nvidia_smi_facts' facts with what nvidia-smi itself printed in the same run.

    compare_facts.py RESULTS_DIR

RESULTS_DIR holds facts.json (the module's facts), query-gpu.csv (QUERY below, csv,noheader,nounits)
and nvidia-smi.txt (plain `nvidia-smi`, for the CUDA version banner). Exits 1 on any mismatch.
Used by run.sh on the GPU machine and by the unit tests on the committed results.
"""

import json
import os
import re
import sys

QUERY = ("index,name,uuid,compute_cap,memory.total,memory.used,driver_version,pci.bus_id,persistence_mode,"
         "mig.mode.current,mig.mode.pending,ecc.mode.current,power.limit,temperature.gpu,clocks.max.sm")
FIELDS = QUERY.split(",")


def _none(value):
    return None if value.strip() in ("[N/A]", "N/A", "[Not Supported]") else value.strip()


def compare(results_dir):
    """Return a list of (gpu, field, facts value, nvidia-smi value, ok)."""
    with open(os.path.join(results_dir, "facts.json")) as handle:
        facts = json.load(handle)
    with open(os.path.join(results_dir, "query-gpu.csv")) as handle:
        rows = [dict(zip(FIELDS, (_none(v) for v in line.split(", "))))
                for line in handle.read().splitlines() if line.strip()]
    rows_out = []

    def check(gpu, field, ours, theirs, ok=None):
        rows_out.append((gpu, field, ours, theirs, (ours == theirs) if ok is None else ok))

    check("-", "gpu_count", facts["gpu_count"], len(rows))
    check("-", "installed/driver_loaded", (facts["installed"], facts["driver_loaded"]), (True, True))
    banner_path = os.path.join(results_dir, "nvidia-smi.txt")
    if os.path.exists(banner_path):
        with open(banner_path) as handle:
            banner = re.search(r"CUDA Version:\s*([0-9.]+)", handle.read())
        check("-", "cuda_version", facts["cuda_version"], banner.group(1) if banner else None)
    by_index = {gpu["index"]: gpu for gpu in facts["gpus"]}
    for row in rows:
        index = int(row["index"])
        gpu = by_index.get(index)
        if gpu is None:
            check(index, "present", None, index, False)
            continue
        check(index, "driver_version", facts["driver_version"], row["driver_version"])
        check(index, "name", gpu["name"], row["name"])
        check(index, "uuid", gpu["uuid"], row["uuid"])
        check(index, "pci_bus_id", gpu["pci_bus_id"], row["pci.bus_id"])
        check(index, "compute_capability", gpu["compute_capability"], row["compute_cap"])
        check(index, "memory_total_mib", gpu["memory_total_mib"], int(row["memory.total"]))
        # memory in use and temperature move between the two calls: compare within a margin
        used = int(row["memory.used"])
        check(index, "memory_used_mib (+-1024)", gpu["memory_used_mib"], used,
              abs(gpu["memory_used_mib"] - used) <= 1024)
        temp = int(row["temperature.gpu"])
        check(index, "temperature_c (+-10)", gpu["temperature_c"], temp, abs(gpu["temperature_c"] - temp) <= 10)
        check(index, "persistence_mode", gpu["persistence_mode"], row["persistence_mode"])
        check(index, "mig_mode.current", gpu["mig_mode"]["current"], row["mig.mode.current"])
        check(index, "mig_mode.pending", gpu["mig_mode"]["pending"], row["mig.mode.pending"])
        check(index, "ecc_mode.current", gpu["ecc_mode"]["current"], row["ecc.mode.current"])
        check(index, "power_limit_w", gpu["power_limit_w"], float(row["power.limit"]))
        check(index, "max_clocks_mhz.sm", gpu["max_clocks_mhz"]["sm"], int(row["clocks.max.sm"]))
    return rows_out


def main():
    rows = compare(sys.argv[1])
    bad = 0
    for gpu, field, ours, theirs, ok in rows:
        bad += not ok
        print("%-4s %-28s %-8s facts=%r nvidia-smi=%r" % (gpu, field, "ok" if ok else "MISMATCH", ours, theirs))
    print("%d fields compared, %d mismatches" % (len(rows), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
