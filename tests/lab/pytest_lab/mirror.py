"""The lab mirror (tests/lab/mirror) as a test uses it: a private instance with its own state
directory, so fault injection or a stop never disturbs a mirror someone else started."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request

import pytest

from .paths import MIRROR, REPO_ROOT


class Mirror:
    """A lab mirror started by tests/lab/mirror/start.sh with the state directory `state`.

    It can be stopped and started again (a new port each time: read .url after start()).
    .url, .root (the tree it serves) and .keys come from the env file start.sh writes.
    """

    def __init__(self, state: str):
        self.state = state
        self.env = dict(os.environ, LAB_MIRROR_STATE=state)
        self.url = self.root = self.keys = ""

    def start(self) -> str:
        proc = subprocess.run([os.path.join(MIRROR, "start.sh")], env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError("tests/lab/mirror/start.sh failed (rc %s):\n%s%s"
                               % (proc.returncode, proc.stdout, proc.stderr))
        values = {}
        with open(os.path.join(self.state, "env"), encoding="utf-8") as f:
            for line in f:
                k, _sep, v = line.strip().partition("=")
                values[k] = v
        self.url, self.root, self.keys = values["LAB_MIRROR_URL"], values["LAB_MIRROR_ROOT"], values["LAB_MIRROR_KEYS"]
        return self.url

    def stop(self) -> None:
        subprocess.run([os.path.join(MIRROR, "stop.sh")], env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def running(self) -> bool:
        try:
            with open(os.path.join(self.state, "pid"), encoding="utf-8") as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def fault(self, *args: str) -> None:
        """tests/lab/mirror/fault.sh with this mirror's state dir (status/delay/clear)."""
        subprocess.run([os.path.join(MIRROR, "fault.sh"), *args], env=self.env, check=True)

    def delayed(self, path: str) -> bool:
        """Whether a request for `path` is being (or was) held by a delay fault."""
        try:
            with open(os.path.join(self.state, "delayed.log"), encoding="utf-8", errors="replace") as f:
                return path in f.read().splitlines()
        except OSError:
            return False

    def access_log(self) -> str:
        try:
            with open(os.path.join(self.state, "access.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def get(self, path: str, timeout: float = 10) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:  # noqa: S310 - 127.0.0.1
            return resp.read()


@pytest.fixture(scope="session")
def lab_mirror():
    """A mirror of its own for the session, in .tmp/mirror-pytest-<pid>/ (removed at the end)."""
    state = os.path.join(REPO_ROOT, ".tmp", "mirror-pytest-%d" % os.getpid())
    mirror = Mirror(state)
    try:
        mirror.start()
        yield mirror
    finally:
        mirror.stop()
        shutil.rmtree(state, ignore_errors=True)
