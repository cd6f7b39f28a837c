#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_killall
short_description: Stop what a K3s node leaves running, the way K3s's k3s-killall.sh does
version_added: 0.1.0
description:
  - Does what K3s's own C(k3s-killall.sh) does after the K3s service has stopped, so that a node's
    data can be deleted safely. The steps and their order follow C(create_killall) in K3s's
    C(install.sh) (U(https://github.com/k3s-io/k3s/blob/master/install.sh)).
  - 1. Kills the containerd shims that K3s started (processes whose command line names
    C(<data_dir>/data/<hash>/bin/containerd-shim*)) and every process under them, that is the pods'
    containers, with SIGKILL.
  - 2. Unmounts, deepest first, every mount under O(unmount) (C(/run/k3s) holds the containers' overlay
    root file systems and the sandboxes' C(/dev/shm); then the kubelet's pod volumes and plugins, and the
    pods' network namespaces C(/run/netns/cni-*)) and removes each mount point.
  - 3. Deletes the network namespaces named C(cni-*), the interfaces enslaved to C(cni0), and the
    interfaces in O(interfaces) (the CNI bridge, flannel's VXLAN and WireGuard devices, kube-proxy's
    IPVS dummy).
  - 4. Removes C(/var/lib/cni).
  - 5. Removes, with C(iptables-save) and C(iptables-restore) (and the C(ip6tables) ones), every rule
    and chain whose line names C(KUBE-), C(CNI-) or C(flannel), as the script does. The tools are
    looked up on E(PATH), then in K3s's own C(<data_dir>/data/*/bin) and C(bin/aux).
  - Each step does nothing when there is nothing to do, so the module reports C(changed=false) on a
    node where K3s never ran, or on a second run.
  - It does not stop the K3s service (M(ansible.builtin.systemd_service) does that first) and does not
    delete K3s's data (C(k3s-uninstall.sh) does that after the kill script; so does the
    C(k3s_gpu.node.k3s_agent) role with C(k3s_agent_state=absent)).
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports the processes, mounts, namespaces, interfaces and firewall lines it would remove,
        without removing them.
  diff_mode:
    support: full
    details:
      - Lists what was (or would be) removed, one item per line.
options:
  data_dir:
    description:
      - K3s's data directory (C(--data-dir), E(K3S_DATA_DIR)).
    type: path
    default: /var/lib/rancher/k3s
  unmount:
    description:
      - Path prefixes whose mounts are unmounted and removed, as the script's C(do_unmount_and_remove).
      - A prefix matches as a string, as in the script (C(/run/netns/cni-) matches C(/run/netns/cni-1234)).
    type: list
    elements: path
    default: [/run/k3s, /var/lib/kubelet/pods, /var/lib/kubelet/plugins, /run/netns/cni-]
  interfaces:
    description:
      - Network interfaces deleted when they exist (after those enslaved to C(cni0)).
    type: list
    elements: str
    default: [cni0, flannel.1, flannel-v6.1, kube-ipvs0, flannel-wg, flannel-wg-v6]
  iptables:
    description:
      - Remove the firewall rules and chains that K3s, its CNI and flannel added.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the killed processes to exit before unmounting.
    type: int
    default: 30
notes:
  - Tailscale's advertised routes, which the script also resets, are not touched.
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Stop the agent
  ansible.builtin.systemd_service:
    name: k3s-agent.service
    state: stopped

- name: Stop the pods and remove their mounts, interfaces and firewall rules
  k3s_gpu.node.k3s_killall:
  register: killall

- name: Show what was removed
  ansible.builtin.debug:
    var: killall.removed
"""

RETURN = r"""
removed:
  description: What was removed (or would be, in check mode), per step.
  returned: always
  type: dict
  contains:
    processes:
      description: PIDs and command lines of the killed processes (the shims and their descendants).
      type: list
      elements: str
      sample: ["4242 /var/lib/rancher/k3s/data/abc/bin/containerd-shim-runc-v2 -namespace k8s.io -id 1f2e"]
    mounts:
      description: Mount points unmounted and removed, deepest first.
      type: list
      elements: str
    netns:
      description: Network namespaces deleted.
      type: list
      elements: str
    interfaces:
      description: Network interfaces deleted.
      type: list
      elements: str
    paths:
      description: Directories removed (C(/var/lib/cni)).
      type: list
      elements: str
    firewall:
      description: The C(iptables-save) lines removed, prefixed with the tool (C(iptables) or C(ip6tables)).
      type: list
      elements: str
"""

import glob
import os
import re
import shutil
import signal
import time

from ansible.module_utils.basic import AnsibleModule

# The patterns k3s-killall.sh filters out of iptables-save's output: grep -v KUBE-, grep -v CNI-,
# grep -iv flannel.
_FIREWALL_DROP = (re.compile(r"KUBE-"), re.compile(r"CNI-"), re.compile(r"flannel", re.I))


def shim_pattern(data_dir):
    """The script's `grep -w "${K3S_DATA_DIR}/data/[^/]*/bin/containerd-shim"` on `ps -o args`."""
    return re.compile(r"(?:^|\W)%s/data/[^/\s]*/bin/containerd-shim(?:\W|$)" % re.escape(data_dir.rstrip("/")))


def read_processes(proc="/proc"):
    """{pid: (ppid, args)} of every process that can be read."""
    out = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat"), "rb") as f:
                stat = f.read().decode("utf-8", "replace")
            with open(os.path.join(proc, entry, "cmdline"), "rb") as f:
                args = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        # comm (field 2) may hold spaces and parentheses: the fields after the last ')' are fixed.
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) < 2:
            continue
        out[int(entry)] = (int(rest[1]), args)
    return out


def process_tree(processes, roots):
    """The roots and all their descendants, parents first (the script's pstree)."""
    children = {}
    for pid, (ppid, _args) in processes.items():
        children.setdefault(ppid, []).append(pid)
    seen, order, stack = set(), [], list(reversed(sorted(roots)))
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        order.append(pid)
        stack.extend(reversed(sorted(children.get(pid, []))))
    return order


def shim_tree(processes, data_dir, own_pid):
    pattern = shim_pattern(data_dir)
    shims = [pid for pid, (_ppid, args) in processes.items() if pattern.search(args) and pid != own_pid]
    return [pid for pid in process_tree(processes, shims) if pid != own_pid]


def _unescape_mount(field):
    # /proc/self/mounts escapes space, tab, newline and backslash as octal (\040 ...).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(mounts_text, prefixes):
    """Mount points (one entry per mount, stacked mounts repeat) that start with one of the
    prefixes, deepest first (the script's `sort -r`)."""
    points = []
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = _unescape_mount(fields[1])
        if any(point.startswith(p) for p in prefixes):
            points.append(point)
    return sorted(points, reverse=True)


def filter_firewall(saved):
    """(kept text, removed lines) of an iptables-save dump, as the script's grep -v chain does."""
    kept, removed = [], []
    for line in saved.splitlines():
        if any(p.search(line) for p in _FIREWALL_DROP):
            removed.append(line)
        else:
            kept.append(line)
    return "\n".join(kept) + "\n", removed


class Killall:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.data_dir = self.params["data_dir"].rstrip("/") or "/"
        self.removed = {"processes": [], "mounts": [], "netns": [], "interfaces": [], "paths": [], "firewall": []}
        self.check = module.check_mode

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg="k3s_killall: " + msg, removed=self.removed, **kwargs)

    def run(self, argv, data=None):
        rc, out, err = self.module.run_command(argv, data=data, binary_data=True)
        if rc != 0:
            self.fail("%s failed (rc %s): %s" % (" ".join(argv), rc, (err or out).strip()))
        return out

    # 1. the shims and the pods' processes
    def kill_shims(self):
        processes = read_processes()
        tree = shim_tree(processes, self.data_dir, os.getpid())
        self.removed["processes"] = ["%d %s" % (pid, processes[pid][1]) for pid in tree]
        if self.check or not tree:
            return
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.params["wait_timeout"]
        alive = tree
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [pid for pid in alive if _alive(pid)]
        if alive:
            self.fail("processes still running %ss after SIGKILL: %s" % (self.params["wait_timeout"], alive))

    # 2. mounts
    def unmount(self):
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            points = mounts_under(f.read(), self.params["unmount"])
        self.removed["mounts"] = list(dict.fromkeys(points))
        if self.check:
            return
        umount = self.module.get_bin_path("umount", required=True)
        for point in points:
            self.run([umount, "-f", point])
        for point in self.removed["mounts"]:
            if os.path.lexists(point) and not os.path.ismount(point):
                if os.path.isdir(point) and not os.path.islink(point):
                    shutil.rmtree(point)
                else:
                    os.unlink(point)

    # 3. namespaces and interfaces
    def remove_network(self):
        ip = self.module.get_bin_path("ip")
        netns = sorted(n for n in _listdir("/run/netns") if n.startswith("cni-"))
        enslaved = sorted(n for n in _listdir("/sys/class/net")
                          if os.path.basename(os.path.realpath("/sys/class/net/%s/master" % n)) == "cni0"
                          and os.path.lexists("/sys/class/net/%s/master" % n))
        named = [n for n in self.params["interfaces"] if os.path.lexists("/sys/class/net/" + n)]
        self.removed["netns"] = netns
        self.removed["interfaces"] = enslaved + [n for n in named if n not in enslaved]
        if self.check or not (netns or self.removed["interfaces"]):
            return
        if ip is None:
            self.fail("the ip command (iproute2) is needed to delete %s" % ", ".join(netns + self.removed["interfaces"]))
        for name in netns:
            self.run([ip, "netns", "delete", name])
        for name in self.removed["interfaces"]:
            # a veth's peer goes with it: it may be gone already
            if os.path.lexists("/sys/class/net/" + name):
                self.run([ip, "link", "delete", name])

    # 4. CNI state
    def remove_cni_state(self):
        if os.path.lexists("/var/lib/cni"):
            self.removed["paths"].append("/var/lib/cni")
            if not self.check:
                shutil.rmtree("/var/lib/cni")

    # 5. firewall
    def tool(self, name):
        extra = sorted(glob.glob(os.path.join(self.data_dir, "data", "*", "bin"))
                       + glob.glob(os.path.join(self.data_dir, "data", "*", "bin", "aux")))
        return self.module.get_bin_path(name, opt_dirs=extra)

    def remove_firewall(self):
        if not self.params["iptables"]:
            return
        for family in ("iptables", "ip6tables"):
            save, restore = self.tool(family + "-save"), self.tool(family + "-restore")
            if save is None or restore is None:
                continue
            saved = self.run([save])
            kept, removed = filter_firewall(saved)
            if not removed:
                continue
            self.removed["firewall"].extend("%s: %s" % (family, line) for line in removed)
            if not self.check:
                self.run([restore], data=kept)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            # a zombie has exited: only its parent's wait() is missing
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def argument_spec():
    return dict(
        data_dir=dict(type="path", default="/var/lib/rancher/k3s"),
        unmount=dict(type="list", elements="path",
                     default=["/run/k3s", "/var/lib/kubelet/pods", "/var/lib/kubelet/plugins", "/run/netns/cni-"]),
        interfaces=dict(type="list", elements="str",
                        default=["cni0", "flannel.1", "flannel-v6.1", "kube-ipvs0", "flannel-wg", "flannel-wg-v6"]),
        iptables=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=30),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.run_command_environ_update = dict(LANG="C", LC_ALL="C", LC_MESSAGES="C")
    if module.params["wait_timeout"] < 0:
        module.fail_json(msg="k3s_killall: wait_timeout must be 0 or more, got %s" % module.params["wait_timeout"])
    bad = [p for p in module.params["unmount"] if not p.startswith("/") or p.rstrip("/") in ("", "/run", "/var", "/var/lib")]
    if bad:
        module.fail_json(msg="k3s_killall: unmount needs absolute prefixes below a K3s or kubelet directory, got %s" % bad)
    k = Killall(module)
    k.kill_shims()
    k.unmount()
    k.remove_network()
    k.remove_cni_state()
    k.remove_firewall()
    changed = any(k.removed.values())
    diff = {"before": "".join("%s: %s\n" % (step, item) for step, items in k.removed.items() for item in items),
            "after": ""}
    module.exit_json(changed=changed, removed=k.removed, diff=diff)


if __name__ == "__main__":
    main()
