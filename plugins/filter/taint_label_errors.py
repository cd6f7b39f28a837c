# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The taint_errors and label_errors filters (documented in taint_errors.yml and label_errors.yml).

Both have one shape: the value and the name the messages give it in, every problem out, by the
rule the k3s_taint and k3s_label modules apply (module_utils/_taints.py, module_utils/_labels.py).
"""

from __future__ import annotations

from ansible_collections.k3s_gpu.node.plugins.module_utils._labels import label_problems
from ansible_collections.k3s_gpu.node.plugins.module_utils._taints import taint_problems


def taint_errors(taints, name="taints"):
    """What is wrong with the list `taints`, one message per bad item (see taint_errors.yml)."""
    return taint_problems(taints, name=str(name))


def label_errors(labels, name="labels"):
    """What is wrong with `labels` (a list or a dict), one message per bad item (see label_errors.yml)."""
    return label_problems(labels, name=str(name))


class FilterModule:
    """The taint_errors and label_errors filters."""

    def filters(self):
        return {"taint_errors": taint_errors, "label_errors": label_errors}
