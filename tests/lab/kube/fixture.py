"""pytest fixtures for the real Kubernetes API (re-exported by the lab's plugin, tests/lab/pytest_lab).

``kube_cluster`` (session): builds the binaries when missing (build.sh; fails
loudly when it cannot), starts etcd + kube-apiserver on free 127.0.0.1 ports,
yields a :class:`kube.cluster.KubeCluster`, and always stops both processes.
``kube_cluster_skew`` (session): the same with the older kube-apiserver of
build.sh's skew/ (reports Kubernetes v1.35.4), for the version-skew tests.
``kube_namespace`` (function): a fresh namespace name, created.
``fake_kubelet`` (function): a factory ``fake_kubelet(node_name)`` returning a
:class:`kube.kubelet.FakeKubelet`; its log servers are closed and its nodes deleted
after the test.
"""

from __future__ import annotations

import atexit
import functools
import glob
import os
import re
import shutil
import signal
import uuid

import pytest

from . import cluster as _cluster
from .kubelet import FakeKubelet


def _session_state_dir(name: str = "session") -> str:
    """``.tmp/kube/session-<pid>``: under .tmp so scripts/leftovers.sh sees its pidfiles.

    State directories of earlier sessions whose processes are gone are removed;
    the last one stays for its logs until the next session.
    """
    root = os.path.join(_cluster.REPO_ROOT, ".tmp", "kube")
    os.makedirs(root, exist_ok=True)
    for old in glob.glob(os.path.join(root, name + "-*")):
        if not glob.glob(os.path.join(old, "*.pid")):
            shutil.rmtree(old, ignore_errors=True)
    return os.path.join(root, "%s-%d" % (name, os.getpid()))


_SUMMARY = []


def _report_rss(running) -> None:
    """Print (and keep in the state directory) the resident memory at session end."""
    try:
        rss = running.rss_bytes()
    except OSError:
        return
    line = "kube harness: RSS at session end: %s, total %.0f MiB" % (
        ", ".join("%s %.0f MiB" % (k, v / 1048576.0) for k, v in sorted(rss.items())),
        sum(rss.values()) / 1048576.0)
    with open(os.path.join(running.state_dir, "rss.txt"), "w", encoding="utf-8") as f:
        f.write(line + "\n")
    _SUMMARY.append(line)


def pytest_terminal_summary(terminalreporter):
    """Hook (re-exported by conftest.py): print the harness figures after the tests."""
    for line in _SUMMARY:
        terminalreporter.write_line(line)


def _running_cluster(state, bin_dir, apiserver_bin=None, report=True):
    """Start a cluster in ``state``, yield it, and always stop it."""
    # Stop them on interpreter exit too, and on SIGTERM (a `timeout` around pytest),
    # which skips both fixture teardown and atexit.
    stopper = functools.partial(_cluster.stop, state)
    atexit.register(stopper)
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        _cluster.stop(state)
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        running = _cluster.start(state, bin_dir, apiserver_bin=apiserver_bin)
        yield running
        if report:
            _report_rss(running)
    finally:
        _cluster.stop(state)
        signal.signal(signal.SIGTERM, previous)
        atexit.unregister(stopper)


@pytest.fixture(scope="session")
def kube_cluster():
    """A running etcd + kube-apiserver for the whole session."""
    yield from _running_cluster(_session_state_dir(), _cluster.build())


@pytest.fixture(scope="session")
def kube_cluster_skew():
    """A running etcd + the kube-apiserver that reports v1.35.4 (build.sh's skew/)."""
    bin_dir = _cluster.build()
    apiserver = _cluster.build_skew()
    yield from _running_cluster(_session_state_dir("skew"), bin_dir, apiserver, report=False)


@pytest.fixture
def kube_namespace(kube_cluster, request):
    """Create and return a unique namespace for one test.

    It is not deleted: without a namespace controller (kube-controller-manager) a
    deleted namespace stays Terminating; the whole cluster goes at session end.
    """
    from kubernetes import client  # pylint: disable=import-outside-toplevel

    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = "%s-%s" % (base or "test", uuid.uuid4().hex[:6])
    client.CoreV1Api(kube_cluster.api_client()).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def fake_kubelet(kube_cluster):
    """Factory: ``fake_kubelet("node-1")`` -> FakeKubelet (not yet registered)."""
    made = []

    def make(node_name: str) -> FakeKubelet:
        kubelet = FakeKubelet(kube_cluster, node_name)
        made.append(kubelet)
        return kubelet

    yield make
    for kubelet in made:
        kubelet.close()
        kubelet.deregister()
