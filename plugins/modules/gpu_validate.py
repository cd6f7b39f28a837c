#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_validate
short_description: Check that CUDA works on a GPU node, on the host and in a Kubernetes pod
version_added: 1.0.0
description:
  - Runs the checks named in O(checks) and returns a result for each; fails when a selected check
    fails, naming the check and the reason. It never changes managed state (C(changed) is always V(false)).
  - V(device_query) runs deviceQuery (from the CUDA demo suite, from O(device_query_path), or built with
    nvcc from a small source bundled with the module when O(build=true)) and requires C(Result = PASS)
    and at least one CUDA device.
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
  - k3s_gpu.node.attributes.PLATFORM
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: partial
    details:
      - Programs that already exist (deviceQuery, binaries in O(cache_dir)) run in check mode, since running
        them only reads the GPU.
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
    choices: [device_query, vector_add, pod]
    default: [device_query, vector_add]
  device_query_path:
    description:
      - deviceQuery to run.
      - By default C(/usr/local/cuda/extras/demo_suite/deviceQuery) (package C(cuda-demo-suite-*)), then
        C(deviceQuery) on E(PATH).
      - Takes precedence over O(build).
    type: path
  build:
    description:
      - Build deviceQuery from the source bundled with the module with nvcc instead of looking for
        the CUDA demo suite's.
    type: bool
    default: false
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
  pod_image:
    description:
      - Image of the vectoradd pod; point it to a mirror in air-gapped clusters.
    type: str
    default: nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda11.7.1-ubuntu20.04
  namespace:
    description:
      - Namespace of the vectoradd pod.
    type: str
    default: default
  runtime_class:
    description:
      - RuntimeClass of the vectoradd pod (the GPU Operator creates C(nvidia)).
    type: str
    default: nvidia
  timeout:
    description:
      - Seconds each check may take (compiling, running, or the pod from creation to completion).
    type: int
    default: 300
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
- name: Check CUDA on the host with the bundled deviceQuery and vectorAdd
  k3s_gpu.node.gpu_validate:
    checks: [device_query, vector_add]
    build: true

- name: Run the vectoradd pod on the node through the API
  k3s_gpu.node.gpu_validate:
    checks: [pod]
    node_name: "{{ inventory_hostname_short }}"
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
            binary, built (compiled this run), cmd, rc, stdout, device_count, driver_version, runtime_version,
            devices (index, name, compute_capability, memory_total_bytes, multiprocessors).
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
"""

import os
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.k3s_gpu.node.plugins.module_utils._device_query import (
    build as build_program,
    cached_binary,
    find_device_query,
    find_nvcc,
    judge_device_query,
    judge_vector_add,
    parse_device_query,
    run_with_timeout,
)
from ansible_collections.k3s_gpu.node.plugins.module_utils._gpu_pod import (
    DEFAULT_IMAGE,
    HAS_KUBERNETES,
    run_pod_check,
)
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

CHECKS = ["device_query", "vector_add", "pod"]
STDOUT_TAIL = 4000


def argument_spec():
    spec = dict(
        checks=dict(type="list", elements="str", choices=CHECKS, default=["device_query", "vector_add"]),
        device_query_path=dict(type="path"),
        build=dict(type="bool", default=False),
        nvcc_path=dict(type="path"),
        nvcc_flags=dict(type="list", elements="str", default=[]),
        cache_dir=dict(type="path", default="/var/cache/k3s_gpu_node/gpu_validate"),
        node_name=dict(type="str"),
        pod_image=dict(type="str", default=DEFAULT_IMAGE),
        namespace=dict(type="str", default="default"),
        runtime_class=dict(type="str", default="nvidia"),
        timeout=dict(type="int", default=300),
    )
    for key, value in AUTH_ARG_SPEC.items():
        spec[key] = dict(value)
    return spec


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


def check_device_query(module):
    params = module.params
    if params["device_query_path"] or not params["build"]:
        binary = find_device_query(module, params["device_query_path"])
        if not binary:
            return _result(reason="deviceQuery not found at %s; install the CUDA demo suite (cuda-demo-suite-*), "
                                  "set device_query_path, or set build=true to compile the bundled one"
                                  % (params["device_query_path"] or "/usr/local/cuda/extras/demo_suite/deviceQuery or on PATH"))
        details = {"binary": binary, "built": False}
    else:
        binary, failure, details = _program(module, "deviceQuery", "device_query")
        if failure:
            return failure
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


def _core_v1(module):
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from kubernetes import client as k8s_client
    api = get_api_client(**module.params)
    # K8SClient -> K8SDynamicClient -> kubernetes.client.ApiClient
    return k8s_client.CoreV1Api(api.client.client)


def check_pod(module):
    params = module.params
    if not params["node_name"]:
        return _result(reason="pod: node_name is required (the Kubernetes node to run the vectoradd pod on)")
    if not HAS_KUBERNETES:
        return _result(reason="pod: " + missing_required_lib("kubernetes"))
    try:
        core = _core_v1(module)
        return run_pod_check(core, params["node_name"], params["namespace"], params["pod_image"],
                             params["timeout"], check_mode=module.check_mode, runtime_class=params["runtime_class"])
    except Exception as exc:  # the API client raises many kinds; report them as the check's failure
        return _result(reason="pod: %s: %s" % (type(exc).__name__, exc), traceback=traceback.format_exc())


RUNNERS = {"device_query": check_device_query, "vector_add": check_vector_add, "pod": check_pod}


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
                         changed=False, checks=results, failed_checks=failed)
    module.exit_json(changed=False, checks=results, failed_checks=[])


if __name__ == "__main__":
    main()
