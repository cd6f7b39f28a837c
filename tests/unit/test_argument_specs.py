"""Every role's public variables (defaults/main.yml) match its argument spec (meta/argument_specs.yml).

For each role under roles/: the keys of defaults/main.yml equal the options of the `main` entry
point, each option has a description, and each default in the spec equals the value in defaults
(a default that is a Jinja expression is compared as text).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
ROLE_DIRS = sorted(p for p in ROLES.iterdir() if p.is_dir()) if ROLES.is_dir() else []


def _load(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _defaults(role: Path) -> dict:
    path = role / "defaults" / "main.yml"
    return _load(path) if path.exists() else {}


def _options(role: Path) -> dict:
    path = role / "meta" / "argument_specs.yml"
    assert path.exists(), f"{role.name}: meta/argument_specs.yml is missing"
    spec = _load(path)["argument_specs"]
    assert "main" in spec, f"{role.name}: argument_specs has no main entry point"
    return spec["main"].get("options") or {}


def test_roles_exist():
    assert ROLE_DIRS, f"no roles under {ROLES}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_defaults_match_argument_spec(role: Path):
    defaults = _defaults(role)
    options = _options(role)
    only_defaults = sorted(set(defaults) - set(options))
    only_spec = sorted(set(options) - set(defaults))
    assert not only_defaults, f"{role.name}: in defaults/main.yml but not in argument_specs: {only_defaults}"
    assert not only_spec, f"{role.name}: in argument_specs but not in defaults/main.yml: {only_spec}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_public_variables_are_prefixed_and_described(role: Path):
    for name, option in _options(role).items():
        assert name.startswith(role.name + "_"), f"{role.name}: {name} is not prefixed with {role.name}_"
        assert option.get("description"), f"{role.name}: {name} has no description"
        assert option.get("type"), f"{role.name}: {name} has no type"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_spec_defaults_equal_defaults_file(role: Path):
    defaults = _defaults(role)
    for name, option in _options(role).items():
        if name not in defaults or "default" not in option:
            continue
        expected, actual = defaults[name], option["default"]
        if isinstance(expected, str) and "{{" in expected:
            continue  # a templated default: the spec documents it in words
        if option.get("type") == "str" and expected is not None:
            expected = str(expected)
        assert actual == expected, f"{role.name}: {name} default {actual!r} != defaults/main.yml {expected!r}"
