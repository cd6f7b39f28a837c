# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a one-layer container image archive from a directory, without a registry or a builder.

The whole-job GPU run (tests/gpu/e2e.sh) has no registry: it builds the vectoradd and pause
images on the GPU machine and imports them with `ctr -n k8s.io images import`. The archive
holds both layouts that containerd's importer reads (containerd core/images/archive/importer.go):
an OCI image layout (oci-layout, index.json with the io.containerd.image.name and
org.opencontainers.image.ref.name annotations, blobs/sha256/) and Docker's manifest.json with
RepoTags. Layer entries are owned by root, sorted, dated 0, so the same input gives the same
digests.

    python3 oci_image.py --name example.org/img:tag --rootfs DIR [--entrypoint /prog] [--env K=V]... OUT.tar
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _normalise(info):
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def layer_tar(rootfs):
    """The uncompressed layer: every entry of `rootfs` (links kept as links), sorted."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for top, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs + files):
                path = os.path.join(top, name)
                arc = os.path.relpath(path, rootfs)
                tar.add(path, arcname=arc, recursive=False, filter=_normalise)
    return buf.getvalue()


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build(name, rootfs, entrypoint=None, env=None, cmd=None, workdir="/"):
    """Return {archive path: bytes} for the image `name` made of `rootfs`."""
    if ":" not in name.rsplit("/", 1)[-1]:
        raise ValueError("image name %r needs a tag (name:tag); a tag-less name means 'latest'" % name)
    diff = layer_tar(rootfs)
    layer = gzip.compress(diff, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": list(env or []),
            "Entrypoint": list(entrypoint) if entrypoint else None,
            "Cmd": list(cmd) if cmd else None,
            "WorkingDir": workdir,
            "Labels": {"org.opencontainers.image.description": "built by k3s_gpu.node tests/gpu/oci_image.py"},
        },
        "rootfs": {"type": "layers", "diff_ids": [blob(diff)]},
        "history": [{"created_by": "tests/gpu/oci_image.py"}],
    }
    config = {k: v for k, v in config.items() if v is not None}
    config["config"] = {k: v for k, v in config["config"].items() if v is not None}
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": blob(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": blob(layer), "size": len(layer)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    tag = name.rsplit(":", 1)[1]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": blob(manifest_bytes),
            "size": len(manifest_bytes),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
        }],
    }
    files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
             "index.json": json.dumps(index, sort_keys=True).encode()}
    for data in (config_bytes, layer, manifest_bytes):
        files["blobs/sha256/" + blob(data).split(":", 1)[1]] = data
    docker = [{"Config": "blobs/sha256/" + blob(config_bytes).split(":", 1)[1], "RepoTags": [name],
               "Layers": ["blobs/sha256/" + blob(layer).split(":", 1)[1]]}]
    files["manifest.json"] = json.dumps(docker).encode()
    return files, manifest


def write_archive(files, out):
    with tarfile.open(out, "w") as tar:
        for path in sorted(files):
            data = files[path]
            info = _normalise(tarfile.TarInfo(path))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="image reference with a tag, e.g. example.org/vectoradd:1")
    parser.add_argument("--rootfs", required=True, help="directory whose content becomes the image's one layer")
    parser.add_argument("--entrypoint", action="append", help="entrypoint argument (repeat for more)")
    parser.add_argument("--cmd", action="append", help="cmd argument (repeat for more)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeat for more)")
    parser.add_argument("out", help="archive to write (tar)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.rootfs):
        parser.error("--rootfs %s is not a directory" % args.rootfs)
    for item in args.env:
        if "=" not in item:
            parser.error("--env %r is not KEY=VALUE" % item)
    try:
        files, manifest = build(args.name, args.rootfs, args.entrypoint, args.env, args.cmd)
    except ValueError as exc:
        parser.error(str(exc))
    write_archive(files, args.out)
    print("%s: %s (%d bytes layer) -> %s" % (args.name, blob(json.dumps(manifest, sort_keys=True,
          separators=(",", ":")).encode()), manifest["layers"][0]["size"], args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
