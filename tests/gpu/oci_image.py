# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a one-layer container image archive from a directory, without a registry or a builder.

The whole-job GPU run (tests/gpu/e2e.sh) has no registry: it builds its images on the GPU
machine and imports them with `ctr -n k8s.io images import`. The archive holds both layouts that
containerd's importer reads (containerd core/images/archive/importer.go): an OCI image layout
(oci-layout, index.json with the io.containerd.image.name and org.opencontainers.image.ref.name
annotations, blobs/sha256/) and Docker's manifest.json with RepoTags. Layer entries are owned by
root, sorted, dated 0, so the same input gives the same digests.

Nothing is held in memory: the layer is made twice from the directory, once to learn its digest
(the name of its blob in the archive) and once into the archive, and the second pass must give
the same digest. That is what the GPU workspace image needs (PyTorch with its CUDA libraries, a
few GB): with `--layer-compression none` it costs two reads of the tree and no compression.
OUT `-` writes the archive to stdout (for `ctr images import -`).

    python3 oci_image.py --name example.org/img:tag --rootfs DIR [--entrypoint /prog] [--env K=V]...
        [--label K=V]... [--user UID:GID] [--workdir DIR] [--layer-compression gzip|none] [--readable] OUT.tar
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tarfile

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
               "none": "application/vnd.oci.image.layer.v1.tar"}
BLOCK = 512
RECORD = 20 * BLOCK  # tarfile's record size: archives end padded to it, as tar(1) pads them
DESCRIPTION = "built by k3s_gpu.node tests/gpu/oci_image.py"


class _Sink:
    """A write-only stream that counts and hashes what passes through it, to `target` if any."""

    def __init__(self, target=None):
        self.target = target
        self.size = 0
        self.sha = hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        if self.target is not None:
            self.target.write(data)
        return len(data)

    def tell(self):  # tarfile asks where it is
        return self.size

    def flush(self):
        pass

    @property
    def digest(self):
        return "sha256:" + self.sha.hexdigest()


def _normalise(info):
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def _readable(info):
    """Readable by every user, as pip and dpkg install files (the image runs as a non-root user)."""
    info = _normalise(info)
    if not info.issym():
        info.mode |= 0o444 | (0o111 if info.isdir() or info.mode & 0o100 else 0)
    return info


def write_layer(rootfs, out, compression="gzip", readable=False):
    """Write the layer of `rootfs` (every entry, links kept as links, sorted) to the stream `out`;
    return (diff_id, digest, size): the digest of the uncompressed tar, of the blob, its size.
    `readable`: every entry readable (and directories and programs searchable) by every user."""
    blob = _Sink(out)
    if compression == "gzip":
        packed = gzip.GzipFile(fileobj=blob, mode="wb", mtime=0, filename="")
        diff = _Sink(packed)
    else:  # uncompressed: the blob is the diff, hashed once
        packed = diff = blob
    # 1 MiB copies: a few GB of CUDA libraries go through here twice
    with tarfile.open(fileobj=diff, mode="w", format=tarfile.PAX_FORMAT, copybufsize=2**20) as tar:
        for top, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs + files):
                path = os.path.join(top, name)
                tar.add(path, arcname=os.path.relpath(path, rootfs), recursive=False,
                        filter=_readable if readable else _normalise)
    if packed is not blob:
        packed.close()
    return diff.digest, blob.digest, blob.size


def _digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_path(digest):
    return "blobs/sha256/" + digest.split(":", 1)[1]


class Image:
    """An image made of one directory: its small documents in `files` (archive path -> bytes) and
    its layer, described by `layer` (path, diff_id, digest, size) and written from `rootfs`."""

    def __init__(self, name, rootfs, entrypoint=None, env=None, cmd=None, workdir="/", labels=None,
                 user=None, compression="gzip", readable=False):
        if ":" not in name.rsplit("/", 1)[-1]:
            raise ValueError("image name %r needs a tag (name:tag); a tag-less name means 'latest'" % name)
        if compression not in MEDIA_LAYER:
            raise ValueError("layer compression %r is not one of %s" % (compression, ", ".join(sorted(MEDIA_LAYER))))
        self.name, self.rootfs, self.compression, self.readable = name, rootfs, compression, readable
        diff_id, digest, size = write_layer(rootfs, None, compression, readable)
        self.layer = {"path": _blob_path(digest), "diff_id": diff_id, "digest": digest, "size": size}
        image_config = {
            "Env": list(env or []),
            "Entrypoint": list(entrypoint) if entrypoint else None,
            "Cmd": list(cmd) if cmd else None,
            "WorkingDir": workdir,
            "User": user,
            "Labels": dict({"org.opencontainers.image.description": DESCRIPTION}, **(labels or {})),
        }
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {k: v for k, v in image_config.items() if v is not None},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "tests/gpu/oci_image.py"}],
        }
        config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        self.manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": _digest(config_bytes), "size": len(config_bytes)},
            "layers": [{"mediaType": MEDIA_LAYER[compression], "digest": digest, "size": size}],
        }
        manifest_bytes = json.dumps(self.manifest, sort_keys=True, separators=(",", ":")).encode()
        self.digest = _digest(manifest_bytes)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": MEDIA_MANIFEST,
                "digest": self.digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"io.containerd.image.name": name,
                                "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]},
            }],
        }
        docker = [{"Config": _blob_path(_digest(config_bytes)), "RepoTags": [name], "Layers": [self.layer["path"]]}]
        self.files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
                      "index.json": json.dumps(index, sort_keys=True).encode(),
                      "manifest.json": json.dumps(docker).encode(),
                      _blob_path(_digest(config_bytes)): config_bytes,
                      _blob_path(self.digest): manifest_bytes}

    def write(self, out):
        """Write the archive to the binary stream `out` (a file or a pipe: written in order, never
        sought). The layer is made again from the directory and must match the first pass."""
        written = 0

        def header(path, size):
            info = _normalise(tarfile.TarInfo(path))
            info.size = size
            info.mode = 0o644
            return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

        def pad(size):
            return b"\0" * (-size % BLOCK)

        for path in sorted(list(self.files) + [self.layer["path"]]):
            if path == self.layer["path"]:
                head = header(path, self.layer["size"])
                out.write(head)
                diff_id, digest, size = write_layer(self.rootfs, out, self.compression, self.readable)
                if (diff_id, digest, size) != (self.layer["diff_id"], self.layer["digest"], self.layer["size"]):
                    raise RuntimeError("%s changed while its image was written (layer %s of %d bytes, now %s of "
                                       "%d bytes): nothing may write to it meanwhile"
                                       % (self.rootfs, self.layer["digest"], self.layer["size"], digest, size))
            else:
                data = self.files[path]
                head, size = header(path, len(data)), len(data)
                out.write(head)
                out.write(data)
            out.write(pad(size))
            written += len(head) + size + len(pad(size))
        end = b"\0" * (2 * BLOCK)
        out.write(end + b"\0" * (-(written + len(end)) % RECORD))
        out.flush()


def build(name, rootfs, entrypoint=None, env=None, cmd=None, workdir="/", **kwargs):
    """The Image of `rootfs` named `name` (see Image for the keyword arguments)."""
    return Image(name, rootfs, entrypoint, env, cmd, workdir, **kwargs)


def _pairs(parser, items, what):
    for item in items:
        if "=" not in item:
            parser.error("--%s %r is not KEY=VALUE" % (what, item))
    return [item.split("=", 1) for item in items]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="image reference with a tag, e.g. example.org/vectoradd:1")
    parser.add_argument("--rootfs", required=True, help="directory whose content becomes the image's one layer")
    parser.add_argument("--entrypoint", action="append", help="entrypoint argument (repeat for more)")
    parser.add_argument("--cmd", action="append", help="cmd argument (repeat for more)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeat for more)")
    parser.add_argument("--label", action="append", default=[], help="KEY=VALUE image label (repeat for more)")
    parser.add_argument("--user", help="the user the image runs as, UID[:GID]")
    parser.add_argument("--workdir", default="/", help="working directory (default /)")
    parser.add_argument("--layer-compression", choices=sorted(MEDIA_LAYER), default="gzip",
                        help="gzip (default), or none for a large layer: containerd reads both")
    parser.add_argument("--readable", action="store_true",
                        help="make every entry readable by every user (directories and programs searchable)")
    parser.add_argument("out", help="archive to write (tar), - for stdout")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.rootfs):
        parser.error("--rootfs %s is not a directory" % args.rootfs)
    _pairs(parser, args.env, "env")
    labels = dict(_pairs(parser, args.label, "label"))
    try:
        image = build(args.name, args.rootfs, args.entrypoint, args.env, args.cmd, args.workdir, labels=labels,
                      user=args.user, compression=args.layer_compression, readable=args.readable)
    except ValueError as exc:
        parser.error(str(exc))
    if args.out == "-":
        image.write(sys.stdout.buffer)
    else:
        with open(args.out, "wb") as out:
            image.write(out)
    # stderr: stdout may be the archive itself
    print("%s: %s (layer %s, %d bytes, %s) -> %s" % (args.name, image.digest, image.layer["digest"],
          image.layer["size"], args.layer_compression, args.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
