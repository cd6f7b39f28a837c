# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cuda_driver with its defaults (cuda_driver_source: auto) on a node that already runs a driver.

Real: the role through ansible-playbook and the podman connection, a Debian 12 systemd
container, apt and dpkg, the lab mirror serving NVIDIA's CUDA repository layout.

Stand-ins, said where they are used: a container loads no kernel module, so the test plays the
loaded driver the way the kernel shows it: a host directory is the container's /sys/module and
holds nvidia/version (what the role reads, as on the team's H200 host, 580.159.04). The driver's
nvidia-smi is the lab's stand-in (tests/lab/standins/bin/nvidia-smi) installed as a runfile or a
cloud image would put it (no package), replaying the H200 host's real `nvidia-smi -q -x` capture
through the lab's fake-GPU hook. The container's PCI bus has no GPU: cuda_driver_require_gpu=false.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from pytest_lab import ANSIBLE_PLAYBOOK

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAYBOOK = os.path.join(REPO, "tests", "integration", "playbooks", "cuda_driver_defaults.yml")
SMI_XML = os.path.join(REPO, "tests", "unit", "fixtures", "nvidia-smi", "h200-1gpu-q.xml")
SMI_CAPS = os.path.join(REPO, "tests", "unit", "fixtures", "nvidia-smi", "h200-2gpu-query-compute-cap.csv")
PACKAGES = "dpkg-query -W -f '${Package}=${Version} ${db:Status-Abbrev}\\n' | sort"


def run_role(container, mirror, tmp_path, check=False):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {container.name: {
        "ansible_connection": "lab_podman",
        "ansible_python_interpreter": "/usr/bin/python3",
        "cuda_driver_repo_url": mirror.url + "/compute/cuda/repos",
        # The lab's CUDA TEST key (tests/lab/mirror/keys/README.md).
        "cuda_driver_keyring_fingerprints": ["B56699BE8F2F7F5AE0321882F997EB588C11D826"],
        "cuda_driver_require_gpu": False,
    }}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    cmd = [ANSIBLE_PLAYBOOK, "-i", str(inventory), PLAYBOOK]
    if check:
        cmd += ["--check", "--diff"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=900)
    recap = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)"
                      % re.escape(container.name), proc.stdout, re.M)
    assert recap, proc.stdout[-6000:]
    # the yaml result format may wrap long messages: compare with the whitespace collapsed
    return proc.returncode, int(recap.group(2)), int(recap.group(3)), " ".join(proc.stdout.split())


@pytest.fixture
def driver_node(lab_container, tmp_path):
    """A Debian 12 node whose /sys/module is a host directory the test controls (empty: no module)."""
    sys_module = tmp_path / "sys-module"
    sys_module.mkdir()
    node = lab_container("debian12", podman_args=["-v", "%s:/sys/module" % sys_module])

    def load(version):
        (sys_module / "nvidia").mkdir(exist_ok=True)
        (sys_module / "nvidia" / "version").write_text(version + "\n")
        node.put(os.path.join(REPO, "tests", "lab", "standins", "bin", "nvidia-smi"), "/usr/bin/nvidia-smi")
        node.exec("chmod 0755 /usr/bin/nvidia-smi && mkdir -p /etc/k3s-gpu-lab/fake-gpu")
        node.put(SMI_XML, "/etc/k3s-gpu-lab/fake-gpu/nvidia-smi-q.xml")
        node.put(SMI_CAPS, "/etc/k3s-gpu-lab/fake-gpu/query-gpu.csv")

    node.load_driver = load
    return node


def test_auto_keeps_a_loaded_driver_of_the_wanted_branch_and_refuses_another(driver_node, lab_mirror, tmp_path):
    node = driver_node
    # No module loaded: auto goes to NVIDIA's repository, and says so (check mode: nothing changes).
    before = node.exec(PACKAGES).stdout
    rc, changed, failed, out = run_role(node, lab_mirror, tmp_path, check=True)
    assert rc == 0 and failed == 0, out[-6000:]
    assert ("cuda_driver_source=auto on %s: nvidia_repo (no NVIDIA kernel module is loaded: installing branch 580 "
            "from the NVIDIA repository)" % node.name) in out, out[-6000:]
    assert changed > 0  # the repository and the driver would be installed
    assert node.exec(PACKAGES).stdout == before

    # A working 580 driver that no package installed: kept, nothing installed, and said so.
    node.load_driver("580.159.04")
    rc, changed, failed, out = run_role(node, lab_mirror, tmp_path)
    assert rc == 0 and failed == 0, out[-6000:]
    assert ("cuda_driver_source=auto on %s: preinstalled (keeping the loaded driver 580.159.04 (branch 580, not "
            "installed by this role): nothing is installed)" % node.name) in out, out[-6000:]
    assert "chosen=preinstalled driver=580.159.04" in out
    assert changed == 0, out[-6000:]
    after = node.exec(PACKAGES).stdout
    assert after == before
    assert not re.search(r"^(nvidia|cuda|libnvidia)", after, re.M), after
    sources = node.exec("ls /etc/apt/sources.list.d /etc/apt/preferences.d").stdout
    assert "cuda" not in sources, sources

    # A loaded driver of another branch that the role did not install: refused before any change.
    node.load_driver("595.58.03")
    etc_apt = node.exec("find /etc/apt /etc/modprobe.d -printf '%p %s\\n' | sort").stdout
    rc, changed, failed, out = run_role(node, lab_mirror, tmp_path)
    assert rc != 0 and failed == 1 and changed == 0, out[-6000:]
    assert ("cuda_driver_source=auto: %s runs NVIDIA driver 595.58.03 (branch 595), not cuda_driver_branch 580, "
            "and this role did not install it (/etc/apt/sources.list.d/cuda-nvidia.sources is missing)." % node.name) in out
    assert 'Set cuda_driver_branch to "595" to keep it, or cuda_driver_source to nvidia_repo' in out, out[-6000:]
    assert node.exec(PACKAGES).stdout == before
    assert node.exec("find /etc/apt /etc/modprobe.d -printf '%p %s\\n' | sort").stdout == etc_apt
