# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules of nvidia_ctk_runtime (plugins/module_utils/_ctk_runtime.py), on what the real
nvidia-ctk 1.17.8 and 1.20.0 wrote (tests/unit/fixtures/nvidia-ctk/README.md)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils import _ctk_runtime as ctk


@pytest.fixture
def ctk_fixture(fixture_path):
    def _read(name):
        with open(fixture_path("nvidia-ctk", name)) as handle:
            return handle.read()
    return _read


def test_configure_argv():
    assert ctk.configure_argv("/usr/bin/nvidia-ctk", "docker", "/w/etc/docker/daemon.json") == [
        "/usr/bin/nvidia-ctk", "runtime", "configure", "--runtime=docker", "--config=/w/etc/docker/daemon.json"]
    assert ctk.configure_argv("nvidia-ctk", "containerd", "/w/c.toml", "/w/conf.d/99-nvidia.toml", True)[3:] == [
        "--runtime=containerd", "--config=/w/c.toml", "--drop-in-config=/w/conf.d/99-nvidia.toml", "--set-as-default"]
    with pytest.raises(ValueError, match="runtime must be one of containerd, docker, got 'crio'"):
        ctk.configure_argv("nvidia-ctk", "crio", "/w/crio.conf")


def test_managed_files_and_paths():
    assert ctk.managed_files("containerd", "/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml") == [
        "/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml"]
    assert ctk.managed_files("containerd", "/etc/containerd/config.toml") == ["/etc/containerd/config.toml"]
    assert ctk.managed_files("docker", "/etc/docker/daemon.json", "/x.toml") == ["/etc/docker/daemon.json"]
    ctk.check_paths(["/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml"])
    with pytest.raises(ctk.RuntimeConfigError, match="absolute file paths: 'config.toml', '/etc/docker/'"):
        ctk.check_paths(["config.toml", "/etc/docker/"])
    with pytest.raises(ctk.RuntimeConfigError, match="two different files"):
        ctk.check_paths(["/etc/containerd/config.toml", "/etc/containerd/config.toml"])


def test_work_copy_round_trip_points_imports_at_the_work_copy(ctk_fixture):
    root = "/root/.ansible/tmp/m/nvidia-ctk-runtime.x1"
    live = ctk_fixture("1.20.0-containerd-config.toml")
    assert 'imports = ["/etc/containerd/conf.d/*.toml"]' in live
    work = ctk.to_work_copy(live, root, "/etc/containerd/conf.d/99-nvidia.toml")
    assert 'imports = ["%s/etc/containerd/conf.d/*.toml"]' % root in work
    assert ctk.from_work_copy(work, root) == live
    assert ctk.work_path(root, "/etc/containerd//config.toml") == root + "/etc/containerd/config.toml"
    # without a drop-in (toolkit 1.17, docker) the text goes unchanged
    assert ctk.to_work_copy(live, root) == live


def test_check_written_accepts_what_nvidia_ctk_wrote(ctk_fixture):
    ctk.check_written("containerd", {"/etc/containerd/config.toml": ctk_fixture("1.20.0-containerd-config.toml"),
                                     "/etc/containerd/conf.d/99-nvidia.toml": ctk_fixture("1.20.0-containerd-99-nvidia.toml")})
    ctk.check_written("containerd", {"/etc/containerd/config.toml": ctk_fixture("1.17.8-containerd-config.toml")})
    ctk.check_written("docker", {"/etc/docker/daemon.json": ctk_fixture("1.20.0-docker-daemon.json")})


def test_check_written_refuses_output_without_the_runtime(ctk_fixture):
    with pytest.raises(ctk.RuntimeConfigError, match="exited 0 but wrote none of /etc/docker/daemon.json"):
        ctk.check_written("docker", {"/etc/docker/daemon.json": None})
    with pytest.raises(ctk.RuntimeConfigError, match="the /etc/docker/daemon.json that nvidia-ctk wrote is not valid JSON"):
        ctk.check_written("docker", {"/etc/docker/daemon.json": "level=info msg=done"})
    with pytest.raises(ctk.RuntimeConfigError, match="/etc/docker/daemon.json holds no nvidia runtime"):
        ctk.check_written("docker", {"/etc/docker/daemon.json": ctk_fixture("input-docker-daemon.json")})
    with pytest.raises(ctk.RuntimeConfigError, match="/etc/containerd/config.toml holds no nvidia runtime"):
        ctk.check_written("containerd", {"/etc/containerd/config.toml": ctk_fixture("input-containerd-config.toml"),
                                         "/etc/containerd/conf.d/99-nvidia.toml": None})


def test_nvidia_runtime_found_in_containerd_tables(ctk_fixture):
    assert ctk.containerd_keeps_nvidia(ctk_fixture("1.17.8-containerd-config.toml"))
    assert not ctk.containerd_keeps_nvidia(ctk_fixture("1.20.0-containerd-config.toml"))
    assert not ctk.containerd_keeps_nvidia(None)
    v3 = "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia]\n  runtime_type = 'io.containerd.runc.v2'\n"
    assert ctk.containerd_keeps_nvidia(v3)
    other = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia-experimental]\n'
    assert not ctk.containerd_keeps_nvidia(other)


def test_docker_without_nvidia_keeps_the_rest(ctk_fixture):
    configured = ctk_fixture("1.20.0-docker-daemon.json")
    new = ctk.docker_without_nvidia(configured, "/etc/docker/daemon.json")
    assert json.loads(new) == json.loads(ctk_fixture("input-docker-daemon.json"))
    assert new.endswith("}\n") and '\n    "log-driver": "json-file",\n' in new
    # nothing to take out: no change
    assert ctk.docker_without_nvidia(new, "/etc/docker/daemon.json") is None
    assert ctk.docker_without_nvidia("", "/etc/docker/daemon.json") is None
    # default-runtime of another runtime stays; the last runtime gone takes "runtimes" with it
    only = json.dumps({"default-runtime": "crun", "runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}})
    assert json.loads(ctk.docker_without_nvidia(only, "d.json")) == {"default-runtime": "crun"}


@pytest.mark.parametrize("text, message", [
    ('{"log-driver": ', r"/etc/docker/daemon.json is not valid JSON \(.*\): fix or remove it"),
    ('["nvidia"]', "/etc/docker/daemon.json must hold a JSON object, it holds a list"),
])
def test_docker_config_that_is_not_an_object(text, message):
    with pytest.raises(ctk.RuntimeConfigError, match=message):
        ctk.docker_without_nvidia(text, "/etc/docker/daemon.json")


@pytest.mark.parametrize("show, running", [
    ("LoadState=loaded\nActiveState=active\n", True),
    ("ActiveState=active\nLoadState=loaded\n", True),
    ("LoadState=loaded\nActiveState=inactive\n", False),
    ("LoadState=loaded\nActiveState=failed\n", False),
    ("LoadState=not-found\nActiveState=inactive\n", False),
    ("", False),
])
def test_restart_only_a_running_service(show, running):
    props = ctk.parse_systemctl_show(show)
    assert ctk.service_running(props) is running
    assert ctk.restart_required(True, props) is running
    assert ctk.restart_required(False, props) is False


def test_restart_without_a_service_follows_the_change():
    assert ctk.restart_required(True, None) is True
    assert ctk.restart_required(False, None) is False


def test_diff_entry():
    assert ctk.diff_entry("/etc/containerd/conf.d/99-nvidia.toml", "version = 2\n", None) == dict(
        before_header="/etc/containerd/conf.d/99-nvidia.toml", after_header="/etc/containerd/conf.d/99-nvidia.toml",
        before="version = 2\n", after="")
