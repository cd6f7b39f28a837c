# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_kube_client: the one home of the API modules' client set-up and of the description of a client
failure, with the kubernetes library's own exception classes."""

from __future__ import annotations

import json

from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
from urllib3.exceptions import MaxRetryError

from ansible_collections.k3s_gpu.node.plugins.module_utils import _gpu_pod, _k8s_node, _kube_client
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC


def _api_exception(status, reason, message=None):
    exc = ApiException(status=status, reason=reason)
    if message is not None:
        exc.body = json.dumps({"kind": "Status", "message": message}).encode()
    return exc


def test_auth_argument_spec_is_a_copy_with_the_modules_options():
    spec = _kube_client.auth_argument_spec(extra=dict(type="str"))
    assert set(spec) == set(AUTH_ARG_SPEC) | {"extra"}
    spec["kubeconfig"]["type"] = "changed"
    assert AUTH_ARG_SPEC["kubeconfig"]["type"] != "changed"


def test_body_message_reads_the_api_servers_status():
    assert _kube_client.body_message(_api_exception(403, "Forbidden", "nodes is forbidden")) == "nodes is forbidden"
    assert _kube_client.body_message(_api_exception(500, "Oops")) is None
    exc = ApiException(status=500, reason="Oops")
    exc.body = b"not json"
    assert _kube_client.body_message(exc) is None


def test_describe_names_the_action_the_server_and_what_to_check():
    forbidden = DynamicApiError(_api_exception(403, "Forbidden", 'nodes "n1" is forbidden'))
    err = _kube_client.describe(forbidden, "patching node n1", "https://api:6443")
    assert err.status == 403
    assert err.msg.startswith('patching node n1: forbidden by the Kubernetes API at https://api:6443 (403): '
                              'nodes "n1" is forbidden.')
    unauthorized = _kube_client.describe(_api_exception(401, "Unauthorized"), "reading node n1")
    assert "refused the credentials (401 Unauthorized): Unauthorized" in unauthorized.msg
    missing = _kube_client.describe(NotFoundError(_api_exception(404, "Not Found")), "reading x")
    assert missing.msg == "reading x: the Kubernetes API answered 404: Not Found" and missing.status == 404
    down = _kube_client.describe(MaxRetryError(None, "/api", "refused"), "connecting", "https://127.0.0.1:1")
    assert down.msg.startswith("connecting: cannot reach the Kubernetes API at https://127.0.0.1:1:")
    assert down.status is None
    other = _kube_client.describe(KeyError("x"), "checking")
    assert other.msg == "checking: KeyError: 'x'"


def test_the_pod_and_node_code_use_the_one_client_module():
    # One guarded import of the kubernetes library, one error type: no copies in the callers.
    assert _gpu_pod.ApiException is _kube_client.ApiException is ApiException
    assert _k8s_node.ApiError is _kube_client.ApiError
    assert _gpu_pod.api_error(_api_exception(409, "Conflict", "already exists")) == "409 Conflict: already exists"


def test_pod_options_are_one_definition_with_the_old_names_as_aliases():
    options = _gpu_pod.pod_options()
    assert options["pod_image"]["default"] == _gpu_pod.DEFAULT_IMAGE
    assert options["pod_namespace"] == dict(type="str", default="default", aliases=["namespace"])
    assert options["pod_runtime_class"] == dict(type="str", default="nvidia", aliases=["runtime_class"])
    assert options is not _gpu_pod.pod_options()  # a fresh spec per module
