"""Fixtures of the lab's self-tests (the test infrastructure, not the collection).

They come from the lab's pytest plugin, tests/lab/pytest_lab/ (docs/lab.md): the real
Kubernetes API (kube-apiserver + etcd, fake kubelet: tests/lab/kube/), the vendor mirror
and the lab's Debian systemd containers. This file only lists them.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))  # tests/lab: pytest_lab, kube

# pytest_terminal_summary prints the kube harness's RSS after the tests; a second plugin
# that needs that hook should chain to this one rather than shadow it.
# pylint: disable=wrong-import-position,unused-import
from pytest_lab import (  # noqa: E402,F401
    fake_kubelet, kube_cluster, kube_cluster_skew, kube_namespace, lab_container, lab_mirror,
    pytest_terminal_summary,
)
