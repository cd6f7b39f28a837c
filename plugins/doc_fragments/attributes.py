# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # The attributes every module of the collection documents; every one runs on POSIX targets.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and report what it would change without changing the target.
  diff_mode:
    description: Reports what has changed (or would change in C(check_mode)) when run with C(--diff).
  platform:
    description: Target operating systems the module supports.
    support: full
    platforms: posix
"""

    FACTS = r"""
options: {}
attributes:
  facts:
    description: Returns an C(ansible_facts) dictionary that updates the host's facts.
"""

    # For modules that only read: use with DOCUMENTATION (and FACTS for facts modules). A module's own
    # attributes.check_mode or attributes.diff_mode replaces the one here (support and details both).
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - The module only reads the target's state, so it runs the same way in check mode.
  diff_mode:
    support: none
    details:
      - The module changes nothing, so there is no difference to show.
"""
