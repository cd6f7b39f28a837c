#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_ctk_runtime
short_description: Add the NVIDIA runtime to containerd's or docker's configuration with nvidia-ctk, or take it out
version_added: 0.1.0
description:
  - With O(state=present), runs C(nvidia-ctk runtime configure) on work copies of the runtime's
    configuration files in a private temporary directory, compares what it wrote with the live files,
    and writes only the files whose content differs. C(nvidia-ctk) rewrites its files on every run and
    always logs C(Wrote updated config), so running it on the live files could not tell a change.
  - With O(state=absent), takes out what C(nvidia-ctk) added - docker - the C(nvidia) runtime and
    C(default-runtime) when it names C(nvidia) leave C(daemon.json), everything else in it stays; containerd - the
    drop-in O(drop_in_config) that C(nvidia-ctk) wrote is removed. C(nvidia-ctk) is not needed (its
    package may be gone already).
  - Files are replaced atomically and keep their mode and owner; a new file gets mode C(0644), and
    missing directories mode C(0755).
  - Never restarts anything. RV(restart_required) says whether the runtime's service must be restarted
    to read the new configuration - it changed and O(service) runs.
  - K3s needs none of this - its agent adds the C(nvidia) runtime to the containerd configuration it
    renders itself when it finds C(/usr/bin/nvidia-container-runtime).
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode C(nvidia-ctk) still runs, on the work copies only, so the change reported is the
        change a real run makes; no live file is written or removed.
  diff_mode:
    support: full
    details:
      - Shows each changed file's text before and after (a removed drop-in - after is empty).
options:
  runtime:
    description:
      - The container runtime whose configuration is changed.
    type: str
    choices: [containerd, docker]
    required: true
  state:
    description:
      - V(present) adds the C(nvidia) runtime (C(nvidia-ctk runtime configure)); V(absent) takes it out.
    type: str
    choices: [present, absent]
    default: present
  config:
    description:
      - The runtime's main configuration file.
      - Default C(/etc/containerd/config.toml) for containerd, C(/etc/docker/daemon.json) for docker.
    type: path
  drop_in_config:
    description:
      - containerd only, toolkit 1.18.0 and later - the drop-in file that C(nvidia-ctk) writes the
        C(nvidia) runtime into (C(--drop-in-config)); it adds the drop-in's directory to the main
        configuration's C(imports). Without it, C(nvidia-ctk) writes the runtime into O(config) (toolkit
        1.17 knows no drop-in).
      - With O(state=absent) this file is removed whole. A C(nvidia) runtime inside O(config) (toolkit
        1.17) stays there, with a warning.
    type: path
  set_as_default:
    description:
      - With O(state=present), make C(nvidia) the default runtime (C(--set-as-default)).
    type: bool
    default: false
  service:
    description:
      - The systemd unit of the runtime, e.g. V(containerd.service). When the configuration changed,
        the module asks systemd whether this unit is loaded and active; RV(restart_required) is true
        only then (a stopped service reads its configuration when it starts).
      - Without it, RV(restart_required) is true whenever the configuration changed.
    type: str
  executable:
    description:
      - Path of C(nvidia-ctk). Default - C(nvidia-ctk) on the PATH.
      - Used with O(state=present) only.
    type: path
requirements:
  - C(nvidia-ctk) (package C(nvidia-container-toolkit-base)) for O(state=present).
notes:
  - The work copies live in the module's own temporary directory (mode C(0700)) and are removed when it
    ends. In containerd's work copy the drop-in directory named in C(imports) points at the work copy's,
    so that C(nvidia-ctk) does not add the import a second time; the paths are put back before
    comparing.
seealso:
  - name: Installing the NVIDIA Container Toolkit, configuring containerd and docker
    description: NVIDIA's install guide (C(nvidia-ctk runtime configure)).
    link: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html
  - name: K3s and the NVIDIA container runtime
    description: K3s detects the NVIDIA runtime itself; no nvidia-ctk runtime configure is needed.
    link: https://docs.k3s.io/advanced#nvidia-container-runtime-support
"""

EXAMPLES = r"""
- name: Add the nvidia runtime to containerd (toolkit 1.18 and later, a drop-in) as the default runtime
  k3s_gpu.node.nvidia_ctk_runtime:
    runtime: containerd
    drop_in_config: /etc/containerd/conf.d/99-nvidia.toml
    set_as_default: true
    service: containerd.service
  register: ctk_runtime
  notify: Restart containerd

- name: Add the nvidia runtime to docker, keeping the rest of daemon.json
  k3s_gpu.node.nvidia_ctk_runtime:
    runtime: docker
    service: docker.service

- name: Take the nvidia runtime out of docker's daemon.json again
  k3s_gpu.node.nvidia_ctk_runtime:
    runtime: docker
    state: absent

# handlers:
- name: Restart containerd
  ansible.builtin.systemd_service:
    name: containerd.service
    state: restarted
  when: ctk_runtime.restart_required
"""

RETURN = r"""
files:
  description: The live files written or removed (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/config.toml, /etc/containerd/conf.d/99-nvidia.toml]
restart_required:
  description:
    - Whether the runtime's service must be restarted to read its configuration - it changed, and
      O(service) is loaded and active (or no O(service) was given).
  returned: always
  type: bool
  sample: true
service_running:
  description: Whether O(service) is loaded and active; asked only when the configuration changed.
  returned: when O(service) is set and the configuration changed
  type: bool
  sample: true
cmd:
  description: The C(nvidia-ctk) command line that ran, on the work copies.
  returned: with O(state=present)
  type: list
  elements: str
  sample: [/usr/bin/nvidia-ctk, runtime, configure, --runtime=docker, --config=/root/.ansible/tmp/x/etc/docker/daemon.json]
diff:
  description: Each changed file's text before and after.
  returned: with C(--diff) and a change
  type: list
  elements: dict
  sample: [{before_header: /etc/docker/daemon.json, after_header: /etc/docker/daemon.json, before: "{}", after: "{...}"}]
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.k3s_gpu.node.plugins.module_utils import _ctk_runtime as ctk

DEFAULT_CONFIGS = {
    "containerd": "/etc/containerd/config.toml",
    "docker": "/etc/docker/daemon.json",
}


def argument_spec():
    return dict(
        runtime=dict(type="str", choices=list(ctk.RUNTIMES), required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        config=dict(type="path"),
        drop_in_config=dict(type="path"),
        set_as_default=dict(type="bool", default=False),
        service=dict(type="str"),
        executable=dict(type="path"),
    )


def _text(data):
    # surrogateescape: a byte that is not UTF-8 survives the round trip through the work copy
    return None if data is None else to_text(data, errors="surrogateescape")


def _bytes(text):
    return to_bytes(text, errors="surrogateescape")


def read_file(module, path):
    """The file's bytes, None when it does not exist."""
    if not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        module.fail_json(msg="%s is a directory, not a configuration file" % path)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (path, exc))


def _make_dirs(path):
    """Create the missing directories of `path` with mode 0755 (not the umask's)."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        os.mkdir(directory)
        os.chmod(directory, 0o755)


def write_file(module, path, data):
    """Replace `path` atomically: a temporary file beside it (named so that containerd's `*.toml`
    imports do not match it), then atomic_move, which keeps an existing file's mode and owner."""
    directory = os.path.dirname(path)
    creating = not os.path.lexists(path)
    tmp = None
    try:
        _make_dirs(directory)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except (IOError, OSError) as exc:
        if tmp and os.path.lexists(tmp):
            os.unlink(tmp)
        module.fail_json(msg="cannot write %s: %s" % (path, exc))
    # ansible-core 2.19's atomic_move raises on failure, older versions call fail_json themselves.
    try:
        module.atomic_move(tmp, path)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="cannot replace %s: %s" % (path, exc))
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    if creating:
        os.chmod(path, 0o644)


def remove_file(module, path):
    try:
        os.unlink(path)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot remove %s: %s" % (path, exc))


def configure(module, runtime, files, drop_in_config, result):
    """Run nvidia-ctk on work copies of `files`; return [(path, before bytes, after bytes)] that differ."""
    params = module.params
    executable = params["executable"] or module.get_bin_path("nvidia-ctk")
    if not executable or not os.access(executable, os.X_OK):
        module.fail_json(msg="nvidia-ctk not found (%s): install the NVIDIA container toolkit "
                             "(package nvidia-container-toolkit-base, role k3s_gpu.node.container_toolkit) "
                             "or set executable" % (params["executable"] or "not on the PATH"), **result)
    live = dict((path, read_file(module, path)) for path in files)
    root = tempfile.mkdtemp(prefix="nvidia-ctk-runtime.", dir=module.tmpdir)
    try:
        for path, data in live.items():
            if data is None:
                continue
            work = ctk.work_path(root, path)
            os.makedirs(os.path.dirname(work), mode=0o700, exist_ok=True)
            with open(work, "wb") as handle:
                handle.write(_bytes(ctk.to_work_copy(_text(data), root, drop_in_config)))
        argv = ctk.configure_argv(executable, runtime, ctk.work_path(root, files[0]),
                                  ctk.work_path(root, drop_in_config) if drop_in_config else None,
                                  params["set_as_default"])
        result["cmd"] = argv
        rc, out, err = module.run_command(argv)
        if rc != 0:
            module.fail_json(msg="nvidia-ctk runtime configure --runtime=%s failed (rc %s): %s"
                                 % (runtime, rc, (err or out).strip() or "no output"),
                             rc=rc, stdout=out, stderr=err, **result)
        written = {}
        for path in files:
            work = ctk.work_path(root, path)
            written[path] = ctk.from_work_copy(_text(read_file(module, work)), root) if os.path.exists(work) else None
        try:
            ctk.check_written(runtime, written)
        except ctk.RuntimeConfigError as exc:
            module.fail_json(msg=str(exc), rc=rc, stdout=out, stderr=err, **result)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return [(path, live[path], _bytes(text)) for path, text in written.items()
            if text is not None and _bytes(text) != live[path]]


def unconfigure(module, runtime, files, drop_in_config, result):
    """What state=absent changes: [(path, before bytes, after bytes or None for a removal)]."""
    changes = []
    if runtime == "docker":
        data = read_file(module, files[0])
        if data is not None:
            try:
                new = ctk.docker_without_nvidia(_text(data), files[0])
            except ctk.RuntimeConfigError as exc:
                module.fail_json(msg=str(exc), **result)
            if new is not None:
                changes.append((files[0], data, _bytes(new)))
        return changes
    if drop_in_config:
        data = read_file(module, drop_in_config)
        if data is not None:
            changes.append((drop_in_config, data, None))
    if ctk.containerd_keeps_nvidia(_text(read_file(module, files[0]))):
        module.warn("the nvidia runtime that nvidia-ctk wrote into %s (toolkit before 1.18, no drop-in) stays "
                    "there: remove its [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia] "
                    "section by hand" % files[0])
    return changes


def service_props(module, unit):
    """systemd's LoadState and ActiveState of the unit (empty without systemctl)."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return {}
    rc, out, _err = module.run_command([systemctl, "show", "--property=LoadState", "--property=ActiveState", unit])
    return ctk.parse_systemctl_show(out) if rc == 0 else {}


def run(module):
    params = module.params
    runtime, state = params["runtime"], params["state"]
    config = params["config"] or DEFAULT_CONFIGS[runtime]
    drop_in_config = params["drop_in_config"]
    if drop_in_config and runtime != "containerd":
        module.fail_json(msg="drop_in_config applies to runtime=containerd only (got runtime=%s)" % runtime)
    files = ctk.managed_files(runtime, config, drop_in_config)
    try:
        ctk.check_paths(files)
    except ctk.RuntimeConfigError as exc:
        module.fail_json(msg="%s (config, drop_in_config)" % exc)
    result = dict(changed=False, files=[], restart_required=False)

    if state == "present":
        changes = configure(module, runtime, files, drop_in_config, result)
    else:
        changes = unconfigure(module, runtime, files, drop_in_config, result)

    if not module.check_mode:
        for path, _before, after in changes:
            if after is None:
                remove_file(module, path)
            else:
                write_file(module, path, after)

    changed = bool(changes)
    props = None
    if changed and params["service"]:
        props = service_props(module, params["service"])
        result["service_running"] = ctk.service_running(props)
    result.update(changed=changed, files=[path for path, _b, _a in changes],
                  restart_required=ctk.restart_required(changed, props))
    if module._diff and changes:
        result["diff"] = [ctk.diff_entry(path, _text(before), _text(after)) for path, before, after in changes]
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.run_command_environ_update = dict(LANG="C", LC_ALL="C", LC_MESSAGES="C")
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
