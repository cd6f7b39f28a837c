# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The workload_not_ready filter: kubectl rollout status's rule (and kubernetes.core's waiter's),
the one the gpu_operator and gpu_workspace roles both wait on."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.filter import gpu_workspace
from ansible_collections.k3s_gpu.node.plugins.filter.workload_not_ready import FilterModule, workload_not_ready
from ansible_collections.k3s_gpu.node.plugins.module_utils import _workload, _workspace


def deployment(name="gpu-operator", generation=1, observed=1, replicas=1, total=None, **status):
    """A Deployment wanting `replicas`, all rolled out; `total` pods in all (old ones included)."""
    st = {"observedGeneration": observed, "replicas": replicas if total is None else total, "updatedReplicas": replicas,
          "readyReplicas": replicas, "availableReplicas": replicas}
    st.update(status)
    return {"metadata": {"name": name, "generation": generation}, "spec": {"replicas": replicas}, "status": st}


def daemonset(name="nvidia-device-plugin-daemonset", generation=1, observed=1, n=1, **status):
    st = {"observedGeneration": observed, "desiredNumberScheduled": n, "currentNumberScheduled": n,
          "updatedNumberScheduled": n, "numberReady": n, "numberAvailable": n}
    st.update(status)
    return {"metadata": {"name": name, "generation": generation}, "status": st}


def test_ready_objects():
    assert workload_not_ready([deployment()], "Deployment", ["gpu-operator"]) == []
    assert workload_not_ready([daemonset(n=2)], "DaemonSet", ["nvidia-device-plugin-daemonset"], 2) == []
    assert workload_not_ready([deployment("a"), deployment("b")], "Deployment") == []  # every object given


@pytest.mark.parametrize("objects, names, expected", [
    ([], ["gpu-operator"], "Deployment gpu-operator: not created yet"),
    ([deployment(generation=2)], None, "Deployment gpu-operator: generation 2 not observed yet (observed 1)"),
    ([deployment(observed=0)], None, "Deployment gpu-operator: generation 1 not observed yet (observed 0)"),
    ([{"metadata": {"name": "gpu-operator", "generation": 1}, "spec": {}}], None,
     "Deployment gpu-operator: generation 1 not observed yet (observed 0)"),
    ([deployment(availableReplicas=0)], None, "Deployment gpu-operator: 0/1 replicas available, 1 updated, 1 ready"),
    ([deployment(updatedReplicas=0)], None, "Deployment gpu-operator: 1/1 replicas available, 0 updated, 1 ready"),
    ([deployment(readyReplicas=0)], None, "Deployment gpu-operator: 1/1 replicas available, 1 updated, 0 ready"),
    ([deployment(total=2)], None,
     "Deployment gpu-operator: 1 replicas of an older generation still running"),
])
def test_deployment_not_ready(objects, names, expected):
    assert workload_not_ready(objects, "Deployment", names) == [expected]


def test_deployment_of_zero_replicas_is_ready():
    assert workload_not_ready([deployment(replicas=0)], "Deployment") == []
    no_replicas = deployment()
    del no_replicas["spec"]["replicas"]  # the API's default is 1
    assert _workload.deployment_ready(no_replicas)
    no_replicas["status"]["availableReplicas"] = 0
    assert not _workload.deployment_ready(no_replicas)


@pytest.mark.parametrize("objects, min_nodes, expected", [
    ([], 1, "DaemonSet nvidia-device-plugin-daemonset: not created yet"),
    ([daemonset(generation=3, observed=2)], 1,
     "DaemonSet nvidia-device-plugin-daemonset: generation 3 not observed yet (observed 2)"),
    ([daemonset(n=0)], 1, "DaemonSet nvidia-device-plugin-daemonset: scheduled on 0 node(s), expected at least 1"),
    ([daemonset(n=1)], 2, "DaemonSet nvidia-device-plugin-daemonset: scheduled on 1 node(s), expected at least 2"),
    ([daemonset(n=2, numberReady=1)], 2,
     "DaemonSet nvidia-device-plugin-daemonset: 1/2 pods ready, 2 updated, 2 available"),
    ([daemonset(n=2, updatedNumberScheduled=1)], 2,
     "DaemonSet nvidia-device-plugin-daemonset: 2/2 pods ready, 1 updated, 2 available"),
    ([daemonset(n=2, numberAvailable=1)], 0,
     "DaemonSet nvidia-device-plugin-daemonset: 2/2 pods ready, 2 updated, 1 available"),
])
def test_daemonset_not_ready(objects, min_nodes, expected):
    assert workload_not_ready(objects, "DaemonSet", ["nvidia-device-plugin-daemonset"], min_nodes) == [expected]


def test_one_reason_per_object_in_the_order_asked():
    objects = [daemonset("b", n=0), daemonset("a")]
    assert workload_not_ready(objects, "DaemonSet", ["c", "a", "b"], 1) == [
        "DaemonSet c: not created yet", "DaemonSet b: scheduled on 0 node(s), expected at least 1"]


def test_the_workspace_role_waits_on_the_same_rule():
    # gpu_workspace_ready (the gpu_workspace role's wait) is this rule, not a copy of it.
    assert _workspace.deployment_ready is _workload.deployment_ready
    for dep in (deployment(), deployment(observed=0), deployment(readyReplicas=0), deployment(total=2)):
        assert gpu_workspace.gpu_workspace_ready(dep) is (workload_not_ready([dep], "Deployment") == [])


@pytest.mark.parametrize("args, message", [
    (([], "StatefulSet"), "kind must be one of Deployment, DaemonSet, not 'StatefulSet'"),
    (("x", "Deployment"), "the input must be a list of objects"),
    (([], "Deployment", "gpu-operator"), "names must be a list of names"),
    (([], "DaemonSet", None, "two"), "min_nodes must be a number"),
])
def test_refuses_bad_arguments(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        workload_not_ready(*args)


def test_registered_under_its_name():
    assert FilterModule().filters() == {"workload_not_ready": workload_not_ready}
