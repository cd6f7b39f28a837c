#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: apt_signing_key
short_description: Install an apt repository's signing key only when its fingerprint is pinned
version_added: 0.1.0
description:
  - Downloads the OpenPGP key that signs an apt repository from O(url) (ASCII-armored, binary, or a
    keyring package C(.deb) whose keyring file is taken out), checks that every primary key it holds has
    one of the fingerprints in O(fingerprints), and only then writes it to O(dest) (root, mode 0644,
    written atomically), for a deb822 source's C(Signed-By).
  - A key whose fingerprint is not pinned fails B(before) anything is written; the message names the
    served and the expected fingerprints and O(fingerprints_var), the variable to set for a mirror that
    signs with its own key.
  - With O(release_url) it also reads the repository's signature (C(InRelease) or C(Release.gpg)) and
    fails when its issuer is not one of the verified keys or their subkeys. With O(reject_sha1) it fails,
    with a message saying why, where Debian 13's apt (Sequoia's C(sqv)) would reject the repository for
    SHA-1 since 2026-02-01 - a signature made with SHA-1, or a key bound to its user IDs by SHA-1
    self-signatures only - instead of apt's "the repository is not signed".
  - It reads the OpenPGP packets (fingerprints, hash algorithms, issuers) and verifies no signature
    cryptographically; apt does that with the key this module wrote.
author:
  - k3s_gpu.node contributors (@k3s-gpu-node)
extends_documentation_fragment:
  - k3s_gpu.node.attributes
attributes:
  check_mode:
    support: full
    details:
      - The key is downloaded and checked in check mode too (nothing is written), so check mode reports
        a mismatch as the real run would.
  diff_mode:
    support: full
    details:
      - Shows the fingerprints and user IDs of the keys in O(dest) before and after, not the binary key.
options:
  url:
    description:
      - URL of the key (C(http://), C(https://) or C(file://)). A URL ending in C(.deb), or data that is an
        ar archive, is read as a keyring package (data.tar.xz, data.tar.gz or data.tar; a data.tar.zst
        fails with a message saying so).
    type: str
    required: true
  dest:
    description:
      - Keyring file to write. A name ending in C(.asc) gets the ASCII-armored key, any other (C(.gpg)) the
        binary key, as apt reads them (sources.list(5), Signed-By). The directory is created (mode 0755)
        when missing.
    type: path
    required: true
  fingerprints:
    description:
      - The fingerprints of the keys to trust (40 hex digits for a v4 key, 64 for a v6 key; spaces and a
        C(0x) prefix are allowed). Every primary key that O(url) serves must be one of them.
    type: list
    elements: str
    required: true
  fingerprints_var:
    description: Name of the variable that sets O(fingerprints), named in failure messages.
    type: str
    default: fingerprints
  deb_member:
    description:
      - Path of the keyring file inside the C(.deb). Empty means the only C(*.gpg) or C(*.asc) file under
        C(/usr/share/keyrings), C(/etc/apt/keyrings) or C(/etc/apt/trusted.gpg.d).
    type: str
    default: ""
  release_url:
    description:
      - URL of the repository's C(InRelease) (clearsigned) or C(Release.gpg) (detached) to check, or empty.
    type: str
    default: ""
  reject_sha1:
    description:
      - Fail where the host's apt would refuse SHA-1, as Debian 13's apt does since 2026-02-01 (its Sequoia
        policy sets C(sha1.second_preimage_resistance = 2026-02-01)), that is for a key whose user IDs (or
        signing subkey) are bound only by SHA-1 self-signatures, or, with O(release_url), a repository
        signature made with SHA-1.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for each download.
    type: int
    default: 30
  validate_certs:
    description: Check the TLS certificates of C(https://) URLs.
    type: bool
    default: true
notes:
  - NVIDIA's CUDA repositories other than C(debian13) are signed with key C(3bf863cc), bound by a SHA-1
    self-signature that Debian 13's apt refuses (NVIDIA/cuda-repo-management issues 30, 34 and 39); NVIDIA signs
    C(debian13) with a new key, C(8793F200).
seealso:
  - module: ansible.builtin.deb822_repository
  - name: GPG Keys Used to Sign the Packages (NVIDIA Driver Installation Guide)
    description: NVIDIA's published CUDA repository key.
    link: https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/gpg-keys-used-to-sign-the-packages.html
"""

EXAMPLES = r"""
- name: Install NVIDIA's container toolkit key, pinned
  k3s_gpu.node.apt_signing_key:
    url: https://nvidia.github.io/libnvidia-container/gpgkey
    dest: /etc/apt/keyrings/nvidia-container-toolkit-keyring.asc
    fingerprints: [C95B321B61E88C1809C4F759DDCAE044F796ECB0]
    release_url: https://nvidia.github.io/libnvidia-container/stable/deb/amd64/InRelease

- name: The CUDA key out of NVIDIA's cuda-keyring package, refusing SHA-1 as Debian 13's apt does
  k3s_gpu.node.apt_signing_key:
    url: https://developer.download.nvidia.com/compute/cuda/repos/debian13/x86_64/cuda-keyring_1.1-1_all.deb
    dest: /etc/apt/keyrings/cuda-archive-keyring.gpg
    fingerprints: ["0218 2E60 104F CDC2 6EAE 1B85 97A5 D4CB 8793 F200"]
    fingerprints_var: cuda_driver_keyring_fingerprints
    reject_sha1: true
"""

RETURN = r"""
fingerprints:
  description: The fingerprints of the primary keys that O(url) served (all of them pinned on success).
  returned: when the key was read
  type: list
  elements: str
  sample: [C95B321B61E88C1809C4F759DDCAE044F796ECB0]
keys:
  description: The keys served, each with its fingerprint, user IDs and subkey fingerprints.
  returned: when the key was read
  type: list
  elements: dict
  sample: [{fingerprint: C95B321B61E88C1809C4F759DDCAE044F796ECB0, user_ids: ["NVIDIA CORPORATION ..."], subkeys: []}]
source:
  description: Where the key came from (O(url), plus the member path for a C(.deb)).
  returned: when the key was read
  type: str
  sample: https://example.org/cuda-keyring_1.1-1_all.deb:/usr/share/keyrings/cuda-archive-keyring.gpg
release:
  description: The signatures of O(release_url) (hash algorithm, issuer fingerprint and key id).
  returned: with O(release_url)
  type: list
  elements: dict
  sample: [{hash_algorithm: SHA512, issuer_fingerprint: C95B321B61E88C1809C4F759DDCAE044F796ECB0, issuer_key_id: DDCAE044F796ECB0}]
dest:
  description: The keyring file.
  returned: always
  type: str
  sample: /etc/apt/keyrings/nvidia-container-toolkit-keyring.asc
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.k3s_gpu.node.plugins.module_utils import _openpgp as pgp


def argument_spec():
    return dict(
        url=dict(type="str", required=True),
        dest=dict(type="path", required=True),
        fingerprints=dict(type="list", elements="str", required=True),
        fingerprints_var=dict(type="str", default="fingerprints"),
        deb_member=dict(type="str", default=""),
        release_url=dict(type="str", default=""),
        reject_sha1=dict(type="bool", default=False),
        timeout=dict(type="int", default=30),
        validate_certs=dict(type="bool", default=True),
    )


def download(module, url):
    resp, info = fetch_url(module, url, timeout=module.params["timeout"])
    status = info.get("status", -1)
    if resp is None or (url.startswith("http") and status != 200):
        module.fail_json(msg="could not download %s: %s %s" % (url, status, info.get("msg", "")), url=url,
                         status=status)
    try:
        return resp.read()
    finally:
        resp.close()


def key_lines(keys):
    lines = []
    for key in keys:
        lines.append("pub %s" % pgp.format_fingerprint(key["fingerprint"]))
        lines += ["uid %s" % uid for uid in key["user_ids"]]
        lines += ["sub %s" % pgp.format_fingerprint(sub["fingerprint"]) for sub in key["subkeys"]]
    return "".join(line + "\n" for line in lines)


def public_keys(keys):
    return [dict(fingerprint=k["fingerprint"], user_ids=k["user_ids"],
                 subkeys=[s["fingerprint"] for s in k["subkeys"]]) for k in keys]


def read_existing(dest):
    try:
        with open(dest, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, None
    try:
        return data, pgp.keyring(data)
    except pgp.OpenPGPError:
        return data, None


def check_release(module, keys, result):
    params = module.params
    url = params["release_url"]
    try:
        sigs = pgp.signatures(download(module, url))
    except pgp.OpenPGPError as exc:
        module.fail_json(msg="%s is not a repository signature (InRelease or Release.gpg): %s" % (url, exc), **result)
    result["release"] = [dict((k, s[k]) for k in ("hash_algorithm", "issuer_fingerprint", "issuer_key_id", "created"))
                         for s in sigs]
    fprs = set()
    for key in keys:
        fprs.add(key["fingerprint"])
        fprs.update(sub["fingerprint"] for sub in key["subkeys"])
    ids = set(f[-16:] for f in fprs if len(f) == 40) | set(f[:16] for f in fprs if len(f) == 64)
    for sig in sigs:
        issuer = sig["issuer_fingerprint"] or sig["issuer_key_id"]
        if (sig["issuer_fingerprint"] and sig["issuer_fingerprint"] not in fprs) or \
                (not sig["issuer_fingerprint"] and sig["issuer_key_id"] not in ids):
            module.fail_json(
                msg="%s is signed by key %s, which is not the verified key served at %s (%s): apt would refuse "
                    "the repository (NO_PUBKEY / Missing key). If the mirror signs with its own key, serve that key "
                    "at the key URL and set %s to its fingerprint."
                    % (url, issuer or "(no issuer)", params["url"], ", ".join(sorted(k["fingerprint"] for k in keys)),
                       params["fingerprints_var"]), **result)
        if params["reject_sha1"] and sig["hash_algorithm"] in ("SHA1", "MD5"):
            module.fail_json(
                msg="%s is signed with %s (issuer %s). This host's apt (Debian 13 and newer, Sequoia's sqv) rejects "
                    "repository signatures made with SHA-1 (and SHA-1 key bindings since 2026-02-01) and would call "
                    "the repository unsigned. Have the repository re-signed with SHA-256 or stronger "
                    "(gpg --digest-algo SHA512)." % (url, sig["hash_algorithm"], issuer), **result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    dest = params["dest"]
    result = dict(changed=False, dest=dest)
    var = params["fingerprints_var"]

    pinned = []
    for value in params["fingerprints"]:
        try:
            pinned.append(pgp.normalize_fingerprint(value))
        except ValueError as exc:
            module.fail_json(msg="%s: %s" % (var, exc), **result)
    if not pinned:
        module.fail_json(msg="%s is empty: pin at least one fingerprint of the key that signs the repository" % var,
                         **result)

    url = params["url"]
    data = download(module, url)
    source = url
    try:
        if url.split("?")[0].endswith(".deb") or data.startswith(b"!<arch>\n"):
            member, data = pgp.deb_keyring(data, params["deb_member"] or None)
            source = "%s:%s" % (url, member)
        keys = pgp.keyring(data)
    except (pgp.DebError, pgp.OpenPGPError) as exc:
        module.fail_json(msg="%s does not hold an OpenPGP public key: %s" % (url, exc), url=url, **result)
    if not keys:
        module.fail_json(msg="%s does not hold an OpenPGP public key (no public key packet)" % url, **result)
    served = [k["fingerprint"] for k in keys]
    result.update(fingerprints=served, keys=public_keys(keys), source=source)

    unpinned = [f for f in served if f not in pinned]
    if unpinned:
        module.fail_json(
            msg="The signing key served at %s has fingerprint %s, which is not pinned: expected %s (%s). Nothing "
                "was written and apt was not told to trust it. If this mirror signs with its own key, set %s to "
                "that key's fingerprint (gpg --show-keys --with-fingerprint --with-colons KEYFILE, the fpr line); "
                "otherwise the mirror serves a key that is not the vendor's."
                % (source, ", ".join(unpinned), " or ".join(pinned), var, var), expected=pinned, served=served,
            **result)

    if params["reject_sha1"]:
        for key in keys:
            reasons = pgp.sha1_bound(key)
            if reasons:
                module.fail_json(
                    msg="The signing key %s served at %s is pinned, but %s. This host's apt (Debian 13 and newer, "
                        "Sequoia's sqv) refuses SHA-1 bindings since 2026-02-01 and would call the repository "
                        "unsigned ('Signing key ... is not bound ... SHA1 is not considered secure'). Use a "
                        "repository signed with a key bound by SHA-256 or stronger (NVIDIA signs its debian13 CUDA "
                        "repository with key 8793F200), or have the key re-certified, then set %s to it."
                        % (key["fingerprint"], source, "; ".join(reasons), var), **result)

    if params["release_url"]:
        check_release(module, keys, result)

    binary = pgp.dearmor(data)
    content = pgp.armor(binary) if dest.endswith(".asc") else binary
    if dest.endswith(".asc") and pgp.is_armored(data):
        content = data if data.endswith(b"\n") else data + b"\n"

    old, old_keys = read_existing(dest)
    st = os.stat(dest) if old is not None else None
    wrong_attrs = st is not None and ((st.st_mode & 0o7777) != 0o644 or st.st_uid != 0 or st.st_gid != 0)
    changed = old != content or wrong_attrs
    result["changed"] = changed
    if module._diff:
        before = "" if old is None else (key_lines(old_keys) if old_keys is not None else "(not an OpenPGP keyring)\n")
        result["diff"] = dict(before=before, after=key_lines(keys), before_header=dest, after_header=dest)
    if changed and not module.check_mode:
        directory = os.path.dirname(dest) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        if old != content:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(dest))
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
                os.chmod(tmp, 0o644)
                if os.geteuid() == 0:
                    os.chown(tmp, 0, 0)
                module.atomic_move(tmp, dest)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        os.chmod(dest, 0o644)
        if os.geteuid() == 0:
            os.chown(dest, 0, 0)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
