# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read, wait for and patch a Node through kubernetes.core's dynamic client.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.
"""

from __future__ import annotations

import json
import time

from ansible_collections.k3s_gpu.node.plugins.module_utils import _taints

try:
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError
    from urllib3.exceptions import HTTPError as Urllib3HTTPError

    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

    class DynamicApiError(Exception):  # the names must exist for the except clauses below
        status = None
        reason = None
        body = None

    class NotFoundError(DynamicApiError):
        pass

    class ConflictError(DynamicApiError):
        pass

    class Urllib3HTTPError(Exception):
        pass


class NodeApiError(Exception):
    """An API failure, described for a person (msg) with the HTTP status when there is one."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status


# A node name is a DNS subdomain (RFC 1123, lowercase, at most 253 characters): the rule of
# k8s.io/apimachinery/pkg/util/validation IsDNS1123Subdomain, which the API server applies to
# Node names (ValidateNodeName).
_DNS1123_SUBDOMAIN_MAX = 253


class NodeNameError(ValueError):
    """No node name can be worked out, or the one worked out is not a valid node name."""


def k3s_node_name(name=None, hostname=None):
    """The node name K3s registers: ``node-name`` when set, else the host name, lowercased.

    K3s (https://github.com/k3s-io/k3s, pkg/util/net.go, GetHostnameAndIPs, called from
    pkg/agent/config/config.go with the agent's --node-name / K3S_NODE_NAME)::

        if name == "" { hostname, err := os.Hostname(); ...; name = hostname }
        // Use lower case hostname to comply with kubernetes constraint
        name = strings.ToLower(name)

    os.Hostname() is the kernel's host name (``uname -n``; Ansible's ``ansible_facts.nodename``),
    which may be a fully qualified name; it is neither Ansible's ``ansible_facts.hostname`` (cut
    at the first dot) nor the inventory name. ``--with-node-id`` (a random suffix) cannot be
    resolved from here. Returns None when neither is set.
    """
    chosen = name.strip() if isinstance(name, str) else name
    if not chosen:
        chosen = hostname.strip() if isinstance(hostname, str) else hostname
    if not chosen:
        return None
    return chosen.lower()


def node_name_problem(name):
    """Why `name` is not a valid Kubernetes node name, or None when it is."""
    if not isinstance(name, str) or not name:
        return "it is empty"
    if len(name) > _DNS1123_SUBDOMAIN_MAX:
        return "it is longer than %d characters" % _DNS1123_SUBDOMAIN_MAX
    if not _taints.DNS1123_SUBDOMAIN_RE.match(name):
        return ("it must be a lowercase DNS name: labels of a-z, 0-9 and '-', starting and ending with a "
                "letter or digit, separated by '.'")
    return None


def resolve_node_name(name=None, hostname=None):
    """k3s_node_name(), checked: the node name, or NodeNameError saying what to set."""
    resolved = k3s_node_name(name, hostname)
    if resolved is None:
        raise NodeNameError(
            "no node name: neither a node name (K3s node-name) nor the host's kernel host name "
            "(uname -n, ansible_facts.nodename) was given; gather the facts of the node (setup, "
            "gather_subset min) or set the node name")
    problem = node_name_problem(resolved)
    if problem:
        source = "from node-name %r" % name if (isinstance(name, str) and name.strip()) \
            else "from the host name %r, uname -n" % hostname
        raise NodeNameError("node name %r (%s, lowercased as K3s does) is not a valid Kubernetes node name: %s. "
                            "Set the node name (K3s node-name) to a valid one" % (resolved, source, problem))
    return resolved


def _api_message(exc):
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
            if isinstance(data, dict) and data.get("message"):
                return data["message"]
        except (ValueError, AttributeError):
            pass
    return getattr(exc, "reason", None) or str(exc)


def describe(exc, action, host=None):
    """A NodeApiError naming what failed and what to check, from any client exception."""
    where = " at %s" % host if host else ""
    status = getattr(exc, "status", None)
    if isinstance(exc, DynamicApiError) or status:
        detail = _api_message(exc)
        if status == 401:
            return NodeApiError(
                "%s: the Kubernetes API%s refused the credentials (401 Unauthorized): %s. Check kubeconfig, "
                "context, api_key or the client certificate." % (action, where, detail), status)
        if status == 403:
            return NodeApiError(
                "%s: forbidden by the Kubernetes API%s (403): %s. The user needs get and patch on nodes "
                "(cluster scope), e.g. the cluster-admin role or a ClusterRole granting them."
                % (action, where, detail), status)
        return NodeApiError("%s: the Kubernetes API%s answered %s: %s" % (action, where, status, detail), status)
    if isinstance(exc, Urllib3HTTPError) or isinstance(exc, OSError):
        return NodeApiError(
            "%s: cannot reach the Kubernetes API%s: %s. Check that the server is up and that host/kubeconfig "
            "point to it." % (action, where, exc))
    return NodeApiError("%s: %s: %s" % (action, type(exc).__name__, exc))


def change_node(module, node_name, run, wanted):
    """The end of k3s_taint's and k3s_label's main(): connect with kubernetes.core's auth options,
    call run(module, nodes, node_name, wanted) and exit with its result; every failure becomes a
    clean fail_json naming the node."""
    # Imported here: AnsibleK8SModule has already failed cleanly when the kubernetes library is missing.
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

    try:
        nodes = get_api_client(module=module).resource("Node", "v1")
    except CoreException as exc:
        module.fail_json(msg="could not create the Kubernetes API client: %s" % exc, node=node_name)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=describe(exc, "connecting to the Kubernetes API").msg, node=node_name)
    try:
        result = run(module, nodes, node_name, wanted)
    except NodeApiError as exc:
        module.fail_json(msg=exc.msg, status=exc.status, node=node_name)
    module.exit_json(**result)


def get_node(nodes, name):
    """The Node as a dict (camelCase JSON), or None when it does not exist.

    `nodes` is the dynamic client's v1 Node resource (``client.resources.get(api_version="v1",
    kind="Node")``). Raises NodeApiError on any other failure.
    """
    try:
        return nodes.get(name=name).to_dict()
    except NotFoundError:
        return None
    except Exception as exc:  # pylint: disable=broad-except
        raise describe(exc, "reading node %s" % name, _host(nodes))


def wait_for_node(nodes, name, timeout, sleep=2.0, monotonic=time.monotonic, sleeper=time.sleep):
    """Poll until node `name` exists or `timeout` seconds pass.

    Returns (node or None, seconds waited). The node is read at least once.
    """
    start = monotonic()
    while True:
        node = get_node(nodes, name)
        waited = monotonic() - start
        if node is not None or waited >= timeout:
            return node, round(waited, 1)
        sleeper(min(sleep, max(0.0, timeout - waited)))


def patch_taints(nodes, name, taints, resource_version, dry_run=False):
    """Replace ``spec.taints`` with a JSON merge patch guarded by `resource_version`.

    The API server answers 409 Conflict (ConflictError, re-raised as is) when the node
    changed since it was read. Returns the patched Node as a dict.
    """
    body = {"metadata": {"resourceVersion": resource_version}, "spec": {"taints": taints}}
    kwargs = {"name": name, "content_type": "application/merge-patch+json"}
    if dry_run:
        kwargs["dry_run"] = "All"
    try:
        return nodes.patch(body=body, **kwargs).to_dict()
    except ConflictError:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        raise describe(exc, "patching the taints of node %s" % name, _host(nodes))


def patch_labels(nodes, name, labels, dry_run=False):
    """Set (a string) or remove (None) the given ``metadata.labels`` keys with a JSON merge patch.

    A merge patch touches only the keys it names, so the kubelet's and the controllers' own
    labels, written in between, are kept; no resourceVersion guard is needed. Returns the
    patched Node as a dict.
    """
    kwargs = {"name": name, "content_type": "application/merge-patch+json"}
    if dry_run:
        kwargs["dry_run"] = "All"
    try:
        return nodes.patch(body={"metadata": {"labels": labels}}, **kwargs).to_dict()
    except Exception as exc:  # pylint: disable=broad-except
        raise describe(exc, "patching the labels of node %s" % name, _host(nodes))


def _host(nodes):
    try:
        return nodes.client.client.configuration.host
    except AttributeError:
        return None
