"""Start and stop a real kube-apiserver and etcd for tests.

The binaries come from ``build.sh`` (kube-apiserver and etcd of the pinned
Kubernetes release, and helm). ``start.sh`` does the work, so the shell scripts
and this module start exactly the same thing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BUILD_SH = os.path.join(HERE, "build.sh")
START_SH = os.path.join(HERE, "start.sh")
STOP_SH = os.path.join(HERE, "stop.sh")


class KubeHarnessError(RuntimeError):
    """The harness could not build or start the API server."""


def _run_build(script: str) -> str:
    start = time.monotonic()
    proc = subprocess.run([script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise KubeHarnessError(
            "tests/lab/kube/%s failed (rc=%d) after %.0fs:\n%s\n%s"
            % (os.path.basename(script), proc.returncode, time.monotonic() - start,
               proc.stdout[-4000:], proc.stderr[-4000:])
        )
    return proc.stdout.strip().splitlines()[-1]


def build() -> str:
    """Build (or reuse) kube-apiserver, etcd and helm; return their directory."""
    return _run_build(BUILD_SH)


def build_skew() -> str:
    """The skew tests' kube-apiserver (build.sh's skew/, stamped v1.35.4); return its path."""
    return os.path.join(build(), "skew", "kube-apiserver")


def _read_env(path: str) -> dict:
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                env[key] = value
    return env


@dataclass
class KubeCluster:
    """A running etcd + kube-apiserver started by ``start.sh``.

    Attributes are paths and values a test needs to talk to the API:
    ``kubeconfig`` (admin, group system:masters), ``kubeconfig_limited`` (user
    "limited", authenticated through a static token but granted nothing by RBAC,
    so every request is forbidden), ``server``, ``ca_file``, ``limited_token``,
    ``bin_dir`` (kube-apiserver, etcd, helm), ``helm`` and the kubelet serving
    certificate that :class:`kube.kubelet.FakeKubelet` presents.
    """

    state_dir: str
    bin_dir: str
    kubeconfig: str
    kubeconfig_limited: str
    server: str
    ca_file: str
    etcd_url: str
    limited_token: str = field(repr=False)
    kubelet_cert: str = ""
    kubelet_key: str = field(default="", repr=False)

    @property
    def helm(self) -> str:
        return os.path.join(self.bin_dir, "helm")

    @property
    def admin_cert(self) -> str:
        return os.path.join(self.state_dir, "pki", "admin.crt")

    @property
    def admin_key(self) -> str:
        return os.path.join(self.state_dir, "pki", "admin.key")

    def pids(self) -> dict:
        """PIDs of the running processes, by name (from their pidfiles)."""
        out = {}
        for name in ("etcd", "kube-apiserver"):
            path = os.path.join(self.state_dir, name + ".pid")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    out[name] = int(f.read().strip())
        return out

    def rss_bytes(self) -> dict:
        """Resident memory of etcd and kube-apiserver, by name (VmRSS)."""
        out = {}
        for name, pid in self.pids().items():
            with open("/proc/%d/status" % pid, encoding="utf-8") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out[name] = int(line.split()[1]) * 1024
        return out

    def api_client(self, limited: bool = False):
        """A ``kubernetes.client.ApiClient`` for the admin (or the limited user)."""
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel

        cfg = client.Configuration()
        config.load_kube_config(
            config_file=self.kubeconfig_limited if limited else self.kubeconfig, client_configuration=cfg
        )
        return client.ApiClient(cfg)

    def ansible_env(self) -> dict:
        """Environment for ansible-playbook: kubernetes.core reads K8S_AUTH_KUBECONFIG."""
        env = dict(os.environ)
        env["K8S_AUTH_KUBECONFIG"] = self.kubeconfig
        env["KUBECONFIG"] = self.kubeconfig
        return env

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for name in ("etcd", "kube-apiserver"):
            path = os.path.join(self.state_dir, name + ".log")
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    out.append("--- %s\n%s" % (path, "".join(f.readlines()[-lines:])))
        return "\n".join(out)


def start(state_dir: str, bin_dir: str | None = None, attempts: int = 3,
          apiserver_bin: str | None = None) -> KubeCluster:
    """Run ``start.sh STATE_DIR`` and return the cluster it started.

    start.sh picks free ports, then the servers bind them: another process may take
    one in between, so a failed start is retried (start.sh stops what it started).
    ``apiserver_bin`` runs that kube-apiserver (build_skew()'s) instead of bin_dir's.
    """
    env = dict(os.environ)
    if bin_dir:
        env["KUBE_BIN_DIR"] = bin_dir
    if apiserver_bin:
        env["KUBE_APISERVER_BIN"] = apiserver_bin
    errors = []
    for _attempt in range(attempts):
        proc = subprocess.run(
            [START_SH, state_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, check=False
        )
        if proc.returncode == 0:
            break
        errors.append("%s failed (rc=%d):\n%s\n%s"
                      % (shlex.join([START_SH, state_dir]), proc.returncode, proc.stdout, proc.stderr))
    else:
        raise KubeHarnessError("\n".join(errors))
    return load(state_dir)


def load(state_dir: str) -> KubeCluster:
    """The cluster that ``start.sh STATE_DIR`` started, from its ``cluster.env``."""
    values = _read_env(os.path.join(state_dir, "cluster.env"))
    return KubeCluster(
        state_dir=os.path.abspath(state_dir),
        bin_dir=values["KUBE_BIN_DIR"],
        kubeconfig=os.path.join(os.path.abspath(state_dir), "kubeconfig"),
        kubeconfig_limited=os.path.join(os.path.abspath(state_dir), "kubeconfig-limited"),
        server=values["KUBE_SERVER"],
        ca_file=values["KUBE_CA"],
        etcd_url=values["KUBE_ETCD_URL"],
        limited_token=values["KUBE_LIMITED_TOKEN"],
        kubelet_cert=values["KUBE_KUBELET_CERT"],
        kubelet_key=values["KUBE_KUBELET_KEY"],
    )


def stop(state_dir: str) -> None:
    """Run ``stop.sh STATE_DIR``: stops only the PIDs in its pidfiles."""
    subprocess.run([STOP_SH, state_dir], check=True)
