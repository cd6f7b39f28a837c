"""Session fixtures for the integration tests.

Each harness lives in its own module and is imported here, so this file stays a
list. Kubernetes API (kube-apiserver + etcd, fake kubelet): tests/integration/kube/.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Kubernetes API. pytest_terminal_summary prints the harness's RSS after the tests; a
# second harness that needs that hook should chain to this one rather than shadow it.
# pylint: disable=wrong-import-position,unused-import
from kube.fixture import (  # noqa: E402,F401
    fake_kubelet, kube_cluster, kube_cluster_skew, kube_namespace, pytest_terminal_summary,
)
