"""k0rdent.audit.k0s_config through a real ``ansible-playbook`` run against localhost (connection local).

Check mode, apply, idempotence, ``--diff`` with a masked secret, owner/mode and backup mode, and the refusals,
each of which must leave its file byte for byte as it was. Four playbook runs in all.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from playbook_runner import run_playbook  # noqa: E402  (one runner for the playbook tests)

PLAYBOOKS = Path(__file__).resolve().parent / "k0s_config"
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "k0s"
SECRET = "Sup3rS3cretPassw0rd"


@pytest.fixture
def playbook(tmp_path):
    def run(name: str, extra_vars: dict, *options: str):
        result_file = tmp_path / f"result-{name}-{len(list(tmp_path.glob('result-*')))}.json"
        variables = {**extra_vars, "k0s_config_result_file": str(result_file)}
        process = run_playbook(tmp_path, PLAYBOOKS / name, variables, *options)
        return process.stdout, json.loads(result_file.read_text())

    return run


def snapshot(path: Path) -> tuple:
    info = path.stat()
    return path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def test_check_apply_idempotence_diff_mode_and_backup(tmp_path, playbook):
    path = tmp_path / "k0s.yaml"
    shutil.copy(FIXTURES / "kine-password.yaml", path)
    path.chmod(0o640)
    before = snapshot(path)
    variables = {"k0s_config_path": str(path)}

    output, checked = playbook("apply.yml", variables, "--check", "--diff")
    assert checked["changed"] is True
    assert snapshot(path) == before
    assert '+      audit-log-maxage: "7"' in output
    assert '+      audit-log-compress: "true"' in output
    assert 'dataSource: "********"' in output
    assert SECRET not in output
    assert "Ev3ntsPassw0rd" not in output and "https://events:********@" in output

    output, applied = playbook("apply.yml", variables)
    assert applied["changed"] is True
    assert applied["extra_args"]["audit-log-maxage"] == "7"
    assert applied["previous_extra_args"] == {  # returned values are masked like the diff
        "etcd-servers-overrides": "/events#https://events:********@10.0.0.30:2379"
    }
    assert "Ev3ntsPassw0rd" not in json.dumps(applied) and SECRET not in json.dumps(applied)
    assert applied["real_path"] == applied["path"] == str(path)
    info = path.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == before[1:]
    assert SECRET in path.read_text()
    backup = Path(applied["backup_file"])
    assert backup.read_bytes() == before[0]
    assert stat.S_IMODE(backup.stat().st_mode) & ~before[1] == 0  # never more readable than the original

    applied_state = snapshot(path)
    output, again = playbook("apply.yml", variables)
    assert again["changed"] is False
    assert "backup_file" not in again
    assert snapshot(path) == applied_state


CASES = [
    ("unparseable", "not-yaml.yaml", {}, "is not valid YAML ("),
    ("multi-document", "multi-doc.yaml", {}, "holds more than one YAML document"),
    ("k0sctl file", "k0sctl-cluster.yaml", {}, "is a k0sctl configuration (apiVersion k0sctl.k0sproject.io/v1beta1"),
    ("extraArgs a list", "extra-args-list.yaml", {}, "spec.api.extraArgs in"),
    ("bad flag name", "config-create.yaml", {"extra_args": {"--audit-log-path": "x"}}, "which starts with '-'"),
    ("list value", "config-create.yaml", {"extra_args": {"audit-log-path": ["a", "b"]}}, "extra_args.audit-log-path"),
    (
        "validation fails",
        "config-create.yaml",
        {"validate": "/bin/sh -c 'echo refused-by-the-test >&2; exit 1' %s"},
        "refused the new content of",
    ),
]


def test_refusals_fail_with_their_message_and_leave_the_file_untouched(tmp_path, playbook):
    cases, before = [], {}
    for index, (name, fixture, options, _message) in enumerate(CASES):
        path = tmp_path / f"case-{index}" / "k0s.yaml"
        path.parent.mkdir()
        shutil.copy(FIXTURES / fixture, path)
        path.chmod(0o640)
        before[name] = snapshot(path)
        cases.append({"name": name, "path": str(path), **options})

    _output, results = playbook("refusals.yml", {"k0s_config_cases": cases})

    assert [result["item"]["name"] for result in results] == [case[0] for case in CASES]
    for (name, _fixture, _options, message), result, case in zip(CASES, results, cases):
        assert result.get("failed") is True, (name, result)
        assert message in result["msg"], (name, result["msg"])
        assert "\n" not in result["msg"].strip(), (name, result["msg"])
        path = Path(case["path"])
        assert snapshot(path) == before[name], name
        assert sorted(path.parent.iterdir()) == [path], name  # no backup, no stray temporary file
    assert results[-1]["msg"].endswith("refused-by-the-test")
