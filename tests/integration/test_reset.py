# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""reset.yml leaves the node as site.yml found it.

Real: site.yml and reset.yml on a Debian 12 and a Debian 13 systemd container, the lab mirror,
a real kube-apiserver and helm (the same harness as test_add_node.py). The test records the node
before site.yml (SNAPSHOT below), runs site.yml, then reset.yml, records it again and compares:

- with -e k3s_gpu_reset_toolkit=true -e k3s_gpu_reset_driver=true the difference is empty;
- with reset.yml's defaults (the driver and the toolkit stay, as the user asked) the difference is
  only the driver's and the toolkit's packages, repository files and configuration;
- a second reset.yml changes nothing;
- container_toolkit_state=absent with the docker and containerd runtimes takes out only what
  the role (nvidia-ctk) wrote into their configuration.

What the snapshot leaves out, and why, is listed in VOLATILE: files that apt, dpkg and systemd
rewrite on their own (their content is covered by the package list and the unit list).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess

import pytest

from pytest_lab import ANSIBLE_PLAYBOOK
# token_file is a fixture: imported so that pytest finds it here
from test_add_node import DemoKubelet, node_host, playbook, recap, token_file, write_inventory  # noqa: F401  pylint: disable=unused-import

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Paths whose presence is recorded but whose content is not: apt, dpkg and the dynamic linker
# rewrite them whatever was installed (package lists are compared as `dpkg-query` output).
VOLATILE = ["/etc/ld.so.cache", "/var/lib/systemd", "/var/lib/ucf"]
# Pruned entirely: apt's and dpkg's own databases (any `apt-get update` rewrites apt's lists of the
# distribution), which the package list, the auto-installed marks and the list files of the lab
# mirror's repositories (those the roles add) below represent; systemd's timestamps.
PRUNED = ["/var/lib/apt", "/var/lib/dpkg", "/var/lib/systemd/deb-systemd-helper-enabled",
          "/var/lib/systemd/timers", "/var/lib/systemd/random-seed", "/var/lib/systemd/catalog"]

SNAPSHOT = r"""
export LC_ALL=C
roots="/etc /usr/local /var/lib /usr/share/keyrings"
prune="%(prune)s"
volatile="%(volatile)s"
expr=""
for p in $prune; do expr="$expr -path $p -prune -o"; done
echo '## packages (name version state, manual/auto)'
dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' | sort
apt-mark showauto | sed 's/^/auto /' | sort
echo '## apt lists of the lab mirror (the repositories the roles add)'
ls /var/lib/apt/lists | grep '^127\.0\.0\.1' | sort
echo '## files (type mode owner path -> link)'
find $roots -xdev $expr -printf '%%y %%m %%u:%%g %%p -> %%l\n' | sort
echo '## content'
find $roots -xdev $expr -type f -print | while read -r f; do
  skip=""
  for v in $volatile; do case "$f" in "$v"|"$v"/*) skip=1;; esac; done
  [ -n "$skip" ] || sha256sum "$f"
done | sort
echo '## systemd units'
systemctl list-unit-files --no-legend --no-pager | awk '{print $1, $2}' | sort
echo '## services running'
systemctl list-units --type=service --state=running --no-legend --no-pager --plain | awk '{print $1}' | sort
echo '## mounts'
awk '{print $1, $2, $3}' /proc/self/mounts | sort
echo '## network interfaces of K3s (the node shares the host network, where other containers come and go)'
ls /sys/class/net | grep -E '^(cni0|flannel|kube-ipvs0)' | sort
ls /sys/class/net/cni0/brif 2>/dev/null | sed 's/^/cni0 port /' | sort
""" % {"prune": " ".join(PRUNED), "volatile": " ".join(VOLATILE)}

# What reset.yml's defaults keep on purpose (the toolkit and the driver): any differing line must
# name one of these.
KEPT = re.compile(r"nvidia|cuda|libnvidia|cdi|keyrings|sources\.list\.d|preferences\.d|modprobe\.d/blacklist-nouveau"
                  r"|_lab_mirror_|127\.0\.0\.1|persistenced|dkms", re.I)


def snapshot(c):
    return c.exec(SNAPSHOT, timeout=120).stdout


def difference(before, after):
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after",
                                                  n=0, lineterm="")
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.mark.parametrize("release", ["debian12", "debian13"])
def test_reset_leaves_the_node_as_it_was(release, kube_cluster, lab_mirror, lab_container, token_file, tmp_path):
    c = lab_container(release, hostname="gpu-reset-%s" % release)
    hosts = {"gpu-reset": node_host(c.name)}
    inventory = write_inventory(str(tmp_path / "inventory"), kube_cluster, lab_mirror, token_file, hosts,
                                "reset-%s" % release)
    before = snapshot(c)
    kubelet = DemoKubelet(kube_cluster, c.name)
    try:
        proc = playbook("site", inventory, tmp_path)
        assert proc.returncode == 0, proc.stdout[-6000:]
    finally:
        kubelet.close()
    installed = difference(before, snapshot(c))
    assert any("nvidia-container-toolkit" in line for line in installed), installed[:40]
    assert any("/usr/local/bin/k3s" in line for line in installed), installed[:40]

    if release == "debian13":
        # reset.yml's defaults: the agent goes; the toolkit and the driver stay, as asked.
        proc = playbook("reset", inventory, tmp_path)
        assert proc.returncode == 0, proc.stdout[-6000:]
        kept = difference(before, snapshot(c))
        assert kept, "the default reset removed the driver and the toolkit too"
        unexpected = [line for line in kept if not KEPT.search(line)]
        assert not unexpected, "the default reset left more than the driver and the toolkit:\n" + "\n".join(unexpected)
        assert not any("/usr/local/bin/k3s" in line or "/var/lib/rancher" in line for line in kept), kept

    args = ["-e", "k3s_gpu_reset_toolkit=true", "-e", "k3s_gpu_reset_driver=true"]
    proc = playbook("reset", inventory, tmp_path, *args)
    assert proc.returncode == 0, proc.stdout[-6000:]
    left = difference(before, snapshot(c))
    assert not left, "reset.yml left the node different from before site.yml:\n" + "\n".join(left)

    # Run twice: nothing left to do.
    proc = playbook("reset", inventory, tmp_path, *args)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap(proc.stdout)["gpu-reset"]["changed"] == 0, proc.stdout[-6000:]


DOCKER_CONFIG = {
    "log-driver": "json-file",
    "runtimes": {
        "nvidia": {"args": [], "path": "nvidia-container-runtime"},
        "crun": {"path": "/usr/bin/crun"},
    },
    "default-runtime": "nvidia",
}


def absent_run(c, tmp_path, runtime, *args):
    inventory = tmp_path / ("absent-%s.json" % runtime)
    inventory.write_text(json.dumps({"all": {"hosts": {c.name: node_host(c.name, container_toolkit_runtime=runtime)}}}))
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory),
                           os.path.join(REPO, "tests", "integration", "playbooks", "container_toolkit_absent.yml"),
                           *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return recap(proc.stdout)[c.name]["changed"], proc.stdout


def test_toolkit_absent_takes_only_its_own_runtime_configuration_out(lab_container, tmp_path):
    """docker: the nvidia runtime (and default-runtime: nvidia) leave daemon.json, the user's
    settings and runtimes stay; containerd: nvidia-ctk's drop-in goes, config.toml stays. Check
    mode first changes nothing; a second run changes nothing."""
    c = lab_container("debian12")
    c.write("/etc/docker/daemon.json", json.dumps(DOCKER_CONFIG, indent=2) + "\n")
    c.write("/etc/containerd/config.toml", 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n')
    c.write("/etc/containerd/conf.d/99-nvidia.toml", "# nvidia-ctk's drop-in\n")
    c.write("/etc/cdi/nvidia.yaml", "cdiVersion: 0.5.0\n")

    changed, out = absent_run(c, tmp_path, "docker", "--check", "--diff")
    assert changed > 0 and '"nvidia"' in out, out[-4000:]
    assert json.loads(c.exec("cat /etc/docker/daemon.json").stdout) == DOCKER_CONFIG
    assert c.exec("test -f /etc/cdi/nvidia.yaml", check=False).returncode == 0

    absent_run(c, tmp_path, "docker")
    assert json.loads(c.exec("cat /etc/docker/daemon.json").stdout) == {
        "log-driver": "json-file", "runtimes": {"crun": {"path": "/usr/bin/crun"}}}
    assert c.exec("test -e /etc/cdi/nvidia.yaml", check=False).returncode == 1
    assert absent_run(c, tmp_path, "docker")[0] == 0

    absent_run(c, tmp_path, "containerd")
    assert c.exec("test -e /etc/containerd/conf.d/99-nvidia.toml", check=False).returncode == 1
    assert "imports" in c.exec("cat /etc/containerd/config.toml").stdout
    assert absent_run(c, tmp_path, "containerd")[0] == 0
