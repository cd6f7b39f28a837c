# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX execution environment brings the pinned, checksum-verified helm that the
default gpu_operator_install_method (helm) runs: checked in the Containerfile that
ansible-builder generates from execution-environment.yml (the image itself is not built
here: no registry)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HELM_GO_MOD = os.path.join(REPO_ROOT, "tests", "lab", "kube", "helm", "go.mod")
# helm v3.22.0's release notes (https://github.com/helm/helm/releases/tag/v3.22.0) publish
# these sha256 sums of helm-v3.22.0-linux-{amd64,arm64}.tar.gz.
PUBLISHED_SHA256 = {
    "v3.22.0": {
        "amd64": "1e4ab49e429626cf6c6958d914248b78c9730803c2751b87627e171dc800e7bb",
        "arm64": "f14e804dfee240f55525b667488fe9adca349e63e00c9af634c0beb1421ac310",
    },
}


def _ansible_builder():
    path = shutil.which("ansible-builder") or os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    if not os.path.exists(path):
        pytest.fail("ansible-builder is not installed (tests/requirements-dev.txt lists it): run make setup")
    return path


@pytest.fixture(scope="module")
def containerfile(tmp_path_factory):
    work = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(os.path.join(REPO_ROOT, name), work / name)
    subprocess.run([_ansible_builder(), "create", "-f", "execution-environment.yml", "-c", "context"],
                   cwd=work, check=True, stdout=subprocess.DEVNULL)
    return (work / "context" / "Containerfile").read_text(encoding="utf-8")


def _harness_helm_version():
    with open(HELM_GO_MOD, encoding="utf-8") as f:
        return re.search(r"^require helm\.sh/helm/v3 (v\S+)$", f.read(), re.M).group(1)


def test_the_ee_pins_the_helm_the_tests_run(containerfile):
    version = _harness_helm_version()
    assert "ARG HELM_VERSION=%s\n" % version in containerfile
    assert 'https://get.helm.sh/helm-${HELM_VERSION}-linux-${arch}.tar.gz' in containerfile
    assert "latest" not in containerfile.lower()


def test_the_helm_tarball_is_checked_against_its_published_sha256(containerfile):
    sums = PUBLISHED_SHA256[_harness_helm_version()]
    assert "ARG HELM_SHA256_AMD64=%s\n" % sums["amd64"] in containerfile
    assert "ARG HELM_SHA256_ARM64=%s\n" % sums["arm64"] in containerfile
    step = [line for line in containerfile.splitlines() if "helm.tar.gz" in line]
    assert len(step) == 1, step
    step = step[0]
    # The check comes after the download and before the tarball is unpacked or installed.
    download = step.index("curl -fsSL -o /tmp/helm.tar.gz")
    check = step.index('echo "${sha}  /tmp/helm.tar.gz" | sha256sum -c -')
    assert download < check < step.index("tar -xzf") < step.index("install -m 0755")
    assert 'x86_64) arch=amd64; sha="$HELM_SHA256_AMD64"' in step
    assert 'aarch64) arch=arm64; sha="$HELM_SHA256_ARM64"' in step
    assert not re.search(r"\|\s*(ba)?sh\b", step), "a download piped into a shell"


def test_helm_lands_on_path_in_the_final_image_as_root(containerfile):
    final = containerfile[containerfile.index("FROM base AS final"):]
    assert "install -m 0755 \"/tmp/linux-${arch}/helm\" /usr/local/bin/helm" in final
    # Before the image drops to the unprivileged user.
    assert final.index("/usr/local/bin/helm") < final.index("USER 1000")
    # What the default install method runs: a bare "helm", found on PATH there.
    with open(os.path.join(REPO_ROOT, "roles", "gpu_operator", "defaults", "main.yml"), encoding="utf-8") as f:
        defaults = yaml.safe_load(f)
    assert defaults["gpu_operator_install_method"] == "helm"
    assert defaults["gpu_operator_helm_binary"] == "helm"
