# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The vectoradd pod's tolerations: the GPU taint always, a cordoned node's taint on request
(playbooks/upgrade.yml validates a node before it uncordons it)."""

from __future__ import annotations

from ansible_collections.k3s_gpu.node.plugins.module_utils._gpu_pod import pod_manifest

GPU = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
CORDONED = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}


def test_default_tolerates_the_gpu_taint_only():
    spec = pod_manifest("p", "ns", "gpu-1", "img")["spec"]
    assert spec["tolerations"] == [GPU]
    assert spec["nodeSelector"] == {"kubernetes.io/hostname": "gpu-1"}


def test_tolerate_unschedulable_adds_the_cordon_taint():
    spec = pod_manifest("p", "ns", "gpu-1", "img", tolerate_unschedulable=True)["spec"]
    assert spec["tolerations"] == [GPU, CORDONED]
