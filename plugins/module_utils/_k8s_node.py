# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The node modules' (k3s_taint, k3s_label) shared parts: their options and module, the K3s node
name, and reading, waiting for and patching a Node through kubernetes.core's dynamic client.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.
"""

from __future__ import annotations

import collections
import copy
import operator
import time

from ansible_collections.k3s_gpu.node.plugins.module_utils import _labels, _taints
from ansible_collections.k3s_gpu.node.plugins.module_utils._kube_client import (
    ApiError,
    auth_argument_spec,
    ConflictError,
    connect,
    describe,
    host_of,
    kube_module,
    NotFoundError,
)

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


# The options every node module shares, documented once in the doc fragment k3s_gpu.node.k3s_node.
NODE_OPTIONS = dict(
    name=dict(type="str", aliases=["node_name"]),
    hostname=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    wait_timeout=dict(type="int", default=120),
    wait_sleep=dict(type="int", default=2),
)


def node_module(**options):
    """The module of a node module (k3s_taint, k3s_label): kubernetes.core's authentication options,
    NODE_OPTIONS and the module's own `options`, with check mode.

    Returns (module, node name); a node name that cannot be worked out, or negative waits, fail
    here, before the API is contacted.
    """
    spec = auth_argument_spec(**copy.deepcopy(NODE_OPTIONS))
    spec.update(options)
    module = kube_module(spec, required_one_of=[("name", "hostname")])
    params = module.params
    try:
        node_name = resolve_node_name(params["name"], params["hostname"])
    except NodeNameError as exc:
        module.fail_json(msg=str(exc))
    if params["wait_timeout"] < 0 or params["wait_sleep"] < 0:
        module.fail_json(msg="wait_timeout and wait_sleep must be 0 or more seconds")
    return module, node_name


def change_node(module, node_name, run, wanted):
    """The end of a node module's main(): connect with kubernetes.core's auth options, call
    run(module, nodes, node_name, wanted) and exit with its result; every failure becomes a
    clean fail_json naming the node."""
    nodes = connect(module, resource=("Node", "v1"), node=node_name)
    try:
        result = run(module, nodes, node_name, wanted)
    except ApiError as exc:
        module.fail_json(msg=exc.msg, status=exc.status, node=node_name)
    module.exit_json(**result)


def registered_node(module, nodes, node_name, result):
    """The node, as the options of NODE_OPTIONS say to wait for it; sets result["waited"].

    In check mode the node is read once, not waited for: a missing node is None, with a warning
    (the caller reports the change it would make once the node exists). In a real run a node that
    does not register within wait_timeout fails the module, naming the nodes that did register.
    """
    params = module.params
    timeout = 0 if module.check_mode else max(0, params["wait_timeout"])
    node, result["waited"] = wait_for_node(nodes, node_name, timeout, sleep=max(1, params["wait_sleep"]))
    if node is not None:
        return node
    if module.check_mode:
        module.warn("node %s is not registered (yet); in a real run the module waits up to %ss for it"
                    % (node_name, params["wait_timeout"]))
        return None
    known = registered_names(nodes)
    hint = ""
    if known is not None:
        hint = " Registered nodes: %s." % (", ".join(known) if known else "none")
    module.fail_json(
        msg="node %s is not registered after %ss (wait_timeout). Check that the K3s agent runs on that host "
            "(systemctl status k3s-agent) and that name/hostname give its node name (kubectl get nodes)."
            "%s" % (node_name, params["wait_timeout"], hint),
        **result)
    return None  # not reached: fail_json exits


# What a node module manages, as its result reports it: the kind in the diff header, when two sets are
# the same, the form returned, the changes, and the text of --diff.
NodeItems = collections.namedtuple("NodeItems", "kind equal public changes diff_text")
LABELS = NodeItems("labels", operator.eq, dict, _labels.changes, _labels.diff_text)
TAINTS = NodeItems("taints", _taints.taints_equal, _taints.public, _taints.changes, _taints.diff_text)


def node_change(module, nodes, node_name, items, change):
    """A node module's run: wait for the node (registered_node), call change(node, result) and return
    the result, reporting `items` (LABELS or TAINTS) as NodeItems says.

    change() makes the change (a server-side dry run in check mode) and returns the items before and
    after it. Its node is None in check mode when the node is not registered yet: it then returns the
    change it would make to a node without any (before empty). `result` is for its fail_json.
    """
    result = dict(changed=False, node=node_name, waited=0.0)
    node = registered_node(module, nodes, node_name, result)
    before, after = change(node, result)
    result.update(changed=not items.equal(before, after), before=items.public(before),
                  after=items.public(after), changes=items.changes(before, after))
    return add_diff(module, result, "node/%s %s" % (node_name, items.kind), items.diff_text(before),
                    items.diff_text(after))


def add_diff(module, result, header, before, after):
    """With --diff, the text before and after under one header (``node/NAME taints``)."""
    if module._diff:
        result["diff"] = dict(before=before, after=after, before_header=header, after_header=header)
    return result


def registered_names(nodes, limit=10):
    """Up to `limit` node names, for the message of a missing node (None when they cannot be read)."""
    try:
        items = nodes.get().to_dict().get("items") or []
    except Exception:  # pylint: disable=broad-except
        return None
    return [i["metadata"]["name"] for i in items][:limit]


def get_node(nodes, name):
    """The Node as a dict (camelCase JSON), or None when it does not exist.

    `nodes` is the dynamic client's v1 Node resource (``client.resources.get(api_version="v1",
    kind="Node")``). Raises ApiError on any other failure.
    """
    try:
        return nodes.get(name=name).to_dict()
    except NotFoundError:
        return None
    except Exception as exc:  # pylint: disable=broad-except
        raise describe(exc, "reading node %s" % name, host_of(nodes))


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
        raise describe(exc, "patching the taints of node %s" % name, host_of(nodes))


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
        raise describe(exc, "patching the labels of node %s" % name, host_of(nodes))
