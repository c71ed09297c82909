"""Unit tests of the k0rdent.audit.k0s_config module: the file handling around the pure patch logic.

The module runs in-process (``patch_module_args``). A ``k0s`` on the PATH runs the real k0s that
scripts/build-k0s.sh builds (tests/k0s/real_k0s.py), whose ``config validate`` is k0s's own decoder and whose
``config create`` prints k0s's default ClusterConfig; it logs every call so that the tests see which commands the
module ran. Every written file is read back by the real ``k0s config validate``.
"""

from __future__ import annotations

import functools
import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml
from module_results import snapshot, warnings_of

from ansible_collections.k0rdent.audit.plugins.modules import k0s_config

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "k0s"
sys.path.insert(0, str(REPO / "tests" / "k0s"))

from real_k0s import k0s_binary, validate  # noqa: E402

AUDIT = {"audit-log-path": "/var/log/k0s/audit.log", "audit-log-maxage": 7}
SECRET = "Sup3rS3cretPassw0rd"


@pytest.fixture
def bindir(tmp_path, monkeypatch):
    """A PATH without k0s; ``install_k0s`` puts one there."""
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", f"{path}:/usr/bin:/bin")
    return path


@pytest.fixture
def install_k0s(bindir, tmp_path):
    log = tmp_path / "k0s-calls.log"

    def install(body: str | None = None) -> Path:
        command = body or f'exec "{k0s_binary()}" "$@"'
        script = bindir / "k0s"
        script.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n{command}\n')
        script.chmod(0o755)
        return log

    return install


@pytest.fixture
def run(run_main):
    return functools.partial(run_main, k0s_config.main)


def copy_fixture(tmp_path: Path, name: str, mode: int = 0o640) -> Path:
    target = tmp_path / "etc" / "k0s.yaml"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes((FIXTURES / name).read_bytes())
    target.chmod(mode)
    return target


def test_check_mode_tells_what_a_real_run_does_without_writing(tmp_path, bindir, run):
    path = copy_fixture(tmp_path, "kine-password.yaml")
    before = snapshot(path)

    checked = run(path=str(path), extra_args=AUDIT, check=True, diff=True)
    assert snapshot(path) == before
    applied = run(path=str(path), extra_args=AUDIT, diff=True)

    assert checked["changed"] is applied["changed"] is True
    assert checked["diff"] == applied["diff"]
    assert checked["extra_args"] == applied["extra_args"]
    diff = applied["diff"]
    assert diff["before_header"] == diff["after_header"] == str(path)
    assert '      audit-log-maxage: "7"\n' in diff["after"]
    assert SECRET not in json.dumps(diff)
    assert 'dataSource: "********"' in diff["before"]
    assert SECRET in path.read_text()  # the file keeps it


def test_apply_keeps_owner_and_mode_and_then_changes_nothing(tmp_path, bindir, run):
    path = copy_fixture(tmp_path, "existing-extra-args.yaml", mode=0o640)
    if os.geteuid() == 0:
        os.chown(path, 4321, 4322)

    first = run(path=str(path), extra_args=AUDIT)
    assert first["changed"] is True
    assert first["created"] is False
    assert first["previous_extra_args"]["audit-log-maxage"] == "3"
    assert first["extra_args"]["audit-log-maxage"] == "7"
    assert first["extra_args"]["oidc-client-id"] == "kubernetes"
    assert "backup_file" not in first and "diff" not in first
    validate(path.read_text())
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (4321, 4322)

    after_first = snapshot(path)
    second = run(path=str(path), extra_args={"audit-log-maxage": "7", "audit-log-path": "/var/log/k0s/audit.log"})
    assert second["changed"] is False
    assert snapshot(path) == after_first


def test_backup_is_made_only_on_change_and_is_no_more_readable(tmp_path, bindir, run):
    path = copy_fixture(tmp_path, "commented.yaml", mode=0o600)
    original = path.read_bytes()
    os.umask(0o022)

    result = run(path=str(path), extra_args=AUDIT, backup=True)
    backup = Path(result["backup_file"])
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.stat().st_uid == path.stat().st_uid

    again = run(path=str(path), extra_args=AUDIT, backup=True)
    assert again["changed"] is False and "backup_file" not in again
    assert len(list(path.parent.glob("k0s.yaml.*~"))) == 1


def test_missing_file_without_k0s_is_created_minimal_and_private(tmp_path, bindir, run):
    path = tmp_path / "k0s.yaml"
    checked = run(path=str(path), extra_args=AUDIT, check=True, diff=True)
    assert checked["changed"] is checked["created"] is True
    assert checked["diff"]["before"] == ""
    assert not path.exists()

    created = run(path=str(path), extra_args=AUDIT)
    assert created["created"] is True and created["previous_extra_args"] == {}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    decoded = validate(path.read_text())
    assert decoded["metadata"]["name"] == "k0s"
    assert decoded["spec"]["api"]["extraArgs"] == {"audit-log-path": "/var/log/k0s/audit.log", "audit-log-maxage": "7"}


def test_missing_file_with_k0s_is_created_minimal_never_from_k0s_config_create(tmp_path, install_k0s, run):
    log = install_k0s()
    path = tmp_path / "k0s.yaml"

    result = run(path=str(path), extra_args=AUDIT, mode="0640")
    assert result["created"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    text = path.read_text()
    assert text.splitlines()[0] == k0s_config_core().CREATED_MARKER
    decoded = validate(text)
    assert decoded == {
        "apiVersion": "k0s.k0sproject.io/v1beta1",
        "kind": "ClusterConfig",
        "metadata": {"name": "k0s"},
        "spec": {"api": {"extraArgs": {"audit-log-path": "/var/log/k0s/audit.log", "audit-log-maxage": "7"}}},
    }
    assert "storage" not in text and "address" not in text
    calls = log.read_text().splitlines()
    assert [call.split(" --config ")[0] for call in calls] == ["config validate"]  # never `config create`
    assert str(path) not in calls[0]  # a temporary copy is validated, not the file


def test_missing_file_and_only_removals_creates_nothing(tmp_path, bindir, run):
    path = tmp_path / "k0s.yaml"
    for check in (True, False):
        result = run(path=str(path), remove_extra_args=["audit-log-path"], check=check, diff=True)
        assert (result["changed"], result["created"], result["removed"]) == (False, False, False)
        assert result["extra_args"] == {}
    assert sorted(tmp_path.iterdir()) == [tmp_path / "bin", tmp_path / "module-tmp"]


def test_created_skeleton_is_deleted_when_its_last_flag_goes(tmp_path, bindir, run):
    path = tmp_path / "k0s.yaml"
    run(path=str(path), extra_args=AUDIT)
    created = path.read_bytes()

    partly = run(path=str(path), remove_extra_args=["audit-log-path"])
    assert partly["changed"] is True and partly["removed"] is False and path.exists()

    checked = run(path=str(path), remove_extra_args=list(AUDIT), check=True, diff=True)
    assert (checked["changed"], checked["removed"]) == (True, True)
    assert checked["diff"]["after"] == "" and "audit-log-maxage" in checked["diff"]["before"]
    assert path.exists()
    removed = run(path=str(path), remove_extra_args=list(AUDIT), backup=True)
    assert (removed["changed"], removed["removed"], removed["extra_args"]) == (True, True, {})
    assert not path.exists()
    assert Path(removed["backup_file"]).read_text().splitlines()[0] == k0s_config_core().CREATED_MARKER
    again = run(path=str(path), remove_extra_args=list(AUDIT))
    assert again["changed"] is False

    # a key the operator added, or a file without the marker, is never deleted
    path.write_bytes(created.replace(b"metadata:\n", b"metadata:\n  labels: {team: ops}\n"))
    kept = run(path=str(path), remove_extra_args=list(AUDIT))
    assert kept["removed"] is False and path.exists() and "labels" in path.read_text()
    path.write_bytes(created.split(b"\n", 1)[1])
    unmarked = run(path=str(path), remove_extra_args=list(AUDIT))
    assert unmarked["removed"] is False and path.exists()
    assert "extraArgs" not in path.read_text()


def k0s_config_core():
    """The module_utils the module itself imported (see test_without_ruamel_comments_are_dropped_with_a_warning)."""
    return sys.modules[k0s_config.K0S_CONFIG.__class__.__module__]


def test_default_validation_by_k0s_refuses_and_leaves_the_file_untouched(tmp_path, install_k0s, run):
    install_k0s()
    path = copy_fixture(tmp_path, "unquoted-numbers.yaml")
    before = snapshot(path)

    result = run(path=str(path), extra_args=AUDIT, backup=True)
    assert result["failed"] is True
    assert result["msg"].startswith("The validation command ")
    assert "refused the new content of" in result["msg"]
    assert "cannot unmarshal number" in result["msg"]
    assert snapshot(path) == before
    assert list(path.parent.glob("k0s.yaml.*~")) == []  # no backup of a change that did not happen


def test_validation_can_be_switched_off_or_replaced(tmp_path, install_k0s, run):
    log = install_k0s()
    path = copy_fixture(tmp_path, "config-create.yaml")

    assert run(path=str(path), extra_args={"a": "1"}, validate="")["changed"] is True
    assert not log.exists()

    before = snapshot(path)
    failed = run(path=str(path), extra_args={"a": "2"}, validate="/bin/sh -c 'echo nope >&2; exit 1' %s")
    assert failed["failed"] is True and failed["msg"].endswith(": nope")
    assert snapshot(path) == before

    missing = run(path=str(path), extra_args={"a": "2"}, validate="/bin/true")
    assert missing["msg"] == "validate must contain %s, where the temporary file goes: '/bin/true'."
    assert snapshot(path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"extra_args": {"--audit-log-path": "x"}}, "extra_args has the flag name '--audit-log-path', which starts"),
        ({"extra_args": {"a": ["x"]}}, "extra_args.a is a list, but kube-apiserver flags take one string"),
        ({"extra_args": {"a": "x"}, "remove_extra_args": ["a"]}, "The flag 'a' is both in extra_args and in"),
    ],
)
def test_bad_options_fail_before_reading_the_file(tmp_path, bindir, run, args, message):
    result = run(path=str(tmp_path / "does-not-matter.yaml"), **args)
    assert result["failed"] is True and result["msg"].startswith(message)


def test_bad_files_fail_and_stay_untouched(tmp_path, bindir, run):
    path = copy_fixture(tmp_path, "k0sctl-cluster.yaml")
    before = snapshot(path)
    result = run(path=str(path), extra_args=AUDIT)
    assert result["msg"].startswith(f"{path} is a k0sctl configuration")
    assert snapshot(path) == before

    assert run(path=str(tmp_path), extra_args=AUDIT)["msg"] == (
        f"{tmp_path} is a directory: set path to the k0s configuration file inside it."
    )
    missing_dir = tmp_path / "nowhere" / "k0s.yaml"
    assert run(path=str(missing_dir), extra_args=AUDIT)["msg"] == (
        f"The directory {missing_dir.parent} of {missing_dir} does not exist: create it first (the role does)."
    )


def test_mode_and_content_changes_are_both_in_the_diff(tmp_path, bindir, run):
    path = copy_fixture(tmp_path, "config-create.yaml", mode=0o644)
    result = run(path=str(path), extra_args=AUDIT, mode="0600", diff=True)
    assert result["changed"] is True
    content, attributes = result["diff"]
    assert "audit-log-path" in content["after"]
    assert attributes["before"]["mode"] == "0644" and attributes["after"]["mode"] == "0600"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    only_mode = run(path=str(path), extra_args=AUDIT, mode="0640")
    assert only_mode["changed"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_without_ruamel_comments_are_dropped_with_a_warning(tmp_path, bindir, run, monkeypatch):
    # Patch the module_utils the module itself imported: once a filter test has installed Ansible's collection
    # loader, that object can differ from the one this file imported at collection time.
    monkeypatch.setattr(k0s_config_core(), "HAS_RUAMEL", False)
    path = copy_fixture(tmp_path, "commented.yaml")
    result = run(path=str(path), extra_args=AUDIT, backup=True)
    assert "#" not in path.read_text()
    [warning] = warnings_of(result)
    assert warning.startswith(f"ruamel.yaml cannot be imported on this host, so the comments in {path} were dropped")
    assert f"the backup {result['backup_file']} keeps them" in warning

    plain = copy_fixture(tmp_path, "config-create.yaml")
    assert warnings_of(run(path=str(plain), extra_args=AUDIT)) == []


def test_when_ruamel_cannot_render_the_file_the_dropped_comments_are_explained(tmp_path, bindir, run, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(k0s_config_core(), "_render_ruamel_api_block", broken)
    monkeypatch.setattr(k0s_config_core(), "_render_ruamel_document", broken)
    path = copy_fixture(tmp_path, "commented.yaml")
    result = run(path=str(path), extra_args=AUDIT)
    assert result["changed"] is True and "#" not in path.read_text()
    assert warnings_of(result) == [
        f"ruamel.yaml could not round-trip it (boom), so PyYAML re-wrote {path}.",
        f"PyYAML re-wrote {path}, so the comments in it were dropped (set backup: true to keep a copy).",
    ]


def test_hand_written_numbers_are_warned_about(tmp_path, bindir, run):
    path = copy_fixture(tmp_path, "unquoted-numbers.yaml")
    result = run(path=str(path), extra_args=AUDIT)
    assert len(warnings_of(result)) == 4
    assert warnings_of(result)[1] == (
        'spec.api.extraArgs.profiling is a boolean, not a string: k0s will refuse this file; quote it ("false").'
    )


def test_it_returns_exactly_the_documented_values(tmp_path, bindir, run):
    """RETURN is the contract: nothing undocumented comes back (api_port and kube_apiserver_user are gone)."""
    documented = set(yaml.safe_load(k0s_config.RETURN))
    path = copy_fixture(tmp_path, "custom-users.yaml")
    result = run(path=str(path), extra_args=AUDIT, backup=True, diff=True)
    assert result["changed"] is True and "backup_file" in result and "diff" in result
    # AnsibleModule.exit_json adds the file's attributes (add_path_info) whenever a result names a path
    path_info = {"uid", "gid", "owner", "group", "mode", "state", "size", "secontext"}
    assert set(result) - {"invocation", "warnings"} - path_info == documented
    assert not {"api_port", "kube_apiserver_user"} & set(result)


def test_a_symlink_is_followed(tmp_path, bindir, run):
    target = copy_fixture(tmp_path, "custom-users.yaml")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    result = run(path=str(link), extra_args=AUDIT)
    assert result["changed"] is True and result["real_path"] == str(target)
    assert link.is_symlink()
    assert "audit-log-path" in target.read_text()


# ------------------------------------------------------------------------------------------------- file safety


def test_a_fifo_a_device_and_a_big_file_are_refused_without_blocking(tmp_path, bindir, run):
    fifo = tmp_path / "k0s.yaml"
    os.mkfifo(fifo)
    result = run(path=str(fifo), extra_args=AUDIT)  # would hang forever if the module opened it blocking
    assert (
        result["msg"] == f"{fifo} is a named pipe (FIFO), not a regular file: set path to the k0s configuration file."
    )
    assert run(path="/dev/null", extra_args=AUDIT, check=True)["msg"].startswith("/dev/null is a character device")

    big = tmp_path / "big.yaml"
    big.write_bytes((FIXTURES / "config-create.yaml").read_bytes() + b"#" * (1 << 20))
    before = snapshot(big)
    message = run(path=str(big), extra_args=AUDIT)["msg"]
    assert message.startswith(f"{big} is {big.stat().st_size} bytes, more than the 1048576 bytes")
    assert snapshot(big) == before


def test_a_symlink_stays_a_link_and_a_dangling_one_is_refused(tmp_path, bindir, run):
    target = copy_fixture(tmp_path, "custom-users.yaml")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    result = run(path=str(link), extra_args=AUDIT, backup=True)
    assert (result["path"], result["real_path"]) == (str(link), str(target))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert Path(result["backup_file"]).parent == target.parent

    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "gone.yaml")
    assert run(path=str(dangling), extra_args=AUDIT)["msg"] == (
        f"{dangling} is a symbolic link to {tmp_path / 'gone.yaml'}, which does not exist: "
        "point the link at the file or set path to the file itself."
    )
    assert not (tmp_path / "gone.yaml").exists()


def test_a_held_lock_makes_the_run_wait_and_then_fail_in_one_sentence(tmp_path, bindir, run, monkeypatch):
    import fcntl

    yaml_file = sys.modules[k0s_config.run_edit.__module__.replace("_config_edit", "_yaml_file")]
    monkeypatch.setattr(yaml_file, "LOCK_TIMEOUT", 0.3)
    path = copy_fixture(tmp_path, "config-create.yaml")
    before = snapshot(path)
    lock = path.parent / ".k0s.yaml.k0rdent-audit.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = run(path=str(path), extra_args=AUDIT)
    assert result["msg"] == (
        f"Another run of k0rdent.audit.k0s_config holds the lock {lock} on {path} and did not finish within "
        "0.3 seconds: let it finish, then run again."
    )
    assert snapshot(path) == before
    # check mode and a run that changes nothing never take the lock
    assert run(path=str(path), extra_args=AUDIT, check=True)["changed"] is True


def test_an_update_made_while_waiting_for_the_lock_is_not_lost(tmp_path, bindir, run):
    import fcntl
    import threading

    path = copy_fixture(tmp_path, "config-create.yaml")
    lock = path.parent / ".k0s.yaml.k0rdent-audit.lock"
    handle = open(lock, "w")  # noqa: SIM115 - released by the thread
    fcntl.flock(handle, fcntl.LOCK_EX)

    def other_run():
        time.sleep(0.3)  # the module has read the file and waits for the lock by now
        path.write_text(path.read_text().replace("  api:\n", '  api:\n    extraArgs:\n      other-flag: "x"\n', 1))
        os.unlink(lock)  # as exclusive_lock does: the file goes before the lock is released
        handle.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    result = run(path=str(path), extra_args=AUDIT)
    thread.join()
    assert result["changed"] is True
    extra = validate(path.read_text())["spec"]["api"]["extraArgs"]
    assert extra == {"other-flag": "x", "audit-log-path": "/var/log/k0s/audit.log", "audit-log-maxage": "7"}
    assert not lock.exists()


def test_the_backup_is_private_until_it_is_complete(tmp_path, bindir, run, monkeypatch):
    path = copy_fixture(tmp_path, "kine-password.yaml", mode=0o644)
    seen = []
    real_link = os.link

    def watching_link(source, destination, *args, **kwargs):
        seen.append((stat.S_IMODE(os.stat(source).st_mode), Path(os.fsdecode(source)).read_bytes()))
        return real_link(source, destination, *args, **kwargs)

    real_chmod = os.chmod

    def watching_chmod(target, mode, *args, **kwargs):
        if ".k0rdent-audit.tmp" in os.fsdecode(target):
            seen.append(
                ("chmod", Path(os.fsdecode(target)).read_bytes() == (FIXTURES / "kine-password.yaml").read_bytes())
            )
        return real_chmod(target, mode, *args, **kwargs)

    monkeypatch.setattr(os, "link", watching_link)
    monkeypatch.setattr(os, "chmod", watching_chmod)
    result = run(path=str(path), extra_args=AUDIT, backup=True)
    assert seen[0] == ("chmod", True)  # full content before the mode is opened up
    assert seen[1] == (0o644, (FIXTURES / "kine-password.yaml").read_bytes())
    assert stat.S_IMODE(Path(result["backup_file"]).stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(["k0s.yaml", Path(result["backup_file"]).name])


def test_returned_values_warnings_and_errors_never_show_a_secret(tmp_path, bindir, run):
    path = copy_fixture(tmp_path, "kine-password.yaml")
    text = path.read_text().replace(
        "  api:\n    address: 10.0.0.20\n",
        "  api:\n    address: 10.0.0.20\n    rawArgs:\n    - --audit-log-maxage=90\n"
        "    - --oidc-client-secret=Raw5ecret\n",
    )
    path.write_text(text)
    result = run(path=str(path), extra_args={"audit-webhook-config-file": "/etc/k0s/wh.yaml"}, diff=True)
    assert result["raw_args"] == ["--audit-log-maxage=90", "--oidc-client-secret=********"]
    assert result["audit_raw_args"] == ["--audit-log-maxage=90"]
    dumped = json.dumps(result)
    assert "Raw5ecret" not in dumped and "Ev3ntsPassw0rd" not in dumped and SECRET not in dumped

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nspec:\n  storage:\n"
        "    kine: {dataSource: 'mysql://u:Br0ken5ecret@db/k0s'\n"
    )
    failed = run(path=str(broken), extra_args=AUDIT)
    assert failed["failed"] is True and "Br0ken5ecret" not in json.dumps(failed)
