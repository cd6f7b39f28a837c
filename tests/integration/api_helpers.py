# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the tests of the product against the real kube-apiserver share (test_k3s_label, test_k3s_taint,
test_k3s_node_policy, test_gpu_operator, test_gpu_workspace, test_gpu_validate_pod): running
ansible-playbook on the controller (localhost) with the cluster's credentials, reading a node's taints
and labels, the `nvidia` RuntimeClass, and the thread that plays absent controllers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid

from kubernetes import client
from kubernetes.client.rest import ApiException

from kube import cluster as kube_cluster_mod
from pytest_lab import playbook_cmd

REPO_ROOT = kube_cluster_mod.REPO_ROOT
PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
_RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)")


def ansible_playbook(kube, playbook, extra_vars, inventory=None, check=False, diff=False, expect_rc=0,
                     options=(), env=None, timeout=300):
    """Run `playbook` with the cluster's credentials (kube.ansible_env()) and the repository's
    ansible.cfg; on localhost over the local connection unless `inventory` (a path) is given.

    Asserts the exit status is `expect_rc` (the end of the output is the message); returns stdout.
    """
    run_env = kube.ansible_env()
    run_env["ANSIBLE_CONFIG"] = os.path.join(REPO_ROOT, "ansible.cfg")
    run_env["ANSIBLE_NOCOLOR"] = "1"
    run_env.update(env or {})
    # Extra vars through pytest_lab's 0600 file (-e @file): the workspaces' passwords and the
    # kubeconfig path stay out of the process list.
    local = [] if inventory else ["-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable]
    flags = list(options) + (["--check"] if check else []) + (["--diff"] if diff else [])
    cmd = playbook_cmd(str(playbook), str(inventory) if inventory else "localhost,", extra_vars, local + flags)
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False, timeout=timeout)
    finally:
        for arg in cmd:
            if arg.startswith("@"):
                os.unlink(arg[1:])
    assert proc.returncode == expect_rc, proc.stdout[-8000:]
    return proc.stdout


def recap(stdout):
    """ok, changed and failed of localhost in the play recap, and the output."""
    found = _RECAP.search(stdout)
    assert found, stdout[-3000:]
    return {"ok": int(found.group(1)), "changed": int(found.group(2)), "failed": int(found.group(3)),
            "stdout": stdout}


def run_module(kube, module, args, check=False, diff=False, expect_rc=0):
    """Run k3s_gpu.node.<module> once through playbooks/<module>_module.yml (which writes its
    registered result, failed or not, to <module>_result_file); return (its result, the output).

    A failed module run has expect_rc=2 (a failed task) and its result has failed and msg.
    """
    result_file = os.path.join(kube.state_dir, "%s-%s.json" % (module, uuid.uuid4().hex))
    stdout = ansible_playbook(kube, os.path.join(PLAYBOOKS, "%s_module.yml" % module),
                              {"%s_args" % module: args, "%s_result_file" % module: result_file},
                              check=check, diff=diff, expect_rc=expect_rc)
    with open(result_file, encoding="utf-8") as f:
        result = json.load(f)
    os.unlink(result_file)
    return result, stdout


def taints_of(kube, name):
    """The node's taints as K3s's --node-taint writes them (key[=value]:Effect), sorted."""
    node = client.CoreV1Api(kube.api_client()).read_node(name)
    return sorted("%s%s:%s" % (t.key, "=" + t.value if t.value else "", t.effect) for t in node.spec.taints or [])


def labels_of(kube, name):
    return client.CoreV1Api(kube.api_client()).read_node(name).metadata.labels or {}


def nvidia_runtime_class(kube):
    """The `nvidia` RuntimeClass, created once (the GPU Operator or K3s creates it on a real cluster)."""
    try:
        client.NodeV1Api(kube.api_client()).create_runtime_class({
            "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"},
            "handler": "nvidia"})
    except ApiException as exc:
        if exc.status != 409:
            raise
    return "nvidia"


class Controllers:
    """A thread that writes, through the API, what absent controllers would (a simulation): step()
    every 0.3 s until the with-block ends. 404 and 409 (an object not there yet, a race with another
    writer) are retried at the next step; any other API error fails the with-block."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.errors = []

    def step(self):
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        assert not self.errors, self.errors

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.step()
            except ApiException as exc:
                if exc.status not in (404, 409):
                    self.errors.append("%s %s" % (exc.status, exc.body))
            self._stop.wait(0.3)
