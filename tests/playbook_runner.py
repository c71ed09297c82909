"""A real ``ansible-playbook`` run against localhost (connection local), with this checkout as the collection.

The ``ansible-playbook`` next to the running Python is used (the venv's), the inventory's one host runs modules with
that same Python, and no ``ansible.cfg`` of the caller's environment changes the outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from collection_root import collections_root

__all__ = ["run_playbook"]


def run_playbook(
    tmp_path: Path,
    playbook: str | Path,
    variables: dict,
    *options: str,
    host: str = "localhost",
    group: str | None = None,
    ok: bool = True,
    timeout: int = 120,
) -> subprocess.CompletedProcess:
    """Run ``playbook`` with ``variables`` as extra vars on ``host`` (in ``group`` if given) from ``tmp_path``.

    Asserts that the run succeeded (``ok``) or failed (not ``ok``), with its output as the assertion's message.
    """
    inventory = tmp_path / "inventory.ini"
    line = f"{host} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    inventory.write_text(f"[{group}]\n{line}" if group else line)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    ansible_playbook = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or "ansible-playbook"
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(collections_root()),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_DIFF_CONTEXT="1000",  # a --diff shows the whole file: no secret may hide outside the changed lines
    )
    env.pop("ANSIBLE_CONFIG", None)
    process = subprocess.run(
        [ansible_playbook, "-i", str(inventory), "-e", f"@{extra}", *options, str(playbook)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert (process.returncode == 0) is ok, process.stdout + process.stderr
    return process
