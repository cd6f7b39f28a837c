# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rules of the gpu_workspace role: its inputs checked, its Kubernetes objects built, and
why a workspace is not ready, in plain functions (the filter plugin gpu_workspace exposes them).

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

Passwords never pass through this file except in secret_manifest(), whose result the role only
hands to no_log tasks; every other function works on specs that hold no password.
"""

from __future__ import annotations

import re

# A workspace is ready when its Deployment is rolled out: the rule the gpu_operator role waits on
# too (kubectl rollout status's), in one place.
from ansible_collections.k3s_gpu.node.plugins.module_utils._workload import deployment_ready

MANAGED_BY = "k3s_gpu.node.gpu_workspace"
APP_NAME = "gpu-workspace"
CONTAINER = "code-server"
PASSWORD_KEY = "password"
# Pod template annotation: the resourceVersion of the password Secret. code-server reads
# PASSWORD from the environment when it starts, so a new password needs a new pod; the
# annotation changes only when the Secret did, which rolls the Deployment then and only then.
PASSWORD_VERSION_ANNOTATION = "k3s-gpu.node/password-version"
STATES = ("present", "absent")
KEYS = ("name", "namespace", "state", "gpus", "image", "node_selector", "home_size", "storage_class",
        "ingress_host", "password", "generate_password", "remove_home", "resources")

# Names: a workspace name becomes a Service name, so it is an RFC 1035 label (the API server's
# rule for Services: lowercase letters, digits and '-', starting with a letter, at most 63).
# Namespaces are RFC 1123 labels (may start with a digit).
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# The longest suffix the role appends to a workspace name ("-password"); the name with it must
# stay a valid object name, and pods get a 16-character suffix from the Deployment.
NAME_MAX = 40
# resource.Quantity, as the API server parses it (k8s.io/apimachinery/pkg/api/resource).
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")
_WILDCARD_HOST = re.compile(r"^\*\.")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _to_int(value):
    """An int from an int or a decimal string (inventories often quote numbers); else None."""
    if _is_int(value):
        return value
    if isinstance(value, str) and re.match(r"^[+-]?[0-9]+$", value.strip()):
        return int(value.strip())
    return None


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def resolve(workspaces, defaults, passwords=None):
    """Check the workspaces and fill in the role's defaults.

    `workspaces` is gpu_workspace_workspaces (a list of dicts); `defaults` holds the role-wide
    values (state, gpus, image, namespace_prefix, node_selector, home_size, storage_class,
    generate_password, remove_home, resources); `passwords` is gpu_workspace_passwords (a dict
    name -> password, e.g. injected by an AWX credential). Only whether a password is set is
    read from it and from each workspace.

    Returns {"specs": [...], "problems": [...]}: the specs hold no password (``password_source``
    says where it comes from: given or generate); each problem names the workspace, the input
    and what to set.
    """
    passwords = passwords if isinstance(passwords, dict) else {}
    problems = []
    specs = []
    if not isinstance(workspaces, list):
        return {"specs": [], "problems": ["gpu_workspace_workspaces must be a list of workspaces "
                                          "(dictionaries with at least a name), got %s" % type(workspaces).__name__]}
    seen = {}
    for index, ws in enumerate(workspaces):
        where = "gpu_workspace_workspaces[%d]" % index
        if not isinstance(ws, dict):
            problems.append("%s must be a dictionary with at least a name, got %s" % (where, type(ws).__name__))
            continue
        name = ws.get("name")
        if isinstance(name, str) and name:
            where = "workspace %r (%s)" % (name, where)
        unknown = sorted(str(k) for k in ws if k not in KEYS)
        if unknown:
            problems.append("%s: unknown keys %s; the keys are %s" % (where, ", ".join(unknown), ", ".join(KEYS)))
        if not isinstance(name, str) or not name:
            problems.append("%s has no name: set name to a lowercase DNS label such as 'alice'" % where)
            continue
        name_ok = len(name) <= NAME_MAX and bool(_DNS1035_LABEL.match(name))
        if not name_ok:
            problems.append(
                "%s: the name must be a lowercase DNS label of at most %d characters (a-z, 0-9 and '-', "
                "starting with a letter, ending with a letter or digit), since it names the workspace's "
                "Service, Deployment, Secret and PersistentVolumeClaim" % (where, NAME_MAX))
        spec = {"name": name}

        state = ws.get("state", defaults.get("state", "present"))
        if state not in STATES:
            problems.append("%s: state must be one of: present, absent (got %r)" % (where, state))
        spec["state"] = state

        namespace = ws.get("namespace") or "%s%s" % (defaults.get("namespace_prefix", ""), name)
        # A namespace made from an invalid name is not reported twice.
        if (name_ok or ws.get("namespace")) and (
                not isinstance(namespace, str) or len(namespace) > 63 or not _DNS1123_LABEL.match(namespace)):
            problems.append(
                "%s: namespace %r is not a valid namespace name (a lowercase DNS label of at most 63 "
                "characters): set the workspace's namespace, or a shorter gpu_workspace_namespace_prefix"
                % (where, namespace))
        spec["namespace"] = namespace
        if namespace in seen.get(name, ()):
            problems.append("%s: the workspace %r appears twice in namespace %s: each workspace needs its own "
                            "name or namespace" % (where, name, namespace))
        seen.setdefault(name, set()).add(namespace)

        gpus_in = ws.get("gpus", defaults.get("gpus", 1))
        gpus = _to_int(gpus_in)
        if gpus is None or gpus < 0:
            problems.append(
                "%s: gpus must be a whole number of GPUs, 0 or more (0 gives a CPU-only workspace), got %r"
                % (where, gpus_in))
            gpus = 0
        spec["gpus"] = gpus

        image = ws.get("image") or defaults.get("image") or ""
        if not isinstance(image, str) or not image.strip() or re.search(r"\s", image):
            problems.append(
                "%s: no image: set gpu_workspace_image (or the workspace's image) to the code-server + "
                "PyTorch image built from roles/gpu_workspace/files/Containerfile and pushed to your "
                "registry" % where)
        spec["image"] = image

        selector = ws.get("node_selector", defaults.get("node_selector") or {})
        if not isinstance(selector, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in selector.items()):
            problems.append("%s: node_selector must map label keys to string values (quote true, false "
                            "and numbers), got %r" % (where, selector))
            selector = {}
        spec["node_selector"] = selector

        for key in ("home_size",):
            size = str(ws.get(key, defaults.get(key, "")))
            if not _QUANTITY.match(size):
                problems.append("%s: %s must be a Kubernetes quantity such as 50Gi, got %r" % (where, key, size))
            spec[key] = size
        storage_class = ws.get("storage_class", defaults.get("storage_class", "")) or ""
        if storage_class and not _DNS1123_SUBDOMAIN.match(str(storage_class)):
            problems.append("%s: storage_class %r is not a StorageClass name" % (where, storage_class))
        spec["storage_class"] = str(storage_class)

        host = ws.get("ingress_host") or ""
        if host and (not isinstance(host, str)
                     or not _DNS1123_SUBDOMAIN.match(_WILDCARD_HOST.sub("", host))):
            problems.append("%s: ingress_host %r must be a lowercase DNS name such as "
                            "alice.ws.example.org (no scheme, port or path)" % (where, host))
        spec["ingress_host"] = host

        resources = ws.get("resources", defaults.get("resources") or {})
        if not isinstance(resources, dict) or not set(resources) <= {"requests", "limits"}:
            problems.append("%s: resources must be a dictionary with requests and/or limits" % where)
            resources = {}
        spec["resources"] = resources

        spec["remove_home"] = _truthy(ws.get("remove_home", defaults.get("remove_home", False)))

        given = ws.get("password")
        if given in (None, ""):
            given = passwords.get(name)
        has_password = given not in (None, "")
        generate = _truthy(ws.get("generate_password", defaults.get("generate_password", False)))
        if state == "present":
            if has_password and isinstance(given, str) and given.startswith("CHANGE-ME"):
                problems.append(
                    "%s: the password is the example inventory's placeholder: set it from a vault "
                    "(ansible-vault encrypt_string) or an AWX credential" % where)
            elif has_password and _truthy(ws.get("generate_password", False)):
                problems.append(
                    "%s: both a password and generate_password: true; keep one (the password from a vault "
                    "or an AWX credential, or a password generated once and kept in the Secret)" % where)
            elif not has_password and not generate:
                problems.append(
                    "%s has no password source: set its password (from a vault, or gpu_workspace_passwords "
                    "from an AWX credential), or generate_password: true to generate one once and keep it in "
                    "the workspace's Secret" % where)
        spec["password_source"] = "given" if has_password else "generate"
        specs.append(spec)
    return {"specs": specs, "problems": problems}


def _selected(node, selector):
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def capacity_problems(specs, nodes, gpu_resource="nvidia.com/gpu"):
    """Workspaces asking for more GPUs than any node (that their node_selector allows) can give.

    `nodes` are Node objects as kubernetes.core.k8s_info returns them. The allocatable count is
    what the device plugin reports through the kubelet; a pod asking for more than any node's
    allocatable is never scheduled.
    """
    problems = []
    for spec in specs:
        if spec.get("state") != "present" or int(spec.get("gpus") or 0) <= 0:
            continue
        selector = spec.get("node_selector") or {}
        best, best_node = 0, None
        for node in nodes or []:
            if not _selected(node, selector):
                continue
            alloc = _to_int(str(((node.get("status") or {}).get("allocatable") or {}).get(gpu_resource, "0")))
            if alloc is not None and alloc > best:
                best, best_node = alloc, node["metadata"]["name"]
        if spec["gpus"] > best:
            scope = " matching node_selector %s" % selector if selector else ""
            if best_node is None:
                have = "no node%s has allocatable %s (is the GPU Operator's device plugin running on the GPU " \
                       "nodes?)" % (scope, gpu_resource)
            else:
                have = "the most any node%s has is %d (%s)" % (scope, best, best_node)
            problems.append("workspace %r: gpus %d is more than any node can give: %s. Lower its gpus, or "
                            "add GPU nodes first" % (spec["name"], spec["gpus"], have))
    return problems


def labels(spec):
    return {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/instance": spec["name"],
            "app.kubernetes.io/managed-by": MANAGED_BY}


def selector_labels(spec):
    return {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/instance": spec["name"]}


def names(spec):
    """The names of a workspace's objects."""
    return {"deployment": spec["name"], "service": spec["name"], "ingress": spec["name"],
            "secret": spec["name"] + "-password", "pvc": spec["name"] + "-home"}


def secret_manifest(spec, password_b64):
    """The password Secret. The caller passes the password already base64-encoded (the role
    encodes it in a no_log task), and hands the result only to no_log tasks."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": names(spec)["secret"], "namespace": spec["namespace"], "labels": labels(spec)},
            "data": {PASSWORD_KEY: password_b64}}


def manifests(spec, settings, password_version=""):
    """The workspace's Namespace, PersistentVolumeClaim, Deployment, Service and (when it has an
    ingress_host) Ingress, as a dict kind -> manifest (ingress: None without a host).

    `settings` holds the role-wide values: runtime_class, gpu_resource, tolerations, uid, port,
    home_path, shm_size, image_pull_policy, image_pull_secrets, ingress_class,
    ingress_tls_secret, ingress_annotations. `password_version` goes to the pod template
    annotation (see PASSWORD_VERSION_ANNOTATION).
    """
    n = names(spec)
    meta = {"namespace": spec["namespace"], "labels": labels(spec)}
    port = int(settings.get("port", 8443))
    uid = int(settings.get("uid", 2001))
    gpus = int(spec["gpus"])

    pvc_spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": spec["home_size"]}}}
    if spec.get("storage_class"):
        pvc_spec["storageClassName"] = spec["storage_class"]

    resources = {k: {rk: str(rv) for rk, rv in (v or {}).items()} for k, v in (spec.get("resources") or {}).items()}
    if gpus > 0:
        # Extended resources are set as limits only (requests default to them and may not differ).
        resources.setdefault("limits", {})[settings.get("gpu_resource", "nvidia.com/gpu")] = str(gpus)

    container = {
        "name": CONTAINER,
        "image": spec["image"],
        "imagePullPolicy": settings.get("image_pull_policy", "IfNotPresent"),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        # code-server takes its password from $PASSWORD (--auth password); the value stays in the
        # Secret and never appears in the pod spec.
        "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": n["secret"], "key": PASSWORD_KEY}}}],
        # code-server answers /healthz without authentication.
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10,
                           "timeoutSeconds": 5, "failureThreshold": 3},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "home", "mountPath": settings.get("home_path", "/home/cs-user")}],
    }
    if resources:
        container["resources"] = resources
    volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": n["pvc"]}}]
    if settings.get("shm_size"):
        # PyTorch's DataLoader workers share tensors through /dev/shm; the runtime's default is 64 MiB.
        container["volumeMounts"].append({"name": "dshm", "mountPath": "/dev/shm"})
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": str(settings["shm_size"])}})

    pod_spec = {
        "securityContext": {"runAsUser": uid, "runAsGroup": uid, "fsGroup": uid, "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "enableServiceLinks": False,
        "containers": [container],
        "volumes": volumes,
    }
    if gpus > 0:
        # The nvidia runtime (created by the GPU Operator or K3s) injects the driver; the toleration
        # lets the pod onto nodes tainted nvidia.com/gpu. A CPU-only workspace gets neither.
        pod_spec["runtimeClassName"] = settings.get("runtime_class", "nvidia")
        pod_spec["tolerations"] = list(settings.get("tolerations") or [])
    if spec.get("node_selector"):
        pod_spec["nodeSelector"] = dict(spec["node_selector"])
    if settings.get("image_pull_secrets"):
        pod_spec["imagePullSecrets"] = [{"name": s} for s in settings["image_pull_secrets"]]

    template_meta = {"labels": labels(spec)}
    if password_version:
        template_meta["annotations"] = {PASSWORD_VERSION_ANNOTATION: str(password_version)}

    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": dict(meta, name=n["deployment"]),
        "spec": {
            "replicas": 1,
            # Recreate: the new pod needs the GPU and the ReadWriteOnce home the old pod holds.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(spec)},
            "template": {"metadata": template_meta, "spec": pod_spec},
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": dict(meta, name=n["service"]),
        "spec": {"type": "ClusterIP", "selector": selector_labels(spec),
                 "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]},
    }
    ingress = None
    if spec.get("ingress_host"):
        ing_meta = dict(meta, name=n["ingress"])
        if settings.get("ingress_annotations"):
            ing_meta["annotations"] = {str(k): str(v) for k, v in settings["ingress_annotations"].items()}
        ing_spec = {"rules": [{"host": spec["ingress_host"], "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": n["service"], "port": {"name": "http"}}}}]}}]}
        if settings.get("ingress_class"):
            ing_spec["ingressClassName"] = settings["ingress_class"]
        if settings.get("ingress_tls_secret"):
            ing_spec["tls"] = [{"hosts": [spec["ingress_host"]], "secretName": settings["ingress_tls_secret"]}]
        ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": ing_meta, "spec": ing_spec}
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": spec["namespace"], "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": dict(meta, name=n["pvc"]),
           "spec": pvc_spec}
    return {"namespace": namespace, "pvc": pvc, "deployment": deployment, "service": service, "ingress": ingress}


_GPU_WORDS = re.compile(r"nvidia|cuda|gpu|nvml|runtimeclass|runtime class|handler", re.I)
_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable")


def _pod_reasons(pod, spec, settings):
    reasons = []
    name = (pod.get("metadata") or {}).get("name", "?")
    st = pod.get("status") or {}
    gpu_resource = settings.get("gpu_resource", "nvidia.com/gpu")
    if st.get("phase") == "Failed":
        reason, message = st.get("reason") or "", st.get("message") or ""
        if reason == "UnexpectedAdmissionError" or _GPU_WORDS.search(message):
            return ["GPU: pod %s was refused by the node: %s %s (the kubelet could not allocate %s; is the "
                    "device plugin healthy?)" % (name, reason, message, gpu_resource)]
        return ["pod %s failed: %s %s" % (name, reason, message)]
    if not (pod.get("spec") or {}).get("nodeName"):
        cond = next((c for c in st.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        if cond and cond.get("status") == "False":
            message = cond.get("message") or cond.get("reason") or ""
            if gpu_resource in message:
                return ["GPU: pod %s cannot be scheduled: %s (it asks for %s %s%s)" % (
                    name, message, spec.get("gpus"), gpu_resource,
                    ", node_selector %s" % spec["node_selector"] if spec.get("node_selector") else "")]
            return ["scheduling: pod %s cannot be scheduled: %s" % (name, message)]
        return ["scheduling: pod %s is not scheduled to any node yet (no scheduler decision: is kube-scheduler "
                "running?)" % name]
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        state = cs.get("state") or {}
        waiting = state.get("waiting")
        if waiting:
            reason, message = waiting.get("reason") or "", waiting.get("message") or ""
            if reason in _PULL_REASONS:
                reasons.append("image pull: container %s of pod %s cannot pull %s: %s %s (check the image name "
                               "and the registry credentials, gpu_workspace_image_pull_secrets)"
                               % (cs.get("name"), name, cs.get("image") or spec.get("image"), reason, message))
            elif reason == "ContainerCreating" or (reason == "" and not message):
                reasons.append("container creating: pod %s on node %s: %s" % (
                    name, pod["spec"]["nodeName"], message or "pulling the image or mounting the volumes"))
            elif _GPU_WORDS.search(message):
                reasons.append("GPU: container %s of pod %s cannot start: %s %s (the NVIDIA container runtime "
                               "failed: check the driver and the container toolkit on node %s)"
                               % (cs.get("name"), name, reason, message, pod["spec"]["nodeName"]))
            else:
                last = (cs.get("lastState") or {}).get("terminated") or {}
                exit_note = " (last exit code %s, %s)" % (last.get("exitCode"), last.get("reason")) if last else ""
                reasons.append("container: %s of pod %s is waiting: %s %s%s" % (
                    cs.get("name"), name, reason, message, exit_note))
        elif "running" in state and not cs.get("ready"):
            restarts = int(cs.get("restartCount", 0))
            reasons.append("readiness probe: code-server in pod %s runs on node %s but /healthz on port %s does "
                           "not answer yet (%d restarts)"
                           % (name, pod["spec"]["nodeName"], settings.get("port", 8443), restarts))
        elif "terminated" in state:
            term = state["terminated"]
            reasons.append("container: %s of pod %s exited with code %s (%s %s)" % (
                cs.get("name"), name, term.get("exitCode"), term.get("reason") or "", term.get("message") or ""))
    if not reasons and not st.get("containerStatuses"):
        reasons.append("container creating: pod %s is on node %s, its containers have not started" % (
            name, pod["spec"]["nodeName"]))
    return reasons


def not_ready(deployment, pods, spec, settings=None):
    """Why a workspace is not ready: a list of reasons, each starting with what is not ready
    (image pull, scheduling, GPU, container creating, container, readiness probe, controller);
    empty when it is ready."""
    settings = settings or {}
    where = "workspace %s (namespace %s)" % (spec["name"], spec["namespace"])
    if not deployment:
        return ["%s: Deployment %s does not exist" % (where, spec["name"])]
    if deployment_ready(deployment):
        return []
    st = deployment.get("status") or {}
    reasons = []
    for cond in st.get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            message = cond.get("message") or ""
            what = "GPU" if _GPU_WORDS.search(message) else "controller"
            reasons.append("%s: the ReplicaSet cannot create the pod: %s" % (what, message))
    live = [p for p in pods or [] if not (p.get("metadata") or {}).get("deletionTimestamp")]
    for pod in live:
        reasons.extend(_pod_reasons(pod, spec, settings))
    if not reasons:
        generation = int((deployment.get("metadata") or {}).get("generation", 0))
        observed = int(st.get("observedGeneration", 0))
        if observed < generation:
            reasons.append("controller: Deployment %s generation %d is not observed yet (observed %d: is "
                           "kube-controller-manager running?)" % (spec["name"], generation, observed))
        elif not live:
            reasons.append("controller: Deployment %s has no pod yet" % spec["name"])
        else:
            reasons.append("Deployment %s: %s/%s replicas available" % (
                spec["name"], st.get("availableReplicas", 0), (deployment.get("spec") or {}).get("replicas", 1)))
    return ["%s: %s" % (where, r) for r in reasons]


def wait_report(deployment_results, pod_results, settings=None):
    """Why the workspaces are not ready, from the role's registered loops: the wait's
    k8s_info results (one per workspace, the spec in ``item``, the Deployment in ``resources``)
    and the pod reads (``resources``; skipped for a ready workspace). A flat list of reasons."""
    reasons = []
    pod_results = list(pod_results or [])
    for index, dep in enumerate(deployment_results or []):
        found = dep.get("resources") or []
        pods = pod_results[index].get("resources") or [] if index < len(pod_results) else []
        reasons.extend(not_ready(found[0] if found else None, pods, dep["item"], settings))
    return reasons


def access(spec, settings=None):
    """How to reach a workspace and read its password, for a person (no password in it)."""
    settings = settings or {}
    port = int(settings.get("port", 8443))
    n = names(spec)
    ns = spec["namespace"]
    if spec.get("ingress_host"):
        scheme = "https" if settings.get("ingress_tls_secret") else "http"
        how = "open %s://%s/" % (scheme, spec["ingress_host"])
    else:
        how = ("run `kubectl -n %s port-forward service/%s %d:%d`, then open http://localhost:%d/"
               % (ns, n["service"], port, port, port))
    password = ("kubectl -n %s get secret %s -o jsonpath='{.data.%s}' | base64 -d"
                % (ns, n["secret"], PASSWORD_KEY))
    return "workspace %s (%d GPU%s): %s; the password: `%s`" % (
        spec["name"], spec["gpus"], "" if spec["gpus"] == 1 else "s", how, password)
