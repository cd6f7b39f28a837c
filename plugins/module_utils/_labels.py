# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse, validate and compare Kubernetes node labels.

PRIVATE to the k3s_gpu.node collection: the functions here may change without notice.

Labels are handled as a dict ``{key: value}`` (strings; a value may be empty). The string
syntax is ``key=value``, the syntax of K3s's ``--node-label`` and the kubelet's
``--node-labels`` (https://docs.k3s.io/cli/agent). Keys are qualified names and values
label values, the rules the API server applies (k8s.io/apimachinery/pkg/util/validation
IsQualifiedName, IsValidLabelValue), which _taints.validate_key and validate_value implement
for taints, whose keys and values follow the same rules.
"""

from __future__ import annotations

from ansible_collections.k3s_gpu.node.plugins.module_utils import _taints


class LabelError(ValueError):
    """A label that is malformed; the message says what is wrong."""


def _value_text(key, value):
    if value is None:
        return ""
    if isinstance(value, bool):
        raise LabelError("key %r: the value %r is a boolean; quote it ('true' or 'false')" % (key, value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _check(key, value):
    try:
        _taints.validate_key(key)
        _taints.validate_value(value, key)
    except _taints.TaintError as exc:
        raise LabelError(str(exc))


def parse_labels(specs, require_value=True):
    """Labels as a dict, from a list of ``key=value`` strings or a dict {key: value}.

    With `require_value` false (removal), a string may be ``key`` alone; the value is then None.
    Every error names the item; a key given twice is an error. Raises LabelError with the
    first problem label_problems() finds.
    """
    parsed, problems = _check_labels(specs, require_value, "labels")
    if problems:
        raise LabelError(problems[0])
    return parsed


def label_problems(specs, require_value=True, name="labels"):
    """Everything wrong with labels, one message per bad item, each naming it
    (``name[i] 'spec': why``, ``name['key']: why`` for a dict); empty when all are valid.
    parse_labels() and the label_errors filter share this rule."""
    return _check_labels(specs, require_value, name)[1]


def _check_labels(specs, require_value, name):
    if specs is None:
        return {}, []
    out = {}
    problems = []
    if isinstance(specs, dict):
        for key, value in specs.items():
            try:
                if not isinstance(key, str):
                    raise LabelError("the key %r must be a string" % (key,))
                value = _value_text(key, value)
                _check(key, value)
            except LabelError as exc:
                problems.append("%s[%r]: %s" % (name, key, exc))
                continue
            out[key] = value
        return out, problems
    if not isinstance(specs, list):
        return {}, ["%s must be a list of key=value strings or a dictionary, not %s" % (name, type(specs).__name__)]
    for index, spec in enumerate(specs):
        try:
            if not isinstance(spec, str):
                raise LabelError("a label must be a string key=value, not %s" % type(spec).__name__)
            key, sep, value = spec.strip().partition("=")
            if not sep:
                if require_value:
                    raise LabelError("no '=' (expected key=value; the value may be empty: key=)")
                value = None
            if value is not None and "=" in value:
                raise LabelError("more than one '=' (expected key=value)")
            if value is None:
                _check(key, "")
            else:
                _check(key, value)
            if key in out:
                raise LabelError("key %r is given twice" % key)
        except LabelError as exc:
            problems.append(_taints.item_problem(name, index, spec, exc))
            continue
        out[key] = value
    return out, problems


def desired_labels(existing, wanted, state="present"):
    """The node's labels after applying `wanted` (parsed) to `existing` (the node's labels).

    present: every wanted label is there with its value; other labels are kept (the kubelet,
    K3s and the operator own many of them). absent: the wanted keys are removed (a value
    given with a key must match for the label to be removed, as a safety).
    """
    after = dict(existing or {})
    if state == "present":
        after.update(wanted)
    elif state == "absent":
        for key, value in wanted.items():
            if key in after and (value is None or after[key] == value):
                del after[key]
    else:
        raise ValueError("state must be present or absent")
    return after


def merge_patch(before, after):
    """The metadata.labels of a JSON merge patch turning `before` into `after` (None removes)."""
    patch = {k: v for k, v in after.items() if before.get(k) != v}
    patch.update({k: None for k in before if k not in after})
    return patch


def changes(before, after):
    """What differs: {"added": [...], "removed": [...], "updated": [...]}, each ``key=value``."""
    return {
        "added": sorted("%s=%s" % (k, v) for k, v in after.items() if k not in before),
        "removed": sorted("%s=%s" % (k, v) for k, v in before.items() if k not in after),
        "updated": sorted("%s=%s" % (k, v) for k, v in after.items() if k in before and before[k] != v),
    }


def diff_text(labels):
    """One ``key=value`` per line, sorted, for Ansible's --diff."""
    return "".join("%s=%s\n" % (k, labels[k]) for k in sorted(labels))
