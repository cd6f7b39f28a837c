# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nvidia_ctk_runtime as Ansible runs it, with NVIDIA's real nvidia-ctk on configuration files
under a temporary directory.

The nvidia-ctk binaries are the ones tests/lab/mirror/build.sh builds from NVIDIA's Go module
(`make mirror`) into $K3S_GPU_CACHE/nct-bin-<version>-<hash>/; K3S_GPU_NCT_BIN=<dir> with
<dir>/<version>/nvidia-ctk points at others. Without one, the tests that need it are skipped
(saying so); the module's rules are tested on their own in
tests/unit/plugins/module_utils/test_ctk_runtime.py."""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest

CACHE = os.environ.get("K3S_GPU_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "k3s-gpu-node")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.abspath(os.path.join(HERE, "..", "..", "fixtures", "nvidia-ctk"))
MODULE = "nvidia_ctk_runtime"


def find_nvidia_ctk(version):
    candidates = []
    if os.environ.get("K3S_GPU_NCT_BIN"):
        candidates.append(os.path.join(os.environ["K3S_GPU_NCT_BIN"], version, "nvidia-ctk"))
    candidates += sorted(p for p in glob.glob(os.path.join(CACHE, "nct-bin-%s-*" % version, "nvidia-ctk"))
                         if not os.path.dirname(p).endswith(".part"))
    for path in candidates:
        if os.access(path, os.X_OK):
            out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
            if "version %s" % version in out:
                return path
    pytest.skip("no real nvidia-ctk %s (make mirror builds it into %s/nct-bin-%s-*/, or set K3S_GPU_NCT_BIN)"
                % (version, CACHE, version))


@pytest.fixture(params=["1.17.8", "1.20.0"])
def any_ctk(request):
    return find_nvidia_ctk(request.param)


@pytest.fixture
def ctk120():
    return find_nvidia_ctk("1.20.0")


@pytest.fixture
def ctk117():
    return find_nvidia_ctk("1.17.8")


@pytest.fixture
def module(run_module, tmp_path):
    """Run the module with a remote tmp of its own, and check that it leaves nothing there."""
    remote = tmp_path / "remote-tmp"
    remote.mkdir()

    def _run(args, check_mode=False, env=None):
        rc, result = run_module(MODULE, dict(args, _ansible_remote_tmp=str(remote), _ansible_diff=True),
                                check_mode=check_mode, env=env)
        assert os.listdir(str(remote)) == [], "the work copies were left behind"
        return rc, result
    return _run


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def mode(path):
    return oct(os.stat(str(path)).st_mode & 0o777)


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), str(root)) for d, _dirs, files in os.walk(str(root)) for f in files)


def test_containerd_drop_in_check_mode_write_and_second_run(module, ctk120, tmp_path):
    etc = tmp_path / "etc" / "containerd"
    etc.mkdir(parents=True)
    config, drop_in = etc / "config.toml", etc / "conf.d" / "99-nvidia.toml"
    config.write_text(fixture("input-containerd-config.toml"))
    os.chmod(str(config), 0o640)
    args = dict(runtime="containerd", config=str(config), drop_in_config=str(drop_in), set_as_default=True,
                executable=ctk120)

    rc, result = module(args, check_mode=True)
    assert rc == 0 and result["changed"] and result["restart_required"], result
    assert result["files"] == [str(config), str(drop_in)]
    assert [d["after_header"] for d in result["diff"]] == [str(config), str(drop_in)]
    assert 'imports = ["%s/*.toml"]' % drop_in.parent in result["diff"][0]["after"]
    assert result["diff"][1]["before"] == "" and 'default_runtime_name = "nvidia"' in result["diff"][1]["after"]
    assert config.read_text() == fixture("input-containerd-config.toml") and not drop_in.parent.exists()

    rc, result = module(args)
    assert rc == 0 and result["changed"] and result["files"] == [str(config), str(drop_in)], result
    main, dropped = config.read_text(), drop_in.read_text()
    # the live paths, not the work copy's; Debian's CNI settings stay
    assert 'imports = ["%s/*.toml"]' % drop_in.parent in main and "nvidia-ctk-runtime." not in main + dropped
    assert 'bin_dir = "/usr/lib/cni"' in main
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]' in dropped
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in dropped
    assert (mode(config), mode(drop_in), mode(drop_in.parent)) == ("0o640", "0o644", "0o755")
    assert tree(etc) == ["conf.d/99-nvidia.toml", "config.toml"]
    stamps = (config.stat().st_mtime_ns, drop_in.stat().st_mtime_ns)

    for check_mode in (False, True):
        rc, result = module(args, check_mode=check_mode)
        assert rc == 0 and not result["changed"] and result["files"] == [], result
        assert not result["restart_required"] and "diff" not in result
    assert (config.stat().st_mtime_ns, drop_in.stat().st_mtime_ns) == stamps


def test_containerd_toolkit_117_writes_the_main_file(module, ctk117, tmp_path):
    config = tmp_path / "containerd" / "config.toml"
    config.parent.mkdir()
    config.write_text(fixture("input-containerd-config.toml"))
    # a unit that does not exist (or no systemd at all): it does not run, so no restart
    args = dict(runtime="containerd", config=str(config), executable=ctk117,
                service="k3s-gpu-node-test-no-such.service")
    rc, result = module(args)
    assert rc == 0 and result["changed"] and result["files"] == [str(config)], result
    assert result["service_running"] is False and result["restart_required"] is False
    text = config.read_text()
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]' in text and "imports" not in text
    assert 'default_runtime_name = "nvidia"' not in text
    rc, result = module(args)
    assert rc == 0 and not result["changed"] and "service_running" not in result, result


def test_docker_keeps_the_users_daemon_json(module, any_ctk, tmp_path):
    daemon = tmp_path / "docker" / "daemon.json"
    daemon.parent.mkdir()
    daemon.write_text('{"log-driver": "journald"}')
    os.chmod(str(daemon), 0o640)
    args = dict(runtime="docker", config=str(daemon), executable=any_ctk)
    rc, result = module(args)
    assert rc == 0 and result["changed"] and result["restart_required"], result
    doc = json.loads(daemon.read_text())
    assert doc == {"log-driver": "journald", "runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}
    assert mode(daemon) == "0o640"
    rc, result = module(args)
    assert rc == 0 and not result["changed"], result

    rc, result = module(dict(args, set_as_default=True))
    assert rc == 0 and result["changed"], result
    assert json.loads(daemon.read_text())["default-runtime"] == "nvidia"
    rc, result = module(dict(args, set_as_default=True))
    assert rc == 0 and not result["changed"], result


def test_docker_without_daemon_json_or_its_directory(module, ctk120, tmp_path):
    daemon = tmp_path / "etc" / "docker" / "daemon.json"
    args = dict(runtime="docker", config=str(daemon), executable=ctk120)
    rc, result = module(args, check_mode=True)
    assert rc == 0 and result["changed"] and result["diff"][0]["before"] == "", result
    assert not daemon.parent.exists()
    rc, result = module(args)
    assert rc == 0 and result["changed"], result
    assert (mode(daemon.parent), mode(daemon)) == ("0o755", "0o644")
    assert "nvidia" in json.loads(daemon.read_text())["runtimes"]


def test_nvidia_ctk_found_on_the_path(module, ctk120, tmp_path):
    daemon = tmp_path / "daemon.json"
    rc, result = module(dict(runtime="docker", config=str(daemon)),
                        env={"PATH": os.path.dirname(ctk120) + os.pathsep + "/usr/bin:/bin"})
    assert rc == 0 and result["changed"] and result["cmd"][0] == ctk120, result


def test_absent_takes_only_the_nvidia_runtime_out_of_daemon_json(module, ctk120, tmp_path):
    daemon = tmp_path / "daemon.json"
    daemon.write_text(fixture("input-docker-daemon.json"))
    os.chmod(str(daemon), 0o600)
    assert module(dict(runtime="docker", config=str(daemon), set_as_default=True, executable=ctk120))[1]["changed"]
    configured = daemon.read_text()
    assert json.loads(configured)["default-runtime"] == "nvidia"

    # no nvidia-ctk needed: its package may be gone already
    args = dict(runtime="docker", config=str(daemon), state="absent")
    no_ctk = {"PATH": str(tmp_path / "empty")}
    rc, result = module(args, check_mode=True, env=no_ctk)
    assert rc == 0 and result["changed"] and '"nvidia"' in result["diff"][0]["before"], result
    assert '"nvidia"' not in result["diff"][0]["after"] and daemon.read_text() == configured
    rc, result = module(args, env=no_ctk)
    assert rc == 0 and result["changed"] and result["files"] == [str(daemon)] and "cmd" not in result, result
    assert json.loads(daemon.read_text()) == {"log-driver": "json-file", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}
    assert mode(daemon) == "0o600"
    rc, result = module(args, env=no_ctk)
    assert rc == 0 and not result["changed"], result


def test_absent_removes_only_the_containerd_drop_in(module, ctk120, ctk117, tmp_path):
    config, drop_in = tmp_path / "config.toml", tmp_path / "conf.d" / "99-nvidia.toml"
    config.write_text(fixture("input-containerd-config.toml"))
    assert module(dict(runtime="containerd", config=str(config), drop_in_config=str(drop_in),
                       executable=ctk120))[1]["changed"]
    main = config.read_text()
    args = dict(runtime="containerd", config=str(config), drop_in_config=str(drop_in), state="absent")
    rc, result = module(args, check_mode=True)
    assert rc == 0 and result["changed"] and result["diff"][0]["after"] == "" and drop_in.exists(), result
    rc, result = module(args)
    assert rc == 0 and result["changed"] and result["files"] == [str(drop_in)] and not result.get("warnings"), result
    assert not drop_in.exists() and config.read_text() == main
    rc, result = module(args)
    assert rc == 0 and not result["changed"], result

    # toolkit 1.17 wrote the runtime into config.toml: reported, not reverted
    assert module(dict(runtime="containerd", config=str(config), executable=ctk117))[1]["changed"]
    before = config.read_text()
    rc, result = module(args)
    assert rc == 0 and not result["changed"], result
    assert "stays there" in json.dumps(result["warnings"]) and config.read_text() == before


def test_errors_say_what_is_wrong_and_change_nothing(module, ctk120, tmp_path):
    daemon = tmp_path / "daemon.json"
    rc, result = module(dict(runtime="docker", config=str(daemon), executable=str(tmp_path / "nvidia-ctk")))
    assert rc != 0 and "nvidia-ctk not found (%s)" % (tmp_path / "nvidia-ctk") in result["msg"], result

    daemon.write_text("not json\n")
    rc, result = module(dict(runtime="docker", config=str(daemon), executable=ctk120))
    assert rc != 0 and "nvidia-ctk runtime configure --runtime=docker failed (rc 1)" in result["msg"], result
    assert "unable to load config" in result["msg"] and daemon.read_text() == "not json\n"
    rc, result = module(dict(runtime="docker", config=str(daemon), state="absent"))
    assert rc != 0 and "%s is not valid JSON" % daemon in result["msg"] and "fix or remove it" in result["msg"]

    # a tool that exits 0 and writes nothing
    rc, result = module(dict(runtime="docker", config=str(tmp_path / "new.json"), executable="/bin/true"))
    assert rc != 0 and "exited 0 but wrote none of %s" % (tmp_path / "new.json") in result["msg"], result
    assert not (tmp_path / "new.json").exists()

    rc, result = module(dict(runtime="docker", config=str(daemon), drop_in_config=str(tmp_path / "x.toml")))
    assert rc != 0 and "drop_in_config applies to runtime=containerd only" in result["msg"]
    rc, result = module(dict(runtime="containerd", config="config.toml"))
    assert rc != 0 and "must be absolute file paths: 'config.toml'" in result["msg"]


def test_missing_nvidia_ctk_on_the_path(module, tmp_path):
    if any(os.path.exists(os.path.join(d, "nvidia-ctk")) for d in ("/sbin", "/usr/sbin", "/usr/local/sbin")):
        pytest.skip("this host has nvidia-ctk in an sbin directory, which get_bin_path always searches")
    rc, result = module(dict(runtime="containerd"), env={"PATH": str(tmp_path)})
    assert rc != 0 and "nvidia-ctk not found (not on the PATH): install the NVIDIA container toolkit" in result["msg"]
