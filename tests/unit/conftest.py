"""Make the checkout importable as ``ansible_collections.k0rdent.audit`` (see tests/collection_root.py).

The unit tests import the collection the way Ansible does, by its full name, without asking the developer to
clone it into an ``ansible_collections/k0rdent/audit`` tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collection_root import collections_root

_ROOT = str(collections_root())
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

# tests/unit itself, for the helpers the test files share (audit_policy_helpers).
_UNIT = str(Path(__file__).resolve().parent)
if _UNIT not in sys.path:
    sys.path.insert(0, _UNIT)
