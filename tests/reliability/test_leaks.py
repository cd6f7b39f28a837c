# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Secrets never leak: the K3s join token and the kubeconfig credentials are absent from
ansible-playbook -vvv output, the module results (json callback), `ps` during the runs, the
node's journal and its files.

Each run gets a fresh random token. The test passes secrets to ansible-playbook through a
0600 vars file (-e @file), as a vault or AWX credential would, so that what `ps` shows is
what the collection itself puts on command lines. `ps -ww -eo args` runs on the host,
which sees the processes inside the lab containers too.
"""

from __future__ import annotations

import base64
import os
import re
import uuid

import yaml

import lab
from test_faults import k3s_vars, new_token


def _hits(secret: str, texts: dict) -> list[str]:
    return [name for name, text in texts.items() if secret in text]


def test_k3s_token_never_leaks(k3s_node, mirror, workdir, matrix):
    where = {
        "stdout": "ansible-playbook -vvv stdout + stderr (default callback), token rotation run",
        "json": "module results: ansible-playbook -vvv with the json callback (ansible.posix.json), "
                "second token rotation",
        "ps": "`ps -ww -eo args` on the host (sees the container's processes), sampled every 0.2 s during both runs",
        "journal": "the node's journal: `journalctl --no-pager -o verbose` (messages and _CMDLINE of every entry)",
        "world": "world-readable files on the node: `find / -xdev -type f -perm -o+r` (without /proc, /sys)",
        "files": "every other file on the node (all modes) but the 0600 token file, which must hold it",
    }
    rows = {k: matrix.row("leak", secret="K3s join token (k3s_agent_token / k3s_gpu_token)", where=v,
                          how="verbatim search for the run's random token") for k, v in where.items()}
    t1, t2 = new_token(), new_token()
    inventory = os.path.join(workdir, "leak-node.yml")
    lab.write_inventory(inventory, {"nodes": {"node": k3s_node.host()}})

    sampler = lab.PsSampler([])
    sampler.start()
    try:
        run1 = lab.run_playbook("role.yml", inventory, k3s_vars(mirror, t1), ["-vvv"])
        run2 = lab.run_playbook("role.yml", inventory, k3s_vars(mirror, t2), ["-vvv"], json_callback=True)
    finally:
        samples = sampler.stop()
    assert run1.rc == 0, run1.output[-4000:]
    assert run2.rc == 0, run2.output[-4000:]
    # Positive controls: the token really went to the node, and the run really was verbose.
    assert "as config file" in run1.output and "module_args" in run1.output, "not a -vvv run"
    assert k3s_node.exec("cat /etc/rancher/k3s/agent-token").stdout.strip() == t2
    mode = k3s_node.exec("stat -c '%a %U' /etc/rancher/k3s/agent-token").stdout.split()
    assert mode == ["600", "root"], mode
    assert len(samples) > 10, "too few ps samples: %d" % len(samples)

    journal = k3s_node.exec("journalctl --no-pager -o verbose", timeout=120).stdout
    world = k3s_node.exec(
        "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -type f -perm -o+r -print0 "
        "| xargs -0 -r grep -l -F -e '%s' -e '%s' 2>/dev/null || true" % (t1, t2), timeout=300).stdout
    other = k3s_node.exec(
        "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -type f ! -path /etc/rancher/k3s/agent-token "
        "-print0 | xargs -0 -r grep -l -F -e '%s' -e '%s' 2>/dev/null || true" % (t1, t2), timeout=300).stdout
    found = {
        "stdout": _hits(t1, {"run 1": run1.output}) + _hits(t2, {"run 2": run1.output}),
        "json": _hits(t2, {"json output": run2.output}) + _hits(t1, {"json output": run2.output}),
        "ps": [s[:200] for s in samples if t1 in s or t2 in s],
        "journal": ["journal"] if (t1 in journal or t2 in journal) else [],
        "world": world.split(),
        "files": other.split(),
    }
    assert "k3s_agent_token" in run2.output, "the json output lacks the role's variables (not a real check)"
    for key, row in rows.items():
        if found[key]:
            row["keep_failed"] = True
    leaks = {k: v for k, v in found.items() if v}
    assert not leaks, "the K3s token leaked: %s" % leaks


def _kube_secrets(kube) -> dict:
    with open(kube.kubeconfig, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    key_b64 = cfg["users"][0]["user"]["client-key-data"]
    key_pem = base64.b64decode(key_b64).decode()
    body = "".join(line for line in key_pem.splitlines() if "-----" not in line)
    return {"admin client key (kubeconfig client-key-data, base64)": [key_b64[40:120]],
            "admin client key (PEM body)": [body[40:120]],
            "limited user's bearer token (kubeconfig-limited)": [kube.limited_token]}


def test_kubeconfig_credentials_never_leak(kube_cluster, fake_kubelet, mirror, workdir, helm_env, matrix):
    secrets = _kube_secrets(kube_cluster)
    where = {"stdout": "ansible-playbook -vvv stdout + stderr: gpu_operator role (helm install), "
                       "k3s_node_policy role (k3s_taint), "
                       "k3s_taint with the limited token as api_key (403), gpu_validate pod check",
             "json": "module results of the same runs (json callback, -vvv)",
             "ps": "`ps -ww -eo args` on the controller during the runs (helm and the modules)"}
    rows = {(s, k): matrix.row("leak", secret=s, where=v, how="verbatim search (an 80-character slice)")
            for s in secrets for k, v in where.items()}
    node = "rel-leak-" + uuid.uuid4().hex[:6]
    fake_kubelet(node).register(gpus=1)
    ns = "rel-leak-" + uuid.uuid4().hex[:6]
    inventory = os.path.join(workdir, "leak-controller.yml")
    lab.write_inventory(inventory, {"controller": {"controller": lab.local_host()}})
    op_vars = {"rel_role": "gpu_operator", "gpu_operator_chart_repo_url": mirror.url + "/helm/nvidia",
               "gpu_operator_helm_binary": kube_cluster.helm, "gpu_operator_kubeconfig": kube_cluster.kubeconfig,
               "gpu_operator_namespace": ns, "gpu_operator_release_name": ns, "gpu_operator_wait": False,
               "gpu_operator_gpu_nodes": [node]}
    policy_vars = {"rel_role": "k3s_node_policy", "k3s_node_policy_kubeconfig": kube_cluster.kubeconfig,
                   "k3s_node_policy_nodes": [{"name": node, "taints": ["nvidia.com/gpu=true:NoSchedule"]}],
                   "k3s_node_policy_wait_timeout": 0}
    taint_args = {"name": node, "taints": ["nvidia.com/gpu=true:NoSchedule"], "api_key": kube_cluster.limited_token,
                  "host": kube_cluster.server, "ca_cert": kube_cluster.ca_file, "wait_timeout": 0}
    pod_args = {"checks": ["pod"], "node_name": node, "namespace": ns, "timeout": 3,
                "kubeconfig": kube_cluster.kubeconfig}
    env = dict(helm_env, K8S_AUTH_KUBECONFIG=kube_cluster.kubeconfig)
    runs = {"stdout": [], "json": []}
    sampler = lab.PsSampler([])
    sampler.start()
    try:
        for json_cb in (False, True):
            key = "json" if json_cb else "stdout"
            op = lab.run_playbook("role.yml", inventory, op_vars, ["-vvv"], env=env, json_callback=json_cb)
            assert op.rc == 0, op.output[-4000:]
            policy = lab.run_playbook("role.yml", inventory, policy_vars, ["-vvv"], env=env, json_callback=json_cb)
            assert policy.rc == 0, policy.output[-4000:]
            taint = lab.run_playbook("module.yml", inventory, {"rel_module": "k3s_taint", "rel_args": taint_args},
                                     ["-vvv"], env=env, json_callback=json_cb)
            assert taint.rc != 0 and re.search(r"403|[Ff]orbidden", taint.output), taint.output[-3000:]
            pod = lab.run_playbook("module.yml", inventory, {"rel_module": "gpu_validate", "rel_args": pod_args},
                                   ["-vvv"], env=env, json_callback=json_cb)
            assert pod.rc != 0, pod.output[-3000:]
            runs[key] = [op.output, policy.output, taint.output, pod.output]
    finally:
        samples = sampler.stop()
    assert len(samples) > 10
    leaks = {}
    for name, needles in secrets.items():
        for needle in needles:
            found = {"stdout": any(needle in o for o in runs["stdout"]),
                     "json": any(needle in o for o in runs["json"]),
                     "ps": any(needle in s for s in samples)}
            for key, hit in found.items():
                if hit:
                    leaks.setdefault(name, []).append(key)
                    rows[(name, key)]["keep_failed"] = True
    assert not leaks, "kubeconfig credentials leaked: %s" % leaks
