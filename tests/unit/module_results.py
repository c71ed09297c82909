"""What the module tests compare: a file's state before and after a run, and the warnings a result carries."""

from __future__ import annotations

import stat
from pathlib import Path

__all__ = ["snapshot", "warnings_of"]


def snapshot(path: Path) -> tuple:
    """The file's bytes, mode bits, owner and group."""
    info = path.stat()
    return path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def warnings_of(result: dict) -> list:
    """Warning texts (ansible-core 2.19 returns them as structured summaries)."""
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]
