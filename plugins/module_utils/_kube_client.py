# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Kubernetes client of the collection's API modules, in one place: the guarded import of the
kubernetes library, kubernetes.core's authentication options, the API client built from them, and
the description of a client failure for a person.

Built on kubernetes.core's module_utils (args_common.AUTH_ARG_SPEC, k8s.core.AnsibleK8SModule,
k8s.client.get_api_client), as its own modules (k8s_taint, k8s_info) use them.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.
"""

from __future__ import annotations

import copy
import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

try:
    from kubernetes.client.rest import ApiException
    # ConflictError and NotFoundError are for the callers (_k8s_node.py): one guarded import of the library.
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError  # pylint: disable=unused-import
    from urllib3.exceptions import HTTPError as Urllib3HTTPError

    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

    class ApiException(Exception):  # the names must exist for the except clauses of the callers
        status = None
        reason = None
        body = None

    class DynamicApiError(ApiException):
        pass

    class NotFoundError(DynamicApiError):
        pass

    class ConflictError(DynamicApiError):
        pass

    class Urllib3HTTPError(Exception):
        pass


class ApiError(Exception):
    """An API failure, described for a person (msg) with the HTTP status when there is one."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status


def auth_argument_spec(**options):
    """kubernetes.core's authentication options (doc fragment kubernetes.core.k8s_auth_options), a
    copy, with the module's own `options` added."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(options)
    return spec


def kube_module(argument_spec, **kwargs):
    """An AnsibleK8SModule with check mode: it fails cleanly (missing_required_lib) when the
    kubernetes library is missing, before the module does anything."""
    return AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argument_spec,
                            supports_check_mode=True, **kwargs)


def api_client(module):
    """kubernetes.core's K8SClient from the module's authentication options.

    An AnsibleK8SModule is passed itself (get_api_client() then checks library versions with its
    requires()); a plain AnsibleModule, whose kubernetes library is optional, passes its params.
    Raises whatever the client raises (kubernetes.core's CoreException for a bad configuration).
    """
    # Imported here: the caller has made sure that the kubernetes library is there.
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

    if isinstance(module, AnsibleK8SModule):
        return get_api_client(module=module)
    return get_api_client(**module.params)


def connect(module, resource=None, **fail_extra):
    """api_client(), or with `resource` (kind, api_version) that resource of its dynamic client; on
    any failure a clean fail_json (with `fail_extra` in the result) saying why."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

    try:
        client = api_client(module)
        return client.resource(*resource) if resource else client
    except CoreException as exc:
        module.fail_json(msg="could not create the Kubernetes API client: %s" % exc, **fail_extra)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=describe(exc, "connecting to the Kubernetes API").msg, **fail_extra)


def core_v1(client):
    """A kubernetes.client.CoreV1Api on the connection of kubernetes.core's K8SClient
    (K8SClient -> K8SDynamicClient -> kubernetes.client.ApiClient)."""
    from kubernetes import client as k8s_client  # the caller has made sure that the library is there

    return k8s_client.CoreV1Api(client.client.client)


def body_message(exc):
    """The ``message`` of the API server's JSON answer in an ApiException's body, or None."""
    body = getattr(exc, "body", None)
    if not body:
        return None
    try:
        data = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (ValueError, AttributeError, TypeError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and data.get("message"):
        return data["message"]
    return None


def host_of(resource):
    """The API server a dynamic client resource talks to, or None."""
    try:
        return resource.client.client.configuration.host
    except AttributeError:
        return None


def describe(exc, action, host=None):
    """An ApiError naming what failed and what to check, from any client exception."""
    where = " at %s" % host if host else ""
    status = getattr(exc, "status", None)
    if isinstance(exc, DynamicApiError) or status:
        detail = body_message(exc) or getattr(exc, "reason", None) or str(exc)
        if status == 401:
            return ApiError(
                "%s: the Kubernetes API%s refused the credentials (401 Unauthorized): %s. Check kubeconfig, "
                "context, api_key or the client certificate." % (action, where, detail), status)
        if status == 403:
            return ApiError(
                "%s: forbidden by the Kubernetes API%s (403): %s. The user needs get and patch on nodes "
                "(cluster scope), e.g. the cluster-admin role or a ClusterRole granting them."
                % (action, where, detail), status)
        return ApiError("%s: the Kubernetes API%s answered %s: %s" % (action, where, status, detail), status)
    if isinstance(exc, (Urllib3HTTPError, OSError)):
        return ApiError(
            "%s: cannot reach the Kubernetes API%s: %s. Check that the server is up and that host/kubeconfig "
            "point to it." % (action, where, exc))
    return ApiError("%s: %s: %s" % (action, type(exc).__name__, exc))
