# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""apt_signing_key as Ansible runs it, on file:// URLs of real keys and signatures
(tests/unit/fixtures/openpgp, tests/lab/mirror/keys)."""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.abspath(os.path.join(HERE, "..", "..", "fixtures", "openpgp"))
LAB_KEYS = os.path.abspath(os.path.join(HERE, "..", "..", "..", "lab", "mirror", "keys"))
LAB_CUDA = "B56699BE8F2F7F5AE0321882F997EB588C11D826"
LAB_UNTRUSTED = "BECFEA2B7D1AC902E290D69916D582F17A511587"
NVIDIA_NCT = "C95B321B61E88C1809C4F759DDCAE044F796ECB0"


def url(*parts):
    return "file://" + os.path.join(*parts)


def test_pinned_key_written_once_with_fingerprint_diff(run_module, tmp_path):
    dest = tmp_path / "keyrings" / "cuda.gpg"
    args = {"url": url(LAB_KEYS, "cuda.pub.asc"), "dest": str(dest), "fingerprints": ["b566 99be 8f2f 7f5a e032 "
            "1882 f997 eb58 8c11 d826"], "release_url": url(FIXTURES, "InRelease-lab-cuda-sha512"),
            "reject_sha1": True, "_ansible_diff": True}
    rc, result = run_module("apt_signing_key", args, check_mode=True)
    assert rc == 0 and result["changed"], result
    assert not dest.exists()
    assert result["diff"]["after"].startswith("pub B566 99BE 8F2F 7F5A E032 1882 F997 EB58 8C11 D826\n")
    rc, result = run_module("apt_signing_key", args)
    assert rc == 0 and result["changed"], result
    assert result["fingerprints"] == [LAB_CUDA] and result["release"][0]["hash_algorithm"] == "SHA512"
    data = dest.read_bytes()
    assert data[0] & 0x80, "a .gpg keyring is binary"
    assert oct(dest.stat().st_mode & 0o777) == "0o644"
    rc, result = run_module("apt_signing_key", args)
    assert rc == 0 and not result["changed"], result
    assert dest.read_bytes() == data


def test_armored_dest(run_module, tmp_path):
    dest = tmp_path / "nct.asc"
    rc, result = run_module("apt_signing_key", {"url": url(FIXTURES, "nvidia-libnvidia-container-gpgkey.asc"),
                                                "dest": str(dest), "fingerprints": [NVIDIA_NCT], "reject_sha1": True})
    assert rc == 0 and result["changed"], result
    assert dest.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_mismatch_fails_before_writing(run_module, tmp_path):
    dest = tmp_path / "cuda.gpg"
    rc, result = run_module("apt_signing_key", {"url": url(LAB_KEYS, "untrusted.pub.asc"), "dest": str(dest),
                                                "fingerprints": [LAB_CUDA],
                                                "fingerprints_var": "cuda_driver_keyring_fingerprints"})
    assert rc != 0 and result["failed"]
    assert "has fingerprint %s, which is not pinned: expected %s (cuda_driver_keyring_fingerprints)" % (
        LAB_UNTRUSTED, LAB_CUDA) in result["msg"]
    assert "set cuda_driver_keyring_fingerprints" in result["msg"]
    assert result["served"] == [LAB_UNTRUSTED] and result["expected"] == [LAB_CUDA]
    assert not dest.exists()


def test_release_issuer_and_sha1(run_module, tmp_path):
    dest = tmp_path / "cuda.gpg"
    base = {"url": url(LAB_KEYS, "untrusted.pub.asc"), "dest": str(dest), "fingerprints": [LAB_UNTRUSTED],
            "release_url": url(FIXTURES, "InRelease-lab-cuda-sha512")}
    rc, result = run_module("apt_signing_key", base)
    assert rc != 0 and "is signed by key %s, which is not the verified key" % LAB_CUDA in result["msg"], result
    sha1 = dict(base, url=url(LAB_KEYS, "cuda.pub.asc"), fingerprints=[LAB_CUDA],
                release_url=url(FIXTURES, "InRelease-lab-cuda-sha1"))
    rc, result = run_module("apt_signing_key", sha1)
    assert rc == 0, result  # apt 2.6 (Debian 12) still accepts it
    os.unlink(str(dest))
    rc, result = run_module("apt_signing_key", dict(sha1, reject_sha1=True))
    assert rc != 0 and "is signed with SHA1" in result["msg"] and "Debian 13" in result["msg"], result
    assert not dest.exists()


def test_sha1_bound_key(run_module, tmp_path):
    args = {"url": url(FIXTURES, "lab-sha1-bound.gpg"), "dest": str(tmp_path / "k.gpg"),
            "fingerprints": ["CB7D44FF65FC962F053A6DCA71C50F6C74220F4F"], "reject_sha1": True}
    rc, result = run_module("apt_signing_key", args)
    assert rc != 0 and "bound by SHA-1 self-signatures only" in result["msg"] and "2026-02-01" in result["msg"]
    assert not (tmp_path / "k.gpg").exists()


def test_bad_inputs(run_module, tmp_path):
    rc, result = run_module("apt_signing_key", {"url": url(LAB_KEYS, "cuda.pub.asc"), "dest": str(tmp_path / "k"),
                                                "fingerprints": ["3bf863cc"], "fingerprints_var": "x_fingerprints"})
    assert rc != 0 and result["msg"].startswith("x_fingerprints: '3bf863cc' is not an OpenPGP fingerprint")
    rc, result = run_module("apt_signing_key", {"url": url(FIXTURES, "Release-lab"), "dest": str(tmp_path / "k"),
                                                "fingerprints": [LAB_CUDA]})
    assert rc != 0 and "does not hold an OpenPGP public key" in result["msg"]
    rc, result = run_module("apt_signing_key", {"url": url(str(tmp_path), "missing.asc"), "dest": str(tmp_path / "k"),
                                                "fingerprints": [LAB_CUDA]})
    assert rc != 0 and "could not download" in result["msg"]
