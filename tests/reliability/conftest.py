# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the reliability matrix, and the writer of its results.

From the lab's pytest plugin (tests/lab/pytest_lab/, not duplicated): the real
kube-apiserver fixtures (tests/lab/kube/fixture.py: kube_cluster, fake_kubelet), the lab's
container boot helper (pytest_lab.boot) and the mirror (pytest_lab.Mirror). The mirror is
a private instance (its own state directory) because the fault tests stop it.

Every test records its row(s) with the ``matrix`` fixture; rows start as FAILED and become
"passed" only when the test's assertions passed. At the end of a session that ran the
whole suite (no -k/-m selection, no deselected or unrun test), ``pytest_sessionfinish``
writes those rows to .tmp/reliability/results.json (untracked) and prints the counts;
scripts/reliability-doc.py (`make reliability-doc`) renders docs/reliability.md from them. The
tests never write a tracked file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..", "lab")))  # tests/lab: pytest_lab, kube
sys.path.insert(0, HERE)

# pylint: disable=wrong-import-position,unused-import
from pytest_lab import Mirror, boot, fake_kubelet, kube_cluster  # noqa: E402,F401

import lab  # noqa: E402

RESULTS = os.path.join(lab.REPO, ".tmp", "reliability", "results.json")  # untracked (.gitignore: /.tmp/)
CONTAINER_PREFIX = "k3slab-rel-"  # tests/lab/leftovers.sh checks every k3slab- container

_ROWS: dict[str, list[dict]] = {"bad": [], "fault": [], "leak": []}
_STATE = {"deselected": 0, "selection": False}


# --- rows of the table -------------------------------------------------------------------------
class Matrix:
    """Records the rows of the reliability matrix for one test."""

    def __init__(self):
        self.rows: list[dict] = []

    def row(self, section: str, **cells) -> dict:
        cells["result"] = "FAILED"
        _ROWS[section].append(cells)
        self.rows.append(cells)
        return cells


@pytest.fixture
def matrix(request):
    m = Matrix()
    yield m
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.passed:
        for r in m.rows:
            if r["result"] == "FAILED" and not r.get("keep_failed"):
                r["result"] = "passed"


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # A private base temp: pytest prunes the numbered /tmp/pytest-of-<user>/ directories that
    # other sessions create, which could remove this session's state while it runs.
    if not config.option.basetemp:
        os.makedirs(os.path.join(lab.REPO, ".tmp", "reliability"), exist_ok=True)
        config.option.basetemp = os.path.join(lab.REPO, ".tmp", "reliability", "pytest-%d" % os.getpid())


def pytest_deselected(items):
    _STATE["deselected"] += len(items)


def pytest_collection_finish(session):
    _STATE["collected"] = len(session.items)


# --- shared resources ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mirror(tmp_path_factory):
    m = Mirror(str(tmp_path_factory.mktemp("mirror")))
    m.start()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("rel"))


class Node:
    """A lab container (Debian 12, systemd, host network) with an optional fake firmware dir."""

    def __init__(self, name: str, firmware: str | None, tag: str = "node", release: str = "debian12"):
        self.name = name
        self.firmware = firmware
        self.tag = tag
        self.release = release

    def reset(self) -> None:
        """Replace the container by a fresh one (after a case that changed it)."""
        remove_node(self, keep_firmware=True)
        self.name = start_node(self.tag, self.firmware, self.release).name

    def exec(self, cmd: str, check: bool = True, timeout: float = 300):
        return lab.podman_exec(self.name, cmd, check=check, timeout=timeout)

    def snapshot(self) -> str:
        return lab.node_snapshot(self.name)

    def host(self, **host_vars) -> dict:
        return lab.node_host(self.name, **host_vars)


def start_node(tag: str, firmware: str | None = None, release: str = "debian12") -> Node:
    """Boot a lab container. With `firmware`, that host directory is the container's
    /sys/firmware (podman masks /sys/firmware by default: unmasked here), so a test can put an
    EFI variable where the cuda_driver role reads the secure boot state."""
    name = "%s%s-%s" % (CONTAINER_PREFIX, tag, uuid.uuid4().hex[:6])
    if firmware is None:
        boot(release, name)
    else:
        os.makedirs(firmware, exist_ok=True)
        image = "localhost/k3s-gpu-lab:%s" % release
        subprocess.run(["podman", "run", "-d", "--systemd=always", "--network=host", "--name", name,
                        "--label", "k3s-gpu-lab=test", "--security-opt", "unmask=/sys/firmware",
                        "-v", "%s:/sys/firmware" % firmware, image], check=True, stdout=subprocess.DEVNULL)
    wait_booted(name)
    return Node(name, firmware, tag, release)


def wait_booted(name: str, timeout: float = 180) -> None:
    """Until systemd says running/degraded and has no job left (a snapshot taken while the
    boot goes on would see services starting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = lab.podman_exec(name, "systemctl is-system-running; systemctl list-jobs --no-legend | wc -l",
                              check=False).stdout.split()
        if len(out) == 2 and out[0] in ("running", "degraded") and out[1] == "0":
            time.sleep(1)
            return
        time.sleep(0.5)
    raise AssertionError("%s did not finish booting in %.0f s" % (name, timeout))


def remove_node(node: Node, keep_firmware: bool = False) -> None:
    subprocess.run(["podman", "rm", "-f", "-t", "0", node.name], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if node.firmware and not keep_firmware:
        shutil.rmtree(node.firmware, ignore_errors=True)


@pytest.fixture(scope="session")
def bad_input_node(workdir):
    """The one Debian 12 node every bad-input case runs on (it must stay unchanged)."""
    node = start_node("bad", firmware=os.path.join(workdir, "firmware"))
    try:
        yield node
    finally:
        remove_node(node)


@pytest.fixture(scope="session")
def k3s_node():
    """The node of the K3s fault and leak tests (it gets k3s_agent installed)."""
    node = start_node("k3s")
    try:
        yield node
    finally:
        remove_node(node)


@pytest.fixture(scope="session")
def apt_node():
    """The node of the apt fault tests (it gets cuda_driver installed)."""
    node = start_node("apt")
    try:
        yield node
    finally:
        remove_node(node)


@pytest.fixture(scope="session")
def helm_env(workdir):
    env = {}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = os.path.join(workdir, var.lower())
        os.makedirs(env[var], exist_ok=True)
    return env


# --- the results of a complete run -------------------------------------------------------------
def _reliability_doc():
    """scripts/reliability-doc.py, the one home of the results' format (it writes and reads them)."""
    import importlib.util  # pylint: disable=import-outside-toplevel

    spec = importlib.util.spec_from_file_location("reliability_doc", os.path.join(lab.REPO, "scripts",
                                                                                  "reliability-doc.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_results(rows: dict) -> None:
    import cases  # pylint: disable=import-outside-toplevel

    _reliability_doc().write_results(RESULTS, rows, cases.NODE_STATE, cases.API_STATE)


def _whole_suite(session) -> bool:
    opt = session.config.option
    if getattr(opt, "keyword", "") or getattr(opt, "markexpr", "") or _STATE["deselected"]:
        return False
    for arg in session.config.args:
        path = os.path.abspath(arg.split("::")[0])
        if "::" in arg or path != os.path.abspath(HERE):
            return False
    return _STATE.get("collected", 0) > 0 and not session.shouldstop and not session.shouldfail


def pytest_sessionfinish(session, exitstatus):
    counts = {k: len(v) for k, v in _ROWS.items()}
    failed = sum(1 for sec in _ROWS.values() for r in sec if r["result"] != "passed")
    summary = "reliability: %d bad inputs, %d faults, %d leak checks, %s" % (
        counts["bad"], counts["fault"], counts["leak"], "all passed" if failed == 0 and exitstatus == 0
        else "%d FAILED" % max(failed, 1))
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if _whole_suite(session) and sum(counts.values()) > 0 and session.testscollected == _STATE.get("ran", 0):
        write_results(_ROWS)
        summary += " (wrote %s; make reliability-doc renders docs/reliability.md from it)" % os.path.relpath(
            RESULTS, lab.REPO)
    else:
        summary += " (%s not written: not a complete run of the whole suite)" % os.path.relpath(RESULTS, lab.REPO)
    if tr is not None:
        tr.write_line(summary)
    else:
        print(summary)


def pytest_runtest_logfinish(nodeid, location):  # pylint: disable=unused-argument
    _STATE["ran"] = _STATE.get("ran", 0) + 1
