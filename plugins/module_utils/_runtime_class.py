# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The scheduling of a GPU-only RuntimeClass: the tolerations for the GPU nodes' taints, and
whether a node matches a class's nodeSelector and tolerations.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

A RuntimeClass's ``scheduling`` (node.k8s.io/v1) is merged into every pod that names the class
by the RuntimeClass admission plugin: its nodeSelector is added to the pod's (a conflict rejects
the pod) and its tolerations are added to the pod's
(https://kubernetes.io/docs/concepts/containers/runtime-class/#scheduling).
"""

from __future__ import annotations

from ansible_collections.k3s_gpu.node.plugins.module_utils import _taints


def tolerations_for(taints):
    """Tolerations for the given taints (strings ``key[=value]:Effect`` or dicts): one per key and
    effect, operator Exists, so that any value of the key is tolerated (the GPU Operator's own
    DaemonSets tolerate nvidia.com/gpu the same way). Raises _taints.TaintError on a malformed taint."""
    out = []
    for taint in _taints.parse_taints(list(taints or [])):
        toleration = {"key": taint["key"], "operator": "Exists", "effect": taint["effect"]}
        if toleration not in out:
            out.append(toleration)
    return out


def tolerates(tolerations, taint):
    """Whether one of `tolerations` (API form) tolerates `taint` ({key, value, effect}), by the
    rules of k8s.io/api/core/v1 Toleration.ToleratesTaint: an empty effect matches every effect,
    an empty key with Exists matches every key, Exists ignores the value, Equal (the default)
    compares it."""
    for tol in tolerations or []:
        effect = tol.get("effect") or ""
        if effect and effect != taint["effect"]:
            continue
        key = tol.get("key") or ""
        operator = tol.get("operator") or "Equal"
        if not key and operator == "Exists":
            return True
        if key != taint["key"]:
            continue
        if operator == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def selector_mismatch(selector, labels):
    """The ``key=value`` pairs of `selector` that `labels` lack (empty: the node matches)."""
    return ["%s=%s" % (k, v) for k, v in sorted((selector or {}).items()) if (labels or {}).get(k) != v]
