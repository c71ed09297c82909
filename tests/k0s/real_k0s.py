"""The real k0s that scripts/build-k0s.sh builds from its Go module, for the tests that need k0s's own answer.

``validate`` runs the real ``k0s config validate`` on a config text, which decodes it as strictly as
``k0s controller`` does (unknown fields, values of the wrong type, invalid settings), and returns the text parsed.
``versions`` is tests/k0s/versions.env, the one owner of the versions the test hosts run.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import yaml

__all__ = ["BIN", "K0sConfigRefused", "k0s_binary", "validate", "versions"]

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".cache" / "k0s" / "bin"


class K0sConfigRefused(ValueError):
    """k0s refused a config; the message is k0s's own."""


def versions() -> dict[str, str]:
    found = {}
    for line in (Path(__file__).parent / "versions.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
    return found


def k0s_binary() -> Path:
    path = BIN / "k0s"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: run scripts/build-k0s.sh (the tests need the real k0s)")
    return path


def validate(text: str) -> dict:
    """``text`` parsed, once the real ``k0s config validate`` accepted it; else K0sConfigRefused with k0s's words.

    Like k0s, it reads the first YAML document only: k0s accepts a file of several documents and ignores all
    but the first (which may be empty, ``---`` alone: then k0s runs with its defaults and this returns None).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
        handle.write(text)
        handle.flush()
        result = subprocess.run(
            [str(k0s_binary()), "config", "validate", "--config", handle.name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if result.returncode != 0:
        raise K0sConfigRefused((result.stderr or result.stdout).strip())
    return next(iter(yaml.safe_load_all(text)), None)
