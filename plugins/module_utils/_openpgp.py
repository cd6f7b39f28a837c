# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read OpenPGP keyrings and signatures, and keyring files inside .deb packages.

PRIVATE to the collection: not a public API. Pure Python (standard library only), so that
it runs on any managed host. It reads what apt's trust depends on, and verifies nothing
cryptographically (apt does): the primary keys and subkeys of a keyring with their
fingerprints, the hash algorithms of their binding signatures, and the hash algorithm and
issuer of a repository's signature (InRelease, Release.gpg).

- RFC 4880 (OpenPGP) and RFC 9580 (OpenPGP, version 6 keys and signatures): packet
  headers (section 4.2), ASCII armor (section 6), public key and subkey packets (tags 6
  and 14), v4 fingerprints (SHA-1 over 0x99, a two-octet length and the packet body), v6
  fingerprints (SHA-256 over 0x9B, a four-octet length and the body), signature packets
  (tag 2) with their subpackets (2 creation time, 16 issuer key id, 33 issuer
  fingerprint).
- deb(5): an ar(5) archive whose data.tar.{xz,gz} (or uncompressed data.tar) holds the
  files. data.tar.zst is refused with a message that says so: zstd is not in Python's
  standard library.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import lzma
import re
import struct
import tarfile

TAG_SIGNATURE = 2
TAG_PUBLIC_KEY = 6
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17

HASH_ALGORITHMS = {1: "MD5", 2: "SHA1", 3: "RIPEMD160", 8: "SHA256", 9: "SHA384", 10: "SHA512",
                   11: "SHA224", 12: "SHA3-256", 14: "SHA3-512"}
PUBKEY_ALGORITHMS = {1: "RSA", 2: "RSA", 3: "RSA", 16: "ElGamal", 17: "DSA", 18: "ECDH", 19: "ECDSA",
                     22: "EdDSA", 25: "X25519", 26: "X448", 27: "Ed25519", 28: "Ed448"}
# Certification signatures over a user ID (0x10-0x13), subkey binding (0x18).
CERTIFICATIONS = (0x10, 0x11, 0x12, 0x13)
SUBKEY_BINDING = 0x18

_ARMOR_RE = re.compile(
    r"-----BEGIN PGP (?P<kind>PUBLIC KEY BLOCK|PRIVATE KEY BLOCK|SIGNATURE|MESSAGE)-----\r?\n"
    r"(?P<body>.*?)"
    r"-----END PGP (?P=kind)-----", re.S)
_FPR_RE = re.compile(r"^(?:[0-9A-F]{40}|[0-9A-F]{64})$")


class OpenPGPError(ValueError):
    """The data is not what was expected (not OpenPGP, truncated, unsupported)."""


class DebError(ValueError):
    """The .deb could not be read, or does not hold the member asked for."""


# ----------------------------------------------------------------------------- fingerprints
def normalize_fingerprint(value):
    """'eb69 3b30 ...' -> 'EB693B30...'; ValueError unless 40 (v4) or 64 (v6) hex digits."""
    text = re.sub(r"\s+", "", str(value)).upper()
    if text.startswith("0X"):
        text = text[2:]
    if not _FPR_RE.match(text):
        raise ValueError("%r is not an OpenPGP fingerprint (40 hex digits for a v4 key, 64 for a v6 key; "
                         "spaces are allowed)" % (value,))
    return text


def format_fingerprint(fpr):
    """Groups of four hex digits, as gpg prints them."""
    return " ".join(fpr[i:i + 4] for i in range(0, len(fpr), 4))


# ----------------------------------------------------------------------------- armor
def _crc24(data):
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for dummy in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def is_armored(data):
    return b"-----BEGIN PGP " in data[:4096] or b"-----BEGIN PGP " in data


def _armor_blocks(text):
    for m in _ARMOR_RE.finditer(text):
        body = m.group("body").replace("\r\n", "\n")
        # Armor headers end at the first empty line; a block without headers starts at once.
        if "\n\n" in body:
            head, dummy, b64 = body.partition("\n\n")
            if not all(":" in line for line in head.splitlines()):
                b64 = body
        else:
            b64 = body
        lines = [line.strip() for line in b64.splitlines() if line.strip()]
        crc = None
        if lines and lines[-1].startswith("=") and len(lines[-1]) == 5:
            crc = lines.pop()[1:]
        try:
            raw = base64.b64decode("".join(lines), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise OpenPGPError("the ASCII armor is not valid base64 (%s)" % exc)
        if crc is not None:
            try:
                want = struct.unpack(">I", b"\0" + base64.b64decode(crc))[0]
            except (binascii.Error, ValueError, struct.error):
                raise OpenPGPError("the ASCII armor's checksum line is not valid")
            if _crc24(raw) != want:
                raise OpenPGPError("the ASCII armor's checksum does not match its content (damaged download?)")
        yield m.group("kind"), raw


def dearmor(data, kind=None):
    """Binary OpenPGP data: ASCII-armored blocks (of KIND, e.g. 'SIGNATURE') decoded and
    concatenated, or DATA itself when it is not armored."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not is_armored(data):
        return bytes(data)
    text = data.decode("utf-8", "replace")
    blocks = [raw for k, raw in _armor_blocks(text) if kind is None or k == kind]
    if not blocks:
        raise OpenPGPError("no ASCII-armored %s block found" % ("OpenPGP" if kind is None else kind))
    return b"".join(blocks)


def armor(data, kind="PUBLIC KEY BLOCK"):
    """ASCII armor (RFC 4880 section 6.2) around binary DATA, with its CRC-24 line."""
    b64 = base64.b64encode(data).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(struct.pack(">I", _crc24(data))[1:]).decode("ascii")
    return ("-----BEGIN PGP %s-----\n\n%s\n=%s\n-----END PGP %s-----\n"
            % (kind, "\n".join(lines), crc, kind)).encode("ascii")


# ----------------------------------------------------------------------------- packets
def packets(data):
    """[(tag, body bytes)] of binary OpenPGP DATA (old and new packet formats)."""
    out = []
    pos, end = 0, len(data)
    while pos < end:
        ctb = data[pos]
        if not ctb & 0x80:
            raise OpenPGPError("not OpenPGP data: byte %d is 0x%02x, not a packet header" % (pos, ctb))
        pos += 1
        if ctb & 0x40:  # new format
            tag = ctb & 0x3F
            body = bytearray()
            while True:
                length, pos, partial = _new_length(data, pos)
                body += _take(data, pos, length)
                pos += length
                if not partial:
                    break
            out.append((tag, bytes(body)))
        else:  # old format
            tag = (ctb >> 2) & 0x0F
            ltype = ctb & 0x03
            if ltype == 3:  # indeterminate: to the end of the data
                length = end - pos
            else:
                size = (1, 2, 4)[ltype]
                length = int.from_bytes(_take(data, pos, size), "big")
                pos += size
            out.append((tag, _take(data, pos, length)))
            pos += length
    return out


def _take(data, pos, length):
    if pos + length > len(data):
        raise OpenPGPError("the OpenPGP data is truncated (a packet needs %d bytes, %d are left)"
                           % (length, len(data) - pos))
    return bytes(data[pos:pos + length])


def _new_length(data, pos):
    first = _take(data, pos, 1)[0]
    if first < 192:
        return first, pos + 1, False
    if first < 224:
        second = _take(data, pos + 1, 1)[0]
        return ((first - 192) << 8) + second + 192, pos + 2, False
    if first == 255:
        return int.from_bytes(_take(data, pos + 1, 4), "big"), pos + 5, False
    return 1 << (first & 0x1F), pos + 1, True


# ----------------------------------------------------------------------------- keys
def key_info(tag, body):
    """Fingerprint, key id, version, algorithm and creation time of a key packet body."""
    if not body:
        raise OpenPGPError("empty key packet")
    version = body[0]
    if version == 4:
        fpr = hashlib.sha1(b"\x99" + struct.pack(">H", len(body)) + body).hexdigest().upper()
        key_id = fpr[-16:]
    elif version == 6:
        fpr = hashlib.sha256(b"\x9b" + struct.pack(">I", len(body)) + body).hexdigest().upper()
        key_id = fpr[:16]
    else:
        raise OpenPGPError("version %d keys are not supported (versions 4 and 6 are)" % version)
    created = struct.unpack(">I", _take(body, 1, 4))[0]
    algorithm = _take(body, 5, 1)[0]
    return {"fingerprint": fpr, "key_id": key_id, "version": version, "created": created,
            "algorithm": PUBKEY_ALGORITHMS.get(algorithm, str(algorithm)),
            "primary": tag == TAG_PUBLIC_KEY}


def keyring(data):
    """The certificates of a keyring (armored or binary): a list of primary keys, each
    {fingerprint, key_id, version, algorithm, created, user_ids, subkeys, certification_hashes},
    each subkey {fingerprint, key_id, ..., binding_hashes}. *_hashes list the hash algorithms
    of the self-signatures that bind user IDs (certifications) or the subkey (binding)."""
    keys = []
    current = None  # the key or subkey that following signatures belong to
    for tag, body in packets(dearmor(data)):
        if tag == TAG_PUBLIC_KEY:
            current = key_info(tag, body)
            current.update(user_ids=[], subkeys=[], certification_hashes=[])
            keys.append(current)
        elif tag == TAG_PUBLIC_SUBKEY:
            if not keys:
                raise OpenPGPError("a subkey packet comes before any primary key")
            current = key_info(tag, body)
            current.update(binding_hashes=[])
            keys[-1]["subkeys"].append(current)
        elif tag == TAG_USER_ID and keys:
            keys[-1]["user_ids"].append(body.decode("utf-8", "replace"))
            current = keys[-1]
        elif tag == TAG_USER_ATTRIBUTE and keys:
            current = keys[-1]
        elif tag == TAG_SIGNATURE and keys:
            sig = signature(body)
            primary = keys[-1]
            if not _issued_by(sig, primary):
                continue  # third-party certification: says nothing about the binding
            if sig["type"] in CERTIFICATIONS and current is primary:
                primary["certification_hashes"].append(sig["hash_algorithm"])
            elif sig["type"] == SUBKEY_BINDING and current is not primary and current is not None:
                current["binding_hashes"].append(sig["hash_algorithm"])
        elif tag in (5, 7):
            raise OpenPGPError("the data holds a SECRET key (packet tag %d): serve the public key only" % tag)
    return keys


def _issued_by(sig, key):
    if sig["issuer_fingerprint"]:
        return sig["issuer_fingerprint"] == key["fingerprint"]
    if sig["issuer_key_id"]:
        return sig["issuer_key_id"] == key["key_id"]
    return True  # no issuer subpacket: a self-signature by position (old keys)


def sha1_bound(key):
    """Why apt's Sequoia policy would find KEY unbound once SHA-1 is refused: a list of
    reasons (empty: some binding of every part uses a stronger hash)."""
    reasons = []
    if key["certification_hashes"] and all(h == "SHA1" for h in key["certification_hashes"]):
        reasons.append("its user IDs are bound by SHA-1 self-signatures only")
    for sub in key["subkeys"]:
        if sub["binding_hashes"] and all(h == "SHA1" for h in sub["binding_hashes"]):
            reasons.append("subkey %s is bound by a SHA-1 signature only" % sub["fingerprint"])
    return reasons


# ----------------------------------------------------------------------------- signatures
def signature(body):
    """{version, type, pubkey_algorithm, hash_algorithm, created, issuer_fingerprint,
    issuer_key_id} of a signature packet body (v3, v4 or v6)."""
    version = _take(body, 0, 1)[0]
    out = {"version": version, "created": None, "issuer_fingerprint": None, "issuer_key_id": None}
    if version == 3:
        # RFC 4880 5.2.2: len(5), type, time(4), key id(8), pk algo, hash algo.
        out.update(type=body[2], created=struct.unpack(">I", _take(body, 3, 4))[0],
                   issuer_key_id=_take(body, 7, 8).hex().upper(),
                   pubkey_algorithm=PUBKEY_ALGORITHMS.get(body[15], str(body[15])),
                   hash_algorithm=HASH_ALGORITHMS.get(body[16], str(body[16])))
        return out
    if version not in (4, 6):
        raise OpenPGPError("version %d signatures are not supported" % version)
    sig_type, pk_algo, hash_algo = _take(body, 1, 3)
    size = 4 if version == 6 else 2
    pos = 4
    hashed_len = int.from_bytes(_take(body, pos, size), "big")
    hashed = _take(body, pos + size, hashed_len)
    pos += size + hashed_len
    unhashed_len = int.from_bytes(_take(body, pos, size), "big")
    unhashed = _take(body, pos + size, unhashed_len)
    out.update(type=sig_type, pubkey_algorithm=PUBKEY_ALGORITHMS.get(pk_algo, str(pk_algo)),
               hash_algorithm=HASH_ALGORITHMS.get(hash_algo, str(hash_algo)))
    for area in (hashed, unhashed):
        for sub_type, data in _subpackets(area):
            if sub_type == 2 and len(data) == 4 and out["created"] is None:
                out["created"] = struct.unpack(">I", data)[0]
            elif sub_type == 16 and len(data) == 8 and out["issuer_key_id"] is None:
                out["issuer_key_id"] = data.hex().upper()
            elif sub_type == 33 and len(data) in (21, 33) and out["issuer_fingerprint"] is None:
                out["issuer_fingerprint"] = data[1:].hex().upper()
    if out["issuer_fingerprint"] and not out["issuer_key_id"]:
        fpr = out["issuer_fingerprint"]
        out["issuer_key_id"] = fpr[-16:] if len(fpr) == 40 else fpr[:16]
    return out


def _subpackets(area):
    pos = 0
    while pos < len(area):
        first = area[pos]
        if first < 192:
            length, pos = first, pos + 1
        elif first < 255:
            length, pos = ((first - 192) << 8) + _take(area, pos + 1, 1)[0] + 192, pos + 2
        else:
            length, pos = int.from_bytes(_take(area, pos + 1, 4), "big"), pos + 5
        if length == 0:
            raise OpenPGPError("a signature subpacket has length 0")
        data = _take(area, pos, length)
        yield data[0] & 0x7F, data[1:]
        pos += length


def signatures(data):
    """The signatures of a detached signature (Release.gpg), a clearsigned message
    (InRelease) or any OpenPGP data, armored or binary."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        raw = dearmor(data, "SIGNATURE") if is_armored(data) else bytes(data)
    except OpenPGPError as exc:
        raise OpenPGPError("no OpenPGP signature found (%s)" % exc)
    sigs = [signature(body) for tag, body in packets(raw) if tag == TAG_SIGNATURE]
    if not sigs:
        raise OpenPGPError("no OpenPGP signature found")
    return sigs


# ----------------------------------------------------------------------------- .deb
def deb_members(data):
    """{name: bytes} of the ar(5) archive that a .deb is."""
    if not data.startswith(b"!<arch>\n"):
        raise DebError("not a .deb package (no ar archive header)")
    out = {}
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise DebError("the .deb's ar member header at byte %d is damaged" % pos)
        pos += 60
        if pos + size > len(data):
            raise DebError("the .deb is truncated (member %s)" % name)
        out[name] = data[pos:pos + size]
        pos += size + (size & 1)
    return out


def deb_data_tar(data):
    """The data.tar of a .deb, decompressed (xz, gz or none)."""
    members = deb_members(data)
    for name in members:
        if name.startswith("data.tar"):
            blob = members[name]
            if name == "data.tar":
                return blob
            if name == "data.tar.xz":
                return lzma.decompress(blob)
            if name == "data.tar.gz":
                return gzip.decompress(blob)
            if name == "data.tar.zst":
                raise DebError("the .deb compresses its files with zstd (data.tar.zst), which Python's "
                               "standard library cannot read: point the key URL at the key itself "
                               "(armored or binary) instead of the .deb")
            raise DebError("the .deb's %s uses a compression that is not supported (xz and gz are)" % name)
    raise DebError("the .deb has no data.tar member")


def deb_files(data):
    """{path: bytes} of the regular files in a .deb (paths absolute, e.g. /usr/share/...)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(deb_data_tar(data)), mode="r:") as tar:
        for info in tar.getmembers():
            if info.isfile():
                out["/" + info.name.lstrip("./")] = tar.extractfile(info).read()
    return out


def deb_keyring(data, member=None):
    """(path, bytes) of the keyring file in a .deb: MEMBER, or the only *.gpg / *.asc file
    under /usr/share/keyrings or /etc/apt/keyrings."""
    files = deb_files(data)
    if member:
        path = "/" + member.lstrip("./")
        if path not in files:
            raise DebError("the .deb has no file %s (it has: %s)" % (path, ", ".join(sorted(files)) or "none"))
        return path, files[path]
    found = sorted(p for p in files if re.match(r"^/(usr/share/keyrings|etc/apt/keyrings|etc/apt/trusted\.gpg\.d)/"
                                                r"[^/]+\.(gpg|asc)$", p))
    if len(found) != 1:
        raise DebError("the .deb holds %s keyring files (%s): name the one to use"
                       % ("no" if not found else len(found), ", ".join(found) or "none under /usr/share/keyrings"))
    return found[0], files[found[0]]
