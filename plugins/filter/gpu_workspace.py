# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Jinja filters of the gpu_workspace role; the rules live in module_utils/_workspace.py.

``gpu_workspace_resolve``: ``workspaces | k3s_gpu.node.gpu_workspace_resolve(defaults, passwords)``
returns ``{specs, problems}``: the workspaces with the role's defaults filled in (no password in
them) and what is wrong with the input, each problem naming the workspace and what to set.

``gpu_workspace_capacity``: ``specs | k3s_gpu.node.gpu_workspace_capacity(nodes, gpu_resource)``
returns the workspaces that ask for more GPUs than any node's allocatable.

``gpu_workspace_manifests``: ``spec | k3s_gpu.node.gpu_workspace_manifests(settings, version)``
returns the workspace's objects (namespace, pvc, deployment, service, ingress or None).

``gpu_workspace_secret``: ``spec | k3s_gpu.node.gpu_workspace_secret(password_b64)``, the
password Secret; only for no_log tasks.

``gpu_workspace_ready`` (a Deployment is ready), ``gpu_workspace_not_ready``
(``deployment | k3s_gpu.node.gpu_workspace_not_ready(pods, spec, settings)``: why not, naming
image pull, scheduling, GPU...) and ``gpu_workspace_access`` (how to reach it).
"""

from __future__ import annotations

from ansible_collections.k3s_gpu.node.plugins.module_utils import _workspace


def gpu_workspace_resolve(workspaces, defaults, passwords=None):
    return _workspace.resolve(workspaces, defaults or {}, passwords)


def gpu_workspace_capacity(specs, nodes, gpu_resource="nvidia.com/gpu"):
    return _workspace.capacity_problems(specs, nodes, gpu_resource)


def gpu_workspace_manifests(spec, settings, password_version=""):
    return _workspace.manifests(spec, settings or {}, password_version)


def gpu_workspace_secret(spec, password_b64):
    return _workspace.secret_manifest(spec, password_b64)


def gpu_workspace_ready(deployment):
    return _workspace.deployment_ready(deployment)


def gpu_workspace_not_ready(deployment, pods, spec, settings=None):
    return _workspace.not_ready(deployment, pods, spec, settings)


def gpu_workspace_wait_report(deployment_results, pod_results, settings=None):
    return _workspace.wait_report(deployment_results, pod_results, settings)


def gpu_workspace_access(spec, settings=None):
    return _workspace.access(spec, settings)


class FilterModule:
    """gpu_workspace filters."""

    def filters(self):
        return {
            "gpu_workspace_resolve": gpu_workspace_resolve,
            "gpu_workspace_capacity": gpu_workspace_capacity,
            "gpu_workspace_manifests": gpu_workspace_manifests,
            "gpu_workspace_secret": gpu_workspace_secret,
            "gpu_workspace_ready": gpu_workspace_ready,
            "gpu_workspace_not_ready": gpu_workspace_not_ready,
            "gpu_workspace_wait_report": gpu_workspace_wait_report,
            "gpu_workspace_access": gpu_workspace_access,
        }
