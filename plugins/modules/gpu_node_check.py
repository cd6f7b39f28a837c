#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_node_check
short_description: Check a GPU node's driver, K3s's containerd runtime and CDI specification, read-only
version_added: 0.1.0
description:
  - The node half of the GPU node self-check (C(playbooks/validate.yml)); M(k3s_gpu.node.gpu_cluster_check)
    does the Kubernetes API half on the controller and assembles the report. Runs the checks named in
    O(checks) on the node and returns, for each, C(ok), C(status) (V(ok), V(failed) or V(skipped)) and a
    C(detail) that says what is wrong and what to do. It changes nothing.
  - V(driver) - an NVIDIA kernel module is loaded (C(/sys/module/nvidia/version)), nvidia-smi uses it (no
    "Driver/library version mismatch"), it belongs to O(driver_branch), and it is the installed driver,
    the upstream version of the first installed package of O(driver_packages) (dpkg). With no driver
    package installed (a driver installed another way) only the loaded module is checked, and the detail
    says so.
  - V(containerd_runtime) - K3s's generated containerd config (O(containerd_config)) has the
    O(runtime_handler) runtime and its C(BinaryName) exists. K3s writes that file whichever template it
    renders (its built-in version 3 one, or a user's C(config-v3.toml.tmpl) or C(config.toml.tmpl) next to
    it); a runtime lost after a toolkit removal or a template change shows here.
  - V(cdi) - when O(cdi_enabled), the CDI specification O(cdi_spec) exists and is what
    C(nvidia-ctk cdi generate) writes for the node now (generated into a temporary file, compared, removed); that is
    the container_toolkit role's own rule, and it catches a spec naming an older driver's libraries.
  - Returns RV(nvidia_smi), what nvidia-smi lists (GPU count, names, memory), for the API checks.
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
  - k3s_gpu.node.attributes.READ_ONLY
options:
  checks:
    description: The checks to run; the others are reported as skipped (not selected).
    type: list
    elements: str
    choices: [driver, containerd_runtime, cdi]
    default: [driver, containerd_runtime, cdi]
  driver_branch:
    description:
      - The driver branch the node must run (C(cuda_driver_branch)), for instance V(580). Not set, the
        branch is not checked.
    type: str
  driver_packages:
    description:
      - Packages whose version is the installed driver, in order of preference; shell-style patterns allowed.
      - By default NVIDIA's and the distributions' driver packages (C(nvidia-driver-cuda),
        C(nvidia-kernel-open-dkms), C(nvidia-kernel-dkms), C(nvidia-open-kernel-dkms), C(nvidia-open),
        C(cuda-drivers), C(nvidia-driver-*)); pinning packages are never taken.
    type: list
    elements: str
  nvidia_smi_path:
    description: nvidia-smi to run. By default C(nvidia-smi) on E(PATH), then C(/usr/local/nvidia/bin/nvidia-smi).
    type: path
  containerd_config:
    description: K3s's generated containerd config (C(<data-dir>/agent/etc/containerd/config.toml)).
    type: path
    default: /var/lib/rancher/k3s/agent/etc/containerd/config.toml
  runtime_handler:
    description: The runtime the containerd config must have (K3s names NVIDIA's C(nvidia)).
    type: str
    default: nvidia
  cdi_enabled:
    description: Whether the node uses a static CDI specification (C(container_toolkit_cdi_enabled)).
    type: bool
    default: false
  cdi_spec:
    description: The CDI specification (C(container_toolkit_cdi_output)).
    type: path
    default: /etc/cdi/nvidia.yaml
  nvidia_ctk_path:
    description: nvidia-ctk to generate the specification with. By default C(nvidia-ctk) on E(PATH).
    type: path
  fail_on_problems:
    description:
      - V(true) fails the task when a check fails, naming it. V(false) returns the results only (validate.yml
        reports every node and check first, then fails).
    type: bool
    default: true
seealso:
  - module: k3s_gpu.node.gpu_cluster_check
  - module: k3s_gpu.node.gpu_validate
"""

EXAMPLES = r"""
- name: Check the node, and fail on the first problem
  k3s_gpu.node.gpu_node_check:
    driver_branch: "580"
  become: true

- name: Check the node and only report
  k3s_gpu.node.gpu_node_check:
    driver_branch: "{{ cuda_driver_branch }}"
    cdi_enabled: true
    fail_on_problems: false
  register: node_check
"""

RETURN = r"""
checks:
  description: One entry per check (selected or not), each with C(ok) (bool), C(status) (ok, failed, skipped) and C(detail).
  returned: always
  type: dict
  sample:
    driver: {ok: true, status: ok, detail: "loaded driver 580.95.05 (branch 580) is the installed nvidia-driver-cuda 580.95.05-1"}
    containerd_runtime: {ok: false, status: failed, detail: "... has no 'nvidia' runtime (runtimes: runc) ..."}
    cdi: {ok: true, status: skipped, detail: "CDI is off (container_toolkit_cdi_enabled is false)"}
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
nvidia_smi:
  description: What nvidia-smi reports (driver_version, gpu_count, gpus with index, name, uuid, memory_total_mib; error).
  returned: always
  type: dict
  sample: {driver_version: "580.95.05", gpu_count: 1, gpus: [{index: 0, name: NVIDIA H200, memory_total_mib: 143771}], error: null}
driver:
  description: The loaded module's version (module_version) and the installed driver package (package, version).
  returned: always
  type: dict
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.k3s_gpu.node.plugins.module_utils import _node_check as rules
from ansible_collections.k3s_gpu.node.plugins.module_utils._gpu_health import MODULE_VERSION, module_version
from ansible_collections.k3s_gpu.node.plugins.module_utils._nvidia_smi import (
    NVIDIA_SMI_DIRS,
    NvidiaSmiParseError,
    classify_failure,
    empty_facts,
    hint,
    parse_xml,
)

CHECKS = list(rules.NODE_CHECKS)


def argument_spec():
    return dict(
        checks=dict(type="list", elements="str", choices=CHECKS, default=CHECKS),
        driver_branch=dict(type="str"),
        driver_packages=dict(type="list", elements="str"),
        nvidia_smi_path=dict(type="path"),
        containerd_config=dict(type="path", default=rules.K3S_CONTAINERD_CONFIG),
        runtime_handler=dict(type="str", default="nvidia"),
        cdi_enabled=dict(type="bool", default=False),
        cdi_spec=dict(type="path", default="/etc/cdi/nvidia.yaml"),
        nvidia_ctk_path=dict(type="path"),
        fail_on_problems=dict(type="bool", default=True),
    )


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def read_nvidia_smi(module):
    """(facts, kind): nvidia-smi's facts as nvidia_smi_facts gathers them, and the failure kind
    (classify_failure's) when it failed; never fails the module."""
    path = module.params["nvidia_smi_path"]
    if path and not os.access(path, os.X_OK):
        path = None
    elif not path:
        path = module.get_bin_path("nvidia-smi", opt_dirs=NVIDIA_SMI_DIRS)
    if not path:
        facts = empty_facts(False, error="nvidia-smi not found on PATH or in %s" % ", ".join(NVIDIA_SMI_DIRS))
        return facts, "not_installed"
    rc, out, err = module.run_command([path, "-q", "-x"])
    if rc != 0:
        kind, message = classify_failure(rc, out, err)
        facts = empty_facts(True, path, error=message or "nvidia-smi -q -x failed with rc %s" % rc,
                            driver_loaded=kind not in ("driver_not_loaded", None))
        return facts, kind or "failed"
    try:
        facts = empty_facts(True, path, driver_loaded=True)
        facts.update(parse_xml(out))
    except NvidiaSmiParseError as exc:
        return empty_facts(True, path, error="cannot parse nvidia-smi -q -x: %s" % exc, driver_loaded=True), "failed"
    return facts, None


def check_driver(module, smi_facts, kind):
    params = module.params
    wanted = params["driver_packages"] or list(rules.DEFAULT_DRIVER_PACKAGES)
    package = None
    dpkg = module.get_bin_path("dpkg-query")
    if dpkg:
        # Each name or pattern is queried; dpkg-query exits 1 when some match nothing (not a failure here).
        rc, out, err = module.run_command([dpkg, "-W", "-f=${db:Status-Status}\t${Package}\t${Version}\n"] + wanted)
        package = rules.pick_driver_package(rules.parse_dpkg_rows(out), wanted)
    loaded = module_version()
    smi = {"driver_version": smi_facts["driver_version"], "error": smi_facts["error"], "kind": kind,
           "hint": hint(smi_facts) if smi_facts["error"] else None}
    details = {"module_version": loaded, "module_version_path": MODULE_VERSION,
               "package": package[0] if package else None, "version": package[1] if package else None}
    return rules.judge_driver(params["driver_branch"], loaded, smi, package, wanted), details


def check_containerd(module):
    params = module.params
    path = params["containerd_config"]
    folder = os.path.dirname(path)
    templates = [name for name in rules.K3S_USER_TEMPLATES if os.path.exists(os.path.join(folder, name))]
    return rules.judge_containerd(path, _read(path), params["runtime_handler"], os.path.exists, templates)


def check_cdi(module):
    params = module.params
    if not params["cdi_enabled"]:
        return rules.judge_cdi(False, params["cdi_spec"], None, None)
    current = _read(params["cdi_spec"])
    if current is None:
        return rules.judge_cdi(True, params["cdi_spec"], None, None)
    ctk = params["nvidia_ctk_path"] or module.get_bin_path("nvidia-ctk")
    if not ctk or not os.access(ctk, os.X_OK):
        return rules.judge_cdi(True, params["cdi_spec"], current, None,
                               "nvidia-ctk not found (install the NVIDIA container toolkit or set nvidia_ctk_path)")
    work = tempfile.mkdtemp(prefix="k3s-gpu-cdi-")
    try:
        generated_path = os.path.join(work, os.path.basename(params["cdi_spec"]) or "nvidia.yaml")
        rc, out, err = module.run_command([ctk, "cdi", "generate", "--output=%s" % generated_path])
        if rc != 0:
            return rules.judge_cdi(True, params["cdi_spec"], current, None,
                                   "nvidia-ctk cdi generate failed with rc %s: %s" % (rc, (err or out).strip()[-400:]))
        return rules.judge_cdi(True, params["cdi_spec"], current, _read(generated_path))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.run_command_environ_update = dict(LANG="C", LC_ALL="C", LC_MESSAGES="C")
    selected = module.params["checks"]
    smi_facts, kind = read_nvidia_smi(module)
    results = {}
    driver = {}
    for name in CHECKS:
        if name not in selected:
            results[name] = rules.skipped("not selected")
        elif name == "driver":
            results[name], driver = check_driver(module, smi_facts, kind)
        elif name == "containerd_runtime":
            results[name] = check_containerd(module)
        else:
            results[name] = check_cdi(module)
    failed = [name for name in CHECKS if results[name]["status"] == rules.FAILED]
    nvidia_smi = {
        "driver_version": smi_facts["driver_version"],
        "gpu_count": smi_facts["gpu_count"],
        "gpus": [{"index": g.get("index"), "name": g.get("name"), "uuid": g.get("uuid"),
                  "memory_total_mib": g.get("memory_total_mib")} for g in smi_facts["gpus"]],
        "error": smi_facts["error"],
    }
    out = dict(changed=False, checks=results, failed_checks=failed, nvidia_smi=nvidia_smi, driver=driver)
    if failed and module.params["fail_on_problems"]:
        module.fail_json(msg="gpu_node_check: " + "; ".join("%s failed: %s" % (n, results[n]["detail"]) for n in failed),
                         **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
