# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the reliability tests: inventories, failure messages and state snapshots
(ansible-playbook and the mirror come from the lab's plugin, tests/lab/pytest_lab/).

A snapshot is what "nothing changed" means in the matrix:

- node: every file, directory and link under /etc, /usr/local/bin and /var/lib/rancher
  (type, mode, owner, link target, sha256 of the content), the dpkg package list with
  versions and states, the enabled unit files, and the active services;
- API: namespaces, nodes (taints and labels), pods, secrets (Helm keeps its releases
  there), config maps, deployments, daemon sets and runtime classes, each with its
  resourceVersion, so that any write shows.
"""

from __future__ import annotations

import difflib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

import yaml

from pytest_lab import playbook as _playbook
# The tests use lab.Run and lab.ansible_env.
from pytest_lab.playbook import Run, ansible_env  # noqa: F401  pylint: disable=unused-import

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PLAYBOOKS = os.path.join(HERE, "playbooks")

SNAPSHOT_SCRIPT = r"""
export LC_ALL=C
roots="/etc /usr/local/bin /var/lib/rancher"
echo '## tree'
for r in $roots; do [ -e "$r" ] && find "$r" -xdev -printf '%y %m %u:%g %p -> %l\n'; done | sort
echo '## sha256'
for r in $roots; do [ -e "$r" ] && find "$r" -xdev -type f -print0; done | sort -z | xargs -0 -r sha256sum
echo '## packages'
dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' | sort
echo '## enabled units'
systemctl list-unit-files --state=enabled --no-legend --no-pager | awk '{print $1}' | sort
echo '## active services'
systemctl list-units --type=service --state=active --no-legend --no-pager --plain | awk '{print $1}' | sort
"""


# --- running ansible -----------------------------------------------------------------------
# The runner is the lab's (tests/lab/pytest_lab/playbook.py); a relative playbook name is one
# of this suite's (tests/reliability/playbooks).
def playbook_cmd(playbook: str, inventory: str, extra_vars: dict | None = None, args: list | None = None) -> list:
    return _playbook.playbook_cmd(playbook, inventory, extra_vars, args, playbooks=PLAYBOOKS)


def run_playbook(playbook: str, inventory: str, extra_vars: dict | None = None, args: list | None = None,
                 **kwargs) -> Run:
    """pytest_lab's run_playbook (env, json_callback, timeout as there)."""
    return _playbook.run_playbook(playbook, inventory, extra_vars, args, playbooks=PLAYBOOKS, **kwargs)


def write_inventory(path: str, groups: dict) -> str:
    """groups: {group: {host: {var: value}}} -> a YAML inventory."""
    doc = {"all": {"children": {g: {"hosts": hosts} for g, hosts in groups.items()}}}
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, default_flow_style=False)
    return path


def node_host(container: str, **host_vars) -> dict:
    out = {"ansible_connection": "lab_podman", "ansible_host": container,
           "ansible_python_interpreter": "/usr/bin/python3"}
    out.update(host_vars)
    return out


def local_host(**host_vars) -> dict:
    out = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    out.update(host_vars)
    return out


def failure_messages(doc: dict, host: str) -> list[str]:
    """Every failure message of one host in a json-callback document (loop items too)."""
    msgs = []
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            res = task.get("hosts", {}).get(host)
            if not res:
                continue
            items = res.get("results") if isinstance(res.get("results"), list) else []
            for r in [res] + [i for i in items if isinstance(i, dict)]:
                if r.get("failed") or r.get("unreachable"):
                    msg = r.get("msg", "")
                    if not isinstance(msg, str):
                        msg = json.dumps(msg)
                    msgs.append("[%s] %s" % (task["task"]["name"], msg))
    return msgs


# --- node state ------------------------------------------------------------------------------
def podman_exec(container: str, cmd: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", "exec", container, "sh", "-c", cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("in %s: %s\nrc=%s\n%s%s" % (container, cmd, proc.returncode, proc.stdout, proc.stderr))
    return proc


def node_snapshot(container: str) -> str:
    return podman_exec(container, SNAPSHOT_SCRIPT).stdout


def api_snapshot(kube) -> str:
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    api = kube.api_client()
    core, apps, nodev1 = client.CoreV1Api(api), client.AppsV1Api(api), client.NodeV1Api(api)
    net = client.NetworkingV1Api(api)
    lines = []
    for ns in core.list_namespace().items:
        lines.append("namespace %s %s %s" % (ns.metadata.name, ns.status.phase, ns.metadata.resource_version))
    for n in core.list_node().items:
        taints = sorted("%s=%s:%s" % (t.key, t.value or "", t.effect) for t in n.spec.taints or [])
        lines.append("node %s %s taints=%s labels=%s" % (n.metadata.name, n.metadata.resource_version, taints,
                                                         sorted((n.metadata.labels or {}).items())))
    for kind, items in (("pod", core.list_pod_for_all_namespaces().items),
                        ("secret", core.list_secret_for_all_namespaces().items),
                        ("configmap", core.list_config_map_for_all_namespaces().items),
                        ("deployment", apps.list_deployment_for_all_namespaces().items),
                        ("daemonset", apps.list_daemon_set_for_all_namespaces().items),
                        ("pvc", core.list_persistent_volume_claim_for_all_namespaces().items),
                        ("service", core.list_service_for_all_namespaces().items),
                        ("ingress", net.list_ingress_for_all_namespaces().items)):
        for o in items:
            lines.append("%s %s/%s %s" % (kind, o.metadata.namespace, o.metadata.name, o.metadata.resource_version))
    for rc in nodev1.list_runtime_class().items:
        lines.append("runtimeclass %s %s" % (rc.metadata.name, rc.metadata.resource_version))
    return "\n".join(sorted(lines)) + "\n"


def diff(before: str, after: str, label: str = "state") -> str:
    """A unified diff of two snapshots; empty when they are equal."""
    if before == after:
        return ""
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), label + " before",
                                        label + " after", n=0))


# --- sampling ps during a run ------------------------------------------------------------------
class PsSampler(threading.Thread):
    """Samples `ps -eo args` on the host and inside containers while a run goes on."""

    def __init__(self, containers: list[str], interval: float = 0.2):
        super().__init__(daemon=True)
        self.containers = containers
        self.interval = interval
        self.samples: list[str] = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            cmds = [["ps", "-ww", "-eo", "args"]] + [["podman", "exec", c, "ps", "-ww", "-eo", "args"] for c in self.containers]
            for cmd in cmds:
                try:
                    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                         timeout=20, check=False).stdout
                    self.samples.append(out)
                except (OSError, subprocess.SubprocessError):
                    pass
            self._halt.wait(self.interval)

    def stop(self) -> list[str]:
        self._halt.set()
        self.join(timeout=30)
        return self.samples


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of a Popen started with start_new_session=True (our own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tmpfile(directory: str, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix, dir=directory)
    os.close(fd)
    return path
