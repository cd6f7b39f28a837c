"""Running ansible-playbook from a test: the venv's ansible-playbook with the repository's
ansible.cfg and the collection on the Python path, extra vars through a 0600 file, and the
result (rc, output, recap, changed tasks) as a :class:`Run`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from .paths import REPO_ROOT

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
VARS_DIR = os.path.join(REPO_ROOT, ".tmp", "lab", "vars")  # untracked (.gitignore: /.tmp/)


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    elapsed: float
    cmd: list = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> dict:
        """The json stdout callback's document (warnings may precede it)."""
        start = self.stdout.find("{")
        assert start >= 0, "no JSON in the output:\n" + self.output[-4000:]
        return json.loads(self.stdout[start:])

    def recap(self, host: str) -> dict:
        """ok/changed/failed/... of one host from the default callback's PLAY RECAP."""
        m = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(host),
                      self.stdout, re.M)
        assert m, "no recap for %s in:\n%s" % (host, self.output[-4000:])
        return {"ok": int(m.group(1)), "changed": int(m.group(2)), "unreachable": int(m.group(3)),
                "failed": int(m.group(4))}

    def changed_tasks(self, host: str) -> list[str]:
        """Names of the tasks reported `changed: [host]` (default callback)."""
        names, current = [], None
        for line in self.stdout.splitlines():
            m = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*?)\] \**$", line)
            if m:
                current = m.group(1)
            elif re.match(r"^changed: \[%s\]" % re.escape(host), line) and current:
                if current not in names:
                    names.append(current)
        return names


def ansible_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_FORKS": "8",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    })
    coll = os.path.join(REPO_ROOT, ".build", "collections")
    env["PYTHONPATH"] = coll + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def playbook_cmd(playbook: str, inventory: str, extra_vars: dict | None = None, args: list | None = None,
                 playbooks: str = REPO_ROOT) -> list:
    """The ansible-playbook command line; a relative `playbook` is looked up in `playbooks`.
    Extra vars go through a 0600 file (-e @file), never the command line, where `ps` would
    show the tokens the leak checks look for."""
    cmd = [ANSIBLE_PLAYBOOK, "-i", inventory]
    if extra_vars:
        os.makedirs(VARS_DIR, exist_ok=True)
        fd, path = tempfile.mkstemp(suffix=".json", dir=VARS_DIR)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(extra_vars, f)
        cmd += ["-e", "@" + path]
    cmd += list(args or [])
    cmd.append(os.path.join(playbooks, playbook))
    return cmd


def run_playbook(playbook: str, inventory: str, extra_vars: dict | None = None, args: list | None = None,
                 env: dict | None = None, json_callback: bool = False, timeout: float = 600,
                 playbooks: str = REPO_ROOT) -> Run:
    """Run ansible-playbook in the repository root; the extra-vars file is removed after."""
    cmd = playbook_cmd(playbook, inventory, extra_vars, args, playbooks)
    env = ansible_env(env)
    if json_callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        env["ANSIBLE_JSON_INDENT"] = "0"
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, check=False)
    finally:
        for arg in cmd:
            if arg.startswith("@" + VARS_DIR):
                os.unlink(arg[1:])
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start, cmd)
