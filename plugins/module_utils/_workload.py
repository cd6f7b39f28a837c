# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""When a Deployment or a DaemonSet is ready, and if not, why: the one rule the roles wait on.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

Objects are plain dicts in the API's camelCase JSON (what kubernetes.core.k8s_info returns in
``resources``). The rule is that of ``kubectl rollout status`` and of kubernetes.core's waiter
(plugins/module_utils/k8s/waiter.py, deployment_ready and daemonset_ready): the controller has
observed the object's current generation, and every replica (pod) it wants is updated, ready
and available, with no replica of an older generation left.
"""

from __future__ import annotations

KINDS = ("Deployment", "DaemonSet")


def _int(mapping, key):
    try:
        return int(mapping.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def _problem(obj, counts_problem):
    """Not created, a generation the controller has not observed yet, or counts_problem(obj, status)."""
    if not obj:
        return "not created yet"
    st = obj.get("status") or {}
    generation = _int(obj.get("metadata") or {}, "generation")
    observed = _int(st, "observedGeneration")
    if observed < generation:
        return "generation %d not observed yet (observed %d)" % (generation, observed)
    return counts_problem(obj, st)


def _deployment_counts(deployment, st):
    spec = deployment.get("spec") or {}
    want = 1 if spec.get("replicas") is None else _int(spec, "replicas")  # the API's default: 1
    available = _int(st, "availableReplicas")
    updated = _int(st, "updatedReplicas")
    ready = _int(st, "readyReplicas")
    if available < want or updated < want or ready < want:
        return "%d/%d replicas available, %d updated, %d ready" % (available, want, updated, ready)
    if _int(st, "replicas") > want:
        return "%d replicas of an older generation still running" % (_int(st, "replicas") - want)
    return None


def deployment_problem(deployment):
    """Why a Deployment is not ready, or None when it is."""
    return _problem(deployment, _deployment_counts)


def daemonset_problem(daemonset, min_nodes=0):
    """Why a DaemonSet is not ready, or None when it is; it must be scheduled on at least
    `min_nodes` nodes (a DaemonSet scheduled nowhere is trivially "rolled out")."""
    def counts(_obj, st):
        desired = _int(st, "desiredNumberScheduled")
        ready = _int(st, "numberReady")
        updated = _int(st, "updatedNumberScheduled")
        available = _int(st, "numberAvailable")
        if desired < int(min_nodes or 0):
            return "scheduled on %d node(s), expected at least %d" % (desired, int(min_nodes))
        if ready < desired or updated < desired or available < desired:
            return "%d/%d pods ready, %d updated, %d available" % (ready, desired, updated, available)
        return None
    return _problem(daemonset, counts)


def deployment_ready(deployment):
    return deployment_problem(deployment) is None


def daemonset_ready(daemonset, min_nodes=0):
    return daemonset_problem(daemonset, min_nodes) is None


def not_ready(objects, kind, names=None, min_nodes=0):
    """What is not ready among `objects` (a list of `kind` objects, as k8s_info returns them):
    one reason per object, ``"<kind> <name>: <why>"``; empty when all are ready.

    With `names`, exactly those objects are checked (a missing one is "not created yet");
    without, every object given. `min_nodes` applies to DaemonSets (see daemonset_problem).
    """
    if kind not in KINDS:
        raise ValueError("kind must be one of %s, not %r" % (", ".join(KINDS), kind))
    by_name = {}
    for obj in objects or []:
        by_name.setdefault((obj.get("metadata") or {}).get("name"), obj)
    wanted = list(by_name) if names is None else list(names)
    reasons = []
    for name in wanted:
        obj = by_name.get(name)
        if kind == "Deployment":
            problem = deployment_problem(obj)
        else:
            problem = daemonset_problem(obj, min_nodes)
        if problem:
            reasons.append("%s %s: %s" % (kind, name, problem))
    return reasons
