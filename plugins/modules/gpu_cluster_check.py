#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_cluster_check
short_description: Check GPU nodes through the Kubernetes API and report every node and check
version_added: 0.1.0
description:
  - The controller half of the GPU node self-check (C(playbooks/validate.yml)). For each node of
    O(nodes) it reads the Node and the RuntimeClasses through the Kubernetes API, runs the checks named
    in O(checks), merges in what the node's own M(k3s_gpu.node.gpu_node_check) and
    M(k3s_gpu.node.gpu_validate) reported, and returns the whole report, as data (RV(report)) and as
    one line per node and check (RV(rows)). It changes nothing.
  - V(runtime_class) - each RuntimeClass of O(runtime_classes) exists with handler O(runtime_handler); one
    with C(scheduling) must select the node (nodeSelector) and tolerate its NoSchedule and NoExecute
    taints of C(nodes[].taints).
  - V(gpu_allocatable) - the node's allocatable C(nvidia.com/gpu) equals the number of GPUs nvidia-smi
    lists on it (skipped when it lists none; the driver check says why).
  - V(taints) and V(labels) - the taints and labels the inventory asks for (C(nodes[].taints),
    C(nodes[].labels), the syntax of K3s's C(--node-taint) and C(--node-label)) are on the node.
  - V(gfd_labels) - GPU Feature Discovery's C(nvidia.com/gpu.product), C(gpu.memory) and C(gpu.count)
    agree with nvidia-smi, when GFD has labelled the node (or always, with O(gfd_expected=true)).
  - V(pod) - the CUDA vectoradd pod of M(k3s_gpu.node.gpu_validate) runs on the node and prints
    C(Test PASSED); only on a node whose other checks passed (else skipped, with the reason).
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
  - k3s_gpu.node.attributes.READ_ONLY
  - k3s_gpu.node.gpu_pod
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    details:
      - The API checks only read. The V(pod) check sends its pod as a server-side dry run and reports
        itself skipped, as M(k3s_gpu.node.gpu_validate) does.
options:
  nodes:
    description:
      - The nodes, keyed by inventory host name (the report's keys). Each value has C(name) (the Kubernetes
        node name), C(taints) and C(labels) (what the inventory asks for), C(node_check) (the registered result
        of M(k3s_gpu.node.gpu_node_check) on that host) and C(gpu_validate) (its registered M(k3s_gpu.node.gpu_validate)
        result, skipped or failed included).
      - An empty value stands for a host that reported nothing (unreachable, or failed before its checks);
        it is reported as such.
    type: dict
    required: true
  checks:
    description: The API checks to run.
    type: list
    elements: str
    choices: [runtime_class, gpu_allocatable, taints, labels, gfd_labels, pod]
    default: [runtime_class, gpu_allocatable, taints, labels, gfd_labels]
  runtime_classes:
    description: The RuntimeClasses GPU pods use.
    type: list
    elements: str
    default: [nvidia]
  runtime_handler:
    description: Their handler (the containerd runtime K3s configures).
    type: str
    default: nvidia
  gfd_expected:
    description:
      - V(true) requires GPU Feature Discovery's labels on every node; V(false) does not check them. Not set,
        they are checked on the nodes GFD has labelled.
    type: bool
  pod_timeout:
    description: Seconds each vectoradd pod may take.
    type: int
    default: 300
  fail_on_problems:
    description: V(true) fails the task when a check failed, naming the node and the check; V(false) returns the report only.
    type: bool
    default: true
requirements:
  - kubernetes >= 24.2.0 (Python library, where the module runs)
notes:
  - The user needs C(get) on C(nodes) and C(runtimeclasses) (and, for the V(pod) check, create, get and
    delete on C(pods) and get on C(pods/log) in O(pod_namespace)).
seealso:
  - module: k3s_gpu.node.gpu_node_check
  - module: k3s_gpu.node.gpu_validate
"""

EXAMPLES = r"""
- name: Check the GPU nodes through the API and report
  k3s_gpu.node.gpu_cluster_check:
    nodes:
      gpu-01:
        name: gpu-01
        taints: [nvidia.com/gpu=true:NoSchedule]
        labels: [gpu.example.com/model=h200]
        node_check: "{{ hostvars['gpu-01'].node_check }}"
    runtime_classes: [nvidia, k3s-gpu-nvidia]
    kubeconfig: ~/.kube/k3s.yaml
    fail_on_problems: false
  register: cluster_check
"""

RETURN = r"""
report:
  description: "{host: {check: {ok, status, detail}}}: every node's node-side and API checks (AWX: set_stats)."
  returned: always
  type: dict
  sample:
    gpu-01:
      driver: {ok: true, status: ok, detail: "loaded driver 580.95.05 (branch 580) is the installed nvidia-driver-cuda 580.95.05-1"}
      taints: {ok: false, status: failed, detail: "taint(s) nvidia.com/gpu=true:NoSchedule missing (the node has none) ..."}
rows:
  description: One entry per node and check, in order - host, node, check, status, detail and line (the readable table row).
  returned: always
  type: list
  elements: dict
failures:
  description:
    - One line per failed check, naming the host, the node and the check.
    - Not named C(failed), which Ansible sets on every result (the task's own verdict).
  returned: always
  type: list
  elements: str
"""

import traceback

from ansible_collections.k3s_gpu.node.plugins.module_utils import _node_check as rules
from ansible_collections.k3s_gpu.node.plugins.module_utils._gpu_pod import pod_options, run_pod_check
from ansible_collections.k3s_gpu.node.plugins.module_utils._k8s_node import get_node
from ansible_collections.k3s_gpu.node.plugins.module_utils._kube_client import (
    ApiError,
    auth_argument_spec,
    connect,
    core_v1,
    describe,
    kube_module,
)
from ansible_collections.k3s_gpu.node.plugins.module_utils._labels import LabelError
from ansible_collections.k3s_gpu.node.plugins.module_utils._taints import TaintError

CHECKS = list(rules.API_CHECKS) + ["pod"]


def argument_spec():
    return auth_argument_spec(
        nodes=dict(type="dict", required=True),
        checks=dict(type="list", elements="str", choices=CHECKS, default=list(rules.API_CHECKS)),
        runtime_classes=dict(type="list", elements="str", default=["nvidia"]),
        runtime_handler=dict(type="str", default="nvidia"),
        gfd_expected=dict(type="bool"),
        pod_timeout=dict(type="int", default=300),
        fail_on_problems=dict(type="bool", default=True),
        **pod_options()
    )


def parse_nodes(module):
    """{host: (spec, wanted taints, wanted labels)}; a malformed input fails before the API is read."""
    out = {}
    for host, spec in module.params["nodes"].items():
        spec = spec or {}
        if not isinstance(spec, dict):
            module.fail_json(msg="nodes[%r] must be a dictionary (name, taints, labels, node_check, gpu_validate)" % host)
        if spec.get("node_check") and not spec.get("name"):
            module.fail_json(msg="nodes[%r].name is empty: give the Kubernetes node name of the host" % host)
        try:
            taints, labels = rules.parse_wanted(spec.get("taints"), spec.get("labels"))
        except TaintError as exc:
            module.fail_json(msg="nodes[%r].taints (k3s_gpu_node_taints): %s" % (host, exc))
        except LabelError as exc:
            module.fail_json(msg="nodes[%r].labels (k3s_gpu_node_labels): %s" % (host, exc))
        out[host] = (spec, taints, labels)
    return out


def _get(resource, name, what):
    try:
        return get_node(resource, name)
    except ApiError as exc:
        raise ApiError(exc.msg.replace("reading node %s" % name, "reading %s %s" % (what, name)), exc.status)


def api_checks(module, spec, taints, labels, node, runtime_classes):
    """The API entries of one node's report (node: the Node dict, or None when it is not registered)."""
    selected = module.params["checks"]
    results = {}
    if node is None:
        results["node_registered"] = rules.failed(
            "node %s is not registered with the Kubernetes API (kubectl get nodes): is k3s-agent running on the "
            "host, and is its node name %s?" % (spec.get("name"), spec.get("name")))
        return results
    smi = (spec.get("node_check") or {}).get("nvidia_smi") or {}
    if "runtime_class" in selected:
        for name in module.params["runtime_classes"]:
            key = "runtime_class" if len(module.params["runtime_classes"]) == 1 else "runtime_class %s" % name
            results[key] = rules.judge_runtime_class(name, runtime_classes[name], module.params["runtime_handler"],
                                                     node, taints)
    if "gpu_allocatable" in selected:
        results["gpu_allocatable"] = rules.judge_allocatable(node, smi.get("gpu_count"))
    if "taints" in selected:
        results["taints"] = rules.judge_taints(node, taints)
    if "labels" in selected:
        results["labels"] = rules.judge_labels(node, labels)
    if "gfd_labels" in selected:
        results["gfd_labels"] = rules.judge_gfd(node, smi.get("gpus") or [], module.params["gfd_expected"])
    return results


def pod_check(module, client, node_name, report):
    failed = sorted(name for name, result in report.items() if result["status"] == rules.FAILED)
    if failed:
        return rules.skipped("not run: fix the failed check(s) %s first" % ", ".join(failed))
    params = module.params
    try:
        core = core_v1(client)
        result = run_pod_check(core, node_name, params["pod_namespace"], params["pod_image"], params["pod_timeout"],
                               check_mode=module.check_mode, runtime_class=params["pod_runtime_class"])
    except Exception as exc:  # pylint: disable=broad-except  # the API client raises many kinds
        return rules.failed("pod: %s: %s" % (type(exc).__name__, exc))
    return rules.from_pod(result)


def build_report(module, client, nodes):
    resources = client.resource("Node", "v1"), client.resource("RuntimeClass", "node.k8s.io/v1")
    runtime_classes = dict((name, _get(resources[1], name, "RuntimeClass")) for name in module.params["runtime_classes"])
    report, names = {}, {}
    for host, (spec, taints, labels) in nodes.items():
        names[host] = spec.get("name")
        entries = rules.from_node(spec.get("node_check"))
        if "node" not in entries:
            entries["gpu_health"] = rules.from_gpu_validate(spec.get("gpu_validate"))
        if spec.get("name"):
            node = _get(resources[0], spec["name"], "node")
            entries.update(api_checks(module, spec, taints, labels, node, runtime_classes))
            if "pod" in module.params["checks"] and node is not None:
                entries["pod"] = pod_check(module, client, spec["name"], entries)
        report[host] = entries
    return report, names


def main():
    module = kube_module(argument_spec())
    if module.params["pod_timeout"] <= 0:
        module.fail_json(msg="pod_timeout must be a positive number of seconds, got %s" % module.params["pod_timeout"])
    nodes = parse_nodes(module)
    client = connect(module)
    try:
        report, names = build_report(module, client, nodes)
    except ApiError as exc:
        module.fail_json(msg=exc.msg, status=exc.status)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=describe(exc, "checking the GPU nodes").msg, traceback=traceback.format_exc())
    rows = rules.rows(report, names)
    failures = rules.failures(report, names)
    out = dict(changed=False, report=report, rows=rows, failures=failures)
    if failures and module.params["fail_on_problems"]:
        module.fail_json(msg="%d check(s) failed: %s" % (len(failures), "; ".join(failures)), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
