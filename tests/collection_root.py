"""Where Python finds this checkout as ``ansible_collections.k0rdent.audit``, for tests and benchmarks.

When the checkout already sits in an ``ansible_collections/k0rdent/audit`` tree (ansible-test makes one), that tree
is used as it is; otherwise a symlink to the checkout is made under ``.cache/collections`` (ignored by git).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def collections_root() -> Path:
    if REPO.parent.name == "k0rdent" and REPO.parent.parent.name == "ansible_collections" and REPO.name == "audit":
        return REPO.parent.parent.parent
    root = REPO / ".cache" / "collections"
    link = root / "ansible_collections" / "k0rdent" / "audit"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO, link, target_is_directory=True)
    return root
