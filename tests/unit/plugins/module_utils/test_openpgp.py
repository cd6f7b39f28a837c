# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_openpgp.py against real keys and signatures (tests/unit/fixtures/openpgp/README.md
says where each comes from; every fingerprint here is the one gpg prints for the same file)."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import tarfile

import pytest

from ansible_collections.k3s_gpu.node.plugins.module_utils import _openpgp as pgp

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures", "openpgp")
LAB_KEYS = os.path.join(HERE, "..", "..", "..", "lab", "mirror", "keys")

NVIDIA_NCT = "C95B321B61E88C1809C4F759DDCAE044F796ECB0"
LAB_CUDA = "B56699BE8F2F7F5AE0321882F997EB588C11D826"
LAB_NCT = "0E7F3E263BDD6999F4930BA11D6D71E2EBFBF3B4"
LAB_UNTRUSTED = "BECFEA2B7D1AC902E290D69916D582F17A511587"
LAB_SHA1_BOUND = "CB7D44FF65FC962F053A6DCA71C50F6C74220F4F"


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def test_nvidia_libnvidia_container_key():
    keys = pgp.keyring(read(FIXTURES, "nvidia-libnvidia-container-gpgkey.asc"))
    assert len(keys) == 1
    key = keys[0]
    assert key["fingerprint"] == NVIDIA_NCT
    assert key["key_id"] == "DDCAE044F796ECB0"
    assert key["version"] == 4 and key["algorithm"] == "RSA"
    assert key["user_ids"] == ["NVIDIA CORPORATION (Open Source Projects) <cudatools@nvidia.com>"]
    assert [s["fingerprint"] for s in key["subkeys"]] == [
        "88B1F8779268FFEB1B77DFE0C45B1676A04EA552", "2041629BF5352FAC178A9B1F6ED91CA3AC1160CD"]
    # gpg --list-packets: every self-signature uses digest algo 10 (SHA512).
    assert key["certification_hashes"] == ["SHA512"]
    assert [s["binding_hashes"] for s in key["subkeys"]] == [["SHA512"], ["SHA512"]]
    assert pgp.sha1_bound(key) == []


@pytest.mark.parametrize("stem, fpr", [("cuda", LAB_CUDA), ("libnvidia-container", LAB_NCT),
                                       ("untrusted", LAB_UNTRUSTED)])
def test_lab_keys(stem, fpr):
    keys = pgp.keyring(read(LAB_KEYS, stem + ".pub.asc"))
    assert [k["fingerprint"] for k in keys] == [fpr]
    assert keys[0]["algorithm"] == "EdDSA" and keys[0]["subkeys"] == []
    assert keys[0]["user_ids"][0].startswith("k3s_gpu.node lab ")


def test_binary_keyring_equals_armored():
    armored = read(LAB_KEYS, "cuda.pub.asc")
    binary = pgp.dearmor(armored)
    assert binary[0] & 0x80
    assert pgp.keyring(binary) == pgp.keyring(armored)
    # armor() round-trips, with a checksum the parser accepts.
    assert pgp.dearmor(pgp.armor(binary)) == binary
    both = pgp.keyring(binary + pgp.dearmor(read(LAB_KEYS, "untrusted.pub.asc")))
    assert [k["fingerprint"] for k in both] == [LAB_CUDA, LAB_UNTRUSTED]


def test_secret_key_refused():
    with pytest.raises(pgp.OpenPGPError, match="SECRET key"):
        pgp.keyring(read(LAB_KEYS, "cuda.secret.asc"))


def test_sha1_bound_key():
    key = pgp.keyring(read(FIXTURES, "lab-sha1-bound.gpg"))[0]
    assert key["fingerprint"] == LAB_SHA1_BOUND
    assert key["certification_hashes"] == ["SHA1"]
    assert pgp.sha1_bound(key) == ["its user IDs are bound by SHA-1 self-signatures only"]


@pytest.mark.parametrize("name, hash_name", [("InRelease-lab-cuda-sha512", "SHA512"),
                                             ("InRelease-lab-cuda-sha1", "SHA1"),
                                             ("Release-lab-cuda.gpg", "SHA256")])
def test_repository_signatures(name, hash_name):
    sigs = pgp.signatures(read(FIXTURES, name))
    assert len(sigs) == 1
    sig = sigs[0]
    assert sig["hash_algorithm"] == hash_name
    assert sig["issuer_fingerprint"] == LAB_CUDA
    assert sig["issuer_key_id"] == LAB_CUDA[-16:]
    assert sig["type"] in (0, 1) and sig["version"] == 4 and sig["created"] > 1700000000


def test_damaged_armor():
    text = read(FIXTURES, "nvidia-libnvidia-container-gpgkey.asc").decode()
    damaged = text.replace("mQINBFnNWDEB", "mQINBFnNWDEC", 1)
    with pytest.raises(pgp.OpenPGPError, match="checksum does not match"):
        pgp.keyring(damaged)
    with pytest.raises(pgp.OpenPGPError, match="not OpenPGP data"):
        pgp.keyring(b"<html>404 Not Found</html>")
    with pytest.raises(pgp.OpenPGPError, match="truncated"):
        pgp.keyring(pgp.dearmor(read(LAB_KEYS, "cuda.pub.asc"))[:40])
    with pytest.raises(pgp.OpenPGPError, match="no OpenPGP signature"):
        pgp.signatures(read(LAB_KEYS, "cuda.pub.asc"))


def test_v6_fingerprint():
    # RFC 9580 A.3 sample v6 certificate's primary key packet: fingerprint
    # CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9 (as printed there).
    body = bytes.fromhex("0663877fe31b00000020f94da7bb48d60a61e567706a6587d0331999bb9d891a08242ead84543df895a3")
    info = pgp.key_info(pgp.TAG_PUBLIC_KEY, body)
    assert info["version"] == 6 and info["algorithm"] == "Ed25519"
    assert info["fingerprint"] == "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9"
    assert info["key_id"] == "CB186C4F0609A697"


@pytest.mark.parametrize("value, want", [
    ("eb69 3b30 35cd 5710 e231  e123 a4b4 6996 3bf8 63cc", "EB693B3035CD5710E231E123A4B469963BF863CC"),
    ("0x" + LAB_CUDA.lower(), LAB_CUDA),
    ("cb186c4f0609a697e4d52dfa6c722b0c1f1e27c18a56708f6525ec27bad9acc9",
     "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9"),
])
def test_normalize_fingerprint(value, want):
    assert pgp.normalize_fingerprint(value) == want


@pytest.mark.parametrize("value", ["3bf863cc", "A4B469963BF863CC", LAB_CUDA + "0", "Z" * 40, ""])
def test_bad_fingerprints(value):
    with pytest.raises(ValueError, match="not an OpenPGP fingerprint"):
        pgp.normalize_fingerprint(value)


def make_deb(files, compression):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo("." + path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    blob = {"xz": lzma.compress, "gz": gzip.compress, "zst": lambda d: b"\x28\xb5\x2f\xfd" + d,
            "": lambda d: d}[compression](raw)
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", lzma.compress(b"")),
               ("data.tar" + ("." + compression if compression else ""), blob)]
    out = b"!<arch>\n"
    for name, data in members:
        out += ("%-16s%-12s%-6s%-6s%-8s%-10s`\n" % (name, 0, 0, 0, 100644, len(data))).encode()
        out += data + (b"\n" if len(data) & 1 else b"")
    return out


@pytest.mark.parametrize("compression", ["xz", "gz", ""])
def test_deb_keyring(compression):
    key = pgp.dearmor(read(LAB_KEYS, "cuda.pub.asc"))
    deb = make_deb({"/usr/share/keyrings/cuda-archive-keyring.gpg": key,
                    "/etc/apt/sources.list.d/cuda-debian12-x86_64.list": b"deb [signed-by=...] https://x/ /\n"},
                   compression)
    assert pgp.deb_keyring(deb) == ("/usr/share/keyrings/cuda-archive-keyring.gpg", key)
    assert pgp.deb_keyring(deb, "usr/share/keyrings/cuda-archive-keyring.gpg")[1] == key
    with pytest.raises(pgp.DebError, match="has no file /usr/share/keyrings/other.gpg"):
        pgp.deb_keyring(deb, "/usr/share/keyrings/other.gpg")


def test_deb_errors():
    with pytest.raises(pgp.DebError, match="zstd"):
        pgp.deb_keyring(make_deb({"/usr/share/keyrings/a.gpg": b"x"}, "zst"))
    with pytest.raises(pgp.DebError, match="holds 2 keyring files"):
        pgp.deb_keyring(make_deb({"/usr/share/keyrings/a.gpg": b"x", "/usr/share/keyrings/b.gpg": b"y"}, "gz"))
    with pytest.raises(pgp.DebError, match="not a .deb"):
        pgp.deb_keyring(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_lab_mirror_deb_if_built():
    """The lab mirror's cuda-keyring .deb (dpkg-deb -Zgzip), when a built tree is at hand."""
    root = os.environ.get("LAB_MIRROR_ROOT")
    if not root:
        pytest.skip("no lab mirror tree (LAB_MIRROR_ROOT)")
    deb = read(root, "www/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb")
    path, data = pgp.deb_keyring(deb)
    assert path == "/usr/share/keyrings/cuda-archive-keyring.gpg"
    assert [k["fingerprint"] for k in pgp.keyring(data)] == [LAB_CUDA]
