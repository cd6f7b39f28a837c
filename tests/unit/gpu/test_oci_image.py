# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/gpu/oci_image.py: the image archives the GPU run imports into containerd.

The archive must be what containerd's importer reads (an OCI layout whose index names the
image, and Docker's manifest.json), its digests must match the bytes, and the same input must
give the same image (so re-runs import nothing new). The layer is streamed, never held in
memory (the GPU workspace image is a few GB): uncompressed on request, to a pipe, and a tree
that changes between the two passes is an error, not a wrong digest.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import tarfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _module():
    spec = importlib.util.spec_from_file_location("oci_image", os.path.join(REPO, "tests", "gpu", "oci_image.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "root"
    (root / "cuda-samples").mkdir(parents=True)
    prog = root / "cuda-samples" / "vectorAdd"
    prog.write_bytes(b"\x7fELF fake")
    prog.chmod(0o755)
    (root / "lib").mkdir()
    (root / "lib" / "libc.so.6").write_bytes(b"libc")
    os.symlink("libc.so.6", root / "lib" / "libc.so")
    return str(root)


def _read(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_archive_is_an_oci_layout_naming_the_image(tmp_path, rootfs):
    mod = _module()
    out = str(tmp_path / "img.tar")
    assert mod.main(["--name", "k3s-gpu-e2e.local/cuda-sample:vectoradd", "--rootfs", rootfs,
                     "--entrypoint", "/cuda-samples/vectorAdd", "--env", "A=1", out]) == 0
    files = _read(out)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    (desc,) = index["manifests"]
    assert desc["annotations"]["io.containerd.image.name"] == "k3s-gpu-e2e.local/cuda-sample:vectoradd"
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "vectoradd"
    # every blob is named by the sha256 of its bytes, and the manifest's sizes are right
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert name.rsplit("/", 1)[1] == hashlib.sha256(data).hexdigest()
    manifest = json.loads(files["blobs/sha256/" + desc["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    layer = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    assert manifest["layers"][0]["size"] == len(layer)
    assert config["config"]["Entrypoint"] == ["/cuda-samples/vectorAdd"]
    assert config["config"]["Env"] == ["A=1"]
    diff = gzip.decompress(layer)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(diff).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(diff)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["cuda-samples/vectorAdd"].mode & 0o111
    assert members["lib/libc.so"].issym() and members["lib/libc.so"].linkname == "libc.so.6"
    assert {m.uid for m in members.values()} == {0}
    docker = json.loads(files["manifest.json"])
    assert docker[0]["RepoTags"] == ["k3s-gpu-e2e.local/cuda-sample:vectoradd"]


def _archive(image):
    out = io.BytesIO()
    image.write(out)
    return out.getvalue()


def test_same_input_same_image(tmp_path, rootfs):
    mod = _module()
    first = _archive(mod.build("example.org/a:1", rootfs, ["/x"]))
    os.utime(os.path.join(rootfs, "lib", "libc.so.6"), (1, 1))
    second = _archive(mod.build("example.org/a:1", rootfs, ["/x"]))
    assert first == second
    assert len(first) % 10240 == 0


class _Pipe(io.RawIOBase):
    """A stream that can only be written in order, as a pipe to ctr."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += b
        return len(b)


def test_uncompressed_layer_streamed_with_user_and_labels(tmp_path, rootfs):
    mod = _module()
    image = mod.build("example.org/ws:1", rootfs, ["/usr/local/bin/python"], ["HOME=/home/u"], workdir="/home/u",
                      labels={"io.example.standin": "yes"}, user="2001:2001", compression="none")
    pipe = _Pipe()
    image.write(pipe)
    with tarfile.open(fileobj=io.BytesIO(bytes(pipe.data))) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(files["blobs/sha256/" + image.digest.split(":")[1]])
    (layer_desc,) = manifest["layers"]
    assert layer_desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    layer = files["blobs/sha256/" + layer_desc["digest"].split(":")[1]]
    assert layer_desc["size"] == len(layer) and layer_desc["digest"] == "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    # uncompressed: the layer is its own diff
    assert config["rootfs"]["diff_ids"] == [layer_desc["digest"]]
    assert config["config"]["User"] == "2001:2001" and config["config"]["WorkingDir"] == "/home/u"
    assert config["config"]["Labels"]["io.example.standin"] == "yes"
    assert "org.opencontainers.image.description" in config["config"]["Labels"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        assert tar.getmember("cuda-samples/vectorAdd").size == len(b"\x7fELF fake")


def test_a_tree_that_changes_between_the_passes_is_refused(tmp_path, rootfs):
    mod = _module()
    image = mod.build("example.org/a:1", rootfs, ["/x"], compression="none")
    (tmp_path / "root" / "late").write_bytes(b"written meanwhile")
    with pytest.raises(RuntimeError, match="changed while its image was written"):
        image.write(io.BytesIO())


def test_a_name_without_tag_is_refused(tmp_path, rootfs, capsys):
    mod = _module()
    with pytest.raises(SystemExit):
        mod.main(["--name", "example.org:5000/vectoradd", "--rootfs", rootfs, str(tmp_path / "x.tar")])
    assert "needs a tag" in capsys.readouterr().err


def test_readable_makes_a_root_only_tree_readable_by_the_image_user(tmp_path, rootfs):
    mod = _module()
    os.chmod(os.path.join(rootfs, "lib", "libc.so.6"), 0o600)
    os.chmod(os.path.join(rootfs, "cuda-samples"), 0o700)
    os.chmod(os.path.join(rootfs, "cuda-samples", "vectorAdd"), 0o700)
    out = io.BytesIO()
    mod.build("example.org/a:1", rootfs, ["/x"], compression="none", readable=True).write(out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        layer = [m for m in tar.getmembers() if m.size > 5000][0]
        with tarfile.open(fileobj=tar.extractfile(layer)) as inner:
            modes = {m.name: m.mode & 0o777 for m in inner.getmembers()}
    assert modes["lib/libc.so.6"] == 0o644
    assert modes["cuda-samples"] == 0o755 and modes["cuda-samples/vectorAdd"] == 0o755
