"""Parts of kube-controller-manager a test may need, done on demand.

The test cluster has no kube-controller-manager. Where a test depends on what one
of its controllers does, it calls the function here, which makes the same API
calls the controller makes. (The node lifecycle controller's taints are in
:meth:`kube.kubelet.FakeKubelet.sync_condition_taints`.)
"""

from __future__ import annotations


def finalize_namespace(api_client, name: str) -> bool:
    """The namespace controller's work for a namespace being deleted.

    A deleted namespace stays ``Terminating`` until its controller deletes every
    namespaced object in it and then removes the ``kubernetes`` finalizer through
    ``namespaces/<name>/finalize``. Call this after deleting a namespace (for
    example from ``kubernetes.core.k8s state=absent`` without ``wait``).
    Returns False if the namespace is not terminating (nothing done).
    """
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
    from kubernetes.dynamic import DynamicClient  # pylint: disable=import-outside-toplevel

    core = client.CoreV1Api(api_client)
    try:
        ns = core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    if ns.metadata.deletion_timestamp is None:
        return False

    dyn = DynamicClient(api_client)
    # Every namespaced kind that can be listed and deleted, like the controller's
    # discovery-driven deleter (preferred versions only, no subresources).
    for group in client.ApisApi(api_client).get_api_versions().groups:
        _delete_all(dyn, group.preferred_version.group_version, name)
    _delete_all(dyn, "v1", name)

    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
            "spec": {"finalizers": [f for f in (ns.spec.finalizers or []) if f != "kubernetes"]}}
    core.replace_namespace_finalize(name, body)
    return True


def _delete_all(dyn, group_version: str, namespace: str) -> None:
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    base = "/api/v1" if group_version == "v1" else "/apis/" + group_version
    for res in dyn.request("GET", base).resources:
        if not res.namespaced or "/" in res.name or "deletecollection" not in (res.verbs or []):
            continue
        # Grace period 0: with no kubelet, nobody would confirm a pod's graceful
        # deletion (a kubelet deletes the pod with grace 0 once its containers stop).
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "propagationPolicy": "Background"}
        try:
            dyn.request("DELETE", "%s/namespaces/%s/%s" % (base, namespace, res.name), body=body)
        except ApiException as exc:
            if exc.status not in (404, 405):
                raise
