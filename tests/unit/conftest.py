"""Make the checkout importable as ``ansible_collections.k0rdent.audit``.

The unit tests import the collection the way Ansible does, by its full name, without asking the developer to
clone it into an ``ansible_collections/k0rdent/audit`` tree. When the checkout already sits in such a tree
(``ansible-test`` builds one), that tree is used as it is; otherwise a symlink to the checkout is made under
``.cache/collections`` (ignored by git) and that folder is put first on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def _collections_root() -> Path:
    if _REPO.parent.name == "k0rdent" and _REPO.parent.parent.name == "ansible_collections" and _REPO.name == "audit":
        return _REPO.parent.parent.parent
    root = _REPO / ".cache" / "collections"
    link = root / "ansible_collections" / "k0rdent" / "audit"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        os.symlink(_REPO, link, target_is_directory=True)
    return root


_ROOT = str(_collections_root())
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
