"""Play a kubelet's (and the scheduler's) part through the real API server.

There is no kubelet, kube-scheduler nor controller-manager in the test cluster:
only etcd and kube-apiserver. Where a test needs a node or a finished pod,
:class:`FakeKubelet` writes, through the same API and with the same fields, what
a real kubelet writes:

* node registration: a ``Node`` with labels, taints, capacity and allocatable
  (including ``nvidia.com/gpu``, which the NVIDIA device plugin reports through
  the kubelet), addresses, ``daemonEndpoints`` and a ``Ready`` condition;
* the node lifecycle controller's not-ready taints (it runs in
  kube-controller-manager, which is absent too);
* the scheduler's binding of a pod to the node (``pods/binding``);
* pod status (``pods/status``): Running with a running container, then
  Succeeded or Failed with the container's exit code;
* graceful pod deletion: a pod on the node that is being deleted is deleted
  with grace period 0, as the kubelet does once its containers stopped;
* container logs: the kubelet's HTTPS endpoint
  ``/containerLogs/<namespace>/<pod>/<container>``. kube-apiserver proxies
  ``pods/log`` there: to the node's ``InternalIP`` and
  ``status.daemonEndpoints.kubeletEndpoint.Port``, verifying the kubelet's serving
  certificate with the cluster CA (``--kubelet-certificate-authority``) and
  presenting its kubelet client certificate. :class:`FakeKubelet` serves that
  endpoint on 127.0.0.1, so ``kubectl logs``, ``kubernetes.core.k8s_log`` and
  ``CoreV1Api.read_namespaced_pod_log`` read the text a test chooses, through the
  real API server.

Nothing runs containers: the text a pod "logs" and its exit code are what the test
says. Typical use::

    kubelet = FakeKubelet(cluster, "gpu-node-1")
    kubelet.register(gpus=1, taints=[{"key": "nvidia.com/gpu", "value": "present",
                                      "effect": "NoSchedule"}])
    ...  # code under test creates pod "vectoradd" in namespace "gpu-validate"
    kubelet.run_pod("gpu-validate", "vectoradd", phase="Succeeded", exit_code=0,
                    logs="[Vector addition of 50000 elements]\\nTest PASSED\\nDone\\n")
    kubelet.close()
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ssl
import threading
import urllib.parse

KUBELET_VERSION = "v1.36.3+k3s1"
CONTAINER_RUNTIME_VERSION = "containerd://2.1.5-k3s1"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_nano() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


class _LogHandler(http.server.BaseHTTPRequestHandler):
    """The kubelet's ``/containerLogs`` endpoint (GET only)."""

    server_version = "kubelet"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.requests.append(self.path)

    def _reply(self, code: int, text: str) -> None:
        body = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            self._reply(404, "404 page not found\n")
            return
        key = tuple(urllib.parse.unquote(p) for p in parts[1:])
        with self.server.lock:
            text = self.server.logs.get(key)
        if text is None:
            self._reply(404, "container %s of pod %s/%s not found\n" % (key[2], key[0], key[1]))
            return
        query = urllib.parse.parse_qs(url.query)
        lines = text.splitlines(keepends=True)
        if "tailLines" in query:
            n = int(query["tailLines"][0])
            lines = lines[-n:] if n > 0 else []
        if query.get("timestamps", ["false"])[0] == "true":
            stamp = _now_nano()
            lines = ["%s %s" % (stamp, line) for line in lines]
        out = "".join(lines)
        if "limitBytes" in query:
            out = out.encode("utf-8")[: int(query["limitBytes"][0])].decode("utf-8", "ignore")
        self._reply(200, out)


class FakeKubelet:
    """The kubelet of one node, played through the real API server.

    It writes what a real kubelet writes (node object and status, pod status) and
    serves what a real kubelet serves (container logs over HTTPS, with the
    kubelet serving certificate ``start.sh`` issued for 127.0.0.1). It also does
    the scheduler's one job a test needs: binding a pod to this node.

    ``cluster`` is a :class:`kube.cluster.KubeCluster`; ``api_client`` defaults to
    its admin client.
    """

    def __init__(self, cluster, node_name: str, api_client=None):
        from kubernetes import client  # pylint: disable=import-outside-toplevel

        self.cluster = cluster
        self.node_name = node_name
        self.api = client.CoreV1Api(api_client or cluster.api_client())
        self._server = None
        self._thread = None
        self._logs = {}
        self._requests = []
        self._lock = threading.Lock()
        self._start_log_server()
        self._stop = threading.Event()
        self._deleter = None

    # --- graceful pod deletion ---------------------------------------------------
    def start_deletion_sync(self) -> None:
        """Finish graceful deletions of pods on this node, as a kubelet does.

        Deleting a pod that is bound to a node only sets its deletionTimestamp; the
        kubelet stops the containers and then deletes the pod with grace period 0
        (with the pod's UID as precondition). A background thread watches the pods
        on this node and does that. :meth:`register` starts it; :meth:`close` stops it.
        """
        if self._deleter is not None:
            return
        self._deleter = threading.Thread(target=self._sync_deletions, name="kubelet-del-%s" % self.node_name,
                                         daemon=True)
        self._deleter.start()

    def _sync_deletions(self) -> None:
        from kubernetes import client, watch  # pylint: disable=import-outside-toplevel
        from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

        api = client.CoreV1Api(self.cluster.api_client())
        selector = "spec.nodeName=%s" % self.node_name
        while not self._stop.is_set():
            try:
                for pod in api.list_pod_for_all_namespaces(field_selector=selector).items:
                    self._finish_deletion(api, pod)
                stream = watch.Watch().stream(api.list_pod_for_all_namespaces, field_selector=selector,
                                              timeout_seconds=2)
                for event in stream:
                    if self._stop.is_set():
                        break
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._finish_deletion(api, event["object"])
            except ApiException:
                if self._stop.wait(0.5):
                    break
            except Exception:  # pylint: disable=broad-except
                # Connection reset while the API server stops at session end.
                if self._stop.wait(0.5):
                    break

    @staticmethod
    def _finish_deletion(api, pod) -> None:
        from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

        if pod.metadata.deletion_timestamp is None:
            return
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": pod.metadata.uid}}
        try:
            api.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, body=body)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    # --- the kubelet's HTTPS endpoint -------------------------------------------
    def _start_log_server(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cluster.kubelet_cert, self.cluster.kubelet_key)
        # Like a kubelet with --client-ca-file: only clients with a certificate from
        # the cluster CA (the API server's kubelet client certificate) get an answer.
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(self.cluster.ca_file)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LogHandler)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        server.logs = self._logs
        server.lock = self._lock
        server.requests = self._requests
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="kubelet-%s" % self.node_name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port of the log endpoint (the node's kubeletEndpoint port)."""
        return self._server.server_address[1]

    @property
    def log_requests(self) -> list:
        """Paths the API server requested from this kubelet (for assertions)."""
        return list(self._requests)

    def serve_logs(self, logs: dict) -> None:
        """Serve ``{(namespace, pod, container): text}`` at /containerLogs."""
        with self._lock:
            self._logs.update(logs)

    def close(self) -> None:
        """Stop serving logs and syncing deletions (the node object stays; see
        :meth:`deregister`)."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- node registration -------------------------------------------------------
    def node_status(self, gpus: int = 0, cpu: str = "8", memory: str = "32Gi", pods: str = "110",
                    ready: bool = True) -> dict:
        """The node status a kubelet (plus the NVIDIA device plugin) reports."""
        capacity = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi",
                    "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
        if gpus:
            capacity["nvidia.com/gpu"] = str(gpus)
        now = _now()

        def cond(ctype, status, reason, message):
            return {"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": now}

        machine_id = hashlib.sha256(self.node_name.encode()).hexdigest()[:32]
        return {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True" if ready else "False",
                     "KubeletReady" if ready else "KubeletNotReady",
                     "kubelet is posting ready status" if ready else "container runtime network not ready"),
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": self.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {
                "machineID": machine_id, "systemUUID": machine_id, "bootID": machine_id,
                "kernelVersion": "6.1.0-40-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION, "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
            },
        }

    def register(self, gpus: int = 1, labels: dict | None = None, taints: list | None = None,
                 ready: bool = True, **status_args):
        """Register the node as a kubelet does (create, then update its status).

        ``taints`` are ``[{"key", "value", "effect"}]``, as ``--register-with-taints``
        (K3s ``--node-taint``) sets them at first registration. Returns the Node.
        """
        node_labels = {
            "kubernetes.io/hostname": self.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "k3s",
        }
        node_labels.update(labels or {})
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node_name, "labels": node_labels,
                         "annotations": {"k3s.io/node-args": "[]",
                                         "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"taints": list(taints or [])},
        }
        self.api.create_node(body)
        self.update_status(gpus=gpus, ready=ready, **status_args)
        self.start_deletion_sync()
        return self.sync_condition_taints()

    def update_status(self, **status_args):
        """Post the node status (``nodes/status``), as a kubelet's heartbeat does."""
        # The kubelet patches its status; conditions merge on "type".
        return self.api.patch_node_status(self.node_name, {"status": self.node_status(**status_args)})

    def set_ready(self, ready: bool):
        """Flip the Ready condition (keeps capacity as registered), then let the
        node lifecycle controller's part follow (:meth:`sync_condition_taints`)."""
        node = self.api.read_node(self.node_name)
        gpus = int((node.status.capacity or {}).get("nvidia.com/gpu", "0"))
        self.update_status(gpus=gpus, ready=ready)
        return self.sync_condition_taints()

    def sync_condition_taints(self):
        """Do the node lifecycle controller's part (kube-controller-manager, absent here).

        On create, the TaintNodesByCondition admission plugin of the API server
        taints every node ``node.kubernetes.io/not-ready:NoSchedule``; the
        controller removes it once the kubelet reports Ready, and taints a NotReady
        node ``node.kubernetes.io/not-ready`` NoSchedule and NoExecute. Other
        taints are kept. Returns the Node.
        """
        node = self.api.read_node(self.node_name)
        ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
        taints = [t for t in (node.spec.taints or []) if t.key != NOT_READY_TAINT]
        body = [{"key": t.key, "value": t.value, "effect": t.effect} for t in taints]
        for t in body:
            if t["value"] is None:
                del t["value"]
        if not ready:
            body += [{"key": NOT_READY_TAINT, "effect": "NoSchedule"},
                     {"key": NOT_READY_TAINT, "effect": "NoExecute"}]
        # Taints have no merge key: a patch replaces the list; resourceVersion guards races.
        return self.api.patch_node(self.node_name, {
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": body}})

    def deregister(self) -> None:
        """Delete the node object (what ``kubectl delete node`` does)."""
        from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

        try:
            self.api.delete_node(self.node_name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    # --- pods ----------------------------------------------------------------------
    def bind(self, namespace: str, name: str) -> None:
        """Bind a pending pod to this node: the scheduler's ``pods/binding`` call."""
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name}}
        # The generated client cannot deserialize the Status this returns: read it raw.
        resp = self.api.create_namespaced_pod_binding(name, namespace, body, _preload_content=False)
        resp.read()

    def _pod_ip(self, namespace: str, name: str) -> str:
        digest = hashlib.sha256(("%s/%s" % (namespace, name)).encode()).digest()
        return "10.42.%d.%d" % (digest[0], max(2, digest[1] % 254))

    def set_running(self, namespace: str, name: str):
        """Bind the pod here if needed and report its containers running (``pods/status``)."""
        pod = self.api.read_namespaced_pod(name, namespace)
        if not pod.spec.node_name:
            self.bind(namespace, name)
            pod = self.api.read_namespaced_pod(name, namespace)
        if pod.spec.node_name != self.node_name:
            raise ValueError("pod %s/%s is bound to %s, not %s" % (namespace, name, pod.spec.node_name, self.node_name))
        now = _now()
        ip = self._pod_ip(namespace, name)
        statuses = [
            {"name": c.name, "image": c.image, "imageID": "", "ready": True, "started": True,
             "restartCount": 0, "containerID": self._container_id(namespace, name, c.name),
             "state": {"running": {"startedAt": now}}}
            for c in pod.spec.containers
        ]
        status = {
            "phase": "Running", "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
            "conditions": self._conditions(ready=True, reason=None),
            "containerStatuses": statuses,
        }
        return self.api.patch_namespaced_pod_status(name, namespace, {"status": status})

    def finish(self, namespace: str, name: str, exit_code: int = 0, phase: str | None = None,
               logs: str | dict | None = None):
        """Report the pod's containers terminated with ``exit_code``.

        ``phase`` defaults to Succeeded for exit code 0, else Failed (restartPolicy
        Never/OnFailure semantics). ``logs`` (text for every container, or
        ``{container: text}``) is served at the log endpoint.
        """
        pod = self.api.read_namespaced_pod(name, namespace)
        if pod.status.phase != "Running":
            pod = self.set_running(namespace, name)
        if phase is None:
            phase = "Succeeded" if exit_code == 0 else "Failed"
        if logs is not None:
            self.set_logs(namespace, name, logs, [c.name for c in pod.spec.containers])
        now = _now()
        reason = "Completed" if exit_code == 0 else "Error"
        started = {s.name: s.state.running.started_at for s in pod.status.container_statuses or []
                   if s.state and s.state.running}
        statuses = [
            {"name": c.name, "image": c.image, "imageID": "", "ready": False, "started": False,
             "restartCount": 0, "containerID": self._container_id(namespace, name, c.name),
             "state": {"terminated": {
                 "exitCode": exit_code, "reason": reason,
                 "startedAt": started[c.name].strftime("%Y-%m-%dT%H:%M:%SZ") if c.name in started else now,
                 "finishedAt": now, "containerID": self._container_id(namespace, name, c.name)}}}
            for c in pod.spec.containers
        ]
        status = {"phase": phase, "conditions": self._conditions(ready=False, reason="PodCompleted"),
                  "containerStatuses": statuses}
        return self.api.patch_namespaced_pod_status(name, namespace, {"status": status})

    def run_pod(self, namespace: str, name: str, phase: str = "Succeeded", exit_code: int | None = None,
                logs: str | dict | None = None):
        """Bind, run and finish a pod in one go; returns the final Pod.

        ``phase`` Succeeded (exit code 0 by default) or Failed (exit code 1 by
        default); ``phase="Running"`` stops after starting it.
        """
        if phase == "Running":
            pod = self.set_running(namespace, name)
            if logs is not None:
                self.set_logs(namespace, name, logs, [c.name for c in pod.spec.containers])
            return pod
        if exit_code is None:
            exit_code = 0 if phase == "Succeeded" else 1
        self.set_running(namespace, name)
        return self.finish(namespace, name, exit_code=exit_code, phase=phase, logs=logs)

    def set_logs(self, namespace: str, name: str, logs: str | dict, containers: list) -> None:
        """Serve ``logs`` for the pod's containers (text for all, or per container)."""
        if isinstance(logs, dict):
            self.serve_logs({(namespace, name, c): t for c, t in logs.items()})
        else:
            self.serve_logs({(namespace, name, c): logs for c in containers})

    @staticmethod
    def _container_id(namespace: str, name: str, container: str) -> str:
        return "containerd://" + hashlib.sha256(("%s/%s/%s" % (namespace, name, container)).encode()).hexdigest()

    @staticmethod
    def _conditions(ready: bool, reason: str | None) -> list:
        now = _now()
        out = []
        for ctype, status in (("PodReadyToStartContainers", "True" if ready else "False"),
                              ("Initialized", "True"),
                              ("Ready", "True" if ready else "False"),
                              ("ContainersReady", "True" if ready else "False"),
                              ("PodScheduled", "True")):
            cond = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
            if status == "False" and reason and ctype in ("Ready", "ContainersReady"):
                cond["reason"] = reason
            out.append(cond)
        return out
