"""The k3s stand-in checks what the k3s_agent role hands to K3s, the way K3s does.

It is downloaded from the lab mirror's K3s release layout (checksum-verified), run on the
host in a temporary directory for the validation matrix, and run under systemd in a Debian
12 container as the k3s_agent role installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

RELEASE = "/k3s-io/k3s/releases/download/v1.36.3+k3s1/"


@pytest.fixture(scope="module")
def k3s_bin(lab_mirror, tmp_path_factory):
    data = lab_mirror.get(RELEASE + "k3s")
    sums = dict(line.split()[::-1] for line in lab_mirror.get(RELEASE + "sha256sum-amd64.txt").decode().splitlines())
    assert hashlib.sha256(data).hexdigest() == sums["k3s"]
    path = tmp_path_factory.mktemp("k3s") / "k3s"
    path.write_bytes(data)
    path.chmod(0o755)
    return str(path)


def run(k3s, args, tmp_path, config=None, dropins=None, env=None, timeout=10):
    cfg = tmp_path / "config.yaml"
    if config is not None:
        cfg.write_text(config)
    for name, text in (dropins or {}).items():
        d = tmp_path / "config.yaml.d"
        d.mkdir(exist_ok=True)
        (d / name).write_text(text)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("K3S_")}
    clean.update(env or {})
    return subprocess.run([k3s] + args + ["--config", str(cfg), "--data-dir", str(tmp_path / "data")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                          env=clean, check=False)


def test_version_per_release(lab_mirror, tmp_path):
    for version in ("v1.36.2+k3s1", "v1.36.3+k3s1", "v1.36.4+k3s1"):
        binary = tmp_path / version
        binary.write_bytes(lab_mirror.get("/k3s-io/k3s/releases/download/%s/k3s" % version))
        binary.chmod(0o755)
        out = subprocess.run([str(binary), "--version"], stdout=subprocess.PIPE, text=True, check=True).stdout
        first, second = out.splitlines()
        assert first.startswith("k3s version %s (" % version) and first.endswith(")")
        assert second.startswith("go version go1.")


TOKEN = "K10secret-token-value::server:abc"


@pytest.mark.parametrize("config,files,message", [
    ("server: https://10.0.0.1:6443\n", {}, "Error: --token is required"),
    ("token: %s\n" % TOKEN, {}, "Error: --server is required"),
    ("server: http://10.0.0.1:6443\ntoken: %s\n" % TOKEN, {}, "must be an https:// URL"),
    ("server: https://10.0.0.1:6443\ntoken-file: /nonexistent/token\n", {}, "open /nonexistent/token: no such file"),
    ("server: https://10.0.0.1:6443\ntoken: %s\nnode-taint:\n  - nvidia.com/gpu=present:NoSchedul\n" % TOKEN, {},
     "invalid taint effect: NoSchedul, unsupported taint effect"),
    ("server: https://10.0.0.1:6443\ntoken: %s\nnode-taint: nvidia.com/gpu=present\n" % TOKEN, {}, "invalid taint spec"),
    ("server: https://10.0.0.1:6443\ntoken: %s\n" % TOKEN, {"50-bad.yaml": "node-taint+:\n  - 'bad key!:NoSchedule'\n"},
     "invalid taint spec"),
    ("server: https://10.0.0.1:6443\ntoken: %s\nnode-label:\n  - novalue\n" % TOKEN, {}, "invalid node-label"),
])
def test_agent_rejects_bad_config(k3s_bin, tmp_path, config, files, message):
    proc = run(k3s_bin, ["agent"], tmp_path, config=config, dropins=files)
    assert proc.returncode == 1, proc
    assert "level=fatal" in proc.stderr and message in proc.stderr, proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout


def test_agent_runs_until_sigterm_with_merged_config(k3s_bin, tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    (tmp_path / "config.yaml").write_text(
        "server: https://10.0.0.1:6443\ntoken-file: %s\nnode-name: gpu-1\nnode-taint:\n"
        "  - nvidia.com/gpu=present:NoSchedule\n" % token)
    (tmp_path / "config.yaml.d").mkdir()
    (tmp_path / "config.yaml.d" / "10-labels.yaml").write_text(
        "node-label:\n  - nvidia.com/gpu.present=true\nnode-taint+:\n  - dedicated=gpu:NoExecute\n")
    (tmp_path / "config.yaml.d" / "20-runtime.yaml").write_text("default-runtime: nvidia\n")
    proc = subprocess.Popen([k3s_bin, "agent", "--config", str(tmp_path / "config.yaml"), "--data-dir",
                             str(tmp_path / "data")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state_file = tmp_path / "data" / "agent" / "standin-state.json"
        deadline = time.monotonic() + 10
        while not state_file.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(0.3)
        assert proc.poll() is None, "the agent must keep running"
        state = json.loads(state_file.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert state["node_name"] == "gpu-1" and state["default_runtime"] == "nvidia"
    assert state["node_taints"] == ["nvidia.com/gpu=present:NoSchedule", "dedicated=gpu:NoExecute"]
    assert state["node_labels"] == ["nvidia.com/gpu.present=true"] and state["token_set"] is True
    assert TOKEN not in err + out + state_file.read_text()
    assert "Starting k3s agent v1.36.3+k3s1" in err
    # No containerd or kubelet on this host's search path: nothing is launched, and it says so.
    assert state["mode"] == "validation-only"
    assert "validation-only mode: no containerd or kubelet in" in err


UNIT = """[Unit]
Description=Lightweight Kubernetes (lab test unit)
After=network-online.target
[Service]
Type=simple
ExecStart=/usr/local/bin/k3s agent
KillMode=process
Restart=no
[Install]
WantedBy=multi-user.target
"""


def test_agent_under_systemd(lab_mirror, lab_container, k3s_bin):
    c = lab_container("debian12")
    c.put(k3s_bin, "/usr/local/bin/k3s")
    c.write("/etc/rancher/k3s/token", TOKEN + "\n", mode="0600")
    c.write("/etc/rancher/k3s/config.yaml", "server: https://127.0.0.1:6443\ntoken-file: /etc/rancher/k3s/token\n"
            "node-taint:\n  - nvidia.com/gpu=present:NoSchedule\n", mode="0600")
    c.write("/etc/systemd/system/k3s-agent.service", UNIT)
    c.exec("systemctl daemon-reload && systemctl start k3s-agent")
    time.sleep(1)
    assert c.exec("systemctl is-active k3s-agent").stdout.strip() == "active"
    journal = c.exec("journalctl -u k3s-agent --no-pager").stdout
    assert "would join https://127.0.0.1:6443" in journal and TOKEN not in journal
    assert "validation-only mode" in journal

    # A malformed taint: the unit fails, with K3s's message in the journal.
    c.write("/etc/rancher/k3s/config.yaml.d/90-bad.yaml", "node-taint+:\n  - nvidia.com/gpu:Sometimes\n")
    c.exec("systemctl restart k3s-agent", check=False)
    time.sleep(1)
    assert c.exec("systemctl is-active k3s-agent", check=False).stdout.strip() == "failed"
    journal = c.exec("journalctl -u k3s-agent --no-pager").stdout
    assert "invalid taint effect: Sometimes" in journal

    # A token file the agent cannot read (root-only, agent run as nobody).
    c.write("/tmp/nobody/config.yaml", "server: https://127.0.0.1:6443\ntoken-file: /etc/rancher/k3s/token\n")
    c.exec("chmod 755 /tmp/nobody")
    proc = c.exec("runuser -u nobody -- /usr/local/bin/k3s agent --config /tmp/nobody/config.yaml "
                  "--data-dir /tmp/nobody/data", check=False)
    assert proc.returncode == 1 and "open /etc/rancher/k3s/token: permission denied" in proc.stderr, proc


# Stand-ins for containerd and the kubelet, in K3s's bin dir of the container: containerd
# listens on the socket given with -a; both record their command line; the kubelet runs
# until it is killed.
FAKE_CONTAINERD = """#!/bin/sh
echo "$@" > /run/fake-containerd.argv
echo $$ > /run/fake-containerd.pid
exec python3 -c 'import socket, sys, signal
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); signal.pause()' "$4"
"""
FAKE_KUBELET = """#!/bin/sh
echo "$@" > /run/fake-kubelet.argv
echo $$ > /run/fake-kubelet.pid
exec sleep infinity
"""


def test_agent_launches_containerd_and_kubelet_under_systemd(lab_mirror, lab_container, k3s_bin):
    """Launcher mode as the GPU run uses it, with recording stand-ins for the two binaries."""
    c = lab_container("debian12")
    c.put(k3s_bin, "/usr/local/bin/k3s")
    bindir = "/var/lib/rancher/k3s/data/current/bin"
    c.write(bindir + "/containerd", FAKE_CONTAINERD, mode="0755")
    c.write(bindir + "/kubelet", FAKE_KUBELET, mode="0755")
    c.write(bindir + "/host-local", "#!/bin/sh\nexit 0\n", mode="0755")
    c.write("/usr/bin/nvidia-container-runtime", "#!/bin/sh\nexit 0\n", mode="0755")
    c.write("/etc/rancher/k3s/token", TOKEN + "\n", mode="0600")
    c.write("/etc/rancher/k3s/config.yaml", "server: https://127.0.0.1:6443\ntoken-file: /etc/rancher/k3s/token\n"
            "node-name: gpu-01\nnode-taint:\n  - nvidia.com/gpu=true:NoSchedule\ndefault-runtime: nvidia\n"
            "pause-image: localhost/k3s-gpu/pause:3.10\n", mode="0600")
    c.write("/etc/systemd/system/k3s-agent.service", UNIT)
    c.exec("systemctl daemon-reload && systemctl start k3s-agent")
    deadline = time.monotonic() + 20
    while c.exec("test -s /run/fake-kubelet.argv", check=False).returncode != 0:
        assert time.monotonic() < deadline, c.exec("journalctl -u k3s-agent --no-pager").stdout
        time.sleep(0.3)
    assert c.exec("systemctl is-active k3s-agent").stdout.strip() == "active"
    config = c.exec("cat /var/lib/rancher/k3s/agent/etc/containerd/config.toml").stdout
    assert "version = 3" in config and 'address = "/run/k3s/containerd/containerd.sock"' in config
    assert "runtimes.'nvidia']" in config and 'BinaryName = "/usr/bin/nvidia-container-runtime"' in config
    assert 'default_runtime_name = "nvidia"' in config and 'sandbox = "localhost/k3s-gpu/pause:3.10"' in config
    assert 'bin_dirs = ["%s"]' % bindir in config
    kubelet = c.exec("cat /run/fake-kubelet.argv").stdout
    for flag in ("--hostname-override=gpu-01", "--register-with-taints=nvidia.com/gpu=true:NoSchedule",
                 "--container-runtime-endpoint=unix:///run/k3s/containerd/containerd.sock",
                 "--kubeconfig=/var/lib/rancher/k3s/agent/kubelet.kubeconfig"):
        assert flag in kubelet, kubelet
    assert c.exec("stat -c %a /var/lib/rancher/k3s/agent/kubelet.kubeconfig").stdout.strip() == "600"
    journal = c.exec("journalctl -u k3s-agent --no-pager").stdout
    assert "launcher mode" in journal and "Found nvidia container runtime at /usr/bin/nvidia-container-runtime" in journal
    assert TOKEN not in journal + kubelet

    # The kubelet dies: the agent stops containerd and exits 1 (Restart=always would restart it).
    c.exec("kill -KILL $(cat /run/fake-kubelet.pid)")
    deadline = time.monotonic() + 20
    while c.exec("systemctl is-active k3s-agent", check=False).stdout.strip() != "failed":
        assert time.monotonic() < deadline, c.exec("journalctl -u k3s-agent --no-pager").stdout
        time.sleep(0.3)
    assert "kubelet exited: signal: killed" in c.exec("journalctl -u k3s-agent --no-pager").stdout
    assert c.exec("kill -0 $(cat /run/fake-containerd.pid)", check=False).returncode != 0, "containerd was not stopped"
