"""Where things are: the repository, the lab (tests/lab) and its mirror."""

from __future__ import annotations

import os

LAB = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(os.path.dirname(LAB))
MIRROR = os.path.join(LAB, "mirror")
