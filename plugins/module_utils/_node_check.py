# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rules of the GPU node self-check (playbooks/validate.yml): each judges one thing and says
ok, failed or skipped, with a detail a person can act on.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

The node-side rules (driver, containerd_runtime, cdi) are fed by k3s_gpu.node.gpu_node_check on
the node; the API rules (runtime_class, gpu_allocatable, taints, labels, gfd_labels) by
k3s_gpu.node.gpu_cluster_check on the controller, which also assembles the report.
"""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.k3s_gpu.node.plugins.module_utils import _labels, _runtime_class, _taints

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"

NODE_CHECKS = ("driver", "containerd_runtime", "cdi")
API_CHECKS = ("runtime_class", "gpu_allocatable", "taints", "labels", "gfd_labels")

GPU_RESOURCE = "nvidia.com/gpu"

# The package whose version is "the installed driver", in order of preference: NVIDIA's
# repository on Debian (nvidia-driver-cuda, the package cuda_driver's reboot rule reads, and its
# kernel module packages), on Ubuntu (nvidia-open, cuda-drivers), Debian's own
# (nvidia-open-kernel-dkms, nvidia-kernel-dkms) and Ubuntu's own (nvidia-driver-<branch>-server[-open]).
DEFAULT_DRIVER_PACKAGES = (
    "nvidia-driver-cuda", "nvidia-kernel-open-dkms", "nvidia-kernel-dkms", "nvidia-open-kernel-dkms",
    "nvidia-open", "cuda-drivers", "nvidia-driver-*",
)
# Packages that match the patterns above but carry no driver version (NVIDIA's Ubuntu pinning
# package nvidia-driver-pinning-<branch>).
_NOT_DRIVER = ("*pinning*",)

# K3s renders containerd's config from a template into <data-dir>/agent/etc/containerd/config.toml
# whichever template it uses: its built-in v3 one (K3s 1.32+), or a user's config-v3.toml.tmpl or
# config.toml.tmpl (v2) next to it (k3s-io/k3s pkg/agent/containerd/config.go, templateGenerations
# and writeContainerdConfig). The CRI runtime tables are
# plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'<name>' in v3 and
# plugins."io.containerd.grpc.v1.cri".containerd.runtimes."<name>" in v2, each with
# options.BinaryName (pkg/agent/templates/templates_linux.go, ExtraRuntimes).
K3S_CONTAINERD_CONFIG = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
K3S_USER_TEMPLATES = ("config-v3.toml.tmpl", "config.toml.tmpl")
CRI_RUNTIME_PLUGINS = ("io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri")

# GPU Feature Discovery's labels (NVIDIA/k8s-device-plugin internal/lm/resource.go: product is the
# NVML device name with spaces as '-', suffixed -SHARED when time-sliced and not renamed, or
# -MIG-<profile> for MIG devices; memory is the total memory in MiB; count the number of GPUs) and
# the timestamp it writes on each pass (internal/lm/timestamp.go, unless --no-timestamp).
GFD_PRODUCT = "nvidia.com/gpu.product"
GFD_MEMORY = "nvidia.com/gpu.memory"
GFD_COUNT = "nvidia.com/gpu.count"
GFD_TIMESTAMP = "nvidia.com/gfd.timestamp"
GFD_LABELS = (GFD_PRODUCT, GFD_MEMORY, GFD_COUNT)


def outcome(status, detail):
    """One check's result: {ok, status, detail}; ok is true only for status ok."""
    return {"ok": status == OK, "status": status, "detail": detail}


def ok(detail):
    return outcome(OK, detail)


def failed(detail):
    return outcome(FAILED, detail)


def skipped(detail):
    return outcome(SKIPPED, detail)


# --- driver -----------------------------------------------------------------------------------

def upstream_version(deb_version):
    """580.95.05 from a Debian version (epoch and revision removed): 1:580.95.05-0ubuntu1 -> 580.95.05."""
    if not deb_version:
        return None
    version = deb_version.split(":", 1)[1] if ":" in deb_version else deb_version
    return version.split("-", 1)[0] or None


def branch_of(version):
    return version.split(".", 1)[0] if version else None


def parse_dpkg_rows(text):
    """Rows of ``dpkg-query -W -f='${db:Status-Status}\\t${Package}\\t${Version}\\n'``: [(status, name, version)]."""
    rows = []
    for line in (text or "").splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[1]:
            rows.append((fields[0].strip(), fields[1].strip(), fields[2].strip()))
    return rows


def pick_driver_package(rows, wanted=DEFAULT_DRIVER_PACKAGES):
    """(name, version) of the first installed package matching `wanted` (names or globs, in order), or None."""
    installed = [(name, version) for status, name, version in rows
                 if status == "installed" and version and not any(fnmatch.fnmatch(name, p) for p in _NOT_DRIVER)]
    for pattern in wanted:
        for name, version in sorted(installed):
            if fnmatch.fnmatch(name, pattern):
                return name, version
    return None


def judge_driver(branch, module_version, smi, package, packages_looked_for):
    """The loaded driver is of `branch` and is the installed one.

    module_version: /sys/module/nvidia/version (None: no module loaded). smi: {driver_version,
    error, kind, hint} from nvidia-smi (kind as _nvidia_smi.classify_failure names it). package:
    (name, version) of the installed driver package, or None.
    """
    branch = str(branch) if branch not in (None, "") else None
    if smi.get("kind") == "version_mismatch":
        return failed("nvidia-smi: %s: the driver's user-space libraries were changed and the kernel module %s "
                      "is still loaded; reboot the node (or drain it and reload the nvidia modules)"
                      % (smi.get("error"), module_version or "(unknown)"))
    if not module_version:
        detail = "no NVIDIA kernel module is loaded (/sys/module/nvidia/version is missing)"
        if smi.get("error"):
            detail += "; nvidia-smi: %s" % smi["error"]
        if package:
            detail += "; the installed driver is %s %s" % package
        return failed("%s. %s" % (detail, smi.get("hint") or ""))
    if smi.get("error"):
        return failed("the kernel module %s is loaded but nvidia-smi fails: %s. %s"
                      % (module_version, smi["error"], smi.get("hint") or ""))
    smi_version = smi.get("driver_version")
    if smi_version and smi_version != module_version:
        return failed("nvidia-smi reports driver %s but the loaded kernel module is %s: reboot the node"
                      % (smi_version, module_version))
    loaded_branch = branch_of(module_version)
    if branch and loaded_branch != branch:
        return failed("the loaded driver %s is of branch %s, not of branch %s (cuda_driver_branch): run the "
                      "driver upgrade, or set cuda_driver_branch to %s"
                      % (module_version, loaded_branch, branch, loaded_branch))
    if package is None:
        return ok("loaded driver %s%s; no driver package is installed (%s), so the driver is not apt's "
                  "(cuda_driver_source=preinstalled): only the loaded module was checked"
                  % (module_version, " (branch %s)" % branch if branch else "", ", ".join(packages_looked_for)))
    installed = upstream_version(package[1])
    if installed != module_version:
        return failed("the installed driver is %s %s but the loaded kernel module is %s: reboot the node to load "
                      "the installed driver" % (package[0], package[1], module_version))
    return ok("loaded driver %s%s is the installed %s %s"
              % (module_version, " (branch %s)" % branch if branch else "", package[0], package[1]))


# --- K3s's containerd config --------------------------------------------------------------------

def split_toml_key(text):
    """A dotted TOML key (bare, "basic" or 'literal' parts) as a list of strings; None when malformed."""
    parts, i, text = [], 0, text.strip()
    while i < len(text):
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "\"'":
            quote = text[i]
            end = text.find(quote, i + 1)
            while quote == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(quote, end + 1)
            if end < 0:
                return None
            parts.append(text[i + 1:end])
            i = end + 1
        else:
            match = re.match(r"[A-Za-z0-9_-]+", text[i:])
            if not match:
                return None
            parts.append(match.group(0))
            i += match.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text):
            if text[i] != ".":
                return None
            i += 1
    return parts


_TABLE = re.compile(r"^\s*\[(?!\[)(.*)\]\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(.*?)\s*(#.*)?$")


def _toml_string(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def containerd_runtimes(text):
    """The CRI runtimes of a containerd config: {"version": int or None, "runtimes": {name: {plugin,
    runtime_type, binary_name}}}. A line scanner for the tables K3s's templates write (the nodes'
    Python may lack tomllib); tables it does not know are ignored."""
    version = None
    runtimes = {}
    table = None
    for line in (text or "").splitlines():
        match = _TABLE.match(line)
        if match:
            table = split_toml_key(match.group(1))
            if table and len(table) >= 5 and table[0] == "plugins" and table[1] in CRI_RUNTIME_PLUGINS \
                    and table[2:4] == ["containerd", "runtimes"] and len(table) in (5, 6):
                runtimes.setdefault(table[4], {"plugin": table[1], "runtime_type": None, "binary_name": None})
            continue
        match = _ASSIGN.match(line)
        if not match:
            continue
        key, value = match.group(1), _toml_string(match.group(2))
        if table is None and key == "version" and value.isdigit():
            version = int(value)
        elif table and len(table) == 5 and table[4] in runtimes and key == "runtime_type":
            runtimes[table[4]]["runtime_type"] = value
        elif table and len(table) == 6 and table[5] == "options" and table[4] in runtimes and key == "BinaryName":
            runtimes[table[4]]["binary_name"] = value
    return {"version": version, "runtimes": runtimes}


def judge_containerd(path, text, handler, binary_exists, user_templates):
    """K3s's generated containerd config has the `handler` runtime, and its binary exists.

    text: the config's content, or None when the file does not exist. binary_exists: a function
    path -> bool. user_templates: the user templates found next to the config (their names).
    """
    template_note = ""
    if user_templates:
        template_note = (" K3s renders it from the user template %s, which must keep K3s's runtimes "
                         "(extend the base template: {{ template \"base\" . }})" % ", ".join(user_templates))
    if text is None:
        return failed("%s does not exist: K3s's agent has not rendered containerd's config (is k3s-agent "
                      "running? is the agent's data-dir another one?).%s" % (path, template_note))
    parsed = containerd_runtimes(text)
    runtime = parsed["runtimes"].get(handler)
    if runtime is None:
        known = ", ".join(sorted(parsed["runtimes"])) or "none"
        return failed("%s has no %r runtime (runtimes: %s): K3s adds it only when it finds "
                      "nvidia-container-runtime as the agent starts; install the NVIDIA container toolkit "
                      "and restart k3s-agent.%s" % (path, handler, known, template_note))
    binary = runtime["binary_name"]
    if not binary:
        return failed("%s: the %r runtime has no options.BinaryName.%s" % (path, handler, template_note))
    if not binary_exists(binary):
        return failed("%s: the %r runtime runs %s, which does not exist (the toolkit was removed since the agent "
                      "started): reinstall the NVIDIA container toolkit and restart k3s-agent" % (path, handler, binary))
    return ok("%s (containerd config version %s) has the %r runtime: %s"
              % (path, parsed["version"] or "1", handler, binary))


# --- CDI ----------------------------------------------------------------------------------------

def judge_cdi(enabled, spec_path, current, generated, generate_error=None):
    """The CDI specification is what `nvidia-ctk cdi generate` writes for the node now.

    The rule is the container_toolkit role's own (it regenerates the spec and writes it when it
    differs): comparing contents, not dates, catches a spec that names the libraries of an older
    driver after an upgrade, whatever wrote it last. current/generated: texts (current None when the
    file is missing).
    """
    if not enabled:
        return skipped("CDI is off (container_toolkit_cdi_enabled is false)")
    if current is None:
        return failed("the CDI specification %s does not exist: run the container_toolkit role "
                      "(container_toolkit_cdi_enabled: true) to generate it" % spec_path)
    if generate_error:
        return failed("cannot generate the CDI specification to compare with %s: %s" % (spec_path, generate_error))
    if current.strip() == (generated or "").strip():
        return ok("%s is what nvidia-ctk cdi generate writes for this node now" % spec_path)
    old, new = current.splitlines(), (generated or "").splitlines()
    first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    shown_old = old[first].strip() if first < len(old) else "(end of file)"
    shown_new = new[first].strip() if first < len(new) else "(end of file)"
    return failed("%s is stale: it differs from what nvidia-ctk cdi generate writes now, first at line %d "
                  "(%r, now %r); run the container_toolkit role to regenerate it"
                  % (spec_path, first + 1, shown_old, shown_new))


# --- the Kubernetes API -------------------------------------------------------------------------

def _labels_of(node):
    return dict((node.get("metadata") or {}).get("labels") or {})


def _taints_of(node):
    return _taints.from_api((node.get("spec") or {}).get("taints"))


def judge_runtime_class(name, runtime_class, handler, node, wanted_taints):
    """RuntimeClass `name` exists with `handler`; when it has scheduling, this node matches its
    nodeSelector and its tolerations tolerate the node's wanted taints."""
    if runtime_class is None:
        return failed("RuntimeClass %s does not exist: GPU pods that ask for it are refused; the GPU Operator "
                      "(and K3s's server) create nvidia, the gpu_operator role its own GPU-only class" % name)
    if runtime_class.get("handler") != handler:
        return failed("RuntimeClass %s has handler %r, not %r" % (name, runtime_class.get("handler"), handler))
    scheduling = runtime_class.get("scheduling") or {}
    selector = scheduling.get("nodeSelector") or {}
    missing = _runtime_class.selector_mismatch(selector, _labels_of(node))
    if missing:
        return failed("RuntimeClass %s schedules onto nodes with %s, which this node lacks: its pods will not "
                      "land here; label the node (the gpu_operator role does)" % (name, ", ".join(missing)))
    untolerated = [_taints.format_taint(t) for t in wanted_taints
                   if t["effect"] in ("NoSchedule", "NoExecute")
                   and not _runtime_class.tolerates(scheduling.get("tolerations") or [], t)] if scheduling else []
    if untolerated:
        return failed("RuntimeClass %s does not tolerate this node's taint(s) %s" % (name, ", ".join(untolerated)))
    return ok("RuntimeClass %s, handler %s%s" % (
        name, handler, (", schedules here (nodeSelector %s)" % ", ".join("%s=%s" % kv for kv in sorted(selector.items())))
        if selector else ""))


def allocatable_gpus(node):
    value = ((node.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return None


def judge_allocatable(node, gpu_count):
    if gpu_count is None or gpu_count <= 0:
        return skipped("nvidia-smi lists no GPU on the node (see the driver check)")
    allocatable = allocatable_gpus(node)
    if allocatable == gpu_count:
        return ok("allocatable %s %d = nvidia-smi's %d GPU(s)" % (GPU_RESOURCE, allocatable, gpu_count))
    return failed("allocatable %s is %s but nvidia-smi lists %d GPU(s): the device plugin does not offer all "
                  "of them (is nvidia-device-plugin-daemonset running on the node? a GPU unhealthy or "
                  "time-sliced?)" % (GPU_RESOURCE, allocatable, gpu_count))


def judge_taints(node, wanted):
    """Every wanted taint (parsed) is on the node with its value and effect."""
    if not wanted:
        return skipped("the inventory asks for no taint (k3s_gpu_node_taints is empty)")
    have = _taints_of(node)
    missing = [_taints.format_taint(t) for t in wanted
               if not any(h["key"] == t["key"] and h["effect"] == t["effect"] and (h.get("value") or "") == t["value"]
                          for h in have)]
    if missing:
        return failed("taint(s) %s missing (the node has %s): run site.yml (its k3s_taint step) to enforce them"
                      % (", ".join(missing), ", ".join(_taints.format_taint(t) for t in have) or "none"))
    return ok("taint(s) %s" % ", ".join(_taints.format_taint(t) for t in wanted))


def judge_labels(node, wanted):
    """Every wanted label ({key: value}) is on the node with its value."""
    if not wanted:
        return skipped("the inventory asks for no label (k3s_gpu_node_labels is empty)")
    have = _labels_of(node)
    wrong = ["%s=%s (%s)" % (k, v, "missing" if k not in have else "is %s" % have[k])
             for k, v in sorted(wanted.items()) if have.get(k) != v]
    if wrong:
        return failed("label(s) %s: run site.yml (its k3s_label step) to enforce them" % ", ".join(wrong))
    return ok("label(s) %s" % ", ".join("%s=%s" % kv for kv in sorted(wanted.items())))


def judge_gfd(node, gpus, expected=None):
    """GPU Feature Discovery's product, memory and count labels agree with nvidia-smi.

    expected None: judged when GFD has labelled the node (any of its labels or its timestamp);
    True: required; False: not checked.
    """
    labels = _labels_of(node)
    present = [k for k in GFD_LABELS + (GFD_TIMESTAMP,) if k in labels]
    if expected is False:
        return skipped("not checked (k3s_gpu_gfd_expected is false)")
    if expected is None and not present:
        return skipped("GPU Feature Discovery has not labelled this node (no %s)" % ", ".join(GFD_LABELS + (GFD_TIMESTAMP,)))
    missing = [k for k in GFD_LABELS if k not in labels]
    if missing:
        return failed("GPU Feature Discovery label(s) %s missing: is gpu-feature-discovery running on the node?"
                      % ", ".join(missing))
    problems = []
    if gpus:
        if labels[GFD_COUNT] != str(len(gpus)):
            problems.append("%s=%s but nvidia-smi lists %d GPU(s)" % (GFD_COUNT, labels[GFD_COUNT], len(gpus)))
        product = (gpus[0].get("name") or "").replace(" ", "-")
        if product and not (labels[GFD_PRODUCT] == product or labels[GFD_PRODUCT].startswith(product + "-")):
            problems.append("%s=%s but nvidia-smi names the GPU %r" % (GFD_PRODUCT, labels[GFD_PRODUCT], gpus[0].get("name")))
        memory = gpus[0].get("memory_total_mib")
        if memory and labels[GFD_MEMORY] != str(memory):
            problems.append("%s=%s but nvidia-smi reports %s MiB" % (GFD_MEMORY, labels[GFD_MEMORY], memory))
    if problems:
        return failed("; ".join(problems) + ": GPU Feature Discovery's labels are stale or wrong")
    return ok(", ".join("%s=%s" % (k, labels[k]) for k in GFD_LABELS))


# --- the report ---------------------------------------------------------------------------------

def from_node(node_check):
    """The node-side entries of a host's report, from its registered gpu_node_check result."""
    if not node_check:
        return {"node": failed("the host reported nothing: it was unreachable, or failed before its checks ran "
                               "(see its tasks above)")}
    checks = node_check.get("checks") or {}
    if not checks:
        return {"node": failed("gpu_node_check failed: %s" % (node_check.get("msg") or "no result"))}
    return dict((name, checks[name]) for name in NODE_CHECKS if name in checks)


def from_gpu_validate(result):
    """The gpu_health entry of a host's report, from its registered gpu_validate result."""
    if not result or result.get("skipped"):
        return skipped("no GPU visible to nvidia-smi (see the driver check)")
    if result.get("failed"):
        return failed(result.get("msg") or "gpu_validate failed")
    return ok(result.get("summary") or "passed")


def from_pod(result):
    """The pod entry of a host's report, from _gpu_pod.run_pod_check's result."""
    if result["passed"]:
        return ok(result["reason"])
    return outcome(SKIPPED if result["skipped"] else FAILED, result["reason"])


def parse_wanted(taints, labels):
    """(taints, labels) the inventory asks for, parsed; raises _taints.TaintError / _labels.LabelError."""
    return _taints.parse_taints(taints or []), _labels.parse_labels(labels or {})


def rows(report, node_names):
    """One row per host and check: {host, node, check, status, detail, line}, in report order."""
    out = []
    width = max([len(c) for checks in report.values() for c in checks] + [5])
    for host, checks in report.items():
        node = node_names.get(host)
        who = host if not node or node == host else "%s (%s)" % (host, node)
        for check, result in checks.items():
            out.append({"host": host, "node": node, "check": check, "status": result["status"],
                        "detail": result["detail"],
                        "line": "%s  %s  %-7s %s" % (who, check.ljust(width), result["status"].upper(), result["detail"])})
    return out


def failures(report, node_names):
    """'host (node) check: detail' for each failed check."""
    return ["%s check %s: %s" % (r["host"] if not r["node"] or r["node"] == r["host"] else "%s (%s)" % (r["host"], r["node"]),
                                 r["check"], r["detail"])
            for r in rows(report, node_names) if r["status"] == FAILED]
