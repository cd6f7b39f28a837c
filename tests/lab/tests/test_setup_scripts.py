"""The set-up scripts behind `make test` and `make demo`, run the way a fresh machine runs them.

- tests/lab/mirror/build.sh on a fresh clone with an empty cache: it used to build the tree,
  mark it complete, then exit 1 on the clean-up of old trees (no `.tmp/mirror*/env` exists in
  a fresh clone, and `set -euo pipefail` ended the script), so the first `make test` on a new
  machine failed and the next stage found the tree "complete".
- scripts/system-deps.sh names the missing Debian packages and stops when it cannot install
  them (not root), before anything else runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from pytest_lab import REPO_ROOT

CACHE = os.environ.get("K3S_GPU_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "k3s-gpu-node")


def _fresh_clone(dest):
    """A copy of what the mirror build reads, laid out like a fresh clone: no .tmp/."""
    for rel in ("scripts/lib.sh", "tests/lab/mirror", "tests/lab/standins"):
        src = os.path.join(REPO_ROOT, rel)
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, target)
    assert not os.path.exists(os.path.join(dest, ".tmp"))


def test_mirror_build_on_fresh_clone_with_empty_cache(tmp_path):
    clone, cache = tmp_path / "clone", tmp_path / "cache"
    _fresh_clone(str(clone))
    cache.mkdir()
    # The empty cache may reuse what is slow and not under test: the Go module/build caches
    # and the NVIDIA toolkit commands built from their Go module (keyed on version and Go).
    if os.path.isdir(os.path.join(CACHE, "go")):
        os.symlink(os.path.join(CACHE, "go"), str(cache / "go"))
    for name in os.listdir(CACHE) if os.path.isdir(CACHE) else ():
        if name.startswith("nct-bin-") and not name.endswith(".part"):
            os.symlink(os.path.join(CACHE, name), str(cache / name))
    env = dict(os.environ, K3S_GPU_CACHE=str(cache))
    proc = subprocess.run(["bash", str(clone / "tests/lab/mirror/build.sh")], env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, "build.sh exited %d on a fresh clone:\n%s" % (proc.returncode, proc.stderr[-3000:])
    tree = proc.stdout.strip().splitlines()[-1]
    assert tree.startswith(str(cache) + "/mirror-")
    assert os.path.isfile(os.path.join(tree, ".complete"))
    assert os.path.isfile(os.path.join(tree, "www/compute/cuda/repos/debian12/x86_64/InRelease"))
    # A second run is a hash check on the same tree.
    again = subprocess.run(["bash", str(clone / "tests/lab/mirror/build.sh")], env=env,
                           capture_output=True, text=True, timeout=120, check=True)
    assert again.stdout.strip().splitlines()[-1] == tree
    assert "up to date" in again.stderr


def test_system_deps_names_missing_packages_when_not_root():
    # An unprivileged user must reach the script: pytest's tmp_path lives under a 0700 folder.
    work = tempfile.mkdtemp(prefix="k3s-gpu-system-deps-")
    try:
        os.chmod(work, 0o755)
        # dpkg-query answers for the real packages except one, reported missing as dpkg does.
        fake = os.path.join(work, "bin")
        os.mkdir(fake)
        with open(os.path.join(fake, "dpkg-query"), "w", encoding="utf-8") as f:
            f.write('#!/bin/sh\nfor a; do last=$a; done\n'
                    '[ "$last" = debootstrap ] && { echo "dpkg-query: no packages found matching $last" >&2; exit 1; }\n'
                    'exec /usr/bin/dpkg-query "$@"\n')
        os.chmod(os.path.join(fake, "dpkg-query"), 0o755)
        script = os.path.join(work, "system-deps.sh")
        shutil.copy2(os.path.join(REPO_ROOT, "scripts/system-deps.sh"), script)
        os.chmod(script, 0o755)
        env = dict(os.environ, PATH="%s:%s" % (fake, os.environ["PATH"]))
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", script],
                              env=env, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 1, proc
        assert "missing Debian packages: debootstrap" in proc.stderr
        assert "apt-get install debootstrap" in proc.stderr
    finally:
        shutil.rmtree(work)
    # As root with everything present it only reports.
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "scripts/system-deps.sh")],
                          capture_output=True, text=True, timeout=60, check=True)
    assert "Debian packages present" in proc.stdout
