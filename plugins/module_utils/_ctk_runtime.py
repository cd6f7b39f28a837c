# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules of the nvidia_ctk_runtime module, PRIVATE to the collection.

Pure functions, no Ansible: the command line of `nvidia-ctk runtime configure`, the
translation between a live configuration file and its work copy, the checks of what
nvidia-ctk wrote, the removal of the `nvidia` runtime from docker's daemon.json, and the
restart decision from `systemctl show`.
"""

from __future__ import annotations

import json
import os
import re

RUNTIMES = ("containerd", "docker")
# The runtime name nvidia-ctk adds (its --nvidia-runtime-name default, which the module keeps).
NVIDIA_RUNTIME = "nvidia"

# A containerd table of the nvidia runtime, in config version 2
# ([plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]) or 3
# ([plugins."io.containerd.cri.v1.runtime".containerd.runtimes.nvidia]), or a sub-table of it.
_CONTAINERD_NVIDIA_RE = re.compile(r'(?m)^\s*\[\s*plugins\..*\.runtimes\.%s(\.[^\]]*)?\s*\]\s*$' % NVIDIA_RUNTIME)


class RuntimeConfigError(Exception):
    """A configuration file that cannot be read as its runtime's format, or what nvidia-ctk wrote lacks."""


def configure_argv(executable, runtime, config, drop_in_config=None, set_as_default=False):
    """The command line of `nvidia-ctk runtime configure` for the given (work copy) paths."""
    if runtime not in RUNTIMES:
        raise ValueError("runtime must be one of %s, got %r" % (", ".join(RUNTIMES), runtime))
    argv = [executable, "runtime", "configure", "--runtime=%s" % runtime, "--config=%s" % config]
    if drop_in_config:
        argv.append("--drop-in-config=%s" % drop_in_config)
    if set_as_default:
        argv.append("--set-as-default")
    return argv


def managed_files(runtime, config, drop_in_config=None):
    """The live files nvidia-ctk writes for the runtime: the main configuration, and the drop-in
    (containerd with toolkit 1.18.0 and later)."""
    files = [config]
    if runtime == "containerd" and drop_in_config:
        files.append(drop_in_config)
    return files


def check_paths(paths):
    """Absolute file paths only (the work copy mirrors them under a private directory)."""
    bad = [p for p in paths if not p or not os.path.isabs(p) or p.endswith("/")]
    if bad:
        raise RuntimeConfigError("these paths must be absolute file paths: %s" % ", ".join(repr(p) for p in bad))
    if len(set(paths)) != len(paths):
        raise RuntimeConfigError("config and drop_in_config must be two different files, got %s twice" % paths[0])


def work_path(root, path):
    """Where the work copy of the live file `path` lives under the private directory `root`."""
    return root + os.path.normpath(path)


def to_work_copy(text, root, drop_in_config=None):
    """The live text as nvidia-ctk must see it in the work directory.

    containerd's main configuration names the drop-in directory in `imports`: pointed at the
    work copy's directory, so that nvidia-ctk finds its import there and does not add a second one.
    """
    if not drop_in_config:
        return text
    directory = os.path.dirname(os.path.normpath(drop_in_config))
    return text.replace(directory + "/", work_path(root, directory) + "/")


def from_work_copy(text, root):
    """The work copy's text as it goes live: the work directory's paths back to the live ones."""
    return text.replace(root, "")


def parse_docker(text, path):
    """docker's daemon.json as a dict (an empty or missing file is an empty configuration)."""
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RuntimeConfigError("%s is not valid JSON (%s): fix or remove it" % (path, exc))
    if not isinstance(doc, dict):
        raise RuntimeConfigError("%s must hold a JSON object, it holds a %s" % (path, type(doc).__name__))
    return doc


def has_nvidia_runtime(runtime, texts):
    """Whether the nvidia runtime is in any of the texts (the files nvidia-ctk wrote for runtime)."""
    if runtime == "docker":
        return any(NVIDIA_RUNTIME in (parse_docker(t, "daemon.json").get("runtimes") or {}) for t in texts)
    return any(_CONTAINERD_NVIDIA_RE.search(t) for t in texts)


def check_written(runtime, written):
    """Refuse what nvidia-ctk wrote when it is not its runtime's format or lacks the nvidia runtime.

    `written` maps each live path to the text nvidia-ctk wrote for it (None: it wrote nothing).
    """
    texts = [t for t in written.values() if t is not None]
    if not texts:
        raise RuntimeConfigError("nvidia-ctk runtime configure exited 0 but wrote none of %s" % ", ".join(written))
    if runtime == "docker":
        for path, text in written.items():
            if text is not None:
                parse_docker(text, "the %s that nvidia-ctk wrote" % path)
    if not has_nvidia_runtime(runtime, texts):
        raise RuntimeConfigError("nvidia-ctk runtime configure exited 0 but %s holds no %s runtime"
                                 % (" or ".join(p for p, t in written.items() if t is not None), NVIDIA_RUNTIME))


def docker_without_nvidia(text, path):
    """daemon.json without the nvidia runtime (and without `default-runtime: nvidia`); None when it has none.

    Everything else stays. Written as nvidia-ctk writes daemon.json: sorted keys, four spaces.
    """
    doc = parse_docker(text, path)
    runtimes = doc.get("runtimes") or {}
    if not isinstance(runtimes, dict) or NVIDIA_RUNTIME not in runtimes:
        return None
    new = dict(doc)
    others = dict((k, v) for k, v in runtimes.items() if k != NVIDIA_RUNTIME)
    if others:
        new["runtimes"] = others
    else:
        del new["runtimes"]
    if new.get("default-runtime") == NVIDIA_RUNTIME:
        del new["default-runtime"]
    return json.dumps(new, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def containerd_keeps_nvidia(text):
    """Whether a containerd main configuration holds the nvidia runtime itself (toolkit before 1.18
    wrote it there; state=absent leaves that file alone)."""
    return bool(_CONTAINERD_NVIDIA_RE.search(text or ""))


def parse_systemctl_show(text):
    """`systemctl show -p LoadState -p ActiveState UNIT` output as a dict."""
    props = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props


def service_running(props):
    """A service runs when systemd has loaded it and it is active (a stopped one reads its
    configuration when it starts: no restart)."""
    return props.get("LoadState") == "loaded" and props.get("ActiveState") == "active"


def restart_required(changed, props):
    """The runtime's service needs a restart when its configuration changed and it runs.

    props None: no service named, the module cannot tell, so any change needs one.
    """
    if not changed:
        return False
    return True if props is None else service_running(props)


def diff_entry(path, before, after):
    """One file's --diff entry (Ansible shows a list of them one after the other)."""
    return dict(before_header=path, after_header=path, before=before or "", after=after or "")
