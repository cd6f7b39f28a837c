"""The server URL rule, written once: roles/k3s_agent/vars/main.yml's _k3s_agent_re_server, which
the role's preflight applies with Ansible's `match` test (re.match) and which site.yml and
upgrade.yml no longer repeat. IPv6 literals pass it, as K3s accepts them (https://[fd00::1]:6443).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

VARS = Path(__file__).resolve().parents[3] / "roles" / "k3s_agent" / "vars" / "main.yml"


@pytest.fixture(scope="module")
def rule():
    with VARS.open(encoding="utf-8") as handle:
        return re.compile(yaml.safe_load(handle)["_k3s_agent_re_server"])


@pytest.mark.parametrize("url", [
    "https://k3s.example.com:6443",
    "https://k3s.example.com:6443/",
    "https://10.0.0.1:6443",
    "https://[fd00::1]:6443",
    "https://[2001:db8::10]:9345",
])
def test_accepts_a_supervisor_url(rule, url):
    assert rule.match(url)


@pytest.mark.parametrize("url", [
    "http://k3s.example.com:6443",
    "https://k3s.example.com",
    "https://k3s.example.com:6443/path",
    "https://fd00::1:6443",
    "https://[fd00::1]",
    "k3s.example.com:6443",
    "",
])
def test_refuses_anything_else(rule, url):
    assert not rule.match(url)


def test_playbooks_do_not_repeat_the_rule():
    playbooks = Path(__file__).resolve().parents[3] / "playbooks"
    for playbook in playbooks.glob("*.yml"):
        text = playbook.read_text(encoding="utf-8")
        assert "k3s_gpu_server_url is match" not in text, f"{playbook.name} checks the server URL itself"
