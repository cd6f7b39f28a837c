# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse, validate and compare Kubernetes node taints.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

A taint is handled as a plain dict ``{"key": str, "value": str, "effect": str}`` where an
unset value is the empty string (the API server omits an empty value: ``omitempty``).
Taints of a node are unique by (key, effect): the API server rejects two taints with the
same key and effect (ValidateNodeTaints, "taints must be unique by key and effect pair").

String syntax: ``key[=value]:Effect``, the syntax of K3s's ``--node-taint`` and the
kubelet's ``--register-with-taints``
(https://docs.k3s.io/cli/agent, https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/).
For removal, ``key`` alone (every effect) and ``key:Effect`` are accepted too.
"""

from __future__ import annotations

import re

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# Taints the system owns: the node lifecycle controller (node.kubernetes.io/not-ready,
# unreachable, memory-pressure, disk-pressure, pid-pressure, network-unavailable,
# unschedulable, out-of-service) and the cloud controller manager
# (node.cloudprovider.kubernetes.io/uninitialized, shutdown).
# https://kubernetes.io/docs/reference/labels-annotations-taints/
SYSTEM_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")

# The validation rules of k8s.io/apimachinery/pkg/util/validation (IsQualifiedName,
# IsValidLabelValue), which the API server applies to taint keys and values.
_NAME_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_MAX = 63
_PREFIX_MAX = 253
_VALUE_MAX = 63


class TaintError(ValueError):
    """A taint that is malformed; the message says what is wrong."""


def validate_key(key):
    """Raise TaintError unless `key` is a qualified name ([prefix/]name)."""
    if not isinstance(key, str) or not key:
        raise TaintError("the key is empty")
    prefix, sep, name = key.rpartition("/")
    if sep:
        if not prefix:
            raise TaintError("key %r: the prefix before '/' is empty" % key)
        if len(prefix) > _PREFIX_MAX or not DNS1123_SUBDOMAIN_RE.match(prefix):
            raise TaintError(
                "key %r: the prefix %r must be a lowercase DNS subdomain (a-z, 0-9, '-', '.'; at most 253 characters)"
                % (key, prefix)
            )
    if not name:
        raise TaintError("key %r: the name after '/' is empty" % key)
    if len(name) > _NAME_MAX or not _NAME_RE.match(name):
        raise TaintError(
            "key %r: the name %r must be at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.', "
            "starting and ending with a letter or digit" % (key, name)
        )


def validate_value(value, key=""):
    """Raise TaintError unless `value` is a valid label value (may be empty)."""
    if not isinstance(value, str):
        raise TaintError("key %r: the value must be a string, not %s" % (key, type(value).__name__))
    if value and (len(value) > _VALUE_MAX or not _NAME_RE.match(value)):
        raise TaintError(
            "key %r: the value %r must be at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.', "
            "starting and ending with a letter or digit" % (key, value)
        )


def validate_effect(effect, key=""):
    if effect not in EFFECTS:
        raise TaintError("key %r: the effect %r must be one of %s" % (key, effect, ", ".join(EFFECTS)))


def parse_taint(spec, require_effect=True):
    """Parse one taint: a ``key[=value]:Effect`` string or a dict {key, value, effect}.

    Returns ``{"key", "value", "effect"}`` (value "" when unset; effect None only when
    `require_effect` is false and none was given). Raises TaintError.
    """
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {"key", "value", "effect"})
        if unknown:
            raise TaintError("unknown field(s) %s: a taint has key, value and effect" % ", ".join(unknown))
        key = spec.get("key")
        value = spec.get("value")
        effect = spec.get("effect")
        if value is None:
            value = ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
    elif isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise TaintError("the taint is an empty string")
        effect = None
        head = text
        if ":" in text:
            head, dummy, effect = text.rpartition(":")
            if not effect:
                raise TaintError("%r: nothing after ':' (expected key[=value]:Effect)" % spec)
        key, sep, value = head.partition("=")
        if sep and "=" in value:
            raise TaintError("%r: more than one '=' (expected key[=value]:Effect)" % spec)
    else:
        raise TaintError("a taint must be a string key[=value]:Effect or a dict, not %s" % type(spec).__name__)

    validate_key(key)
    validate_value(value, key)
    if effect is None or effect == "":
        if require_effect:
            raise TaintError("key %r: no effect (expected key[=value]:Effect, Effect one of %s)"
                             % (key, ", ".join(EFFECTS)))
        effect = None
    else:
        validate_effect(effect, key)
    return {"key": key, "value": value, "effect": effect}


def parse_taints(specs, require_effect=True):
    """Parse a list of taints; every error names the item (``taints[i]``).

    Two items with the same key and effect are an error (the API would refuse them).
    Raises TaintError with the first problem taint_problems() finds.
    """
    parsed, problems = _check_taints(specs, require_effect, "taints")
    if problems:
        raise TaintError(problems[0])
    return parsed


def taint_problems(specs, require_effect=True, name="taints"):
    """Everything wrong with a list of taints, one message per bad item, each naming it
    (``name[i] 'spec': why``); empty when every item is a valid taint. parse_taints() and the
    taint_errors filter share this rule."""
    return _check_taints(specs, require_effect, name)[1]


def _check_taints(specs, require_effect, name):
    if specs is None:
        return [], []
    if not isinstance(specs, list):
        return [], ["%s must be a list of key[=value]:Effect taints, not %s" % (name, type(specs).__name__)]
    out = []
    problems = []
    seen = {}
    for index, spec in enumerate(specs):
        try:
            taint = parse_taint(spec, require_effect=require_effect)
        except TaintError as exc:
            problems.append(item_problem(name, index, spec, exc))
            continue
        ident = identity(taint)
        if ident in seen:
            problems.append(item_problem(name, index, spec, "same key and effect as %s[%d]; a node has at most "
                                         "one taint per key and effect" % (name, seen[ident])))
            continue
        seen[ident] = index
        out.append(taint)
    return out, problems


def item_problem(name, index, spec, why):
    """The message of one bad item of a list of taints or labels: ``name[i] 'spec': why``."""
    return "%s[%d] %s: %s" % (name, index, repr(spec) if not isinstance(spec, str) else "'%s'" % spec, why)


def from_api(taints):
    """Normalise the taints of a Node object (``spec.taints``, camelCase JSON).

    Keeps ``timeAdded`` (set by the API server on NoExecute taints) so that writing back an
    unchanged taint does not alter it.
    """
    out = []
    for t in taints or []:
        item = {"key": t.get("key") or "", "value": t.get("value") or "", "effect": t.get("effect")}
        if t.get("timeAdded"):
            item["timeAdded"] = t["timeAdded"]
        out.append(item)
    return out


def to_api(taints):
    """Taints as the API expects them (no empty value, timeAdded kept)."""
    out = []
    for t in taints:
        item = {"key": t["key"], "effect": t["effect"]}
        if t.get("value"):
            item["value"] = t["value"]
        if t.get("timeAdded"):
            item["timeAdded"] = t["timeAdded"]
        out.append(item)
    return out


def public(taints):
    """Taints as the module returns them: key, value, effect (no timeAdded)."""
    return [{"key": t["key"], "value": t.get("value") or "", "effect": t["effect"]} for t in taints]


def identity(taint):
    return (taint["key"], taint["effect"])


def is_system(taint):
    return taint["key"].startswith(SYSTEM_TAINT_PREFIXES)


def format_taint(taint):
    """``key[=value]:Effect``, the K3s --node-taint syntax."""
    text = taint["key"]
    if taint.get("value"):
        text += "=" + taint["value"]
    if taint.get("effect"):
        text += ":" + taint["effect"]
    return text


def _matches_removal(existing, spec):
    # As `kubectl taint nodes NODE key[:Effect]-`: key and (if given) effect; value ignored.
    if existing["key"] != spec["key"]:
        return False
    return spec.get("effect") is None or existing["effect"] == spec["effect"]


def desired_taints(existing, wanted, state="present", exclusive=False):
    """The node's taints after applying `wanted` to `existing` (both parsed lists).

    present: every wanted taint is there with its value (a taint with the same key and
    effect but another value is replaced in place); others are kept, unless `exclusive`,
    which keeps only the wanted ones and the system taints (SYSTEM_TAINT_PREFIXES).
    absent: taints matching a wanted key (and effect, when given) are removed.
    Existing order is kept; new taints are appended in the order given.
    """
    if state == "absent":
        return [t for t in existing if not any(_matches_removal(t, w) for w in wanted)]
    if state != "present":
        raise ValueError("state must be present or absent")
    wanted_by_id = {identity(w): w for w in wanted}
    out = []
    placed = set()
    for t in existing:
        ident = identity(t)
        if ident in wanted_by_id:
            w = wanted_by_id[ident]
            if (t.get("value") or "") == w["value"]:
                out.append(t)  # unchanged: keep timeAdded
            else:
                out.append({"key": w["key"], "value": w["value"], "effect": w["effect"]})
            placed.add(ident)
        elif not exclusive or is_system(t):
            out.append(t)
    for w in wanted:
        if identity(w) not in placed:
            out.append({"key": w["key"], "value": w["value"], "effect": w["effect"]})
            placed.add(identity(w))
    return out


def _comparable(taints):
    return sorted((t["key"], t["effect"], t.get("value") or "") for t in taints)


def taints_equal(a, b):
    """Same taints regardless of order and timeAdded."""
    return _comparable(a) == _comparable(b)


def changes(before, after):
    """What differs: {"added": [...], "removed": [...], "updated": [...]} (public form)."""
    b = {identity(t): t for t in before}
    a = {identity(t): t for t in after}
    added = [t for i, t in a.items() if i not in b]
    removed = [t for i, t in b.items() if i not in a]
    updated = [t for i, t in a.items() if i in b and (b[i].get("value") or "") != (t.get("value") or "")]
    return {"added": public(added), "removed": public(removed), "updated": public(updated)}


def diff_text(taints):
    """One taint per line, sorted, for Ansible's --diff."""
    return "".join("%s\n" % format_taint(t) for t in sorted(taints, key=lambda t: (t["key"], t["effect"])))
