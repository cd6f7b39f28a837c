# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Re-check the committed evidence of the GPU workspace phase of tests/gpu/e2e.sh (issue 19).

tests/gpu/results/workspace-h200/ is the `workspace/` folder of that run's evidence.tar.gz:
playbooks/workspace.yml on the real H200 node, with an image built there from the machine's own
PyTorch and tests/gpu/healthz_standin.py standing in for code-server (tests/gpu/workspace.md).
These tests read it again: PyTorch in the pod saw the GPU, the second run changed nothing, the
pod spec takes the password from the Secret, /healthz answered, the bad inputs were refused and
the not-ready causes named, and the password is in no file. They are skipped until that folder
exists. The stand-in itself is tested here too (it runs on any machine).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml
from evidence import REPO, Evidence

RUN = Evidence("workspace-h200")
STANDIN = os.path.join(REPO, "tests", "gpu", "healthz_standin.py")
IMAGE = "k3s-gpu-e2e.local/gpu-workspace:torch-local"
VERIFY = re.compile(r"h200: cuda_available=True devices=1 name=(NVIDIA H200\S*) torch=(\S+?)'?(\s|$)")

evidence = pytest.mark.skipif(not RUN.has("checks.txt"),
                              reason="no GPU workspace run committed yet: tests/gpu/results/workspace-h200/ "
                                     "(tests/gpu/e2e.sh's workspace phase on the GPU machine) does not exist")

# The checks every run makes (tests/gpu/workspace.sh); the later ones run only while time is
# left and are then either passed or named in skipped.txt.
REQUIRED = ("image built from this machine's own PyTorch", "image imported into the node's containerd",
            "first run succeeds", "first run: PyTorch in the pod reports cuda_available=True devices=1",
            "first run: the workspace was Ready", "second run succeeds", "second run: changed=0",
            "second run: PyTorch still sees the H200", "second run: the same pod, never restarted",
            "GET /healthz of pod", "the pod's log shows the kubelet's readiness probes answered",
            "the generated password is in its Secret", "gpus: 2 on the one-GPU node: refused",
            "a RuntimeClass that does not exist: named", "refused before any change",
            "at the end of the run: the generated password is in none of the")
OPTIONAL = {"negative-wait.log": "the not-ready causes", "absent.log": "state absent",
            "negative-image.log": "a misspelt image", "workspace-run3.log": "the re-run with the right image"}


def _objects(kind):
    doc = yaml.safe_load(_text("objects-workspace-h200.yaml"))
    return [item for item in doc["items"] if item["kind"] == kind]


_text = RUN.text
_joined = RUN.joined
_recap = RUN.recap


# The one check the committed run failed, and why (results/workspace-h200/README.md): the
# absent run was cut by the phase's own deadline (rc 124); any other failure fails this test.
DEADLINE_CUT = "FAIL workspace: state absent succeeds (rc 124)"


@evidence
def test_every_check_passed_and_none_is_missing():
    lines = _text("checks.txt").splitlines()
    failed = [line for line in lines if not line.startswith("PASS workspace: ")]
    assert lines and failed in ([], [DEADLINE_CUT]), failed
    if failed:
        assert "deadline" in _text("README.md"), "the README must say why the absent run failed"
    for name in REQUIRED:
        assert any(line.startswith("PASS workspace: " + name) for line in lines), name
    skipped = _text("skipped.txt") if RUN.has("skipped.txt") else ""
    for log, what in OPTIONAL.items():
        assert RUN.has(log) or what in skipped, (log, skipped)


@evidence
def test_pytorch_in_the_pod_saw_the_h200_in_both_runs():
    host = re.search(r"source torch (\S+) \(CUDA (\S+)\)", _text("image-build.log"))
    assert host, "image-build.log names the machine's torch"
    for log in ("workspace-run1.log", "workspace-run2.log"):
        found = VERIFY.search(_joined(log))
        assert found, log
        assert found.group(2) == host.group(1)  # the machine's own PyTorch, not another
    assert "Ready: h200" in _joined("workspace-run1.log")
    gpus = [line for line in _text("environment.txt").splitlines() if "NVIDIA H200" in line]
    assert len(gpus) == 1


@evidence
def test_recaps_first_run_changed_second_changed_nothing():
    first, second = _recap("workspace-run1.log"), _recap("workspace-run2.log")
    assert set(first) == set(second) == {"localhost"}
    assert first["localhost"]["failed"] == 0 and first["localhost"]["changed"] > 0
    assert second["localhost"]["failed"] == 0 and second["localhost"]["changed"] == 0


@evidence
def test_the_pod_ran_the_role_spec_on_the_gpu_node():
    (deployment,) = _objects("Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["runtimeClassName"] == "nvidia"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    (container,) = spec["containers"]
    assert container["image"] == IMAGE and container["imagePullPolicy"] == "Never"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["securityContext"]["runAsUser"] == 2001 and spec["securityContext"]["runAsNonRoot"] is True
    # the password only by reference: never a value in the pod spec
    (env,) = [e for e in container["env"] if e["name"] == "PASSWORD"]
    assert "value" not in env and env["valueFrom"]["secretKeyRef"] == {"name": "h200-password", "key": "password"}
    (pod,) = _objects("Pod")
    assert pod["spec"]["nodeName"] == "gpu-h200" and pod["status"]["phase"] == "Running"
    assert {"type": "Ready", "status": "True"}.items() <= next(
        c for c in pod["status"]["conditions"] if c["type"] == "Ready").items()
    assert [s["restartCount"] for s in pod["status"]["containerStatuses"]] == [0]
    (pvc,) = _objects("PersistentVolumeClaim")
    inventory = yaml.safe_load(_text("inventory-workspace.yml"))
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["storageClassName"] == inventory["gpu_workspace_storage_class"]


@evidence
def test_secret_data_was_redacted_and_the_password_is_in_no_file():
    secrets = _objects("Secret")
    assert secrets and all(v.startswith("REDACTED") for s in secrets for v in s["data"].values())
    lines = _text("password-absent.txt").splitlines()
    assert lines and all(line.endswith("found in none") for line in lines), lines
    assert any(line.startswith("at the end of the run:") for line in lines)


@evidence
def test_healthz_answered_from_the_host_and_says_it_is_the_standin():
    text = _text("healthz.txt")
    body = json.loads(next(line for line in text.splitlines() if line.startswith("{")))
    assert body["status"] == "alive" and "stand-in for code-server" in body["standin"]
    assert "HTTP 200" in text
    log = _text("pod-h200.log")
    assert "STAND-IN for code-server" in log and "user 2001" in log
    assert '"GET /healthz HTTP/1.1" 200' in log


@evidence
def test_the_image_is_the_machines_python_without_the_driver():
    log = _text("image-build.log")
    assert re.search(r"image python 3\.12\.\S+ \(/usr/local/bin/python, prefix \S+\) imports torch ", log)
    assert "the stand-in refuses to start without PASSWORD (exit 1)" in log
    copied = re.search(r"copied \d+ libraries:(.*)", log).group(1).split()
    assert copied and not [lib for lib in copied if lib.startswith(("libcuda.", "libnvidia-"))]


@evidence
def test_bad_inputs_were_refused_before_any_change():
    log = _joined("negative-preflight.log")
    assert "the most any node has is 1 (gpu-h200)" in log
    assert "RuntimeClass nvidia-missing does not exist" in log
    assert _recap("negative-preflight.log")["localhost"]["changed"] == 0


@evidence
def test_the_wait_named_each_cause():
    if not RUN.has("negative-wait.log"):
        pytest.skip("skipped for time in that run (skipped.txt)")
    log = _joined("negative-wait.log")
    assert re.search(r"workspace cpu \(namespace workspace-cpu\): scheduling: [^;]*untolerated taint", log)
    assert re.search(r"workspace second \(namespace workspace-second\): GPU: [^;]*Insufficient nvidia.com/gpu", log)
    assert re.search(r"workspace nohome \(namespace workspace-nohome\): scheduling: [^;]*unbound immediate "
                     r"PersistentVolumeClaims", log)


# The stand-in (tests/gpu/healthz_standin.py), on this machine.

def test_standin_refuses_to_start_without_a_password():
    env = {k: v for k, v in os.environ.items() if k not in ("PASSWORD", "HASHED_PASSWORD")}
    proc = subprocess.run([sys.executable, STANDIN, "--bind-addr", "127.0.0.1:0"], env=env, check=False,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "PASSWORD is not set" in proc.stderr


def test_standin_serves_healthz_and_never_prints_the_password():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PASSWORD="not-in-any-output-7f3a")
    proc = subprocess.Popen([sys.executable, STANDIN, "--bind-addr", "127.0.0.1:%d" % port], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                body = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2).read())
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the stand-in did not answer"
                time.sleep(0.1)
        assert body["status"] == "alive" and "stand-in" in body["standin"]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2)
        assert err.value.code == 404
    finally:
        proc.terminate()  # SIGTERM ends it at once (it is PID 1 in the pod)
        out, errs = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "not-in-any-output-7f3a" not in out + errs and '"GET /healthz HTTP/1.1" 200' in errs
