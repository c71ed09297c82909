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


# ----------------------------------------------------------------------------- nothing before everything is known


def _tree(root: Path) -> list:
    """Every path under ``root`` with its type, mode, owner and group (symbolic links not followed)."""
    found = []
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        found.append((str(path.relative_to(root)), info.st_mode, info.st_uid, info.st_gid))
    return found


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"policy_owner": "no-such-user-k0rdent"}, "policy_owner"),
        ({"policy_group": "no-such-group-k0rdent"}, "policy_group"),
        ({"log_dir_owner": "no-such-user-k0rdent"}, "log_dir_owner"),
        ({"log_dir_group": "no-such-group-k0rdent"}, "log_dir_group"),
        ({"policy_mode": "rw-r--r--"}, "policy_mode"),
        ({"log_dir_mode": "0o7777777"}, "log_dir_mode"),
        ({"log_dir": "{work}/file/log"}, "{work}/file"),
        ({"policy_path": "{work}/file/k0s/audit-policy.yaml"}, "{work}/file"),
    ],
    ids=["policy-owner", "policy-group", "log-owner", "log-group", "policy-mode", "log-mode", "log-parent-file",
         "policy-parent-file"],
)  # fmt: skip
@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_a_refused_run_changes_nothing_and_check_mode_predicts_it(run, tmp_path, bad, expected, check):
    work = tmp_path / "work"
    work.mkdir()
    (work / "file").write_text("in the way\n")
    (work / "existing-log").mkdir()
    args = dict(policy_path=str(work / "etc" / "k0s" / "audit-policy.yaml"), policy_content=POLICY,
                log_dir=str(work / "var" / "log" / "k0s"), log_dir_owner="nobody", log_dir_group="nogroup")  # fmt: skip
    args.update({key: value.format(work=work) for key, value in bad.items()})
    before = _tree(work)
    result = run(check=check, **args)
    assert result.get("failed") is True, result
    assert expected.format(work=work) in result["msg"] and "\n" not in result["msg"], result["msg"]
    assert _tree(work) == before


def test_a_symlinked_log_directory_gets_its_attributes_on_the_directory_it_points_to(run, tmp_path):
    target = tmp_path / "real-log"
    target.mkdir()
    os.chmod(target, 0o700)
    link = tmp_path / "log"
    link.symlink_to(target)
    args = dict(policy_path=str(tmp_path / "audit-policy.yaml"), policy_content=POLICY, log_dir=str(link),
                log_dir_owner="nobody", log_dir_group="nogroup", log_dir_mode="0750")  # fmt: skip
    checked = run(check=True, **args)
    assert checked["log_dir_changed"] is True and _mode(target) == 0o700
    result = run(**args)
    assert result["log_dir_changed"] is True
    info = target.stat()
    assert (info.st_uid, info.st_gid, _mode(target)) == (65534, 65534, 0o750)
    assert link.is_symlink() and (link.lstat().st_uid, link.lstat().st_gid) == (0, 0)  # the link is not re-owned
    assert run(**args)["log_dir_changed"] is False


@pytest.mark.parametrize("kind", ["dangling", "loop", "to a file"])
def test_a_symlinked_log_directory_that_leads_nowhere_is_refused_naming_it(run, tmp_path, kind):
    work = tmp_path / "work"
    work.mkdir()
    link = work / "log"
    if kind == "dangling":
        link.symlink_to(work / "missing")
    elif kind == "loop":
        link.symlink_to(work / "other")
        (work / "other").symlink_to(link)
    else:
        (work / "file").write_text("x\n")
        link.symlink_to(work / "file")
    before = _tree(work)
    for check in (True, False):
        result = run(check=check, policy_path=str(work / "audit-policy.yaml"), policy_content=POLICY, log_dir=str(link))
        assert result.get("failed") is True and result["msg"].startswith(f"{link} "), result
    assert _tree(work) == before


def test_directories_it_makes_can_be_traversed_whatever_the_umask(run, tmp_path):
    old = os.umask(0o077)
    try:
        policy = tmp_path / "etc" / "k0s" / "audit-policy.yaml"
        log_dir = tmp_path / "var" / "log" / "k0s"
        result = run(policy_path=str(policy), policy_content=POLICY, log_dir=str(log_dir), log_dir_owner="nobody")
    finally:
        os.umask(old)
    assert result["changed"] is True
    for made in ("etc", "etc/k0s", "var", "var/log"):
        assert _mode(tmp_path / made) == 0o755, made
    assert _mode(tmp_path / "var" / "log" / "k0s") == 0o750 and (tmp_path / "var/log/k0s").stat().st_uid == 65534
    assert _mode(tmp_path / "etc" / "k0s" / "audit-policy.yaml") == 0o644


def test_an_owner_only_root_can_give_is_refused_before_anything_is_written(run, tmp_path, monkeypatch):
    monkeypatch.setattr(k0s_audit_files, "_euid", lambda: 4242)
    policy = tmp_path / "k0s" / "audit-policy.yaml"
    result = run(policy_path=str(policy), policy_content=POLICY, log_dir=str(tmp_path / "log"), log_dir_owner="nobody")
    assert result.get("failed") is True and "log_dir_owner" in result["msg"] and "root" in result["msg"], result
    assert not (tmp_path / "k0s").exists() and not (tmp_path / "log").exists()


def test_a_mode_yaml_read_as_a_number_is_taken_as_the_mode(run, tmp_path):
    policy = tmp_path / "audit-policy.yaml"
    run(
        policy_path=str(policy),
        policy_content=POLICY,
        policy_mode=0o640,
        log_dir=str(tmp_path / "log"),
        log_dir_mode=0o700,
    )
    assert _mode(policy) == 0o640 and _mode(tmp_path / "log") == 0o700


def test_a_policy_path_in_a_loop_of_symbolic_links_is_refused_naming_the_option(run, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a").symlink_to(work / "b")
    (work / "b").symlink_to(work / "a")
    for check in (True, False):
        result = run(check=check, policy_path=str(work / "a"), policy_content=POLICY, log_dir=str(work / "log"))
        assert result.get("failed") is True and result["msg"].startswith(f"{work / 'a'} leads into a loop"), result
        assert "policy_path" in result["msg"] and "run again" not in result["msg"]
    assert sorted(path.name for path in work.iterdir()) == ["a", "b"]


def test_an_account_an_earlier_task_makes_is_predicted_in_check_mode_and_required_otherwise(run, tmp_path):
    # On a fresh host the role creates the API server's account just before this task; in check mode it does not
    # exist yet, and the run would still succeed: predicted as a change, nothing written.
    args = dict(policy_path=str(tmp_path / "etc" / "audit-policy.yaml"), policy_content=POLICY,
                log_dir=str(tmp_path / "log"), log_dir_owner="k0s-audit-no-such-user",
                log_dir_group="k0s-audit-no-such-user", accounts_made_earlier=["k0s-audit-no-such-user"])  # fmt: skip
    checked = run(check=True, diff=True, **args)
    assert checked["changed"] is True and checked["log_dir_changed"] is True and not checked.get("failed")
    assert not (tmp_path / "log").exists() and not (tmp_path / "etc").exists()
    refused = run(**args)  # outside check mode the account must exist
    assert refused["failed"] is True
    assert refused["msg"].startswith("log_dir_owner is 'k0s-audit-no-such-user', which is no user on this host")
    assert not (tmp_path / "log").exists() and not (tmp_path / "etc").exists()
    unplanned = run(check=True, **{**args, "accounts_made_earlier": []})
    assert unplanned["failed"] is True
