#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_validate
short_description: Check that CUDA works on a GPU node, on the host and in a Kubernetes pod
version_added: 0.1.0
description:
  - Runs the checks named in O(checks) and returns a result for each; fails when a selected check
    fails, naming the check and the reason. It never changes managed state (C(changed) is always V(false)).
    RV(summary) says, in one line, which checks ran and why the others did not.
  - V(gpu_health) needs only the driver. It runs C(nvidia-smi -q -x) and requires at least one GPU, the
    loaded kernel module (C(/sys/module/nvidia/version)) to be the driver nvidia-smi uses, every NVIDIA GPU
    on the PCI bus (C(/sys/bus/pci/devices), classes VGA and 3D controller) to be listed by nvidia-smi, and
    no GPU to need a reset, a reboot or service right now (NVML's GPU recovery action, rows pending
    remapping or a remapping failure, pages pending retirement, unrepairable memory, a pending channel or
    TPC repair, an NVSwitch fabric that did not finish registering). Xid events in the kernel log
    (C(dmesg)) and volatile uncorrectable ECC counts are returned as warnings, not failures, since they stay
    after the GPU was reset.
  - V(device_query) runs deviceQuery and requires C(Result = PASS) and at least one CUDA device. The
    deviceQuery it runs is O(device_query_path) when set; with O(build=true) the small source bundled with the
    module, compiled with nvcc; with O(build=false) the CUDA demo suite's (or C(deviceQuery) on E(PATH)).
    When O(build) is not set, the demo suite's if it is installed, else the bundled one when nvcc is found,
    else the check is not run and its result says why (skipped, with the reason). It then fails instead
    when V(gpu_health) is not selected either, so that a node is never passed with no GPU check run.
  - V(vector_add) compiles a bundled CUDA vector addition with nvcc, runs it on every visible GPU of
    the host and requires C(Test PASSED).
  - V(pod) creates the CUDA vectoradd pod (O(pod_image)) through the Kubernetes API with
    C(runtimeClassName), a toleration for the C(nvidia.com/gpu) taint and a limit of one C(nvidia.com/gpu),
    pinned to O(node_name); waits at most O(timeout) seconds for it to finish, requires C(Test PASSED) in
    its logs, and always deletes it. Run this check where the API is reachable (usually
    C(delegate_to) the controller); it needs the C(kubernetes) Python library there.
  - The bundled programs are compiled into O(cache_dir), in a directory named after the hash of their
    source, nvcc's path and O(nvcc_flags), and reused while those stay the same.
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
  - k3s_gpu.node.gpu_pod
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: partial
    details:
      - Programs that already exist (deviceQuery, binaries in O(cache_dir)) run in check mode, since running
        them only reads the GPU; so does the V(gpu_health) check (nvidia-smi, sysfs and the kernel log are only read).
      - A bundled program that is not in O(cache_dir) yet is not compiled in check mode; its check is
        reported as skipped, with the reason.
      - The V(pod) check is not run in check mode; the pod is sent to the API server as a server-side
        dry run instead (which validates it, RuntimeClass included) and the check is reported as
        skipped with the API server's answer.
  diff_mode:
    support: none
    details:
      - The module changes no managed state.
options:
  checks:
    description:
      - The checks to run.
    type: list
    elements: str
    choices: [gpu_health, device_query, vector_add, pod]
    default: [gpu_health, device_query]
  device_query_path:
    description:
      - deviceQuery to run.
      - By default C(/usr/local/cuda/extras/demo_suite/deviceQuery) (package C(cuda-demo-suite-*)), then
        C(deviceQuery) on E(PATH).
      - Takes precedence over O(build).
    type: path
  build:
    description:
      - V(true) builds deviceQuery from the source bundled with the module with nvcc (nvcc is then
        required); V(false) requires the CUDA demo suite's deviceQuery.
      - Not set, the demo suite's is used when installed, the bundled one is built when nvcc is found,
        and otherwise the V(device_query) check is skipped with the reason (see the description).
    type: bool
  nvidia_smi_path:
    description:
      - nvidia-smi for the V(gpu_health) check.
      - By default C(nvidia-smi) on E(PATH), then C(/usr/local/nvidia/bin/nvidia-smi).
    type: path
  nvcc_path:
    description:
      - nvcc to compile the bundled programs with.
      - By default C(nvcc) on E(PATH), then C(/usr/local/cuda/bin/nvcc).
    type: path
  nvcc_flags:
    description:
      - Extra nvcc arguments, for instance V(-arch=native) or V(-gencode=arch=compute_90,code=sm_90).
      - Without any, nvcc's default target is used, whose PTX the driver compiles for newer GPUs.
    type: list
    elements: str
    default: []
  cache_dir:
    description:
      - Directory for the compiled programs.
    type: path
    default: /var/cache/k3s_gpu_node/gpu_validate
  node_name:
    description:
      - Kubernetes node the V(pod) check runs on (label C(kubernetes.io/hostname)). Required for V(pod).
    type: str
  timeout:
    description:
      - Seconds each check may take (compiling, running, or the pod from creation to completion).
    type: int
    default: 300
  tolerate_unschedulable:
    description:
      - The V(pod) check's pod also tolerates C(node.kubernetes.io/unschedulable:NoSchedule), the taint
        of a cordoned node, so that it runs on a node before it is uncordoned (playbooks/upgrade.yml
        validates a node that way before it takes work again).
    type: bool
    default: false
    version_added: 0.1.0
notes:
  - The pod's restart policy is C(Never) so that a failing container makes the pod fail instead of
    restarting until O(timeout).
  - The pod is deleted with a grace period of 0 whatever the outcome, including a timeout.
requirements:
  - nvcc (package C(cuda-nvcc-*) or C(cuda-toolkit-*)) for V(vector_add) and for V(device_query) with O(build=true).
  - kubernetes >= 24.2.0 (Python library, where the V(pod) check runs).
seealso:
  - module: k3s_gpu.node.nvidia_smi_facts
"""

EXAMPLES = r"""
- name: Check the GPUs with what the driver alone offers, and deviceQuery when it is installed or buildable
  k3s_gpu.node.gpu_validate:
  register: node_checks

- name: Say which checks ran
  ansible.builtin.debug:
    msg: "{{ node_checks.summary }}"

- name: Check CUDA on the host with the bundled deviceQuery and vectorAdd
  k3s_gpu.node.gpu_validate:
    checks: [device_query, vector_add]
    build: true

- name: Run the vectoradd pod on the node through the API
  k3s_gpu.node.gpu_validate:
    checks: [pod]
    # The node name K3s registered (node-name, else uname -n, lowercased), never the inventory name.
    node_name: "{{ k3s_gpu_node_name | default('') | k3s_gpu.node.k8s_node_name(ansible_facts['nodename']) }}"
    kubeconfig: /etc/rancher/k3s/k3s.yaml
    pod_image: registry.example.internal/nvidia/k8s/cuda-sample:vectoradd-cuda11.7.1-ubuntu20.04
    timeout: 600
  delegate_to: localhost
"""

RETURN = r"""
checks:
  description:
    - One entry per check, selected or not.
    - Named C(checks) rather than C(results), which Ansible reserves for loop results (a module's
      C(results) dictionary would be renamed C(ansible_module_results)).
  returned: always
  type: dict
  contains:
    gpu_health:
      description: Result of the nvidia-smi health check (same keys as device_query).
      type: dict
      returned: always
      contains:
        details:
          description: >-
            nvidia_smi, rc, gpu_count, gpus (index, name, pci_bus_id, health), driver_version, module_version,
            pci_gpus (bus_id, device_id, class, driver), missing_from_nvidia_smi, problems, warnings,
            xids (bus_id, xid, message; null when the kernel log could not be read), checked (what was compared).
          type: dict
      sample:
        passed: true
        skipped: false
        reason: "nvidia-smi: 1 healthy GPU(s): NVIDIA H200 (00000000:00:06.0); driver 580.159.04"
    device_query:
      description: Result of the deviceQuery check.
      type: dict
      returned: always
      contains:
        passed:
          description: Whether the check ran and passed.
          type: bool
        skipped:
          description: Whether the check did not run (not selected, or check mode).
          type: bool
        reason:
          description: Why it passed, failed or was skipped.
          type: str
        details:
          description: >-
            source (path, demo_suite or bundled), binary, built (compiled this run), cmd, rc, stdout, device_count,
            driver_version, runtime_version, devices (index, name, compute_capability, memory_total_bytes,
            multiprocessors).
          type: dict
      sample:
        passed: true
        skipped: false
        reason: "deviceQuery found 1 CUDA device(s): NVIDIA H100 80GB HBM3 (sm 9.0)"
        details: {device_count: 1, driver_version: "13.0", runtime_version: "13.0"}
    vector_add:
      description: Result of the host vectorAdd check (same keys; details binary, built, cmd, rc, stdout).
      type: dict
      returned: always
    pod:
      description: >-
        Result of the pod check (same keys; details pod_name, namespace, node_name, image, runtime_class,
        phase, exit_code, logs, deleted, elapsed_s).
      type: dict
      returned: always
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: []
summary:
  description: One line naming the checks that ran (with their verdict) and the reason each other check did not run.
  returned: always
  type: str
  sample: >-
    ran: gpu_health passed; not run: device_query (skipped: deviceQuery is not installed and nvcc was not found),
    vector_add (not selected), pod (not selected)
"""

import os
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.k3s_gpu.node.plugins.module_utils._device_query import (
    DEMO_SUITE_DEVICE_QUERY,
    build as build_program,
    cached_binary,
    find_device_query,
    find_nvcc,
    judge_device_query,
    judge_vector_add,
    parse_device_query,
    run_with_timeout,
)
from ansible_collections.k3s_gpu.node.plugins.module_utils._gpu_health import (
    judge as judge_health,
    module_version,
    parse_xids,
    pci_gpus,
)
from ansible_collections.k3s_gpu.node.plugins.module_utils._gpu_pod import pod_options, run_pod_check
from ansible_collections.k3s_gpu.node.plugins.module_utils._kube_client import (
    api_client,
    auth_argument_spec,
    core_v1,
    HAS_KUBERNETES,
)
from ansible_collections.k3s_gpu.node.plugins.module_utils._nvidia_smi import (
    NVIDIA_SMI_DIRS,
    NvidiaSmiParseError,
    classify_failure,
    parse_xml,
)

CHECKS = ["gpu_health", "device_query", "vector_add", "pod"]
STDOUT_TAIL = 4000


def argument_spec():
    return auth_argument_spec(
        checks=dict(type="list", elements="str", choices=CHECKS, default=["gpu_health", "device_query"]),
        device_query_path=dict(type="path"),
        build=dict(type="bool"),
        nvidia_smi_path=dict(type="path"),
        nvcc_path=dict(type="path"),
        nvcc_flags=dict(type="list", elements="str", default=[]),
        cache_dir=dict(type="path", default="/var/cache/k3s_gpu_node/gpu_validate"),
        node_name=dict(type="str"),
        timeout=dict(type="int", default=300),
        tolerate_unschedulable=dict(type="bool", default=False),
        **pod_options()
    )


def _is_cached(binary):
    return os.path.isfile(binary) and os.access(binary, os.X_OK)


def _result(passed=False, skipped=False, reason=None, **details):
    return {"passed": passed, "skipped": skipped, "reason": reason, "details": details}


def _program(module, name, label):
    """Find or build the bundled program `name`; returns (binary, result-if-not-runnable, details)."""
    params = module.params
    nvcc = find_nvcc(module, params["nvcc_path"])
    flags = params["nvcc_flags"]
    if not nvcc:
        return None, _result(reason="%s: nvcc not found (%s); install the CUDA compiler (cuda-nvcc-*) or set nvcc_path"
                             % (label, params["nvcc_path"] or "PATH, /usr/local/cuda/bin")), {}
    binary = cached_binary(params["cache_dir"], name, nvcc, flags)
    details = {"binary": binary, "nvcc": nvcc, "built": False}
    if module.check_mode and not _is_cached(binary):
        return None, _result(skipped=True, reason="check mode: would compile the bundled %s with %s into %s"
                             % (name, nvcc, binary), **details), details
    started = time.monotonic()
    binary, built, rc, out, err = build_program(module, params["cache_dir"], name, nvcc, flags, params["timeout"])
    details["built"] = built
    if built:
        details["build_s"] = round(time.monotonic() - started, 2)
    if binary is None:
        details.update(rc=rc, stdout=out[-STDOUT_TAIL:], stderr=err[-STDOUT_TAIL:])
        return None, _result(reason="%s: nvcc failed with rc %s: %s" % (label, rc, (err or out).strip()[-500:]),
                             **details), details
    return binary, None, details


def _kernel_xids(module):
    """(xids, note): the Xid events of the kernel log, or (None, why it could not be read)."""
    dmesg = module.get_bin_path("dmesg")
    if not dmesg:
        return None, "dmesg not found"
    rc, out, err = run_with_timeout(module, [dmesg], module.params["timeout"])
    if rc != 0:
        return None, "dmesg failed with rc %s: %s" % (rc, (err or out).strip()[:200])
    return parse_xids(out), None


def check_gpu_health(module):
    params = module.params
    if params["nvidia_smi_path"]:
        smi = params["nvidia_smi_path"] if os.access(params["nvidia_smi_path"], os.X_OK) else None
    else:
        smi = module.get_bin_path("nvidia-smi", opt_dirs=NVIDIA_SMI_DIRS)
    if not smi:
        return _result(reason="nvidia-smi not found at %s: install the NVIDIA driver (role "
                              "k3s_gpu.node.cuda_driver) or set nvidia_smi_path"
                              % (params["nvidia_smi_path"] or "PATH, " + ", ".join(NVIDIA_SMI_DIRS)))
    rc, out, err = run_with_timeout(module, [smi, "-q", "-x"], params["timeout"])
    details = {"nvidia_smi": smi, "rc": rc}
    if rc != 0:
        kind, message = classify_failure(rc, out, err)
        hint = {
            "driver_not_loaded": "load the module (modprobe nvidia) or reboot after installing the driver",
            "no_devices": "the driver sees no GPU: check the PCI bus (lspci -d 10de:) and dmesg for NVRM errors",
            "version_mismatch": "the driver was upgraded but the old kernel module is loaded: reboot",
        }.get(kind, "see nvidia-smi's message")
        details.update(stdout=out[-STDOUT_TAIL:], stderr=err[-STDOUT_TAIL:])
        return _result(reason="nvidia-smi -q -x failed with rc %s: %s; %s" % (rc, message, hint), **details)
    try:
        facts = parse_xml(out)
    except NvidiaSmiParseError as exc:
        return _result(reason="cannot parse nvidia-smi -q -x: %s" % exc, **details)
    xids, note = _kernel_xids(module)
    passed, reason, judged = judge_health(facts, module_version(), pci_gpus(), xids, note)
    details.update(judged)
    for warning in judged["warnings"]:
        module.warn("gpu_health: " + warning)
    return _result(passed=passed, reason=reason, **details)


def _device_query_unavailable(module):
    """Why the default (build not set) deviceQuery cannot run here."""
    return ("deviceQuery is not installed (%s, PATH) and nvcc was not found (%s), so the bundled one cannot be "
            "built; install the CUDA demo suite (cuda_driver_install_demo_suite) or the CUDA compiler "
            "(cuda_driver_install_toolkit) to run it" % (DEMO_SUITE_DEVICE_QUERY,
                                                         module.params["nvcc_path"] or "PATH, /usr/local/cuda/bin"))


def check_device_query(module):
    params = module.params
    source = None
    if params["device_query_path"] or params["build"] is False:
        binary = find_device_query(module, params["device_query_path"])
        if not binary:
            return _result(reason="deviceQuery not found at %s; install the CUDA demo suite (cuda-demo-suite-*), "
                                  "set device_query_path, or set build=true (or leave build and device_query_path unset) to compile the bundled one"
                                  % (params["device_query_path"] or DEMO_SUITE_DEVICE_QUERY + " or on PATH"))
        source = "demo_suite" if binary == DEMO_SUITE_DEVICE_QUERY else "path"
    elif params["build"] is None:
        binary = find_device_query(module, None)
        if binary:
            source = "demo_suite" if binary == DEMO_SUITE_DEVICE_QUERY else "path"
        elif not find_nvcc(module, params["nvcc_path"]):
            reason = _device_query_unavailable(module)
            if "gpu_health" not in params["checks"]:
                return _result(reason="%s; or select the gpu_health check, which needs only the driver"
                                      % reason)
            return _result(skipped=True, reason="%s; the gpu_health check covers this node's GPUs" % reason)
    if source:
        details = {"source": source, "binary": binary, "built": False}
    else:
        binary, failure, details = _program(module, "deviceQuery", "device_query")
        if failure:
            failure["details"]["source"] = "bundled"
            return failure
        details["source"] = "bundled"
    rc, out, err = run_with_timeout(module, [binary], params["timeout"])
    parsed = parse_device_query(out)
    passed, reason = judge_device_query(rc, parsed)
    details.update(rc=rc, stdout=out[-STDOUT_TAIL:], stderr=err[-STDOUT_TAIL:])
    details.update((k, parsed[k]) for k in ("device_count", "driver_version", "runtime_version", "devices"))
    return _result(passed=passed, reason=reason, **details)


def check_vector_add(module):
    binary, failure, details = _program(module, "vectorAdd", "vector_add")
    if failure:
        return failure
    rc, out, err = run_with_timeout(module, [binary], module.params["timeout"])
    passed, reason = judge_vector_add(rc, out)
    details.update(rc=rc, stdout=out[-STDOUT_TAIL:], stderr=err[-STDOUT_TAIL:])
    return _result(passed=passed, reason=reason, **details)


def check_pod(module):
    params = module.params
    if not params["node_name"]:
        return _result(reason="pod: node_name is required (the Kubernetes node to run the vectoradd pod on)")
    if not HAS_KUBERNETES:
        return _result(reason="pod: " + missing_required_lib("kubernetes"))
    try:
        core = core_v1(api_client(module))
        return run_pod_check(core, params["node_name"], params["pod_namespace"], params["pod_image"],
                             params["timeout"], check_mode=module.check_mode,
                             runtime_class=params["pod_runtime_class"],
                             tolerate_unschedulable=params["tolerate_unschedulable"])
    except Exception as exc:  # the API client raises many kinds; report them as the check's failure
        return _result(reason="pod: %s: %s" % (type(exc).__name__, exc), traceback=traceback.format_exc())


RUNNERS = {"gpu_health": check_gpu_health, "device_query": check_device_query, "vector_add": check_vector_add,
           "pod": check_pod}


def summary(results):
    """One line: the checks that ran, with their verdict, and why the others did not."""
    ran = ["%s %s" % (name, "passed" if results[name]["passed"] else "FAILED")
           for name in CHECKS if not results[name]["skipped"]]
    not_run = ["%s (%s)" % (name, results[name]["reason"] if results[name]["reason"] == "not selected"
                            else "skipped: " + results[name]["reason"])
               for name in CHECKS if results[name]["skipped"]]
    return "ran: %s; not run: %s" % (", ".join(ran) or "nothing", ", ".join(not_run) or "nothing")


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.run_command_environ_update = dict(LANG="C", LC_ALL="C", LC_MESSAGES="C")
    if module.params["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, got %s" % module.params["timeout"])
    if "pod" in module.params["checks"] and not module.params["node_name"]:
        module.fail_json(msg="the pod check needs node_name: the Kubernetes node to run the vectoradd pod on")

    results = {}
    for name in CHECKS:
        if name in module.params["checks"]:
            results[name] = RUNNERS[name](module)
        else:
            results[name] = _result(skipped=True, reason="not selected")
    failed = [name for name in CHECKS if not results[name]["passed"] and not results[name]["skipped"]]
    if failed:
        module.fail_json(msg="gpu_validate: " + "; ".join("%s failed: %s" % (name, results[name]["reason"])
                                                          for name in failed),
                         changed=False, checks=results, failed_checks=failed, summary=summary(results))
    module.exit_json(changed=False, checks=results, failed_checks=[], summary=summary(results))


if __name__ == "__main__":
    main()
