# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time the nvidia_smi_facts module against a bare `nvidia-smi -q -x`.

Runs each command --runs times (after one warm-up) as separate processes and prints the medians
and their ratio to a bare `nvidia-smi -q -x` (target: under 1.5) for
- the module's own run time: from the start of the module's code (its own imports included)
  to its exit, in a Python process that has already imported ansible.module_utils.basic, as
  Ansible's module runner has;
- the whole module process: interpreter start and ansible.module_utils import included (a fixed
  cost of any Python module that Ansible runs, whatever it does).

    PYTHONPATH=<dir holding ansible_collections>[:<ansible-core site>] \
        python3 bench/nvidia_smi_facts_bench.py [--runs 10] [--json out.json]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.join(os.path.dirname(HERE), "plugins", "modules", "nvidia_smi_facts.py")


# Runs the module file as __main__ after the interpreter has imported what every module imports;
# prints the module's own elapsed time on stderr.
OWN_TIME = r"""
import sys, time, runpy
import ansible.module_utils.basic  # noqa: F401 (the fixed cost every module pays, left out)
module, args = sys.argv[1], sys.argv[2]
sys.argv = [module, args]
start = time.perf_counter()
try:
    runpy.run_path(module, run_name="__main__")
except SystemExit:
    pass
sys.stderr.write("OWN_TIME=%.6f\n" % (time.perf_counter() - start))
"""


def timed(cmd, env=None):
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    elapsed = time.perf_counter() - start
    return elapsed, proc


def series(name, cmd, runs, env=None, check=None, own=False):
    timed(cmd, env)  # warm-up
    times = []
    for _run in range(runs):
        elapsed, proc = timed(cmd, env)
        if proc.returncode != 0 or (check and not check(proc.stdout)):
            sys.exit("%s failed (rc %s): %s %s" % (name, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        if own:
            elapsed = float(proc.stderr.decode().rsplit("OWN_TIME=", 1)[1])
        times.append(elapsed)
    return {"name": name, "cmd": cmd, "runs": runs, "median_s": statistics.median(times),
            "min_s": min(times), "max_s": max(times), "times_s": times}


def module_ok(stdout):
    data = json.loads(stdout)
    return not data.get("failed") and data["ansible_facts"]["nvidia_smi"]["gpu_count"] > 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", help="write the results here as JSON")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the module (as on a target)")
    args = parser.parse_args()

    smi = shutil.which("nvidia-smi")
    if not smi:
        sys.exit("nvidia-smi not on PATH")
    tmp = tempfile.mkdtemp(prefix="nsf-bench-")
    try:
        def args_file(name, module_args):
            path = os.path.join(tmp, name)
            with open(path, "w") as handle:
                json.dump({"ANSIBLE_MODULE_ARGS": module_args}, handle)
            return path

        default_args = args_file("default.json", {"required": True})
        once_args = args_file("once.json", {"required": True, "compute_capability": False})
        results = [
            series("nvidia-smi -q -x", [smi, "-q", "-x"], args.runs),
            series("nvidia-smi --query-gpu=index,pci.bus_id,compute_cap",
                   [smi, "--query-gpu=index,pci.bus_id,compute_cap", "--format=csv,noheader"], args.runs),
            series("module own time (compute_capability=true)",
                   [args.python, "-c", OWN_TIME, MODULE, default_args], args.runs, check=module_ok, own=True),
            series("module own time (compute_capability=false)",
                   [args.python, "-c", OWN_TIME, MODULE, once_args], args.runs, check=module_ok, own=True),
            series("module process (compute_capability=true)", [args.python, MODULE, default_args], args.runs,
                   check=module_ok),
            series("python + ansible.module_utils.basic import only",
                   [args.python, "-c", "import ansible.module_utils.basic"], args.runs),
        ]
    finally:
        shutil.rmtree(tmp)
    bare = results[0]["median_s"]
    for res in results:
        res["ratio_to_bare"] = res["median_s"] / bare
        print("%-50s median %7.3f s  min %7.3f s  max %7.3f s  ratio %5.2f"
              % (res["name"], res["median_s"], res["min_s"], res["max_s"], res["ratio_to_bare"]))
    ratio = results[2]["ratio_to_bare"]
    process_ratio = results[4]["ratio_to_bare"]
    print("RATIO module own time / bare nvidia-smi -q -x = %.2f (target < 1.5): %s"
          % (ratio, "OK" if ratio < 1.5 else "OVER"))
    print("RATIO whole module process / bare nvidia-smi -q -x = %.2f (includes %.3f s of Python start and"
          " ansible.module_utils import)" % (process_ratio, results[5]["median_s"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"results": results, "ratio": ratio, "process_ratio": process_ratio, "target": 1.5},
                      handle, indent=2)


if __name__ == "__main__":
    main()
