# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The k3s_version filters, as the roles' templates call them (plugins/filter/k3s_version.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ansible_collections.k3s_gpu.node.plugins.filter import k3s_version as f
from ansible_collections.k3s_gpu.node.plugins.module_utils import _k3s_version as v

# Run in a fresh interpreter: Ansible resolves k3s_gpu.node.<filter> through its collection
# loader, which must be installed before the collection is imported (this process already
# imported it as a plain package).
_TEMPLATE = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
try:  # ansible-core >= 2.19 templates only trusted strings
    from ansible.template import trust_as_template
except ImportError:
    def trust_as_template(text):
        return text
templar = Templar(loader=DataLoader(), variables=json.loads(sys.argv[2]))
print(json.dumps(templar.template(trust_as_template(sys.argv[3]))))
"""


def _collections_root():
    # <root>/ansible_collections/k3s_gpu/node/plugins/filter/k3s_version.py
    path = os.path.abspath(f.__file__)
    for _level in range(6):
        path = os.path.dirname(path)
    return path


def render(template, **variables):
    out = subprocess.run([sys.executable, "-c", _TEMPLATE, _collections_root(), json.dumps(variables), template],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_filters_are_the_module_utils_rules():
    filters = f.FilterModule().filters()
    assert set(filters) == {"k3s_version_skew", "k3s_server_release", "k3s_is_release_tag"}
    for tag in ("v1.36.3+k3s1", "v1.36.0-rc1+k3s2"):
        assert filters["k3s_is_release_tag"](tag) is True
    for not_tag in ("v1.36.3", "1.36.3+k3s1", "v1.36.3+k3s1 ", "server", "latest", None, 1):
        assert filters["k3s_is_release_tag"](not_tag) is False
    assert filters["k3s_version_skew"]("v1.36.3+k3s1", "v1.35.4") == v.check_skew("v1.36.3+k3s1", "v1.35.4")
    assert filters["k3s_server_release"]("v1.35.4") == "v1.35.4+k3s1"
    assert filters["k3s_server_release"]("v1.35.4", "+k3s2") == "v1.35.4+k3s2"


def test_filters_resolve_by_fqcn_in_a_template():
    skew = render("{{ agent | k3s_gpu.node.k3s_version_skew(server) }}", agent="v1.36.3+k3s1", server="v1.35.4")
    assert skew["ok"] is False and skew["reason"] == "newer"
    assert "v1.36.3+k3s1" in skew["msg"] and "v1.35.4" in skew["msg"]
    assert render("{{ server | k3s_gpu.node.k3s_server_release('+k3s1') }}", server="v1.35.4") == "v1.35.4+k3s1"
    assert render("{{ server | k3s_gpu.node.k3s_server_release }}", server="v1.36.3+k3s1") == "v1.36.3+k3s1"
    assert render("{{ v | k3s_gpu.node.k3s_is_release_tag }}", v="v1.36.4+k3s1") is True
    assert render("{{ v | k3s_gpu.node.k3s_is_release_tag }}", v="v1.36.4") is False
