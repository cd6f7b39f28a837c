# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The driver_change and dpkg_versions filters: the one rule of a driver change (upgrade.yml's plan
and cuda_driver's install), on apt-cache madison output of the lab mirror's CUDA repository
layout and dpkg-query output as dpkg prints it."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.k3s_gpu.node.plugins.filter.apt_madison import apt_madison
from ansible_collections.k3s_gpu.node.plugins.filter.dpkg_versions import dpkg_versions
from ansible_collections.k3s_gpu.node.plugins.filter.driver_change import driver_change
from ansible_collections.k3s_gpu.node.plugins.module_utils._dpkg import version_key

PACKAGES = ["nvidia-driver-cuda", "nvidia-kernel-open-dkms"]
URL = "http://127.0.0.1:8080/compute/cuda/repos/debian12/x86_64  Packages"
VERSIONS = ("595.71.05-1", "595.58.03-1", "580.105.08-1", "580.95.05-1")


def madison(versions=VERSIONS, pinning=("580", "595", "580.95.05", "580.105.08", "595.58.03", "595.71.05")):
    lines = ["%s | %s | %s" % (p, v, URL) for p in PACKAGES for v in versions]
    lines += ["nvidia-driver-pinning-%s | %s-1 | %s" % (p, p, URL) for p in pinning]
    return apt_madison("\n".join(lines) + "\n")


def dpkg(**versions):
    return dpkg_versions("".join("%s\t%s\tii \n" % (p.replace("_", "-"), v) for p, v in versions.items()))


def test_dpkg_versions_keeps_installed_packages_only():
    out = dpkg_versions("nvidia-driver-cuda\t580.95.05-1\tii \nnvidia-driver-pinning-595\t595-1\trc \n"
                        "libcuda1:amd64\t580.95.05-1\thi \n\n")
    assert out == {"nvidia-driver-cuda": "580.95.05-1", "libcuda1": "580.95.05-1"}
    assert dpkg_versions("") == {}
    with pytest.raises(AnsibleFilterError, match="unexpected dpkg-query line"):
        dpkg_versions("nvidia-driver-cuda 580.95.05-1 ii\n")


def test_versions_compare_as_numbers():
    assert sorted(VERSIONS, key=version_key) == ["580.95.05-1", "580.105.08-1", "595.58.03-1", "595.71.05-1"]
    assert version_key("1:1.0-1") > version_key("2.0-1")


def test_empty_version_is_the_branchs_newest():
    installed = dpkg(nvidia_driver_cuda="580.95.05-1", nvidia_kernel_open_dkms="580.95.05-1",
                     nvidia_driver_pinning_580="580-1")
    plan = driver_change(madison(), installed, PACKAGES, "580")
    assert plan["error"] == ""
    assert plan["wanted"] == "580.105.08" and plan["installed"] == "580.95.05"
    assert plan["install"] == ["nvidia-driver-cuda=580.105.08-1", "nvidia-kernel-open-dkms=580.105.08-1"]
    assert plan["change"] and plan["pinning"] == "nvidia-driver-pinning-580"
    assert not plan["pinning_install"] and plan["pinning_remove"] == []
    assert plan["summary"] == "driver 580.95.05 -> 580.105.08"


def test_a_version_pin_replaces_the_branch_pin():
    installed = dpkg(nvidia_driver_cuda="580.105.08-1", nvidia_kernel_open_dkms="580.105.08-1",
                     nvidia_driver_pinning_580="580-1")
    plan = driver_change(madison(), installed, PACKAGES, "580", "580.105.08")
    assert plan["change"] and plan["install"][0] == "nvidia-driver-cuda=580.105.08-1"
    assert plan["pinning"] == "nvidia-driver-pinning-580.105.08" and plan["pinning_install"]
    assert plan["pinning_remove"] == ["nvidia-driver-pinning-580"]
    assert plan["summary"] == "pinning nvidia-driver-pinning-580 -> nvidia-driver-pinning-580.105.08"


def test_a_branch_switch_purges_the_old_pins():
    installed = dpkg(nvidia_driver_cuda="580.105.08-1", nvidia_kernel_open_dkms="580.105.08-1",
                     nvidia_driver_pinning_580_105_08="580.105.08-1")
    installed = {k.replace("580-105-08", "580.105.08"): v for k, v in installed.items()}
    plan = driver_change(madison(), installed, PACKAGES, "595", "595.71.05")
    assert plan["wanted"] == "595.71.05" and plan["pinning"] == "nvidia-driver-pinning-595.71.05"
    assert plan["pinning_remove"] == ["nvidia-driver-pinning-580.105.08"]
    assert plan["summary"].startswith("driver 580.105.08 -> 595.71.05; pinning nvidia-driver-pinning-580.105.08 ->")


def test_nothing_to_change():
    installed = dpkg(nvidia_driver_cuda="595.71.05-1", nvidia_kernel_open_dkms="595.71.05-1")
    installed["nvidia-driver-pinning-595.71.05"] = "595.71.05-1"
    plan = driver_change(madison(), installed, PACKAGES, "595", "595.71.05")
    assert not plan["change"] and plan["error"] == ""
    assert plan["summary"] == "driver 595.71.05 (nothing to change)"
    # a fresh node: everything to install
    plan = driver_change(madison(), {}, PACKAGES, "595")
    assert plan["change"] and plan["installed"] == "" and plan["summary"].startswith("driver none -> 595.71.05")


@pytest.mark.parametrize("branch, version, words", [
    ("580", "580.1", "is not offered by the repository for nvidia-driver-cuda (offered: 595.71.05-1,"),
    ("580", "595.71.05", "cuda_driver_version 595.71.05 is not of cuda_driver_branch 580"),
    ("580", "latest", "cuda_driver_version must be a full driver version such as 580.105.08 (got 'latest')"),
    ("610", "", "driver branch 610 is not offered by the repository"),
])
def test_refusals_name_the_variable(branch, version, words):
    plan = driver_change(madison(), {}, PACKAGES, branch, version)
    assert words in plan["error"], plan["error"]
    assert not plan["change"] and plan["install"] == []


def test_a_version_without_its_pinning_package_is_refused():
    plan = driver_change(madison(pinning=("580",)), {}, PACKAGES, "580", "580.95.05")
    assert plan["error"] == ("the repository has no pinning package nvidia-driver-pinning-580.95.05 "
                             "(NVIDIA's version locking) for cuda_driver_version 580.95.05")


def test_a_version_one_package_lacks_falls_back_to_one_all_offer():
    offered = madison()
    offered["nvidia-kernel-open-dkms"] = ["580.95.05-1"]
    plan = driver_change(offered, {}, PACKAGES, "580")
    assert plan["wanted"] == "580.95.05"


def test_bad_inputs():
    with pytest.raises(AnsibleFilterError, match="dictionaries"):
        driver_change("text", {}, PACKAGES, "580")
    with pytest.raises(AnsibleFilterError, match="packages must be a list"):
        driver_change({}, {}, "nvidia-driver-cuda", "580")


def test_distro_packages_have_no_pinning_and_a_reboot_follows_a_new_version():
    installed = dpkg(nvidia_driver_cuda="580.95.05-1", nvidia_kernel_open_dkms="580.95.05-1")
    installed["nvidia-driver-pinning-580"] = "580-1"
    plan = driver_change(madison(pinning=()), installed, PACKAGES, "580", pinning=False, loaded="580.95.05")
    assert plan["error"] == "" and plan["pinning"] == "" and plan["pinning_remove"] == []
    assert plan["reboot"] and plan["loaded"] == "580.95.05"
    installed = dpkg(nvidia_driver_cuda="580.105.08-1", nvidia_kernel_open_dkms="580.105.08-1")
    plan = driver_change(madison(pinning=()), installed, PACKAGES, "580", pinning=False, loaded="580.105.08\n")
    assert not plan["change"] and not plan["reboot"]
    # installed but not loaded (a reboot pending): nothing to install, a reboot all the same
    assert driver_change(madison(pinning=()), installed, PACKAGES, "580", pinning=False)["reboot"]
