# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's connection to its podman containers. Test infrastructure: the collection never uses it.

containers.podman.podman runs `podman exec` without `-i`, so it cannot pipeline, and it
mounts the container's file system for every task. A `podman exec` costs about 0.35 s on
the lab machine (runc exec), and an unpipelined task needs three of them and a mount
(temporary directory, module run, clean-up): the lab's playbooks spent most of their time
connecting. This plugin sends each module on `podman exec -i`'s stdin, one exec per task,
and copies files through `podman exec` as well, so it sees the container's own mounts
(the upstream plugin's mount does not see the tmpfs on a systemd container's /tmp).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: lab_podman
short_description: The lab's podman containers, pipelined (tests only)
description:
  - Runs commands in a running podman container with C(podman exec -i), always pipelined,
    and copies files with C(podman exec). The lab's stand-in for containers.podman.podman.
author: k3s_gpu.node contributors
options:
  remote_addr:
    description: The container's name or ID (the last variable of the list that is set wins).
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  podman_executable:
    description: The podman command.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
"""

import shlex
import subprocess

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.process import get_bin_path
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible.utils.display import Display

display = Display()


class Connection(ConnectionBase):
    """`podman exec -i` into a lab container."""

    transport = "lab_podman"
    has_pipelining = True

    def _podman(self, args, in_data=None):
        try:
            podman = get_bin_path(self.get_option("podman_executable"))
        except ValueError as exc:
            raise AnsibleError(to_native(exc)) from exc
        cmd = [to_bytes(a, errors="surrogate_or_strict") for a in [podman, *args]]
        display.vvv(f"RUN {cmd!r}", host=self.get_option("remote_addr"))
        proc = subprocess.run(cmd, input=in_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def _connect(self):
        self._connected = True
        return self

    def is_pipelining_enabled(self, wrap_async=False):
        # Always: that is what the plugin is for (async tasks and kept remote files excepted).
        return not C.DEFAULT_KEEP_REMOTE_FILES and not wrap_async

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec"] + (["-i"] if in_data is not None else []) + [self.get_option("remote_addr")]
        return self._podman(args + shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    @ensure_connect
    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as src:
            data = src.read()
        rc, _out, err = self._podman(
            ["exec", "-i", self.get_option("remote_addr"), "/bin/sh", "-c", 'cat > "$1"', "sh", out_path], data)
        if rc != 0:
            raise AnsibleError(f"lab_podman: cannot write {out_path}: {to_native(err)}")

    @ensure_connect
    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        rc, out, err = self._podman(["exec", self.get_option("remote_addr"), "cat", in_path])
        if rc != 0:
            raise AnsibleError(f"lab_podman: cannot read {in_path}: {to_native(err)}")
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as dst:
            dst.write(out)

    def close(self):
        self._connected = False
