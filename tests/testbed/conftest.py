"""The test bed's tests: this directory's helpers and the collection importable, and one kine per pytest process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _apiserver import Kine, require_binaries
from collection_root import collections_root

_ROOT = str(collections_root())
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


@pytest.fixture(scope="session")
def shared_kine(tmp_path_factory):
    """One kine for the short runs of a pytest process (servers sharing a kine are what several controllers are)."""
    require_binaries()
    kine = Kine(tmp_path_factory.mktemp("kine"))
    yield kine
    kine.stop()
