"""k0rdent.audit.k0s_audit_files: the policy and the log directory in one run, check mode and diff truthful."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ansible_collections.k0rdent.audit.plugins.modules import k0s_audit_files

POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"


@pytest.fixture
def run(run_main):
    return lambda check=False, diff=False, **args: run_main(k0s_audit_files.main, check=check, diff=diff, **args)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_makes_the_directories_and_the_policy_then_changes_nothing(run, tmp_path):
    policy = tmp_path / "etc" / "k0s" / "audit-policy.yaml"
    log_dir = tmp_path / "var" / "log" / "k0s"
    args = dict(policy_path=str(policy), policy_content=POLICY, log_dir=str(log_dir), log_dir_owner="root",
                log_dir_group="root", log_dir_mode="0750")  # fmt: skip
    first = run(**args)
    assert first["changed"] and first["policy_created"] and first["policy_changed"] and first["log_dir_changed"]
    assert policy.read_text() == POLICY and _mode(policy) == 0o644
    assert log_dir.is_dir() and _mode(log_dir) == 0o750
    again = run(**args)
    assert again["changed"] is False and not again["policy_changed"] and not again["log_dir_changed"]
    assert "backup_file" not in again


def test_check_mode_predicts_and_changes_nothing(run, tmp_path):
    policy = tmp_path / "k0s" / "audit-policy.yaml"
    log_dir = tmp_path / "log"
    result = run(check=True, diff=True, policy_path=str(policy), policy_content=POLICY, log_dir=str(log_dir))
    assert result["changed"] and result["policy_created"] and result["log_dir_changed"]
    assert not (tmp_path / "k0s").exists() and not log_dir.exists()
    assert result["diff"][0]["after"] == POLICY and result["diff"][0]["before"] == ""


def test_a_changed_policy_is_backed_up_and_written_through_a_symlink(run, tmp_path):
    target = tmp_path / "real-policy.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    link = tmp_path / "audit-policy.yaml"
    link.symlink_to(target)
    result = run(diff=True, policy_path=str(link), policy_content=POLICY, backup=True)
    assert result["changed"] and result["policy_changed"] and not result["policy_created"]
    assert link.is_symlink() and target.read_text() == POLICY and _mode(target) == 0o644
    assert Path(result["backup_file"]).read_text() == "old\n"
    diffs = result["diff"]
    assert diffs[0]["before"] == "old\n" and diffs[0]["after"] == POLICY
    assert any(item.get("before_header", "").endswith("(file attributes)") for item in diffs[1:])


def test_only_the_mode_differs(run, tmp_path):
    policy = tmp_path / "audit-policy.yaml"
    policy.write_text(POLICY)
    os.chmod(policy, 0o666)
    result = run(policy_path=str(policy), policy_content=POLICY)
    assert result["changed"] and result["policy_changed"] and _mode(policy) == 0o644


def test_an_existing_policy_directory_is_left_as_it_is(run, tmp_path):
    directory = tmp_path / "k0s"
    directory.mkdir()
    os.chmod(directory, 0o750)
    run(policy_path=str(directory / "audit-policy.yaml"), policy_content=POLICY)
    assert _mode(directory) == 0o750


@pytest.mark.parametrize("kind", ["directory", "fifo", "file as log dir"])
def test_refuses_what_is_not_a_regular_file_and_changes_nothing(run, tmp_path, kind):
    work = tmp_path / "work"  # tmp_path also holds the module's own tmpdir
    work.mkdir()
    policy = work / "audit-policy.yaml"
    args = dict(policy_path=str(policy), policy_content=POLICY)
    if kind == "directory":
        policy.mkdir()
        expected = "is a directory"
    elif kind == "fifo":
        os.mkfifo(policy)
        expected = "not a regular file"
    else:
        (work / "log").write_text("not a directory\n")
        args["log_dir"] = str(work / "log")
        expected = "exists and is not a directory"
    before = sorted((path.name, path.stat().st_mode) for path in work.iterdir())
    result = run(**args)
    assert result["failed"] and expected in result["msg"]
    assert sorted((path.name, path.stat().st_mode) for path in work.iterdir()) == before
