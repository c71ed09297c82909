"""k0rdent.audit.k0sctl_config through a real ``ansible-playbook`` run against localhost (connection local).

Check mode, apply, idempotence and ``--diff`` with masked secrets on a k0sctl.yaml with hosts, files, hooks, an SSH
keyPath and passwords. Three playbook runs.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from playbook_runner import run_playbook  # noqa: E402

PLAYBOOK = Path(__file__).resolve().parent / "k0sctl_config" / "apply.yml"
FIXTURE = REPO / "tests" / "unit" / "fixtures" / "k0sctl" / "files-hooks.yaml"
SECRETS = ("W1nRMPassw0rd", "P@ss/w0rd", "~/.ssh/edge")


def apply(tmp_path: Path, variables: dict, *options: str) -> tuple[str, dict]:
    result_file = tmp_path / "result.json"
    process = run_playbook(tmp_path, PLAYBOOK, {**variables, "k0sctl_config_result_file": str(result_file)}, *options)
    return process.stdout, json.loads(result_file.read_text())


def snapshot(path: Path) -> tuple:
    info = path.stat()
    return path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def test_check_apply_idempotence_and_masked_diff(tmp_path):
    path = tmp_path / "cluster" / "k0sctl.yaml"
    path.parent.mkdir()
    shutil.copy(FIXTURE, path)
    path.chmod(0o640)
    before = snapshot(path)
    variables = {"k0sctl_config_path": str(path)}

    output, checked = apply(tmp_path, variables, "--check", "--diff")
    assert checked["changed"] is True
    assert snapshot(path) == before
    assert '+            audit-log-maxage: "7"' in output
    assert 'password: "********"' in output and 'keyPath: "********"' in output
    assert not [secret for secret in SECRETS if secret in output]

    output, applied = apply(tmp_path, variables)
    assert applied["changed"] is True
    data = yaml.safe_load(path.read_text())
    assert data["spec"]["k0s"]["config"]["spec"]["api"]["extraArgs"] == {
        "oidc-issuer-url": "https://idp.example.internal",
        "audit-policy-file": "/etc/k0s/audit-policy.yaml",
        "audit-log-path": "/var/log/k0s/audit/audit.log",
        "audit-log-maxage": "7",
    }
    assert data["spec"]["hosts"][0]["files"][1]["data"].startswith("Managed by k0sctl.")
    assert applied["audit_raw_args"] == ["--audit-log-maxage=90"]
    assert snapshot(path)[1:] == before[1:]
    assert Path(applied["backup_file"]).read_bytes() == before[0]
    assert "W1nRMPassw0rd" in path.read_text()  # the file keeps its secrets

    applied_state = snapshot(path)
    _output, again = apply(tmp_path, variables)
    assert again["changed"] is False and "backup_file" not in again
    assert snapshot(path) == applied_state
