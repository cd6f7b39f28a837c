# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the reliability tests: running ansible-playbook, and state snapshots.

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
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PLAYBOOKS = os.path.join(HERE, "playbooks")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
MIRROR_DIR = os.path.join(REPO, "tests", "lab", "mirror")

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
@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    elapsed: float
    cmd: list = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> dict:
        """The json stdout callback's document (warnings may precede it)."""
        start = self.stdout.find("{")
        assert start >= 0, "no JSON in the output:\n" + self.output[-4000:]
        return json.loads(self.stdout[start:])

    def recap(self, host: str) -> dict:
        """ok/changed/failed/... of one host from the default callback's PLAY RECAP."""
        m = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(host),
                      self.stdout, re.M)
        assert m, "no recap for %s in:\n%s" % (host, self.output[-4000:])
        return {"ok": int(m.group(1)), "changed": int(m.group(2)), "unreachable": int(m.group(3)),
                "failed": int(m.group(4))}

    def changed_tasks(self, host: str) -> list[str]:
        """Names of the tasks reported `changed: [host]` (default callback)."""
        names, current = [], None
        for line in self.stdout.splitlines():
            m = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*?)\] \**$", line)
            if m:
                current = m.group(1)
            elif re.match(r"^changed: \[%s\]" % re.escape(host), line) and current:
                if current not in names:
                    names.append(current)
        return names


def ansible_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_FORKS": "8",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    })
    coll = os.path.join(REPO, ".build", "collections")
    env["PYTHONPATH"] = coll + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


VARS_DIR = os.path.join(REPO, ".tmp", "reliability", "vars")


def playbook_cmd(playbook: str, inventory: str, extra_vars: dict | None = None, args: list | None = None) -> list:
    """The ansible-playbook command line. Extra vars go through a 0600 file (-e @file), never
    the command line, where `ps` would show the tokens the leak checks look for."""
    cmd = [ANSIBLE_PLAYBOOK, "-i", inventory]
    if extra_vars:
        os.makedirs(VARS_DIR, exist_ok=True)
        fd, path = tempfile.mkstemp(suffix=".json", dir=VARS_DIR)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(extra_vars, f)
        cmd += ["-e", "@" + path]
    cmd += list(args or [])
    cmd.append(playbook if os.path.isabs(playbook) else os.path.join(PLAYBOOKS, playbook))
    return cmd


def run_playbook(playbook: str, inventory: str, extra_vars: dict | None = None, args: list | None = None,
                 env: dict | None = None, json_callback: bool = False, timeout: float = 600) -> Run:
    cmd = playbook_cmd(playbook, inventory, extra_vars, args)
    env = ansible_env(env)
    if json_callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        env["ANSIBLE_JSON_INDENT"] = "0"
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, check=False)
    finally:
        for arg in cmd:
            if arg.startswith("@" + VARS_DIR):
                os.unlink(arg[1:])
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start, cmd)


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


# --- the mirror --------------------------------------------------------------------------------
class Mirror:
    """A private lab mirror (tests/lab/mirror/start.sh with its own state dir) that a test can
    stop and start again (a new port each time: read .url after start())."""

    def __init__(self, state: str):
        self.state = state
        self.env = dict(os.environ, LAB_MIRROR_STATE=state)
        self.url = ""

    def start(self) -> str:
        proc = subprocess.run([os.path.join(MIRROR_DIR, "start.sh")], env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, check=False)
        assert proc.returncode == 0, "mirror start.sh failed:\n%s%s" % (proc.stdout, proc.stderr)
        self.url = proc.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        subprocess.run([os.path.join(MIRROR_DIR, "stop.sh")], env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def running(self) -> bool:
        try:
            with open(os.path.join(self.state, "pid"), encoding="utf-8") as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def fault(self, *args: str) -> None:
        subprocess.run([os.path.join(MIRROR_DIR, "fault.sh"), *args], env=self.env, check=True)

    def delayed(self, path: str) -> bool:
        """Whether a request for `path` is being (or was) held by a delay fault."""
        try:
            with open(os.path.join(self.state, "delayed.log"), encoding="utf-8", errors="replace") as f:
                return path in f.read().splitlines()
        except OSError:
            return False

    def access_log(self) -> str:
        try:
            with open(os.path.join(self.state, "access.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


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
