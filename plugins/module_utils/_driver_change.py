# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rule of a driver change: which driver version a node should run, and what would change.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

The one home of that rule for roles/cuda_driver (its install and its ``change`` entry point, which
playbooks/upgrade.yml calls before it cordons a node). Inputs are what the node's apt and dpkg say:

- ``offered``: apt-cache madison of the driver packages and the pinning packages, parsed
  (module_utils/_apt_madison.py);
- ``installed``: dpkg-query of the same packages and of every installed
  ``nvidia-driver-pinning-*`` package, parsed (module_utils/_dpkg.py).

The wanted version is ``version`` (cuda_driver_version, a full driver version such as 580.105.08)
or, when it is empty, the newest version of ``branch`` that the repository offers for every driver
package. NVIDIA's CUDA repository locks versions with pinning packages ("Version locking" in NVIDIA's
Driver Installation Guide): ``nvidia-driver-pinning-<branch>`` keeps a branch,
``nvidia-driver-pinning-<version>`` one version. A node has one of them: the wanted one is installed
and every other installed pinning package is purged (a 580 -> 595 switch leaves no 580 pin behind).
"""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.k3s_gpu.node.plugins.module_utils._dpkg import upstream_version, version_key

PINNING_PREFIX = "nvidia-driver-pinning-"
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")


def _offered_list(offered):
    return "; ".join("%s %s" % (p, ", ".join(v)) for p, v in sorted(offered.items())) or "nothing"


def driver_change(offered, installed, packages, branch, version="", pinning=True, loaded=""):
    """What the node should run and what would change (a dict; see RETURN of the filter).

    ``pinning``: NVIDIA's repository (pinning packages); false for the distribution's packages.
    ``loaded``: the loaded module's version (/sys/module/nvidia/version), empty when none: a
    reboot follows when the node is to run another version than the loaded one.

    ``error`` is set (and nothing else is to be trusted) when the wanted version cannot be
    installed: a malformed cuda_driver_version, one of another branch, or a version or pinning
    package the repository does not offer.
    """
    branch = str(branch)
    version = (version or "").strip()
    packages = [p for p in packages if "=" not in p]
    out = {"change": False, "error": "", "wanted": "", "wanted_deb": "", "installed": "", "installed_deb": "",
           "install": [], "pinning": "", "pinning_install": False, "pinning_remove": [], "summary": "",
           "loaded": loaded or "", "reboot": False}
    if not packages:
        out["error"] = "no driver package to compare (cuda_driver_packages names every package with a version)"
        return out
    first = packages[0]
    out["installed_deb"] = installed.get(first, "")
    out["installed"] = upstream_version(out["installed_deb"]) if out["installed_deb"] else ""

    if version:
        if not VERSION_RE.match(version):
            out["error"] = ("cuda_driver_version must be a full driver version such as 580.105.08 (got %r)"
                            % version)
            return out
        if version.split(".")[0] != branch:
            out["error"] = ("cuda_driver_version %s is not of cuda_driver_branch %s: set cuda_driver_branch to %s "
                            "as well, or choose a %s.x version" % (version, branch, version.split(".")[0], branch))
            return out
        candidates = [v for v in offered.get(first, []) if upstream_version(v) == version]
        if not candidates:
            out["error"] = ("cuda_driver_version %s is not offered by the repository for %s (offered: %s)"
                            % (version, first, ", ".join(offered.get(first, [])) or "nothing"))
            return out
        out["pinning"] = PINNING_PREFIX + version
    else:
        candidates = [v for v in offered.get(first, []) if fnmatch.fnmatchcase(v, branch + ".*")]
        if not candidates:
            out["error"] = ("driver branch %s is not offered by the repository for %s (offered: %s)"
                            % (branch, first, _offered_list(offered)))
            return out
        out["pinning"] = PINNING_PREFIX + branch
    # The newest candidate that every driver package offers.
    for deb in sorted(set(candidates), key=version_key, reverse=True):
        if all(deb in offered.get(p, []) for p in packages):
            out["wanted_deb"] = deb
            break
    if not out["wanted_deb"]:
        out["error"] = ("no version %s is offered for every driver package %s (offered: %s)"
                        % (version or branch + ".*", ", ".join(packages), _offered_list(offered)))
        return out
    if not pinning:
        out["pinning"] = ""
    elif out["pinning"] not in offered:
        out["error"] = ("the repository has no pinning package %s (NVIDIA's version locking) for %s %s"
                        % (out["pinning"], "cuda_driver_version" if version else "cuda_driver_branch",
                           version or branch))
        return out
    out["wanted"] = upstream_version(out["wanted_deb"])
    out["install"] = ["%s=%s" % (p, out["wanted_deb"]) for p in packages]
    stale = sorted(p for p in packages if installed.get(p) != out["wanted_deb"])
    if pinning:
        out["pinning_install"] = out["pinning"] not in installed
        out["pinning_remove"] = sorted(p for p in installed if p.startswith(PINNING_PREFIX) and p != out["pinning"])
    out["change"] = bool(stale or out["pinning_install"] or out["pinning_remove"])
    words = []
    if stale:
        words.append("driver %s -> %s" % (out["installed"] or "none", out["wanted"]))
    if out["pinning_install"] or out["pinning_remove"]:
        words.append("pinning %s -> %s" % (", ".join(out["pinning_remove"]) or "none", out["pinning"]))
    out["summary"] = "; ".join(words) if words else "driver %s (nothing to change)" % out["wanted"]
    out["reboot"] = out["loaded"] != out["wanted"]
    return out
