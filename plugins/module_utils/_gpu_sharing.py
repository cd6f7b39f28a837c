# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""GPU sharing through the GPU Operator: time-slicing configs and MIG profiles, per node.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

Upstream sources of the rules (read, not copied):

- The device plugin's config file, version v1 (NVIDIA/k8s-device-plugin api/config/v1/sharing.go
  and replicas.go): ``sharing.timeSlicing`` holds ``renameByDefault``,
  ``failRequestsGreaterThanOne`` and ``resources: [{name, replicas}]``; a resource needs at
  least 2 replicas.
- The operator reads that file from a ConfigMap named in the ClusterPolicy's
  ``devicePlugin.config.name``, one key per named config, ``devicePlugin.config.default`` being
  the key used on nodes without the ``nvidia.com/device-plugin.config`` label
  (NVIDIA/gpu-operator api/nvidia/v1/clusterpolicy_types.go, DevicePluginConfig; chart values
  ``devicePlugin.config``).
- MIG: ``mig.strategy`` is none, single or mixed (clusterpolicy_types.go, MIGSpec); the MIG
  manager applies the mig-parted config named by the node label ``nvidia.com/mig.config``
  (the operator's default-mig-parted-config: assets/state-mig-manager/0400_configmap.yaml,
  all-disabled, all-1g.10gb, all-1g.18gb, all-balanced, ...).
- A GPU that cannot do MIG has no MIG mode: nvidia-smi prints N/A, which nvidia_smi_facts
  reports as ``mig_mode.current: null`` (_nvidia_smi.py).

Every problem is a sentence that names the variable, the node and the GPU concerned, and what
to set instead.
"""

from __future__ import annotations

import re

from ansible_collections.k3s_gpu.node.plugins.module_utils import _taints

SHARING_LABEL = "nvidia.com/device-plugin.config"
MIG_LABEL = "nvidia.com/mig.config"
MIG_STRATEGIES = ("none", "single", "mixed")
# The mig-parted profile that turns MIG off: valid on any GPU (there is nothing to turn off).
MIG_DISABLED = "all-disabled"
DEFAULT_RESOURCE = "nvidia.com/gpu"
MIN_REPLICAS = 2  # replicas.go: "number of replicas must be >= 2"
CONFIG_KEYS = ("replicas", "resource", "rename_by_default", "fail_requests_greater_than_one")
# An extended resource the device plugin advertises: nvidia.com/gpu, or a MIG device such as
# nvidia.com/mig-1g.10gb with the mixed strategy.
_RESOURCE_RE = re.compile(r"^nvidia\.com/[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
# A Kubernetes object name (DNS subdomain, RFC 1123).
_OBJECT_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

CONFIGS_VAR = "gpu_operator_sharing_configs"
NODES_VAR = "gpu_operator_gpu_nodes"


def _label_value_problem(value):
    """None when `value` is a valid, non-empty label value, else why not."""
    if not isinstance(value, str) or not value:
        return "it must be a non-empty string"
    try:
        _taints.validate_value(value)
    except _taints.TaintError:
        return ("it must be at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.', starting and ending "
                "with a letter or digit (it becomes the value of a node label)")
    return None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def config_problems(configs):
    """What is wrong with gpu_operator_sharing_configs ({name: {replicas, ...}})."""
    if not isinstance(configs, dict):
        return ["%s must be a dictionary of named configs ({ts-4: {replicas: 4}}), got %s"
                % (CONFIGS_VAR, type(configs).__name__)]
    problems = []
    for name, config in configs.items():
        where = "%s[%r]" % (CONFIGS_VAR, name)
        why = _label_value_problem(name)
        if why:
            problems.append("%s: the name is not valid: %s." % (where, why))
        if not isinstance(config, dict):
            problems.append("%s must be a dictionary such as {replicas: 4}, got %r." % (where, config))
            continue
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            problems.append("%s: unknown key(s) %s; a config has %s." % (where, ", ".join(unknown), ", ".join(CONFIG_KEYS)))
        replicas = config.get("replicas")
        if not _is_int(replicas) or replicas < MIN_REPLICAS:
            problems.append("%s: replicas must be a whole number of at least %d (how many pods share each GPU; "
                            "the device plugin refuses fewer), got %r." % (where, MIN_REPLICAS, replicas))
        resource = config.get("resource", DEFAULT_RESOURCE)
        if not isinstance(resource, str) or not _RESOURCE_RE.match(resource):
            problems.append("%s: resource must be a resource the device plugin advertises, such as %s or "
                            "nvidia.com/mig-1g.10gb (mixed MIG strategy), got %r." % (where, DEFAULT_RESOURCE, resource))
        for flag in ("rename_by_default", "fail_requests_greater_than_one"):
            if flag in config and not isinstance(config[flag], bool):
                problems.append("%s: %s must be true or false, got %r." % (where, flag, config[flag]))
    return problems


def node_name(node):
    """The name a node entry of gpu_operator_gpu_nodes is shown by."""
    if isinstance(node, dict):
        return node.get("name") or node.get("hostname") or "?"
    return node


def _gpu_text(gpu):
    return "GPU %s (%s)" % (gpu.get("index", "?"), gpu.get("name") or "unknown model")


def mig_incapable_gpus(gpus):
    """The GPUs (nvidia_smi_facts' gpus) that have no MIG mode, i.e. cannot do MIG."""
    return [gpu for gpu in gpus or [] if not ((gpu.get("mig_mode") or {}).get("current"))]


def node_problems(node, configs, mig_strategy):
    """What is wrong with one node's sharing_config and mig_config (and its GPUs' facts)."""
    if not isinstance(node, dict):
        return []
    name = node_name(node)
    where = "%s: node %s" % (NODES_VAR, name)
    problems = []
    sharing = node.get("sharing_config") or ""
    if sharing:
        if not isinstance(configs, dict) or sharing not in configs:
            known = ", ".join(sorted(configs)) if isinstance(configs, dict) and configs else "none defined"
            problems.append("%s has sharing_config %r (k3s_gpu_sharing_config in site.yml), which is not a config "
                            "of %s (%s). Define it there or pick one of those." % (where, sharing, CONFIGS_VAR, known))
    mig = node.get("mig_config") or ""
    if not mig:
        return problems
    why = _label_value_problem(mig)
    if why:
        problems.append("%s has mig_config %r (k3s_gpu_mig_config in site.yml), not a mig-parted config name: %s."
                        % (where, mig, why))
        return problems
    if mig == MIG_DISABLED:
        return problems
    if mig_strategy == "none":
        problems.append("%s has mig_config %r but gpu_operator_mig_strategy is none: the device plugin would "
                        "not advertise the MIG devices. Set gpu_operator_mig_strategy to single or mixed."
                        % (where, mig))
    if "gpus" not in node:
        return problems  # no facts given: the MIG manager's nvidia.com/mig.config.state tells
    gpus = node.get("gpus") or []
    if not gpus:
        problems.append("%s has mig_config %r (k3s_gpu_mig_config in site.yml), but nvidia-smi reports no GPU "
                        "on it (driver not loaded, or a reboot pending), so MIG cannot be checked. Run again "
                        "once the driver is loaded, or remove the profile." % (where, mig))
        return problems
    for gpu in mig_incapable_gpus(gpus):
        problems.append("%s has mig_config %r (k3s_gpu_mig_config in site.yml), but %s cannot do MIG "
                        "(nvidia-smi reports no MIG mode). Remove the profile from this node (or set %s); "
                        "time-slicing (sharing_config) shares GPUs without MIG." % (where, mig, _gpu_text(gpu), MIG_DISABLED))
    return problems


def problems(configs, default, configmap, mig_strategy, nodes):
    """Everything wrong with the sharing inputs of the gpu_operator role, as sentences."""
    out = config_problems(configs)
    if default and (not isinstance(configs, dict) or default not in configs):
        out.append("gpu_operator_sharing_default %r is not a config of %s (%s)."
                   % (default, CONFIGS_VAR, ", ".join(sorted(configs)) if isinstance(configs, dict) and configs else "none defined"))
    if not isinstance(configmap, str) or not _OBJECT_NAME_RE.match(configmap):
        out.append("gpu_operator_sharing_configmap %r must be a ConfigMap name (lowercase letters, digits, '-', '.')."
                   % (configmap,))
    if mig_strategy not in ("",) + MIG_STRATEGIES:
        out.append("gpu_operator_mig_strategy %r must be one of %s, or empty for the chart's default."
                   % (mig_strategy, ", ".join(MIG_STRATEGIES)))
    for node in nodes or []:
        out.extend(node_problems(node, configs, mig_strategy))
    return out


def device_plugin_config(config):
    """One named config as the device plugin's config file (a dict; version v1)."""
    # Plain str and int: the YAML of the ConfigMap is dumped from these (no templating types).
    resource = {"name": str(config.get("resource", DEFAULT_RESOURCE)), "replicas": int(config["replicas"])}
    return {
        "version": "v1",
        "sharing": {
            "timeSlicing": {
                "renameByDefault": bool(config.get("rename_by_default", False)),
                "failRequestsGreaterThanOne": bool(config.get("fail_requests_greater_than_one", False)),
                "resources": [resource],
            }
        },
    }


def node_labels(node):
    """The labels a node entry asks for: {nvidia.com/device-plugin.config: ..., nvidia.com/mig.config: ...}."""
    if not isinstance(node, dict):
        return {}
    out = {}
    if node.get("sharing_config"):
        out[SHARING_LABEL] = node["sharing_config"]
    if node.get("mig_config"):
        out[MIG_LABEL] = node["mig_config"]
    return out
