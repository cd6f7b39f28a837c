# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Injected faults: each ends with a clear failure or a bounded wait, leaves nothing
half-installed active, and a re-run after the fault is gone converges.

Real: the roles and modules through ansible-playbook, Debian 12 systemd containers, apt and
dpkg, systemd, the lab mirror (its fault injection: tests/lab/mirror/fault.sh, stop.sh,
the /untrusted/ repositories, the bad-checksum K3s release v1.36.99+k3s1), kube-apiserver
+ etcd. Simulated: the kubelet (kube.kubelet.FakeKubelet writes what it would write).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import threading
import time
import uuid

from kubernetes import client
from kubernetes.client.rest import ApiException

import cases
import lab

K3S_VERSION = "v1.36.3+k3s1"
BAD_SUM_VERSION = "v1.36.99+k3s1"


def new_token() -> str:
    return "K10%s::server:%s" % (secrets.token_hex(24), secrets.token_hex(16))


def k3s_vars(mirror, token, **extra) -> dict:
    out = {"rel_role": "k3s_agent", "k3s_agent_release_url": mirror.url + "/k3s-io/k3s/releases/download",
           "k3s_agent_server_url": "https://k3s.lab.invalid:6443", "k3s_agent_token": token,
           "k3s_agent_node_name": "rel-fault-node", "k3s_agent_version": K3S_VERSION,
           "k3s_agent_version_check": False,
           "k3s_agent_start_timeout": 60}
    out.update(extra)
    return out


def cuda_vars(mirror, **extra) -> dict:
    out = {"rel_role": "cuda_driver", "cuda_driver_repo_url": mirror.url + "/compute/cuda/repos",
           "cuda_driver_keyring_fingerprints": [cases.LAB_CUDA_KEY],
           "cuda_driver_branch": "580", "cuda_driver_require_gpu": False,
           "cuda_driver_manage_distro_components": False, "cuda_driver_install_headers": False,
           "cuda_driver_reboot_allowed": False}
    out.update(extra)
    return out


def ctk_vars(mirror, **extra) -> dict:
    out = {"rel_role": "container_toolkit", "container_toolkit_repo_url": mirror.url + "/libnvidia-container/stable/deb",
           "container_toolkit_gpgkey_url": mirror.url + "/libnvidia-container/gpgkey",
           "container_toolkit_gpgkey_fingerprints": [cases.LAB_NCT_KEY]}
    out.update(extra)
    return out


def role_run(node, workdir, extra_vars, args=(), env=None, json_callback=False) -> lab.Run:
    inventory = os.path.join(workdir, "fault-%s.yml" % node.name)
    lab.write_inventory(inventory, {"nodes": {"node": node.host()}})
    return lab.run_playbook("role.yml", inventory, extra_vars, list(args), env=env, json_callback=json_callback)


def unit_state(node, unit="k3s-agent.service") -> dict:
    out = node.exec("systemctl show -p ActiveState -p UnitFileState -p InvocationID -p MainPID %s" % unit).stdout
    return dict(line.split("=", 1) for line in out.strip().splitlines() if "=" in line)


def dpkg_audit(node) -> str:
    return node.exec("dpkg --audit").stdout.strip()


def assert_failed(run: lab.Run, pattern: str) -> str:
    assert run.rc != 0, "the run did not fail:\n" + run.output[-4000:]
    m = re.search(pattern, run.output, re.S)
    assert m, "no message matching %r:\n%s" % (pattern, run.output[-5000:])
    return re.sub(r"\s+", " ", m.group(0))[:200]


# --- K3s: interrupted run, bad checksum ----------------------------------------------------------
def test_run_killed_half_way_then_rerun(k3s_node, mirror, workdir, matrix):
    row = matrix.row("fault", fault="Run interrupted half way (k3s_agent)",
                     how="the K3s binary download is slowed (fault.sh delay 8 s); while get_url runs, "
                         "ansible-playbook is SIGKILLed and the node is power-cycled (podman restart -t 0)",
                     expect="no k3s binary, unit or config left; k3s-agent neither enabled nor active",
                     state="/usr/local/bin/k3s, /etc/rancher/k3s/config.yaml, k3s-agent.service, dpkg --audit",
                     rerun="")
    token = new_token()
    binary_path = "/k3s-io/k3s/releases/download/%s/k3s" % K3S_VERSION
    # get_url gives up after 10 s (its default timeout): stay below, so the kill comes first.
    mirror.fault("delay", binary_path, "8")
    inventory = os.path.join(workdir, "killed.yml")
    lab.write_inventory(inventory, {"nodes": {"node": k3s_node.host()}})
    cmd = lab.playbook_cmd("role.yml", inventory, k3s_vars(mirror, token))
    log = open(os.path.join(workdir, "killed.log"), "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(cmd, cwd=lab.REPO, env=lab.ansible_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            # get_url's request is being held by the delay: the download has started.
            if mirror.delayed(binary_path):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before the download:\n" + open(log.name, encoding="utf-8").read()[-3000:]
        time.sleep(0.5)
        lab.kill_group(proc)  # our own ansible-playbook and its podman exec children
        proc.wait(timeout=30)
        subprocess.run(["podman", "restart", "-t", "0", k3s_node.name], check=True, stdout=subprocess.DEVNULL)
        k3s_node.exec("systemctl is-system-running --wait || true", check=False, timeout=120)
    finally:
        log.close()
        mirror.fault("clear")
        if proc.poll() is None:
            lab.kill_group(proc)
    # Whether the killed run got as far as the staging directory (timing decides).
    staged = k3s_node.exec("test -d /var/cache/k3s-agent", check=False).returncode == 0
    # Nothing half-installed is active.
    assert k3s_node.exec("test -e /usr/local/bin/k3s", check=False).returncode != 0, "k3s binary in place"
    assert k3s_node.exec("test -e /etc/rancher/k3s/config.yaml", check=False).returncode != 0
    st = unit_state(k3s_node)
    assert st.get("ActiveState") in ("inactive", None, "") and st.get("UnitFileState") in ("", None, "disabled"), st
    assert dpkg_audit(k3s_node) == ""

    rerun = role_run(k3s_node, workdir, k3s_vars(mirror, token))
    assert rerun.rc == 0, rerun.output[-5000:]
    changed = rerun.changed_tasks("node")
    # The re-run redoes only what the killed run left undone.
    assert ("k3s_gpu.node.k3s_agent : Create the staging directory" in changed) == (not staged), (staged, changed)
    assert any("Download" in t and K3S_VERSION in t for t in changed), changed
    assert unit_state(k3s_node).get("ActiveState") == "active"
    again = role_run(k3s_node, workdir, k3s_vars(mirror, token))
    assert again.rc == 0 and again.recap("node")["changed"] == 0, again.output[-4000:]
    row["rerun"] = ("converged: changed=%d (binary, config, token, unit, service; not the staging directory "
                    "created before the kill); next run changed=0" % rerun.recap("node")["changed"])


def test_k3s_checksum_mismatch_keeps_old_binary(k3s_node, mirror, workdir, matrix):
    row = matrix.row("fault", fault="K3s binary whose sha256 does not match its release's sha256sum file",
                     how="k3s_agent_version %s on a node running %s (the mirror's bad-checksum release)"
                         % (BAD_SUM_VERSION, K3S_VERSION),
                     expect="fails with 'k3s %s was NOT installed ... does not match sha256'; the old binary "
                            "stays and the service is not restarted" % BAD_SUM_VERSION,
                     state="node snapshot (files, packages, units), k3s --version, k3s-agent InvocationID",
                     rerun="")
    token = new_token()
    first = role_run(k3s_node, workdir, k3s_vars(mirror, token))
    assert first.rc == 0, first.output[-4000:]
    before, unit_before = k3s_node.snapshot(), unit_state(k3s_node)
    run = role_run(k3s_node, workdir, k3s_vars(mirror, token, k3s_agent_version=BAD_SUM_VERSION))
    row["expect"] += "; seen: " + assert_failed(
        run, r"k3s %s was NOT installed.*?does not match\s+sha256" % re.escape(BAD_SUM_VERSION))
    assert lab.diff(before, k3s_node.snapshot()) == ""
    assert K3S_VERSION in k3s_node.exec("/usr/local/bin/k3s --version").stdout
    unit_after = unit_state(k3s_node)
    assert unit_after["ActiveState"] == "active" and unit_after["InvocationID"] == unit_before["InvocationID"], (
        unit_before, unit_after)
    rerun = role_run(k3s_node, workdir, k3s_vars(mirror, token))
    assert rerun.rc == 0 and rerun.recap("node")["changed"] == 0, rerun.output[-4000:]
    row["rerun"] = "with %s again: changed=0 (nothing was left undone)" % K3S_VERSION


# --- apt: mirror down, untrusted key, mirror failing mid-run ----------------------------------------
def test_mirror_down_before_run(apt_node, mirror, workdir, matrix):
    row = matrix.row("fault", fault="Mirror down before a run (cuda_driver)",
                     how="tests/lab/mirror/stop.sh, then the role on a fresh node",
                     expect="fails at the first download (the keyring), naming the URL; what the run added is "
                            "removed", state="node snapshot (files, packages, units)", rerun="")
    before = apt_node.snapshot()
    url = mirror.url
    mirror.stop()
    try:
        start = time.monotonic()
        run = role_run(apt_node, workdir, cuda_vars(mirror))
        elapsed = time.monotonic() - start
    finally:
        mirror.start()
    row["expect"] += "; seen: " + assert_failed(
        run, r"cuda_driver could not use the package repository.*?Check cuda_driver_repo_url \(%s" % re.escape(url))
    assert elapsed < 240, "not a bounded failure: %.0f s" % elapsed
    assert lab.diff(before, apt_node.snapshot()) == ""
    row["rerun"] = "see the next rows (same node): the role converges once the mirror is back"


def test_untrusted_repository_key(apt_node, mirror, workdir, matrix):
    row = matrix.row("fault", fault="Repository signed by an untrusted key (cuda_driver, container_toolkit)",
                     how="cuda_driver_repo_url and container_toolkit_repo_url -> the mirror's /untrusted/ copies "
                         "(same packages, other key)",
                     expect="the role reads InRelease's issuer (not the pinned key) before apt would refuse it "
                            "(NO_PUBKEY / not signed); nothing is written", state="node snapshot (files, packages, "
                            "units); dpkg --audit", rerun="")
    before = apt_node.snapshot()
    run = role_run(apt_node, workdir, cuda_vars(mirror, cuda_driver_repo_url=mirror.url + "/untrusted/compute/cuda/repos"))
    seen = [assert_failed(
        run, r"cuda_driver could not use the package repository.*?InRelease is signed by key %s, which is not the "
             r"verified key" % cases.LAB_UNTRUSTED_KEY)]
    run = role_run(apt_node, workdir, ctk_vars(
        mirror, container_toolkit_repo_url=mirror.url + "/untrusted/libnvidia-container/stable/deb"))
    seen.append(assert_failed(
        run, r"InRelease is signed by key %s, which is not the verified key" % cases.LAB_UNTRUSTED_KEY))
    row["expect"] += "; seen: " + " | ".join(seen)
    assert lab.diff(before, apt_node.snapshot()) == ""
    assert dpkg_audit(apt_node) == ""
    row["rerun"] = "see the next row (same node)"


APT_TRUST_FILES = ("/etc/apt/keyrings/cuda-archive-keyring.gpg", "/etc/apt/keyrings/nvidia-container-toolkit-keyring.asc",
                   "/etc/apt/sources.list.d/cuda-nvidia.sources", "/etc/apt/sources.list.d/nvidia-container-toolkit.sources",
                   "/etc/apt/preferences.d/cuda-repository-pin-600", "/etc/apt/preferences.d/nvidia-container-toolkit")


def test_mirror_serving_another_key(apt_node, mirror, workdir, matrix):
    row = matrix.row("fault", fault="A mirror serving another key (cuda_driver, container_toolkit)",
                     how="cuda_driver_keyring_url -> the mirror's /lab/keys/untrusted.gpg; container_toolkit_gpgkey_url "
                         "-> /untrusted/libnvidia-container/gpgkey (the lab's UNTRUSTED key; the fingerprints pinned are "
                         "the lab's CUDA and libnvidia-container keys)",
                     expect="each role fails before apt trusts the key, naming the served and the expected fingerprint "
                            "and the variable to set; no keyring, source or pin file is written",
                     state="node snapshot (files, packages, units); the trust files absent; dpkg --audit", rerun="")
    before = apt_node.snapshot()
    assert apt_node.exec("ls %s" % " ".join(APT_TRUST_FILES), check=False).stdout.strip() == ""
    seen = []
    run = role_run(apt_node, workdir, cuda_vars(mirror, cuda_driver_keyring_url=mirror.url + "/lab/keys/untrusted.gpg"))
    seen.append(assert_failed(
        run, r"has fingerprint %s, which is not pinned: expected %s \(cuda_driver_keyring_fingerprints\).*?set "
             r"cuda_driver_keyring_fingerprints to that key's fingerprint" % (cases.LAB_UNTRUSTED_KEY, cases.LAB_CUDA_KEY)))
    run = role_run(apt_node, workdir, ctk_vars(
        mirror, container_toolkit_gpgkey_url=mirror.url + "/untrusted/libnvidia-container/gpgkey"))
    seen.append(assert_failed(
        run, r"has fingerprint %s, which is not pinned: expected %s \(container_toolkit_gpgkey_fingerprints\)"
             % (cases.LAB_UNTRUSTED_KEY, cases.LAB_NCT_KEY)))
    row["expect"] += "; seen: " + " | ".join(seen)
    assert lab.diff(before, apt_node.snapshot()) == ""
    assert apt_node.exec("ls %s" % " ".join(APT_TRUST_FILES), check=False).stdout.strip() == ""
    assert dpkg_audit(apt_node) == ""
    row["rerun"] = "see the next row (same node)"


def test_mirror_fails_mid_run_then_rerun(apt_node, mirror, workdir, matrix):
    row = matrix.row("fault", fault="Mirror erroring mid-run (cuda_driver)",
                     how="fault.sh status 500 on the kernel module package (.../debian12/x86_64/nvidia-kernel-open-dkms_*), "
                         "which apt fetches after the repository, its index and the pinning package",
                     expect="apt fails on the download; no driver package half-installed",
                     state="dpkg --audit empty; no nvidia-kernel-* / nvidia-driver-cuda installed; "
                           "nvidia-persistenced not enabled", rerun="")
    # apt asks for ./<file> in a flat repository (Filename: ./nvidia-...).
    for prefix in ("/compute/cuda/repos/debian12/x86_64/nvidia-kernel-open-dkms",
                   "/compute/cuda/repos/debian12/x86_64/./nvidia-kernel-open-dkms"):
        mirror.fault("status", prefix, "500")
    try:
        run = role_run(apt_node, workdir, cuda_vars(mirror))
    finally:
        mirror.fault("clear")
    row["expect"] += "; seen: " + assert_failed(run, r"(500|Internal Server Error|Failed to fetch)")
    assert dpkg_audit(apt_node) == ""
    pkgs = apt_node.exec("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'").stdout
    assert not re.search(r"^(nvidia-kernel-open-dkms|nvidia-driver-cuda) ", pkgs, re.M), pkgs
    assert unit_state(apt_node, "nvidia-persistenced.service").get("UnitFileState") in ("", None, "disabled")
    rerun = role_run(apt_node, workdir, cuda_vars(mirror))
    assert rerun.rc == 0, rerun.output[-5000:]
    changed = rerun.changed_tasks("node")
    assert any("Install the driver" in t for t in changed), changed
    pkgs = apt_node.exec("dpkg-query -W -f '${Package} ${Version}\\n'").stdout
    assert re.search(r"^nvidia-kernel-open-dkms 580\.", pkgs, re.M), pkgs
    assert dpkg_audit(apt_node) == ""
    row["rerun"] = "converged: changed=%d (%s)" % (rerun.recap("node")["changed"], "; ".join(
        t.split(" : ", 1)[-1] for t in changed))


# --- Kubernetes API ------------------------------------------------------------------------------
def module_run(kube, workdir, module, args, env=None) -> lab.Run:
    inventory = os.path.join(workdir, "controller.yml")
    lab.write_inventory(inventory, {"controller": {"controller": lab.local_host()}})
    return lab.run_playbook("module.yml", inventory, {"rel_module": module, "rel_args": args},
                            env=dict(env or {}, K8S_AUTH_KUBECONFIG=kube.kubeconfig))


def test_api_unreachable(kube_cluster, workdir, matrix):
    row = matrix.row("fault", fault="Kubernetes API unreachable (k3s_taint)",
                     how="a copy of the kubeconfig whose server is a closed port on 127.0.0.1",
                     expect="fails within the client's retries, naming the connection error",
                     state="API snapshot (nodes, namespaces, pods, secrets, ...)", rerun="")
    with open(kube_cluster.kubeconfig, encoding="utf-8") as f:
        text = f.read()
    dead = os.path.join(workdir, "kubeconfig-dead")
    with open(dead, "w", encoding="utf-8") as f:
        f.write(re.sub(r"server: https://127\.0\.0\.1:\d+", "server: https://127.0.0.1:9", text))
    os.chmod(dead, 0o600)
    name = "rel-unreach-" + uuid.uuid4().hex[:6]
    before = lab.api_snapshot(kube_cluster)
    start = time.monotonic()
    run = module_run(kube_cluster, workdir, "k3s_taint",
                     {"name": name, "taints": ["nvidia.com/gpu=true:NoSchedule"], "kubeconfig": dead, "wait_timeout": 5})
    elapsed = time.monotonic() - start
    row["expect"] += "; seen: " + assert_failed(run, r"(Connection refused|Max retries exceeded|connecting to the Kubernetes API)[^\n]*")
    assert elapsed < 120, elapsed
    assert lab.diff(before, lab.api_snapshot(kube_cluster)) == ""
    row["rerun"] = "failed in %.0f s (bounded); see the credential row for the converging re-run" % elapsed


def test_api_refuses_credential_then_rerun(kube_cluster, fake_kubelet, workdir, matrix):
    row = matrix.row("fault", fault="API server refusing the credential (k3s_taint)",
                     how="kubeconfig-limited: a valid token that RBAC grants nothing (403)",
                     expect="fails with the API's 403 Forbidden, nothing written",
                     state="API snapshot", rerun="")
    name = "rel-forbid-" + uuid.uuid4().hex[:6]
    fake_kubelet(name).register(gpus=1)
    args = {"name": name, "taints": ["nvidia.com/gpu=true:NoSchedule"], "wait_timeout": 5}
    before = lab.api_snapshot(kube_cluster)
    run = module_run(kube_cluster, workdir, "k3s_taint", dict(args, kubeconfig=kube_cluster.kubeconfig_limited))
    row["expect"] += "; seen: " + assert_failed(run, r"(403|[Ff]orbidden)[^\n]*")
    assert lab.diff(before, lab.api_snapshot(kube_cluster)) == ""
    rerun = module_run(kube_cluster, workdir, "k3s_taint", dict(args, kubeconfig=kube_cluster.kubeconfig))
    assert rerun.rc == 0 and rerun.recap("controller")["changed"] == 1, rerun.output[-4000:]
    again = module_run(kube_cluster, workdir, "k3s_taint", dict(args, kubeconfig=kube_cluster.kubeconfig))
    assert again.rc == 0 and again.recap("controller")["changed"] == 0, again.output[-4000:]
    row["rerun"] = "with the admin kubeconfig: changed=1 (the taint), then changed=0"


def test_node_never_registers_then_rerun(kube_cluster, fake_kubelet, workdir, matrix):
    row = matrix.row("fault", fault="Node that never registers (k3s_taint)",
                     how="k3s_taint on a node name no kubelet registers, wait_timeout 4",
                     expect="fails after the bounded wait: 'node ... is not registered after 4s'",
                     state="API snapshot", rerun="")
    name = "rel-late-" + uuid.uuid4().hex[:6]
    args = {"name": name, "taints": ["nvidia.com/gpu=true:NoSchedule"], "wait_timeout": 4, "wait_sleep": 1}
    before = lab.api_snapshot(kube_cluster)
    start = time.monotonic()
    run = module_run(kube_cluster, workdir, "k3s_taint", args)
    elapsed = time.monotonic() - start
    row["expect"] += "; seen: " + assert_failed(run, r"node %s is not registered after 4s[^\n]*" % name)
    assert elapsed < 90, elapsed
    assert lab.diff(before, lab.api_snapshot(kube_cluster)) == ""
    fake_kubelet(name).register(gpus=1)
    rerun = module_run(kube_cluster, workdir, "k3s_taint", args)
    assert rerun.rc == 0 and rerun.recap("controller")["changed"] == 1, rerun.output[-4000:]
    row["rerun"] = "after the node registered: changed=1 (the taint); the wait took %.0f s in all" % elapsed


class PodPlayer(threading.Thread):
    """Plays scheduler and kubelet for the next gpu-validate pod in `namespace`: binds it and
    reports it succeeded with the vectoradd sample's output."""

    def __init__(self, kube, kubelet, namespace):
        super().__init__(daemon=True)
        self.api = client.CoreV1Api(kube.api_client())
        self.kubelet, self.namespace, self.done = kubelet, namespace, False

    def run(self):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pods = self.api.list_namespaced_pod(self.namespace, label_selector="app.kubernetes.io/name=gpu-validate").items
            if pods:
                self.kubelet.run_pod(self.namespace, pods[0].metadata.name, phase="Succeeded", exit_code=0,
                                     logs="[Vector addition of 50000 elements]\nTest PASSED\nDone\n")
                self.done = True
                return
            time.sleep(0.3)


def test_pod_never_schedules_then_rerun(kube_cluster, fake_kubelet, workdir, matrix):
    row = matrix.row("fault", fault="vectoradd pod that never schedules (gpu_validate)",
                     how="no scheduler/kubelet acts on the pod; gpu_validate timeout 6 s",
                     expect="fails after the bounded wait, and the pod is deleted",
                     state="no gpu-validate pod left in the namespace", rerun="")
    api = client.CoreV1Api(kube_cluster.api_client())
    ns = "rel-pod-" + uuid.uuid4().hex[:6]
    api.create_namespace({"metadata": {"name": ns}})
    try:
        client.NodeV1Api(kube_cluster.api_client()).create_runtime_class(
            {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": "nvidia"})
    except ApiException as exc:
        if exc.status != 409:
            raise
    node = "rel-gpu-" + uuid.uuid4().hex[:6]
    kubelet = fake_kubelet(node)
    kubelet.register(gpus=1, taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}])
    args = {"checks": ["pod"], "node_name": node, "namespace": ns, "timeout": 6, "kubeconfig": kube_cluster.kubeconfig}
    start = time.monotonic()
    run = module_run(kube_cluster, workdir, "gpu_validate", args)
    elapsed = time.monotonic() - start
    row["expect"] += "; seen: " + assert_failed(run, r"pod failed: [^\n]*")
    assert elapsed < 120, elapsed
    assert api.list_namespaced_pod(ns).items == [], "the pod was left behind"
    player = PodPlayer(kube_cluster, kubelet, ns)
    player.start()
    rerun = module_run(kube_cluster, workdir, "gpu_validate", dict(args, timeout=60))
    player.join(timeout=60)
    assert rerun.rc == 0 and player.done, rerun.output[-4000:]
    assert api.list_namespaced_pod(ns).items == []
    row["rerun"] = "once a kubelet runs it: passed (Test PASSED), pod deleted; the failing run took %.0f s" % elapsed
