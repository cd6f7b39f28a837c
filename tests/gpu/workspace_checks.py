# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster side of the GPU workspace phase of tests/gpu/e2e.sh (tests/gpu/workspace.sh).

    volumes   --node N --class C --size S --dir D WS...   the StorageClass and one hostPath
              PersistentVolume per workspace, pre-bound to its home claim (the e2e control plane
              has no provisioner: K3s's local-path is part of K3s's server); prints them as YAML
    pod       --namespace NS --instance WS                the workspace's live pod as JSON
              (name, uid, ip, node, phase, ready, restarts, image)
    evidence  --out DIR NS...                             what `kubectl get deploy,pod,svc,pvc,secret
              -o yaml` shows of each namespace (Secret data redacted, managedFields left out, as
              kubectl leaves them out) and each workspace pod's log
    password  --namespace NS --secret NAME                the Secret's password on stdout, for the
              caller's check that no file holds it (never written to a file)
    gone      --timeout T NS...                           wait until the namespaces are deleted

Uses the kubeconfig of $KUBECONFIG (the harness's admin).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time

import yaml
from kubernetes import client, config

APP = "app.kubernetes.io/name=gpu-workspace"


def _api():
    config.load_kube_config()
    return client.ApiClient()


def _plain(api, obj):
    data = api.sanitize_for_serialization(obj)
    (data.get("metadata") or {}).pop("managedFields", None)
    return data


def volumes(args):
    api = _api()
    storage, core = client.StorageV1Api(api), client.CoreV1Api(api)
    made = []
    sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
          "metadata": {"name": args.cls, "labels": {"app.kubernetes.io/managed-by": "k3s-gpu-e2e"}},
          # Static volumes only: the claims bind to the PersistentVolumes below as soon as they
          # exist; Retain keeps a removed workspace's home, as local-path's default would not.
          "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate",
          "reclaimPolicy": "Retain"}
    made.append(storage.create_storage_class(sc))
    for ws in args.workspaces:
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": "gpu-workspace-home-%s" % ws, "labels": {"app.kubernetes.io/managed-by": "k3s-gpu-e2e"}},
              "spec": {"capacity": {"storage": args.size}, "accessModes": ["ReadWriteOnce"],
                       "persistentVolumeReclaimPolicy": "Retain", "storageClassName": args.cls,
                       "hostPath": {"path": "%s/%s" % (args.dir.rstrip("/"), ws), "type": "Directory"},
                       # pre-bound: each home to its own workspace's claim (the role's names)
                       "claimRef": {"namespace": args.prefix + ws, "name": ws + "-home"},
                       "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                           {"key": "kubernetes.io/hostname", "operator": "In", "values": [args.node]}]}]}}}}
        made.append(core.create_persistent_volume(pv))
    yaml.safe_dump_all([_plain(api, o) for o in made], sys.stdout, sort_keys=False)
    return 0


def _live_pod(core, namespace, instance):
    pods = core.list_namespaced_pod(namespace, label_selector="%s,app.kubernetes.io/instance=%s" % (APP, instance))
    live = [p for p in pods.items if not p.metadata.deletion_timestamp]
    return live[0] if live else None


def pod(args):
    core = client.CoreV1Api(_api())
    p = _live_pod(core, args.namespace, args.instance)
    if p is None:
        print(json.dumps({"namespace": args.namespace, "instance": args.instance, "pod": None}))
        return 1
    statuses = p.status.container_statuses or []
    print(json.dumps({"name": p.metadata.name, "uid": p.metadata.uid, "ip": p.status.pod_ip, "node": p.spec.node_name,
                      "phase": p.status.phase, "ready": bool(statuses) and all(s.ready for s in statuses),
                      "restarts": sum(s.restart_count for s in statuses),
                      "image": p.spec.containers[0].image}, sort_keys=True))
    return 0


def _redact(secret):
    for key, value in list((secret.get("data") or {}).items()):
        secret["data"][key] = "REDACTED by tests/gpu/workspace_checks.py (%d bytes)" % len(base64.b64decode(value))
    secret.pop("stringData", None)
    return secret


def evidence(args):
    api = _api()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    for ns in args.namespaces:
        # The API's list items carry no kind; kubectl adds it, and so does this.
        lists = [("apps/v1", "Deployment", apps.list_namespaced_deployment), ("v1", "Pod", core.list_namespaced_pod),
                 ("v1", "Service", core.list_namespaced_service),
                 ("v1", "PersistentVolumeClaim", core.list_namespaced_persistent_volume_claim),
                 ("v1", "Secret", core.list_namespaced_secret)]
        items = []
        for version, kind, lister in lists:
            for obj in lister(ns).items:
                item = dict({"apiVersion": version, "kind": kind}, **_plain(api, obj))
                items.append(_redact(item) if kind == "Secret" else item)
        doc = {"apiVersion": "v1", "kind": "List", "items": items}
        with open(os.path.join(args.out, "objects-%s.yaml" % ns), "w") as fh:
            fh.write("# `kubectl -n %s get deploy,pod,svc,pvc,secret -o yaml`, read through the API by "
                     "tests/gpu/workspace_checks.py; Secret data redacted\n" % ns)
            yaml.safe_dump(doc, fh, sort_keys=False)
        for p in core.list_namespaced_pod(ns, label_selector=APP).items:
            instance = p.metadata.labels.get("app.kubernetes.io/instance", p.metadata.name)
            log = core.read_namespaced_pod_log(p.metadata.name, ns) if p.status.phase == "Running" else ""
            with open(os.path.join(args.out, "pod-%s.log" % instance), "w") as fh:
                fh.write(log)
    pvs = [dict({"apiVersion": "v1", "kind": "PersistentVolume"}, **_plain(api, o))
           for o in core.list_persistent_volume().items]
    with open(os.path.join(args.out, "objects-volumes.yaml"), "w") as fh:
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": pvs}, fh, sort_keys=False)
    return 0


def password(args):
    core = client.CoreV1Api(_api())
    secret = core.read_namespaced_secret(args.secret, args.namespace)
    sys.stdout.write(base64.b64decode(secret.data["password"]).decode())
    return 0


def gone(args):
    core = client.CoreV1Api(_api())
    deadline = time.monotonic() + args.timeout
    while True:
        names = {n.metadata.name for n in core.list_namespace().items}
        left = [ns for ns in args.namespaces if ns in names]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(1)
    print("namespaces still there after %ds: %s" % (args.timeout, left) if left else
          "namespaces deleted: %s" % " ".join(args.namespaces))
    return 1 if left else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("volumes")
    p.add_argument("--node", required=True)
    p.add_argument("--class", dest="cls", required=True)
    p.add_argument("--size", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--prefix", default="workspace-", help="the role's gpu_workspace_namespace_prefix")
    p.add_argument("workspaces", nargs="+")
    p = sub.add_parser("pod")
    p.add_argument("--namespace", required=True)
    p.add_argument("--instance", required=True)
    p = sub.add_parser("evidence")
    p.add_argument("--out", required=True)
    p.add_argument("namespaces", nargs="+")
    p = sub.add_parser("password")
    p.add_argument("--namespace", required=True)
    p.add_argument("--secret", required=True)
    p = sub.add_parser("gone")
    p.add_argument("--timeout", type=int, default=30)
    p.add_argument("namespaces", nargs="+")
    args = parser.parse_args(argv)
    return {"volumes": volumes, "pod": pod, "evidence": evidence, "password": password, "gone": gone}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
