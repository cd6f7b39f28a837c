#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_smi_facts
short_description: Gather NVIDIA driver and GPU facts from nvidia-smi
version_added: 0.1.0
description:
  - Runs C(nvidia-smi -q -x) once and returns the driver version, the CUDA version the driver
    supports, and for each GPU its identity, architecture, compute capability, memory, persistence,
    MIG, ECC, power, temperature and maximum clocks as C(ansible_facts.nvidia_smi).
  - nvidia-smi 580 does not print the compute capability in its XML. Then the module runs
    C(nvidia-smi --query-gpu=index,pci.bus_id,compute_cap --format=csv,noheader) as well, after the
    first call and only when its XML lacks the compute capability.
  - Without nvidia-smi on the target, with the driver not loaded, or without GPUs, the facts say
    so in RV(ansible_facts.nvidia_smi.installed), RV(ansible_facts.nvidia_smi.driver_loaded) and
    RV(ansible_facts.nvidia_smi.error); the module fails only when O(required=true).
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
  - k3s_gpu.node.attributes.FACTS
  - k3s_gpu.node.attributes.READ_ONLY
attributes:
  facts:
    support: full
options:
  required:
    description:
      - Fail when nvidia-smi is missing, the NVIDIA driver is not loaded, or no GPU is found.
      - When V(false), those cases are reported in the facts and the module succeeds.
    type: bool
    default: false
  executable:
    description:
      - Path of nvidia-smi.
      - By default C(nvidia-smi) is looked up on E(PATH), then in C(/usr/local/nvidia/bin).
    type: path
  compute_capability:
    description:
      - Query the compute capability with C(nvidia-smi --query-gpu) when the XML lacks it.
      - Set to V(false) to run nvidia-smi only once; RV(ansible_facts.nvidia_smi.gpus[].compute_capability)
        is then V(null) with drivers that do not print it in the XML (580 does not).
    type: bool
    default: true
notes:
  - Values nvidia-smi prints as C(N/A) or C(Not Supported) are returned as V(null).
  - NVLink state is not part of C(nvidia-smi -q -x) on driver 580; the fabric state it prints is
    returned in RV(ansible_facts.nvidia_smi.gpus[].fabric).
seealso:
  - module: k3s_gpu.node.gpu_validate
"""

EXAMPLES = r"""
- name: Gather GPU facts
  k3s_gpu.node.nvidia_smi_facts:

- name: Require a working driver with at least one GPU
  k3s_gpu.node.nvidia_smi_facts:
    required: true

- name: Show the GPUs
  ansible.builtin.debug:
    msg: "{{ item.index }}: {{ item.name }} ({{ item.architecture }}, sm {{ item.compute_capability }})"
  loop: "{{ ansible_facts.nvidia_smi.gpus }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts about the NVIDIA driver and GPUs.
  returned: always
  type: dict
  contains:
    nvidia_smi:
      description: What nvidia-smi reports.
      returned: always
      type: dict
      contains:
        installed:
          description: Whether nvidia-smi was found.
          type: bool
          returned: always
          sample: true
        driver_loaded:
          description: Whether nvidia-smi could talk to the NVIDIA kernel driver.
          type: bool
          returned: always
          sample: true
        nvidia_smi_path:
          description: Path of the nvidia-smi that ran.
          type: str
          returned: always
          sample: /usr/bin/nvidia-smi
        driver_version:
          description: NVIDIA driver version.
          type: str
          returned: always
          sample: 580.159.04
        cuda_version:
          description: Highest CUDA version the driver supports.
          type: str
          returned: always
          sample: "13.0"
        gpu_count:
          description: Number of GPUs.
          type: int
          returned: always
          sample: 1
        error:
          description: Why there are no GPU facts (nvidia-smi missing, driver not loaded, no GPU), else V(null).
          type: str
          returned: always
          sample: null
        gpus:
          description: One entry per GPU, in nvidia-smi's index order.
          type: list
          elements: dict
          returned: always
          contains:
            index:
              description: nvidia-smi's GPU index.
              type: int
              sample: 0
            minor_number:
              description: Minor number of the device file C(/dev/nvidiaN).
              type: int
              sample: 0
            name:
              description: Product name.
              type: str
              sample: NVIDIA H100 80GB HBM3
            brand:
              description: Product brand.
              type: str
              sample: NVIDIA
            architecture:
              description: GPU architecture (C(product_architecture)).
              type: str
              sample: Hopper
            compute_capability:
              description: CUDA compute capability, V(null) if unknown.
              type: str
              sample: "9.0"
            uuid:
              description: GPU UUID.
              type: str
              sample: GPU-90f3fe77-0eb9-af1e-31b3-15c1c7558cc9
            serial:
              description: Board serial number.
              type: str
              sample: "1652324105601"
            pci_bus_id:
              description: PCI bus id as nvidia-smi prints it.
              type: str
              sample: 00000000:00:06.0
            pci_device_id:
              description: PCI device and vendor id.
              type: str
              sample: 233010DE
            vbios_version:
              description: VBIOS version.
              type: str
              sample: 96.00.DA.00.0C
            memory_total_mib:
              description: Framebuffer memory in MiB.
              type: int
              sample: 81559
            memory_used_mib:
              description: Framebuffer memory in use in MiB.
              type: int
              sample: 0
            memory_reserved_mib:
              description: Framebuffer memory reserved by the driver in MiB.
              type: int
              sample: 480
            persistence_mode:
              description: C(Enabled) or C(Disabled).
              type: str
              sample: Enabled
            compute_mode:
              description: Compute mode.
              type: str
              sample: Default
            mig_mode:
              description: MIG mode now (V(current)) and after the next GPU reset (V(pending)); V(null) where MIG is not supported.
              type: dict
              sample: {current: Disabled, pending: Disabled}
            mig_enabled:
              description: Whether MIG is enabled now.
              type: bool
              sample: false
            mig_devices:
              description: MIG devices (index, gpu_instance_id, compute_instance_id, multiprocessor_count, copy_engine_count,
                memory_total_mib, memory_used_mib).
              type: list
              elements: dict
              sample: []
            ecc_mode:
              description: ECC mode now and after the next reboot.
              type: dict
              sample: {current: Enabled, pending: Enabled}
            power_limit_w:
              description: Current power limit in watts.
              type: float
              sample: 700.0
            temperature_c:
              description: GPU temperature in degrees Celsius.
              type: int
              sample: 33
            max_clocks_mhz:
              description: Maximum clocks (graphics, sm, memory, video) in MHz.
              type: dict
              sample: {graphics: 1980, sm: 1980, memory: 2619, video: 1545}
            virtualization_mode:
              description: Virtualization mode (for instance C(Pass-Through) in a VM).
              type: str
              sample: Pass-Through
            fabric:
              description: NVLink fabric state and status (V(null) without NVSwitch fabric).
              type: dict
              sample: {state: null, status: null}
            health:
              description:
                - What nvidia-smi says about the GPU's need for a reset, a reboot or service
                  (V(null) where it prints N/A). M(k3s_gpu.node.gpu_validate)'s V(gpu_health) check judges it.
                - recovery_action (C(None), C(Reset), C(Reboot), C(Drain_P2P), C(Drain_and_Reset)),
                  remapped_rows_pending, remapped_rows_failure, remapped_rows_uncorrectable,
                  retired_pages_pending_blacklist, retired_pages_pending_retirement,
                  ecc_volatile_uncorrectable (sum of the volatile uncorrectable ECC counters),
                  unrepairable_memory, channel_repair_pending, tpc_repair_pending.
              type: dict
              sample: {recovery_action: null, remapped_rows_pending: "No", remapped_rows_failure: "No",
                       retired_pages_pending_retirement: null, ecc_volatile_uncorrectable: 0}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.k3s_gpu.node.plugins.module_utils._nvidia_smi import (
    COMPUTE_CAP_QUERY,
    NVIDIA_SMI_DIRS,
    NvidiaSmiParseError,
    classify_failure,
    empty_facts,
    hint,
    merge_compute_caps,
    needs_compute_caps,
    parse_compute_caps,
    parse_xml,
)


def argument_spec():
    return dict(
        required=dict(type="bool", default=False),
        executable=dict(type="path"),
        compute_capability=dict(type="bool", default=True),
    )


def gather(module):
    params = module.params
    if params["executable"] and not os.access(params["executable"], os.X_OK):
        return empty_facts(False, params["executable"],
                           error="nvidia-smi not found at %s (executable)" % params["executable"]), None
    path = params["executable"] or module.get_bin_path("nvidia-smi", opt_dirs=NVIDIA_SMI_DIRS)
    if not path:
        return empty_facts(False, error="nvidia-smi not found on PATH or in %s: the NVIDIA driver is not installed"
                           % ", ".join(NVIDIA_SMI_DIRS)), None

    rc, out, err = module.run_command([path, "-q", "-x"])

    if rc != 0:
        kind, message = classify_failure(rc, out, err)
        if kind == "driver_not_loaded":
            return empty_facts(True, path, error=message), None
        if kind == "no_devices":
            return empty_facts(True, path, error=message, driver_loaded=True), None
        module.fail_json(msg="nvidia-smi -q -x failed with rc %s: %s" % (rc, message),
                         rc=rc, stdout=out, stderr=err)
    try:
        parsed = parse_xml(out)
    except NvidiaSmiParseError as exc:
        module.fail_json(msg="cannot parse nvidia-smi -q -x output: %s" % exc, rc=rc, stdout=out, stderr=err)

    facts = empty_facts(True, path, driver_loaded=True)
    facts.update(parsed)
    warning = None
    # The XML of older drivers has no compute capability. Only then is a second nvidia-smi
    # run asked for, in this process (run_command's own failure handling stays single:
    # a thread calling it could print a second JSON result).
    if params["compute_capability"] and needs_compute_caps(facts):
        caps_rc, caps_out, caps_err = module.run_command([path] + COMPUTE_CAP_QUERY)
        try:
            if caps_rc != 0:
                raise NvidiaSmiParseError("rc %s: %s %s" % (caps_rc, caps_out.strip(), caps_err.strip()))
            merge_compute_caps(facts, parse_compute_caps(caps_out))
        except NvidiaSmiParseError as exc:
            warning = "compute capability unknown: nvidia-smi %s: %s" % (" ".join(COMPUTE_CAP_QUERY), exc)
    if facts["gpu_count"] == 0:
        facts["error"] = "nvidia-smi lists no GPU"
    return facts, warning


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.run_command_environ_update = dict(LANG="C", LC_ALL="C", LC_MESSAGES="C")
    facts, warning = gather(module)
    if warning:
        module.warn(warning)
    if module.params["required"] and facts["error"]:
        module.fail_json(msg="NVIDIA GPU required: %s. %s" % (facts["error"], hint(facts)),
                         ansible_facts=dict(nvidia_smi=facts))
    module.exit_json(changed=False, ansible_facts=dict(nvidia_smi=facts))


if __name__ == "__main__":
    main()
