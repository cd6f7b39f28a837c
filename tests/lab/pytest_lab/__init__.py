"""The lab's pytest plugin: the fixtures and helpers every suite that drives the lab shares.

tests/integration/conftest.py, tests/reliability/conftest.py and tests/lab/tests/conftest.py
put tests/lab on sys.path and import what they use from here (pytest registers fixtures and
hooks that a conftest module holds):

- the real Kubernetes API (tests/lab/kube/fixture.py): ``kube_cluster``, ``kube_cluster_skew``,
  ``kube_namespace``, ``fake_kubelet`` and the ``pytest_terminal_summary`` hook that prints
  the harness's memory at the end;
- the vendor mirror (:mod:`pytest_lab.mirror`): :class:`Mirror` and the session fixture
  ``lab_mirror``;
- lab nodes (:mod:`pytest_lab.nodes`): ``boot`` and the ``lab_container`` factory;
- ansible-playbook (:mod:`pytest_lab.playbook`): ``ANSIBLE_PLAYBOOK``, ``ansible_env``,
  ``playbook_cmd``, ``run_playbook`` and its :class:`Run`.
"""

from __future__ import annotations

from kube.fixture import (  # noqa: F401
    fake_kubelet, kube_cluster, kube_cluster_skew, kube_namespace, pytest_terminal_summary,
)

from .mirror import Mirror, lab_mirror  # noqa: F401
from .nodes import CONTAINER_PREFIX, IMAGES, Container, boot, ensure_image, lab_container  # noqa: F401
from .paths import LAB, MIRROR, REPO_ROOT  # noqa: F401
from .playbook import ANSIBLE_PLAYBOOK, Run, ansible_env, playbook_cmd, run_playbook  # noqa: F401
