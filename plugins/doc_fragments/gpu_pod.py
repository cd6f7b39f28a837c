# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # The options of the CUDA vectoradd pod (gpu_validate, gpu_cluster_check): their argument spec
    # is module_utils/_gpu_pod.py pod_options().
    DOCUMENTATION = r"""
options:
  pod_image:
    description:
      - Image of the CUDA vectoradd pod; point it to a mirror in air-gapped clusters.
    type: str
    default: nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda11.7.1-ubuntu20.04
  pod_namespace:
    description:
      - Namespace of the vectoradd pod.
    type: str
    default: default
    aliases: [namespace]
  pod_runtime_class:
    description:
      - RuntimeClass of the vectoradd pod (the GPU Operator creates C(nvidia)).
    type: str
    default: nvidia
    aliases: [runtime_class]
"""
