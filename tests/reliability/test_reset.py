# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""reset.yml on a node where K3s left pods running, and on a node it never touched.

The node is a Debian 12 systemd container with a network namespace of its own
(--network=none) and CAP_SYS_ADMIN and CAP_NET_ADMIN, so that the test can make, inside it
only, what a K3s agent with running pods leaves behind, the way K3s makes it:

- a containerd shim under K3s's data directory (/var/lib/rancher/k3s/data/<hash>/bin/
  containerd-shim-runc-v2, here a shell script) with a child process, the pod's container;
- an overlay root file system at /run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/
  rootfs whose lower layer is a snapshot under the overlayfs snapshotter, the sandbox's shm tmpfs,
  a projected service-account volume under /var/lib/kubelet/pods, and the pod's network
  namespace /run/netns/cni-<uuid> (ip netns add, which bind-mounts it);
- the CNI bridge cni0 with a veth whose peer is the pod's eth0, and flannel's VXLAN flannel.1;
- /var/lib/cni, and firewall chains and rules named KUBE-, CNI- and FLANNEL next to a rule of
  the user's own that must stay.

iptables comes from the host's Debian packages (the lab image has none: a container on the
host's network must never touch the host's rules).
"""

from __future__ import annotations

import glob
import os
import subprocess
import uuid

import pytest

import lab
from conftest import CONTAINER_PREFIX, Node, remove_node, wait_booted
from pytest_lab import boot

IPTABLES_DEBS = ["iptables", "netbase", "libxtables12", "libip4tc2", "libip6tc2", "libnetfilter-conntrack3",
                 "libnfnetlink0", "libnftnl11", "libmnl0"]
RESET_ALL = {"k3s_gpu_reset_toolkit": True, "k3s_gpu_reset_driver": True}

PLANT = r"""
set -eu
d=/var/lib/rancher/k3s
id=4f2a9c61d0e8
snap=$d/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs
mkdir -p $d/data/abc123/bin $snap && echo layer > $snap/etc-release
printf '#!/bin/sh\nsleep 3600 &\nwait\n' > $d/data/abc123/bin/containerd-shim-runc-v2
chmod 755 $d/data/abc123/bin/containerd-shim-runc-v2
setsid $d/data/abc123/bin/containerd-shim-runc-v2 -namespace k8s.io -id $id -address /run/k3s/containerd/containerd.sock \
  </dev/null >/dev/null 2>&1 &
task=/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/$id
mkdir -p $task/rootfs /run/k3s/scratch
mount -t tmpfs tmpfs /run/k3s/scratch
mkdir -p /run/k3s/scratch/upper /run/k3s/scratch/work
snap=$d/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs
mount -t overlay overlay -o lowerdir=$snap,upperdir=/run/k3s/scratch/upper,workdir=/run/k3s/scratch/work $task/rootfs
shm=/run/k3s/containerd/io.containerd.grpc.v1.cri/sandboxes/$id/shm
mkdir -p $shm && mount -t tmpfs -o size=64k shm $shm
vol=/var/lib/kubelet/pods/0b7e2c4e-1111-4a5b-9c3d-2e6f7a8b9c0d/volumes/kubernetes.io~projected/kube-api-access-x7k2p
mkdir -p $vol && mount -t tmpfs -o size=64k tmpfs $vol && echo token > $vol/token
ns=cni-1e6b3c2a-9d4f-4c1e-8a7b-5f0e2d3c4b5a
ip netns add $ns
ip link add cni0 type bridge && ip link set cni0 up
ip link add veth1a2b3c4d type veth peer name eth0 netns $ns
ip link set veth1a2b3c4d master cni0 && ip link set veth1a2b3c4d up
ip link add flannel.1 type vxlan id 1 dstport 8472 dev lo
mkdir -p /var/lib/cni/networks/cbr0 && echo $id > /var/lib/cni/networks/cbr0/10.42.0.2
iptables -N KUBE-SERVICES && iptables -A INPUT -j KUBE-SERVICES
iptables -N CNI-HOSTPORT-DNAT && iptables -t nat -N CNI-HOSTPORT-DNAT
iptables -N FLANNEL-FWD && iptables -A FORWARD -s 10.42.0.0/16 -m comment --comment "flanneld forward" -j FLANNEL-FWD
iptables -A INPUT -p tcp --dport 2222 -m comment --comment "user rule" -j ACCEPT
"""

CHECK = r"""
echo "## shims"; ps -eo args | grep -c '[c]ontainerd-shim-runc-v2' || true
echo "## sleep"; ps -eo args | grep -c '^[s]leep 3600' || true
echo "## mounts"; awk '$2 ~ "^(/run/k3s|/var/lib/kubelet|/run/netns/)" {print $2}' /proc/self/mounts
echo "## netns"; ls /run/netns 2>/dev/null || true
echo "## links"; ls /sys/class/net
echo "## paths"; ls -d /var/lib/rancher/k3s /var/lib/kubelet /var/lib/cni /run/k3s 2>/dev/null || true
echo "## rules"; iptables-save | grep -v '^#' ; iptables -t nat -S | grep -c CNI || true
"""


def iptables_debs(cache: str) -> list[str]:
    """The host's Debian 12 iptables packages (apt-get download, cached outside git)."""
    os.makedirs(cache, exist_ok=True)
    missing = [p for p in IPTABLES_DEBS if not glob.glob(os.path.join(cache, p + "_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=cache, check=True,
                       stdout=subprocess.DEVNULL)
    return sorted(glob.glob(os.path.join(cache, "*.deb")))


@pytest.fixture
def netns_node():
    """A node with its own network namespace, mount and network admin, and iptables."""
    name = "%sreset-%s" % (CONTAINER_PREFIX, uuid.uuid4().hex[:6])
    node = Node(name, None, "reset")
    try:
        boot("debian12", name, ["--cap-add", "SYS_ADMIN,NET_ADMIN"], network="none")
        wait_booted(name)
        cache = os.path.join(os.environ.get("K3S_GPU_CACHE", os.path.expanduser("~/.cache/k3s-gpu-node")),
                             "debs-iptables")
        node.exec("mkdir -p /tmp/debs")
        for deb in iptables_debs(cache):
            subprocess.run(["podman", "cp", deb, "%s:/tmp/debs/" % name], check=True)
        node.exec("dpkg -i /tmp/debs/*.deb >/dev/null && rm -rf /tmp/debs")
        yield node
    finally:
        remove_node(node)


def inventory(workdir, kube, node) -> str:
    return lab.write_inventory(lab.tmpfile(workdir, ".yml"), {
        # reset.yml's drain runs for each node (delegated to the controller) with the node's vars
        "gpu_nodes": {"gpu-reset": node.host(k3s_gpu_kubeconfig=kube.kubeconfig)},
        "controller": {"localhost": lab.local_host()},
    })


def test_reset_on_a_node_site_never_touched(netns_node, kube_cluster, workdir, matrix):
    row = matrix.row("fault", fault="Reset on a node that site.yml never touched",
                     how="reset.yml -e k3s_gpu_reset_toolkit=true -e k3s_gpu_reset_driver=true on a fresh node",
                     expect="succeeds; changed=0 on the node", state="node snapshot (files, packages, units)",
                     rerun="")
    before = netns_node.snapshot()
    run = lab.run_playbook(os.path.join(lab.REPO, "playbooks", "reset.yml"), inventory(workdir, kube_cluster, netns_node),
                           RESET_ALL)
    assert run.rc == 0, run.output[-6000:]
    assert run.recap("gpu-reset")["changed"] == 0, run.changed_tasks("gpu-reset")
    assert lab.diff(before, netns_node.snapshot()) == ""
    row["observed"] = "rc 0, changed=0, snapshot unchanged"


def test_reset_with_running_pods_mounts_and_interfaces(netns_node, kube_cluster, workdir, matrix):
    row = matrix.row("fault", fault="Reset with running pods, mounts, CNI interfaces and firewall rules",
                     how="a shim with a child process, an overlay rootfs, shm, a projected volume, a cni- netns, "
                         "cni0 with a veth, flannel.1, /var/lib/cni, KUBE-/CNI-/FLANNEL chains and a user rule, "
                         "made in the node the way K3s makes them; reset.yml run twice",
                     expect="processes killed, mounts gone, interfaces and namespace deleted, K3s's rules removed "
                            "and the user's kept, data deleted; the second run changes nothing",
                     state="ps, /proc/self/mounts, /sys/class/net, /run/netns, iptables-save, node snapshot",
                     rerun="changed=0")
    before = netns_node.snapshot()
    netns_node.exec(PLANT)
    planted = netns_node.exec(CHECK).stdout
    # The plant worked (else the test below would prove nothing).
    assert "## shims\n1\n## sleep\n1\n" in planted, planted
    for item in ("/rootfs", "/shm", "kube-api-access-x7k2p", "/run/netns/cni-", "cni0", "flannel.1",
                 "veth1a2b3c4d", "/var/lib/cni", "KUBE-SERVICES", "FLANNEL-FWD"):
        assert item in planted, (item, planted)

    inv = inventory(workdir, kube_cluster, netns_node)
    run = lab.run_playbook(os.path.join(lab.REPO, "playbooks", "reset.yml"), inv, RESET_ALL)
    assert run.rc == 0, run.output[-6000:]
    after = netns_node.exec(CHECK).stdout
    sections = dict(part.split("\n", 1) for part in after.split("## ")[1:])
    assert sections["shims"].strip() == "0" and sections["sleep"].strip() == "0", after
    assert sections["mounts"].strip() == "", after
    assert sections["netns"].strip() == "", after
    assert sorted(sections["links"].split()) == ["lo"], after
    assert sections["paths"].strip() == "", after
    rules = sections["rules"]
    assert "KUBE-" not in rules and "CNI-" not in rules and "FLANNEL" not in rules.upper(), rules
    assert "user rule" in rules and "--dport 2222" in rules, rules
    assert lab.diff(before, netns_node.snapshot()) == ""

    again = lab.run_playbook(os.path.join(lab.REPO, "playbooks", "reset.yml"), inv, RESET_ALL)
    assert again.rc == 0, again.output[-6000:]
    assert again.recap("gpu-reset")["changed"] == 0, again.changed_tasks("gpu-reset")
    row["observed"] = "all removed, user rule kept; second run changed=0"
