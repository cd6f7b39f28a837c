"""Lab nodes: Debian systemd containers of the lab images (tests/lab/images.sh) under podman.

- ``boot(release, name)`` boots ``localhost/k3s-gpu-lab:<release>`` with systemd and
  ``--network=host`` (to reach the mirror on 127.0.0.1) and waits for systemd;
- ``lab_container`` (function): a factory; ``lab_container("debian12", hostname=None)`` boots
  one under a unique ``k3slab-`` name (with that kernel host name, ``uname -n``, when given)
  and removes the container after the test. tests/lab/leftovers.sh checks that none survive.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass

import pytest

from .paths import LAB

CONTAINER_PREFIX = "k3slab-"
IMAGES = {"debian12": "localhost/k3s-gpu-lab:debian12", "debian13": "localhost/k3s-gpu-lab:debian13"}


@dataclass
class Container:
    """A running lab container; ``exec`` runs a command in it through podman."""

    name: str
    image: str

    def exec(self, cmd: str | list[str], check: bool = True, timeout: float = 300,
             env: dict | None = None) -> subprocess.CompletedProcess:
        argv = ["podman", "exec"]
        for k, v in (env or {}).items():
            argv += ["-e", "%s=%s" % (k, v)]
        argv += [self.name] + (["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd))
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("in %s: %s\nrc=%s\nstdout:\n%s\nstderr:\n%s"
                                 % (self.name, cmd, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def put(self, src: str, dest: str) -> None:
        subprocess.run(["podman", "cp", src, "%s:%s" % (self.name, dest)], check=True)

    def write(self, dest: str, text: str, mode: str = "0644") -> None:
        proc = subprocess.run(["podman", "exec", "-i", self.name, "sh", "-c",
                               'mkdir -p "$(dirname "$0")" && cat > "$0" && chmod "$1" "$0"', dest, mode],
                              input=text, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise AssertionError("cannot write %s in %s: %s" % (dest, self.name, proc.stderr))


def ensure_image(release: str) -> str:
    image = IMAGES[release]
    if subprocess.run(["podman", "image", "exists", image], check=False).returncode != 0:
        subprocess.run([os.path.join(LAB, "images.sh"), release], check=True)
    return image


def boot(release: str, name: str, podman_args: list[str] | None = None, hostname: str | None = None,
         network: str = "host") -> Container:
    """Boot a lab container; `podman_args` go before the image (volumes, for instance);
    `hostname`: its kernel host name (`uname -n`), else podman's default; `network`: podman's
    --network (host, to reach the mirror; none, for a network namespace of its own)."""
    image = ensure_image(release)
    extra = ["--hostname", hostname] if hostname else []
    subprocess.run(["podman", "run", "-d", "--systemd=always", "--network=" + network, "--name", name,
                    "--label", "k3s-gpu-lab=test", *extra, *(podman_args or []), image],
                   check=True, stdout=subprocess.DEVNULL)
    c = Container(name=name, image=image)
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        state = c.exec("systemctl is-system-running || true", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return c
        time.sleep(0.5)
    raise AssertionError("systemd in %s did not come up within 60 s (state %r)" % (name, state))


@pytest.fixture
def lab_container():
    started = []

    def factory(release: str = "debian12", podman_args: list[str] | None = None,
                hostname: str | None = None, network: str = "host") -> Container:
        name = "%s%s-%s" % (CONTAINER_PREFIX, release, uuid.uuid4().hex[:8])
        started.append(name)
        return boot(release, name, podman_args, hostname, network)

    try:
        yield factory
    finally:
        for name in started:
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
