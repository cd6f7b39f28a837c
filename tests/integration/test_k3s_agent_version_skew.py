"""The k3s_agent role reads the server's version through the real API and keeps the agent
within the Kubernetes version-skew policy, before anything changes on the node.

Two real kube-apiservers play the K3s server: the harness's v1.36.3 (``kube_cluster``) and
one that reports v1.35.4 (``kube_cluster_skew``: the same build linked with v1.35.4's version
stamp, which also makes it emulate 1.35; tests/lab/kube/build.sh says why), so that the
collection's former pinned agent (v1.36.3+k3s1) is newer than one of them. The node is a
Debian 12 systemd container of the lab, driven through the podman connection; the version
is read on the controller (localhost) with the harness's kubeconfig, as site.yml reads it
with k3s_gpu_kubeconfig.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import uuid

import pytest
import yaml

import pytest_lab

REPO_ROOT = pytest_lab.REPO_ROOT
PLAYBOOK = os.path.join(REPO_ROOT, "tests", "integration", "playbooks", "k3s_agent_role.yml")
# What the role writes on a node; none of it may exist after a refused run.
NODE_PATHS = ["/usr/local/bin/k3s", "/etc/rancher", "/etc/systemd/system/k3s-agent.service",
              "/var/cache/k3s-agent", "/var/lib/rancher"]


@pytest.fixture(scope="module")
def node():
    """One lab node for the runs that must not change it (each checks it is pristine)."""
    name = "%sskew-%s" % (pytest_lab.CONTAINER_PREFIX, uuid.uuid4().hex[:8])
    try:
        yield pytest_lab.boot("debian12", name)
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def present(container):
    out = container.exec("for p in %s; do [ -e \"$p\" ] && echo \"$p\"; done; true" % " ".join(NODE_PATHS))
    return out.stdout.split()


def new_token():
    return "K10skewtest%s::server:%s" % (secrets.token_hex(8), secrets.token_hex(8))


def run_role(container, kube, mirror, tmp_path, tasks="main", token=None, **overrides):
    """ansible-playbook of the role on the node; returns (rc, output)."""
    token = token or new_token()
    extra = {
        "k3s_agent_test_tasks": tasks,
        "k3s_agent_server_url": kube.server,
        "k3s_agent_token": token,
        "k3s_agent_node_name": "skew-node",
        "k3s_agent_release_url": mirror.url + "/k3s-io/k3s/releases/download",
        "k3s_agent_kubeconfig": kube.kubeconfig,
        "k3s_agent_start_timeout": 60,
    }
    extra.update(overrides)
    # Through a 0600 file, not the command line, where `ps` would show the token.
    vars_file = tmp_path / ("vars-%s.json" % uuid.uuid4().hex[:8])
    vars_file.write_text(json.dumps(extra))
    vars_file.chmod(0o600)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"nodes": {"hosts": {"node": {
        "ansible_connection": "lab_podman", "ansible_host": container.name,
        "ansible_python_interpreter": "/usr/bin/python3"}}}}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "KUBECONFIG"))}
    env.update({"ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_RETRY_FILES_ENABLED": "0"})
    cmd = [pytest_lab.ANSIBLE_PLAYBOOK, "-i", str(inventory),
           "-e", "@%s" % vars_file, PLAYBOOK]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False, timeout=900)
    assert token not in proc.stdout, "the join token is in the output"
    return proc.returncode, proc.stdout


def unfold(text):
    """The output with JSON-escaped, folded messages as plain single-spaced text."""
    return re.sub(r"\s+", " ", text.replace("\\n", " ").replace('\\"', '"'))


def test_agent_newer_than_the_server_is_refused_before_the_node_changes(node, kube_cluster_skew, lab_mirror,
                                                                        tmp_path):
    assert present(node) == []
    rc, out = run_role(node, kube_cluster_skew, lab_mirror, tmp_path, k3s_agent_version="v1.36.3+k3s1")
    assert rc == 2, out[-6000:]
    text = unfold(out)
    assert ("K3s agent v1.36.3+k3s1 is newer than the server v1.35.4: a kubelet must not be newer than "
            "kube-apiserver") in text, out[-6000:]
    assert "k3s_agent_version: server" in text
    # Refused in the preflight: nothing was downloaded, written or started.
    assert present(node) == []
    assert "Read the release's checksum file" not in out


def test_agent_too_old_for_the_server_is_refused(node, kube_cluster, lab_mirror, tmp_path):
    assert present(node) == []
    rc, out = run_role(node, kube_cluster, lab_mirror, tmp_path, k3s_agent_version="v1.32.9+k3s1")
    assert rc == 2, out[-6000:]
    text = unfold(out)
    assert "K3s agent v1.32.9+k3s1 is 4 minor versions older than the server v1.36.3" in text, out[-6000:]
    assert "at most 3 minor versions older" in text and "v1.33.x or newer" in text
    assert present(node) == []


def test_server_version_is_matched_and_a_limited_user_can_read_it(node, kube_cluster_skew, lab_mirror, tmp_path):
    # The default (k3s_agent_version: server) with a kubeconfig whose user RBAC grants nothing:
    # GET /version is public to authenticated users (system:public-info-viewer).
    rc, out = run_role(node, kube_cluster_skew, lab_mirror, tmp_path, tasks="preflight",
                       k3s_agent_kubeconfig=kube_cluster_skew.kubeconfig_limited)
    assert rc == 0, out[-6000:]
    text = unfold(out)
    assert "K3s v1.35.4+k3s1: the server's release (k3s_agent_version: server; the API server reports v1.35.4)" \
        in text, out[-6000:]
    assert present(node) == []


def test_an_unreadable_server_version_stops_the_run_with_what_to_fix(node, kube_cluster, lab_mirror, tmp_path):
    missing = str(tmp_path / "no-such-kubeconfig")
    rc, out = run_role(node, kube_cluster, lab_mirror, tmp_path, tasks="preflight", k3s_agent_kubeconfig=missing)
    assert rc == 2, out[-6000:]
    text = unfold(out)
    assert "Could not read the K3s server's version through the Kubernetes API on localhost (kubeconfig: %s)" \
        % missing in text, out[-6000:]
    assert "set k3s_agent_version_check: false" in text
    # Pinned and unchecked: it runs, and says that it did not check.
    rc, out = run_role(node, kube_cluster, lab_mirror, tmp_path, tasks="preflight", k3s_agent_kubeconfig=missing,
                       k3s_agent_version="v1.36.3+k3s1", k3s_agent_version_check=False)
    assert rc == 0, out[-6000:]
    assert "NOT CHECKED: K3s v1.36.3+k3s1 (pinned) joins without being compared" in unfold(out)
    # server needs the check.
    rc, out = run_role(node, kube_cluster, lab_mirror, tmp_path, tasks="preflight", k3s_agent_version_check=False)
    assert rc == 2 and "k3s_agent_version: server installs the release the server runs" in unfold(out), out[-6000:]
    assert present(node) == []


def test_the_default_installs_the_servers_release(lab_container, kube_cluster, lab_mirror, tmp_path):
    fresh = lab_container("debian12")
    token = new_token()
    rc, out = run_role(fresh, kube_cluster, lab_mirror, tmp_path, token=token)
    assert rc == 0, out[-6000:]
    assert "K3s v1.36.3+k3s1: the server's release" in unfold(out)
    version = fresh.exec("/usr/local/bin/k3s --version").stdout
    assert version.startswith("k3s version v1.36.3+k3s1 "), version
    # A second run (same inputs) resolves the same release and changes nothing.
    rc, out = run_role(fresh, kube_cluster, lab_mirror, tmp_path, token=token)
    assert rc == 0, out[-6000:]
    assert re.search(r"node\s*:\s*ok=\d+\s+changed=0\s", out), out[-3000:]
