# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad inputs (tests/reliability/cases.py): each is refused with a message that names the
input and what to do, before anything changes on the node or in the cluster.

Real: the roles and modules through ansible-playbook, a Debian 12 systemd container (the
podman connection), the lab mirror, kube-apiserver + etcd, helm.
"""

from __future__ import annotations

import os
import re

import pytest

import cases
import lab

OS_RELEASE_ROCKY = """NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
"""
OS_RELEASE_UBUNTU_2004 = """NAME="Ubuntu"
VERSION="20.04.6 LTS (Focal Fossa)"
ID=ubuntu
ID_LIKE=debian
VERSION_ID="20.04"
VERSION_CODENAME=focal
PRETTY_NAME="Ubuntu 20.04.6 LTS"
"""
# The alone cases that run on another OS: its /etc/os-release.
OTHER_OS = {"cuda-unsupported-os": OS_RELEASE_ROCKY, "ctk-ubuntu-20.04": OS_RELEASE_UBUNTU_2004}
SECURE_BOOT_VAR = "efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def case_host_vars(case: cases.BadInput, mirror_url: str, kube=None, helm_env=None) -> dict:
    """The inventory variables of a case: what it breaks plus the lab's valid inputs."""
    hv = {"rel_kind": case.kind}
    if case.kind == "role":
        hv["rel_role"] = case.target
        if case.target == "k3s_agent":
            hv["k3s_agent_release_url"] = mirror_url + "/k3s-io/k3s/releases/download"
        elif case.target == "cuda_driver":
            hv["cuda_driver_repo_url"] = mirror_url + "/compute/cuda/repos"
            hv["cuda_driver_keyring_fingerprints"] = [cases.LAB_CUDA_KEY]
        elif case.target == "container_toolkit":
            hv["container_toolkit_repo_url"] = mirror_url + "/libnvidia-container/stable/deb"
            hv["container_toolkit_gpgkey_url"] = mirror_url + "/libnvidia-container/gpgkey"
            hv["container_toolkit_gpgkey_fingerprints"] = [cases.LAB_NCT_KEY]
        elif case.target == "gpu_operator":
            hv.update({
                "gpu_operator_chart_repo_url": mirror_url + "/helm/nvidia",
                "gpu_operator_helm_binary": kube.helm,
                "gpu_operator_kubeconfig": kube.kubeconfig,
                "gpu_operator_namespace": "rel-" + case.id,
                "gpu_operator_release_name": "rel-" + case.id,
                "gpu_operator_wait_timeout": 30,
                "gpu_operator_wait_delay": 1,
                "gpu_operator_gpu_nodes": [],
            })
        elif case.target == "gpu_workspace":
            hv.update({
                "gpu_workspace_kubeconfig": kube.kubeconfig,
                "gpu_workspace_image": "registry.lab.invalid/ds/code-server-pytorch:rel",
                "gpu_workspace_wait_timeout": 30,
                "gpu_workspace_wait_delay": 1,
                "gpu_workspace_verify_gpu": False,
            })
        hv.update(case.vars)
        for k in [k for k, val in hv.items() if isinstance(val, str) and val.startswith(cases.MIRROR)]:
            hv[k] = mirror_url + hv[k][len(cases.MIRROR):]
        for k in [k for k, val in hv.items() if val == cases.KUBECONFIG]:
            if kube is None:
                raise AssertionError("case %s needs the kube-apiserver (pass kube)" % case.id)
            hv[k] = kube.kubeconfig
    else:
        args = dict(case.vars)
        if case.runner == "api" and kube is not None:
            args.setdefault("kubeconfig", kube.kubeconfig)
        hv["rel_args"] = args
    return hv


def _outcome(run: lab.Run, host: str, state_diff: str) -> dict:
    doc = run.json()
    stats = doc.get("stats", {}).get(host, {})
    return {"rc": run.rc, "stats": stats, "messages": lab.failure_messages(doc, host), "diff": state_diff,
            "output": run.output, "elapsed": run.elapsed}


def _run_batch(hosts: dict, inventory: str, snapshot, env=None) -> tuple[lab.Run, str]:
    lab.write_inventory(inventory, {"cases": hosts})
    before = snapshot()
    run = lab.run_playbook("cases.yml", inventory, env=env, json_callback=True)
    return run, lab.diff(before, snapshot())


def _batch(case_list, make_host, inventory, snapshot, env=None, reset=None) -> dict:
    """All cases in one run; each case is an inventory host. When the state changed, the
    cases whose tasks reported a change are blamed (all of them when none did), and the
    node is replaced by a fresh one (`reset`) so that later cases start clean."""
    hosts = {c.id: make_host(c) for c in case_list}
    run, state_diff = _run_batch(hosts, inventory, snapshot, env)
    results = {c.id: _outcome(run, c.id, "") for c in case_list}
    if state_diff:
        suspects = [c.id for c in case_list if results[c.id]["stats"].get("changed", 0) > 0] or list(results)
        for cid in suspects:
            results[cid]["diff"] = state_diff
        if reset is not None:
            reset()
    return results


@pytest.fixture(scope="session")
def node_batch(bad_input_node, mirror, workdir, kube_cluster):
    node_cases = cases.by_runner("node")
    return _batch(node_cases, lambda c: bad_input_node.host(**case_host_vars(c, mirror.url, kube_cluster)),
                  os.path.join(workdir, "node-cases.yml"), bad_input_node.snapshot, reset=bad_input_node.reset)


@pytest.fixture(scope="session")
def api_batch(kube_cluster, mirror, workdir, helm_env):
    env = dict(helm_env, K8S_AUTH_KUBECONFIG=kube_cluster.kubeconfig)
    return _batch(cases.by_runner("api"),
                  lambda c: lab.local_host(**case_host_vars(c, mirror.url, kube_cluster, helm_env)),
                  os.path.join(workdir, "api-cases.yml"), lambda: lab.api_snapshot(kube_cluster), env)


def run_alone(case, node, mirror, workdir) -> dict:
    """A case that needs the node prepared: secure boot on, another OS, or no apt source."""
    inventory = os.path.join(workdir, "alone-%s.yml" % case.id)
    hv = node.host(**case_host_vars(case, mirror.url))
    efivar = os.path.join(node.firmware, SECURE_BOOT_VAR)
    try:
        if case.id == "cuda-secure-boot":
            os.makedirs(os.path.dirname(efivar), exist_ok=True)
            with open(efivar, "wb") as f:
                f.write(b"\x06\x00\x00\x00\x01")  # attributes, then 1 = secure boot enabled
        elif case.id in OTHER_OS:
            node.exec("mv /etc/os-release /etc/os-release.rel-saved && mv /etc/debian_version "
                      "/etc/debian_version.rel-saved && cat > /etc/os-release <<'EOF'\n%sEOF" % OTHER_OS[case.id])
        elif case.id == "cuda-debian-11":
            node.exec("cp -a /etc/os-release /etc/os-release.rel-saved && cp -a /etc/debian_version "
                      "/etc/debian_version.rel-saved && sed -i 's/^VERSION_ID=.*/VERSION_ID=\"11\"/; "
                      "s/^VERSION_CODENAME=.*/VERSION_CODENAME=bullseye/' /etc/os-release && "
                      "echo 11.11 > /etc/debian_version")
        elif case.id == "cuda-no-debian-source":
            node.exec("mkdir /root/rel-apt-saved && mv /etc/apt/sources.list /etc/apt/sources.list.d "
                      "/root/rel-apt-saved/ && mkdir /etc/apt/sources.list.d")
        run, state_diff = _run_batch({case.id: hv}, inventory, node.snapshot)
        return _outcome(run, case.id, state_diff)
    finally:
        if case.id == "cuda-no-debian-source":
            node.exec("[ ! -d /root/rel-apt-saved ] || { rm -rf /etc/apt/sources.list.d && "
                      "mv /root/rel-apt-saved/* /etc/apt/ && rmdir /root/rel-apt-saved; }", check=False)
        if os.path.exists(efivar):
            os.unlink(efivar)
        if case.id in OTHER_OS or case.id == "cuda-debian-11":
            node.exec("[ ! -e /etc/os-release.rel-saved ] || { rm -f /etc/os-release && "
                      "mv /etc/os-release.rel-saved /etc/os-release; }; [ ! -e /etc/debian_version.rel-saved ] || "
                      "mv /etc/debian_version.rel-saved /etc/debian_version", check=False)


SITE_OK = {
    "k3s_gpu_server_url": "https://k3s.lab.invalid:6443",
    "k3s_gpu_token": "K10reliabilitysite::server:0123456789abcdef",
}


def run_site(case, node, mirror, kube, workdir, helm_env) -> dict:
    """playbooks/site.yml with one bad cluster-wide input; gpu_nodes = the lab node."""
    group_vars = dict(SITE_OK)
    group_vars.update({
        "k3s_gpu_kubeconfig": kube.kubeconfig,
        "k3s_agent_release_url": mirror.url + "/k3s-io/k3s/releases/download",
        "cuda_driver_repo_url": mirror.url + "/compute/cuda/repos",
        "container_toolkit_repo_url": mirror.url + "/libnvidia-container/stable/deb",
        "container_toolkit_gpgkey_url": mirror.url + "/libnvidia-container/gpgkey",
        "cuda_driver_keyring_fingerprints": [cases.LAB_CUDA_KEY],
        "container_toolkit_gpgkey_fingerprints": [cases.LAB_NCT_KEY],
        "gpu_operator_chart_repo_url": mirror.url + "/helm/nvidia",
        "gpu_operator_helm_binary": kube.helm,
        "gpu_operator_wait_timeout": 30,
    })
    group_vars.update(dict(cases.CUDA_OK))
    two = case.vars.get("rel_two_controllers")
    for k, v in case.vars.items():
        if v is cases.MISSING:
            group_vars.pop(k, None)
        elif not k.startswith("rel_"):
            group_vars[k] = v
    controllers = {"controller": lab.local_host()}
    if two:
        controllers["controller-2"] = lab.local_host()
    inventory = os.path.join(workdir, "site-%s.yml" % case.id)
    doc = {"gpu_nodes": {"gpu-node": node.host()}, "controller": controllers}
    lab.write_inventory(inventory, doc)
    # group vars for all: rewrite with vars at the top level
    import yaml  # pylint: disable=import-outside-toplevel
    with open(inventory, encoding="utf-8") as f:
        inv = yaml.safe_load(f)
    inv["all"]["vars"] = group_vars
    with open(inventory, "w", encoding="utf-8") as f:
        yaml.safe_dump(inv, f)

    def snap():
        return node.snapshot() + lab.api_snapshot(kube)

    before = snap()
    run = lab.run_playbook(os.path.join(lab.REPO, "playbooks", "site.yml"), inventory,
                           env=dict(helm_env, K8S_AUTH_KUBECONFIG=kube.kubeconfig), json_callback=True)
    state_diff = lab.diff(before, snap())
    doc = run.json()
    msgs = []
    changed = 0
    failures = 0
    for host in list(controllers) + ["gpu-node"]:
        msgs += lab.failure_messages(doc, host)
        changed += doc.get("stats", {}).get(host, {}).get("changed", 0)
        failures += doc.get("stats", {}).get(host, {}).get("failures", 0)
    return {"rc": run.rc, "stats": {"changed": changed, "failures": failures}, "messages": msgs,
            "diff": state_diff, "output": run.output, "elapsed": run.elapsed}


STATE_LABEL = {"node": "node", "alone": "node", "api": "API", "site": "node + API"}


def _excerpt(messages: list[str]) -> str:
    if not messages:
        return ""
    text = re.sub(r"^\[[^\]]*\]\s*", "", messages[0])
    text = re.sub(r"\s+", " ", text)
    return text[:220] + ("..." if len(text) > 220 else "")


@pytest.mark.parametrize("case", cases.BAD_INPUTS, ids=lambda c: c.id)
def test_bad_input(case, request, matrix, bad_input_node, mirror, workdir):
    row = matrix.row("bad", target=case.target, input=case.shown, expect=case.expect, seen="",
                     state=STATE_LABEL[case.runner])
    if case.runner == "node":
        out = request.getfixturevalue("node_batch")[case.id]
    elif case.runner == "api":
        out = request.getfixturevalue("api_batch")[case.id]
    elif case.runner == "alone":
        out = run_alone(case, bad_input_node, mirror, workdir)
    else:
        out = run_site(case, bad_input_node, mirror, request.getfixturevalue("kube_cluster"), workdir,
                       request.getfixturevalue("helm_env"))
    row["seen"] = _excerpt(out["messages"])
    context = "\n".join(out["messages"]) + "\n--- output tail:\n" + out["output"][-3000:]

    assert out["rc"] != 0, "the run did not fail:\n" + context
    assert out["stats"].get("failures", 0) >= 1, "no failed task for %s:\n%s" % (case.id, context)
    assert re.search(case.expect, "\n".join(out["messages"]), re.S | re.I), (
        "message does not match %r:\n%s" % (case.expect, context))
    if case.rollback:
        row["state"] += " (%s)" % case.note
    else:
        assert out["stats"].get("changed", 0) == 0, "a task reported a change before the failure:\n" + context
    assert not out["diff"], "the state changed:\n%s\n%s" % (out["diff"][:6000], context)
    secret = case.vars.get("k3s_agent_token") or case.vars.get("k3s_gpu_token")
    if isinstance(secret, str) and len(secret) > 8:
        assert secret not in out["output"], "the token reached the output"
    for ws in case.vars.get("gpu_workspace_workspaces") or []:
        if isinstance(ws, dict) and isinstance(ws.get("password"), str) and len(ws["password"]) > 8:
            assert ws["password"] not in out["output"], "a workspace password reached the output"
