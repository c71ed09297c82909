from __future__ import annotations

import grp
import os
import pwd
import signal
import stat

import pytest

from ansible_collections.k0rdent.audit.plugins.module_utils import _host_access, _k0s_controller, _systemd_unit
from ansible_collections.k0rdent.audit.plugins.modules import k0s_host_info


class _Stat:
    def __init__(self, mode, uid=0, gid=0):
        self.st_mode = stat.S_IFDIR | mode
        self.st_uid = uid
        self.st_gid = gid


def test_traversal_uses_owner_then_group_then_other_bits():
    assert _host_access.can_traverse(_Stat(0o700, uid=5), 5, {9})
    assert not _host_access.can_traverse(_Stat(0o070, uid=5), 5, {0})  # owner bits win even when group allows
    assert _host_access.can_traverse(_Stat(0o750, gid=9), 5, {9})
    assert not _host_access.can_traverse(_Stat(0o750, gid=0), 5, {9})
    assert _host_access.can_traverse(_Stat(0o751, gid=0), 5, {9})
    assert _host_access.can_traverse(_Stat(0o700), 0, set())  # root traverses everything


def test_a_missing_user_is_judged_by_the_other_bits(tmp_path):
    os.chmod(tmp_path, 0o755)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o750)
    os.chmod(locked, 0o750)
    found = _host_access.untraversable([str(locked / "sub" / "audit.log")], None, set())
    assert [entry["path"] for entry in found if entry["path"].startswith(str(tmp_path))] == [str(locked)]
    assert found[-1]["mode"] == "0750"


def test_parents_are_listed_from_the_root_down():
    assert list(_host_access.parents("/etc/k0s/audit-policy.yaml")) == ["/", "/etc", "/etc/k0s"]


def test_disk_measures_the_nearest_existing_ancestor(tmp_path):
    disk = _host_access.disk(str(tmp_path / "not" / "yet"))
    assert disk["path"] == str(tmp_path)
    assert 0 <= disk["free_mb"] <= disk["total_mb"]
    assert _host_access.disk(None) == {}


def test_account_of_a_missing_user():
    info, uid, gids = _host_access.account("no-such-user-k0s-audit")
    assert info == {"name": "no-such-user-k0s-audit", "exists": False, "uid": None, "group": None, "groups": []}
    assert (uid, gids) == (None, set())


def test_account_of_root():
    info, uid, gids = _host_access.account("root")
    assert info["exists"] and uid == 0 and 0 in gids and info["group"] == "root"


def test_stat_reports_what_the_role_compares(tmp_path):
    policy = tmp_path / "audit-policy.yaml"
    policy.write_text("rules: []\n")
    os.chmod(policy, 0o644)
    found = _host_access.stat_path(str(policy))
    assert found["exists"] and not found["isdir"]
    assert found["mode"] == "0644"
    assert found["checksum"] == "6086d66762cb8b9581d573d3ddaa15929da10b91"  # sha1 of "rules: []\n"
    directory = _host_access.stat_path(str(tmp_path))
    assert directory["isdir"] and directory["checksum"] is None
    assert _host_access.stat_path(str(tmp_path / "missing")) == {"exists": False}


def test_an_old_log_file_the_account_cannot_write_is_named_with_its_fix(tmp_path):
    # A file an API server that ran as root left (root's, 0600): kube-apiserver, running as an account of its own
    # with group root, cannot open it for appending and exits; the account's own file, or nothing yet, is fine.
    log = tmp_path / "audit.log"
    error = _host_access.log_file_error
    assert error(str(log), 999, {0}, "kube-apiserver") == ""  # not there yet: kube-apiserver creates it
    log.write_text("left by an API server that ran as root\n")
    os.chmod(log, 0o600)
    owner = _host_access.name_of(pwd.getpwuid, os.stat(log).st_uid)
    group = _host_access.name_of(grp.getgrgid, os.stat(log).st_gid)
    assert error(str(log), 999, {0}, "kube-apiserver") == (
        f"{log} is owned by {owner}:{group} with mode 0600, which kube-apiserver, running as kube-apiserver (group"
        " root), cannot write, so it would not start: k0s_audit_log_path names an old file; move it out of the way,"
        f" or give it to kube-apiserver (chown kube-apiserver {log})."
    )
    assert error(str(log), os.stat(log).st_uid, {0}, "kube-apiserver") == ""  # its own file
    assert "planned-account" in error(str(log), None, {0}, "planned-account")  # an account made later: other bits
    os.chmod(log, 0o660)
    assert error(str(log), 999, {os.stat(log).st_gid}, "kube-apiserver") == ""  # writable through its group
    assert error(str(tmp_path), 999, {0}, "kube-apiserver").startswith(f"{tmp_path} is a directory, ")
    os.mkfifo(tmp_path / "fifo")
    assert "not a regular file (a FIFO" in error(str(tmp_path / "fifo"), 999, {0}, "kube-apiserver")


def test_stat_follows_a_symbolic_link_to_what_the_writes_change(tmp_path):
    # A symlinked log directory or policy is compared by what it leads to, so a run that finds the directory and
    # the policy as wanted skips their task (the role's second run changes nothing).
    directory, policy = tmp_path / "target", tmp_path / "policy.yaml"
    directory.mkdir(mode=0o750)
    os.chmod(directory, 0o750)
    policy.write_text("rules: []\n")
    (tmp_path / "logs").symlink_to(directory)
    (tmp_path / "policy-link.yaml").symlink_to(policy)
    assert _host_access.stat_path(str(tmp_path / "logs")) == _host_access.stat_path(str(directory))
    assert _host_access.stat_path(str(tmp_path / "logs"))["mode"] == "0750"
    linked = _host_access.stat_path(str(tmp_path / "policy-link.yaml"))
    assert linked["checksum"] == "6086d66762cb8b9581d573d3ddaa15929da10b91" and not linked["isdir"]
    (tmp_path / "nowhere").symlink_to(tmp_path / "missing")
    assert _host_access.stat_path(str(tmp_path / "nowhere")) == {"exists": False}
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "fifo-link").symlink_to(tmp_path / "fifo")
    assert _host_access.stat_path(str(tmp_path / "fifo-link"))["checksum"] is None  # never opened


def test_the_unit_names_the_config_file_as_k0s_install_writes_it():
    parse = k0s_host_info.parse_controller_args
    assert parse([])["config_path"] == "/etc/k0s/k0s.yaml"
    default = parse(["/usr/local/bin/k0s", "controller"])
    assert default["config_path"] == "/etc/k0s/k0s.yaml" and not default["config_from_unit"]
    assert not default["single"] and default["data_dir"] == "/var/lib/k0s"
    for argv in (
        ["k0s", "controller", "--config=/etc/k0s/custom.yaml"],
        ["k0s", "controller", "--config", "/etc/k0s/custom.yaml"],
        ["k0s", "controller", "-c", "/etc/k0s/custom.yaml"],
        ["k0s", "controller", "-c=/etc/k0s/custom.yaml"],
        ["k0s", "controller", "-c/etc/k0s/custom.yaml"],
    ):
        found = parse(argv)
        assert (found["config_path"], found["config_from_unit"]) == ("/etc/k0s/custom.yaml", True), argv
    single = parse(["k0s", "controller", "--single", "--data-dir=/srv/k0s", "--enable-dynamic-config=true"])
    assert single["single"] and single["dynamic_config"] and single["data_dir"] == "/srv/k0s"
    assert not parse(["k0s", "controller", "--single=false"])["single"]
    # pflag reads --single=VALUE with strconv.ParseBool: exactly these words, no others, no empty value.
    for word, meant in (("T", True), ("TRUE", True), ("1", True), ("F", False), ("0", False), ("FALSE", False)):
        assert parse(["k0s", "controller", "--single=" + word])["single"] is meant, word
    for word in ("", "yes", "tRuE"):
        assert not parse(["k0s", "controller", "--single=" + word])["single"], word  # k0s does not start


def test_exec_start_is_read_from_the_unit_file_and_else_from_systemctl_show(tmp_path):
    show = {
        "LoadState": "loaded",
        "ExecStart": "{ path=/usr/local/bin/k0s ; argv[]=/usr/local/bin/k0s controller --single ; ignore_errors=no }",
    }
    assert _systemd_unit.exec_start("k0scontroller", show)[1] == ["/usr/local/bin/k0s", "controller", "--single"]
    unit = tmp_path / "k0scontroller.service"
    unit.write_text("[Service]\nExecStart=/usr/local/bin/k0s controller \\\n  --config=/etc/k0s/custom.yaml\n")
    _shown, argv = _systemd_unit.exec_start("k0scontroller", {**show, "FragmentPath": str(unit)})
    assert argv == ["/usr/local/bin/k0s", "controller", "--config=/etc/k0s/custom.yaml"]


def test_config_facts(tmp_path):
    missing = _k0s_controller.config_facts(str(tmp_path / "k0s.yaml"))
    assert missing["exists"] is False and missing["api_port"] == 6443
    assert missing["kube_apiserver_user"] == "kube-apiserver"
    path = tmp_path / "k0s.yaml"
    path.write_text(
        "# generated-by-k0sctl 2026-11-30T10:00:00Z\napiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\n"
        "spec:\n  api: {port: 7443}\n  installConfig: {users: {kubeAPIserverUser: custom-api}}\n"
    )
    found = _k0s_controller.config_facts(str(path))
    assert found["k0sctl_generated"] and found["api_port"] == 7443 and found["kube_apiserver_user"] == "custom-api"
    path.write_text("spec: [unclosed\n")
    assert _k0s_controller.config_facts(str(path))["error"]


def test_a_log_directory_with_other_files_is_reported(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("audit.log", "audit-2026-11-30T10-00-00.000.log", "audit-2026-11-29T10-00-00.000.log.gz", "syslog"):
        (logs / name).write_text("x")
    found = _host_access.foreign_files([str(logs)], [str(logs / "audit.log")])
    assert found == {str(logs): ["syslog"]}


def test_named_user_acl_entries_grant_access(tmp_path):
    # A version-2 ACL: user::rwx, user:4242:rwx, group::r-x, mask::r-x, other::---
    raw = b"\x02\x00\x00\x00" + b"".join(
        _host_access.ACL_ENTRY.pack(tag, perm, ident)
        for tag, perm, ident in (
            (1, 7, 0xFFFFFFFF),
            (2, 7, 4242),
            (4, 5, 0xFFFFFFFF),
            (0x10, 5, 0xFFFFFFFF),
            (0x20, 0, 0xFFFFFFFF),
        )
    )
    original = os.getxattr
    try:
        os.getxattr = lambda path, name: raw
        assert _host_access.acl_user_perms("/x", 4242) == 5  # masked to r-x
        assert _host_access.acl_user_perms("/x", 1) is None
        st = _Stat(0o750, uid=1, gid=1)
        assert _host_access.access(st, "/x", 4242, {0}, 1)  # traverse through the ACL entry
        assert not _host_access.access(st, "/x", 4242, {0}, 3)  # the mask takes write away
    finally:
        os.getxattr = original


def test_the_real_account_without_a_live_process(monkeypatch):
    import pwd

    def missing(name):
        raise KeyError(name)

    monkeypatch.setattr(pwd, "getpwnam", missing)
    assert k0s_host_info._real_apiserver_account(None)["source"] == "root"
    assert k0s_host_info._real_apiserver_account(None)["uid"] == 0
    # The role creates kube-apiserver before k0s starts again: then k0s runs the API server as that account.
    planned = k0s_host_info._real_apiserver_account(None, planned=True)
    assert (planned["user"], planned["uid"], planned["source"]) == ("kube-apiserver", None, "planned")
    live = {"pid": 7, "uid": 0, "started": 1.0, "audit_args": {"audit-log-path": "/var/log/k0s/audit.log"}}
    assert k0s_host_info._real_apiserver_account(live)["source"] == "process"


K0S_YAML_WITH_OPERATOR_FLAGS = """apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
spec:
  api:
    extraArgs:
      audit-log-maxage: "90"
      service-node-port-range: "30000-32767"
    rawArgs: ["--audit-log-maxbackup=3"]
"""


@pytest.fixture
def run(run_main, monkeypatch):
    # No systemd and no live API server in a unit test: the unit is absent, the process list empty.
    monkeypatch.setattr(k0s_host_info, "systemctl_show", lambda module, name: ({"LoadState": "not-found"}, ""))
    monkeypatch.setattr(k0s_host_info, "find_supervised_apiserver", lambda main_pid: None)
    monkeypatch.setattr(k0s_host_info, "k0s_validate_command", lambda module: "")
    return lambda **args: run_main(k0s_host_info.main, **args)


def test_config_plan_is_what_a_check_mode_k0s_config_run_returns(run, run_main, tmp_path):
    from ansible_collections.k0rdent.audit.plugins.modules import k0s_config

    path = tmp_path / "k0s.yaml"
    path.write_text(K0S_YAML_WITH_OPERATOR_FLAGS)
    before = path.read_bytes()
    wanted = {"audit-log-path": "/var/log/k0s/audit.log", "audit-log-maxage": 7}
    info = run(config_path=str(path), config_extra_args=wanted, config_remove_extra_args=["audit-log-compress"])
    checked = run_main(
        k0s_config.main, check=True, path=str(path), extra_args=wanted, remove_extra_args=["audit-log-compress"],
        validate="",
    )  # fmt: skip
    plan = info["config_plan"]
    assert plan["error"] == ""
    for key in ("changed", "created", "removed", "extra_args", "previous_extra_args", "raw_args", "audit_raw_args"):
        assert plan[key] == checked[key], key
    assert plan["changed"] is True and plan["previous_extra_args"]["audit-log-maxage"] == "90"
    assert plan["audit_raw_args"] == ["--audit-log-maxbackup=3"]
    assert path.read_bytes() == before  # read only


def test_config_plan_of_a_file_already_as_wanted_and_of_a_missing_file(run, tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(K0S_YAML_WITH_OPERATOR_FLAGS)
    same = run(config_path=str(path), config_extra_args={"audit-log-maxage": "90"})["config_plan"]
    assert same["changed"] is False and same["error"] == ""
    missing = run(config_path=str(tmp_path / "none.yaml"), config_extra_args={"audit-log-maxage": 7})["config_plan"]
    assert missing["changed"] is True and missing["created"] is True
    assert not (tmp_path / "none.yaml").exists()
    nothing = run(config_path=str(tmp_path / "none.yaml"), config_remove_extra_args=["audit-log-maxage"])
    assert nothing["config_plan"]["changed"] is False


def test_config_plan_reports_a_refusal_instead_of_failing(run, tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text("- just\n- a list\n")
    info = run(config_path=str(path), config_extra_args={"audit-log-maxage": 7})
    assert "failed" not in info
    assert str(path) in info["config_plan"]["error"] and info["config_plan"]["changed"] is False
    bad_value = run(config_path=str(tmp_path / "x.yaml"), config_extra_args={"audit-log-maxage": [1]})
    assert "audit-log-maxage" in bad_value["config_plan"]["error"]


def test_no_config_plan_unless_asked_and_groups_reported(run, tmp_path):
    info = run(config_path=str(tmp_path / "k0s.yaml"), groups=["root", "no-such-group-k0s-audit"])
    assert "config_plan" not in info
    assert info["groups"] == {"root": True, "no-such-group-k0s-audit": False}


def test_config_plan_carries_the_validation_refusal(run_main, monkeypatch, tmp_path):
    monkeypatch.setattr(k0s_host_info, "systemctl_show", lambda module, name: ({"LoadState": "not-found"}, ""))
    monkeypatch.setattr(k0s_host_info, "find_supervised_apiserver", lambda main_pid: None)
    monkeypatch.setattr(k0s_host_info, "k0s_validate_command", lambda module: "false %s")
    path = tmp_path / "k0s.yaml"
    path.write_text(K0S_YAML_WITH_OPERATOR_FLAGS)
    plan = run_main(k0s_host_info.main, config_path=str(path), config_extra_args={"audit-log-maxage": 7})["config_plan"]
    assert "refused the new content" in plan["error"] and plan["changed"] is True


# ------------------------------------------------------------------ hostile units, files and processes


@pytest.fixture
def no_hang():
    """Fail, instead of hanging the test run, when the code under test blocks (a FIFO opened for reading)."""

    def alarm(_signum, _frame):
        raise TimeoutError("blocked for 5 seconds")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _unit(tmp_path, text, name="k0scontroller.service"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _resolve(tmp_path, exec_text, drop_ins=(), extra="", **props):
    fragment = _unit(tmp_path, "[Unit]\nDescription=k0s\n\n[Service]\n%sExecStart=%s\n" % (extra, exec_text))
    paths = []
    for index, text in enumerate(drop_ins):
        path = tmp_path / ("%02d-drop.conf" % index)
        path.write_text(text)
        paths.append(str(path))
    return _systemd_unit.exec_start(
        "k0scontroller", {"LoadState": "loaded", "FragmentPath": fragment, "DropInPaths": " ".join(paths), **props}
    )


@pytest.mark.parametrize(
    ("exec_text", "argv"),
    [
        (
            '/usr/local/bin/k0s controller "--config=/etc/k0s/my k0s.yaml"',
            ["/usr/local/bin/k0s", "controller", "--config=/etc/k0s/my k0s.yaml"],
        ),
        (
            '/usr/local/bin/k0s controller "--config=/etc/k0s/o\'brien.yaml"',
            ["/usr/local/bin/k0s", "controller", "--config=/etc/k0s/o'brien.yaml"],
        ),
        (
            "/usr/local/bin/k0s controller --config='/etc/k0s/a b.yaml'",
            ["/usr/local/bin/k0s", "controller", "--config=/etc/k0s/a b.yaml"],
        ),
        (
            "/usr/local/bin/k0s controller --config=/etc/k0s/a\\x20b.yaml",
            ["/usr/local/bin/k0s", "controller", "--config=/etc/k0s/a b.yaml"],
        ),
        ("-/usr/local/bin/k0s controller --single", ["/usr/local/bin/k0s", "controller", "--single"]),
        ("@/usr/local/bin/k0s k0s controller -c /e/k.yaml", ["k0s", "controller", "-c", "/e/k.yaml"]),
        (
            "/usr/local/bin/k0s controller --data-dir=/srv/100%%",
            ["/usr/local/bin/k0s", "controller", "--data-dir=/srv/100%"],
        ),
        ("/usr/local/bin/k0s controller \\; --single", ["/usr/local/bin/k0s", "controller", ";", "--single"]),
    ],
)
def test_exec_start_is_unquoted_as_systemd_unquotes_it(tmp_path, exec_text, argv):
    assert _resolve(tmp_path, exec_text) == (argv, argv)


def test_variables_come_from_environment_and_environment_files(tmp_path):
    env_file = tmp_path / "k0s.env"
    env_file.write_text("# k0s\nK0S_CONFIG='/etc/k0s/from file.yaml'\nK0S_FLAGS=--single  --data-dir=/srv/k0s\n")
    extra = (
        'Environment="K0S_BIN=/usr/local/bin/k0s" K0S_CONFIG=/etc/k0s/overridden.yaml\n'
        "EnvironmentFile=%s\nEnvironmentFile=-%s\n" % (env_file, tmp_path / "missing.env")
    )
    shown, argv = _resolve(tmp_path, "${K0S_BIN} controller --config=${K0S_CONFIG} $K0S_FLAGS", extra=extra)
    assert argv == [
        "/usr/local/bin/k0s", "controller", "--config=/etc/k0s/from file.yaml", "--single", "--data-dir=/srv/k0s"
    ]  # fmt: skip
    # What is returned shows the variables, not their values (an environment file may hold secrets).
    assert shown == ["${K0S_BIN}", "controller", "--config=${K0S_CONFIG}", "$K0S_FLAGS"]
    found = _k0s_controller.parse_controller_args(argv)
    assert found["config_path"] == "/etc/k0s/from file.yaml" and found["single"] and found["data_dir"] == "/srv/k0s"


def test_dollar_dollar_and_a_braceless_name_inside_a_word_stay_literal(tmp_path):
    _shown, argv = _resolve(tmp_path, "/bin/k0s controller --x=$$HOME --y=a$B", extra="Environment=B=1\n")
    assert argv == ["/bin/k0s", "controller", "--x=$HOME", "--y=a$B"]


def test_drop_ins_reset_and_replace_exec_start(tmp_path):
    drop_in = "[Service]\nExecStart=\nExecStart=/usr/local/bin/k0s controller --config=/etc/k0s/other.yaml\n"
    _shown, argv = _resolve(tmp_path, "/usr/local/bin/k0s controller", drop_ins=[drop_in])
    assert argv == ["/usr/local/bin/k0s", "controller", "--config=/etc/k0s/other.yaml"]
    # A later drop-in's Environment= wins, and an empty EnvironmentFile= resets the list.
    _shown, argv = _resolve(
        tmp_path,
        "/usr/local/bin/k0s controller --config=${C}",
        extra="Environment=C=/a.yaml\n",
        drop_ins=["[Service]\nEnvironment=C=/b.yaml\n", "[Service]\nEnvironment=C=/c.yaml\nEnvironmentFile=\n"],
    )
    assert argv[-1] == "--config=/c.yaml"


def test_drop_ins_are_found_when_the_unit_files_are_read_directly(tmp_path):
    etc, lib = tmp_path / "etc", tmp_path / "lib"
    (etc / "k0scontroller.service.d").mkdir(parents=True)
    (lib / "k0scontroller.service.d").mkdir(parents=True)
    (lib / "k0scontroller.service").write_text("[Service]\nExecStart=/usr/local/bin/k0s controller\n")
    (lib / "k0scontroller.service.d" / "20-single.conf").write_text(
        "[Service]\nExecStart=\nExecStart=/bin/k0s controller --single\n"
    )
    (etc / "k0scontroller.service.d" / "30-config.conf").write_text(
        "[Service]\nExecStart=\nExecStart=/bin/k0s controller -c /x.yaml\n"
    )
    props = _systemd_unit.unit_from_files("k0scontroller", unit_dirs=(str(etc), str(lib)))
    assert props["LoadState"] == "loaded" and props["FragmentPath"] == str(lib / "k0scontroller.service")
    assert _systemd_unit.exec_start("k0scontroller", props)[1] == ["/bin/k0s", "controller", "-c", "/x.yaml"]
    # A drop-in of the same name in a directory of higher precedence masks the other one.
    (etc / "k0scontroller.service.d" / "30-config.conf").rename(etc / "k0scontroller.service.d" / "20-single.conf")
    props = _systemd_unit.unit_from_files("k0scontroller", unit_dirs=(str(etc), str(lib)))
    assert _systemd_unit.exec_start("k0scontroller", props)[1] == ["/bin/k0s", "controller", "-c", "/x.yaml"]
    assert _systemd_unit.unit_from_files("nothing", unit_dirs=(str(etc), str(lib)))["LoadState"] == "not-found"


@pytest.mark.parametrize(
    ("exec_text", "extra", "drop_ins", "needle"),
    [
        ("/bin/k0s controller --config=${NOPE}", "", [], "NOPE"),
        ("/bin/k0s controller $NOPE", "", [], "NOPE"),
        ('/bin/k0s controller "--config=/etc/k0s/x.yaml', "", [], "quote"),
        ("/bin/k0s controller", "EnvironmentFile=/nonexistent/k0s.env\n", [], "/nonexistent/k0s.env"),
        ("/bin/k0s controller", "", ["[Service]\nExecStart=/bin/k0s controller --single\n"], "2 commands"),
        ("/bin/k0s controller", "", ["[Service]\nExecStart=\n"], "no ExecStart"),
        ("/bin/k0s controller --data-dir=%h/k0s", "", [], "%h"),
        ("/bin/k0s controller ; /bin/true", "", [], "several commands"),
    ],
)
def test_a_command_line_that_cannot_be_resolved_is_refused_in_one_sentence(
    tmp_path, exec_text, extra, drop_ins, needle
):
    with pytest.raises(_systemd_unit.UnitRefused) as refused:
        _resolve(tmp_path, exec_text, extra=extra, drop_ins=drop_ins)
    message = str(refused.value)
    assert needle in message and "k0scontroller" in message and message.endswith("."), message
    assert "\n" not in message


def test_secret_values_of_an_environment_file_never_appear_in_a_refusal(tmp_path):
    env_file = tmp_path / "k0s.env"
    env_file.write_text("TOKEN=s3cr3t-value\n")
    with pytest.raises(_systemd_unit.UnitRefused) as refused:
        _resolve(tmp_path, "/bin/k0s controller --token=${TOKEN} ${MISSING}", extra="EnvironmentFile=%s\n" % env_file)
    assert "s3cr3t" not in str(refused.value) and "MISSING" in str(refused.value)


def test_units_changed_since_systemd_loaded_them_are_refused(tmp_path):
    with pytest.raises(_systemd_unit.UnitRefused, match="daemon-reload"):
        _resolve(tmp_path, "/bin/k0s controller", NeedDaemonReload="yes")


def test_show_is_the_fallback_without_a_readable_unit_file():
    show = {
        "LoadState": "loaded",
        "FragmentPath": "",
        "ExecStart": "{ path=/usr/local/bin/k0s ; argv[]=/usr/local/bin/k0s controller --single ; ignore_errors=no }",
    }
    assert _systemd_unit.exec_start("k0scontroller", show)[1] == ["/usr/local/bin/k0s", "controller", "--single"]


def test_fifos_in_place_of_unit_or_environment_files_are_refused_without_blocking(tmp_path, no_hang):
    fifo = tmp_path / "k0s.env"
    os.mkfifo(fifo)
    with pytest.raises(_systemd_unit.UnitRefused, match="FIFO"):
        _resolve(tmp_path, "/bin/k0s controller", extra="EnvironmentFile=%s\n" % fifo)
    unit_fifo = tmp_path / "fifo.service"
    os.mkfifo(unit_fifo)
    with pytest.raises(_systemd_unit.UnitRefused, match="FIFO"):
        _systemd_unit.exec_start("k0scontroller", {"LoadState": "loaded", "FragmentPath": str(unit_fifo)})


class _Module:
    def __init__(self, path, result=(0, "LoadState=loaded\nActiveState=active\nMainPID=12\n", "")):
        self.path, self.result, self.ran = path, result, []

    def get_bin_path(self, name):
        return self.path

    def run_command(self, args):
        self.ran.append(args)
        return self.result


def test_a_missing_or_failing_systemctl_is_a_warning():
    props, warning = _systemd_unit.systemctl_show(_Module(None), "k0scontroller")
    assert props == {} and "systemctl" in warning and "k0scontroller" in warning
    failing = _Module("/bin/systemctl", (1, "", "System has not been booted with systemd as init system (PID 1).\n"))
    props, warning = _systemd_unit.systemctl_show(failing, "k0scontroller")
    assert props == {} and "System has not been booted" in warning and "k0scontroller" in warning
    props, warning = _systemd_unit.systemctl_show(_Module("/bin/systemctl"), "k0scontroller")
    assert warning == "" and props["MainPID"] == "12"


def _proc(proc, pid, ppid, comm, argv=(), uid=0):
    base = proc / str(pid)
    base.mkdir(parents=True)
    (base / "status").write_text("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\n" % (comm, uid, uid, uid, uid))
    (base / "cmdline").write_bytes(b"\0".join(a.encode() for a in (argv or [comm])) + b"\0")
    (base / "stat").write_text("%d (%s) S %d " % (pid, comm, ppid) + " ".join(["0"] * 17) + " 500 0\n")
    (base / "comm").write_text(comm + "\n")


def test_the_live_api_server_is_the_one_this_k0s_supervises(tmp_path):
    (tmp_path / "stat").write_text("btime 1700000000\n")
    _proc(tmp_path, 5, 1, "kube-apiserver", ["kube-apiserver", "--audit-log-path=/tmp/other.log"], uid=7)
    _proc(tmp_path, 11, 1, "sh")  # the unit's MainPID: a wrapper shell that runs k0s
    _proc(tmp_path, 12, 11, "k0s")
    _proc(tmp_path, 40, 12, "kube-apiserver", ["kube-apiserver", "--audit-log-maxage=7"], uid=998)
    live = _k0s_controller.find_supervised_apiserver(11, str(tmp_path))
    assert (live["pid"], live["uid"], live["audit_args"]) == (40, 998, {"audit-log-maxage": "7"})
    assert 1700000000 < live["started"] < 1700000100
    assert _k0s_controller.find_supervised_apiserver(12, str(tmp_path))["pid"] == 40
    # Another k0s (or none) supervises only the process outside this tree: not this controller's.
    assert _k0s_controller.find_supervised_apiserver(0, str(tmp_path)) is None
    assert _k0s_controller.find_supervised_apiserver(99, str(tmp_path)) is None


def test_fifos_at_the_config_and_policy_paths_are_reported_not_read(run, tmp_path, no_hang):
    config, policy = tmp_path / "k0s.yaml", tmp_path / "audit-policy.yaml"
    os.mkfifo(config)
    os.mkfifo(policy)
    info = run(config_path=str(config), policy_path=str(policy), stat_paths=[str(policy)])
    assert (
        info["config"]["error"]
        == "%s is a named pipe (FIFO), not a regular file: the k0s config file must be one." % config
    )
    assert info["policy"]["error"] == (
        "%s is a named pipe (FIFO), not a regular file: k0s_audit_policy_path must name a regular file or nothing."
        % policy
    )
    assert info["stats"][str(policy)]["checksum"] is None
    assert any(str(config) in w for w in _warnings(info)) and any(str(policy) in w for w in _warnings(info))


def test_without_systemctl_the_unit_is_read_from_its_files_with_a_warning(run_main, monkeypatch, tmp_path):
    lib = tmp_path / "lib"
    (lib / "k0scontroller.service.d").mkdir(parents=True)
    (lib / "k0scontroller.service").write_text("[Service]\nExecStart=/usr/local/bin/k0s controller\n")
    (lib / "k0scontroller.service.d" / "config.conf").write_text(
        "[Service]\nExecStart=\nExecStart=/bin/k0s controller -c /x.yaml\n"
    )
    monkeypatch.setattr(_systemd_unit, "UNIT_DIRS", (str(lib),))
    monkeypatch.setattr(k0s_host_info, "systemctl_show", lambda module, name: ({}, "systemctl was not found"))
    info = run_main(k0s_host_info.main)
    assert info["controller"]["config_path"] == "/x.yaml" and info["service"]["exists"]
    assert _warnings(info) == ["systemctl was not found"]


def test_an_unresolvable_command_line_fails_the_module_in_one_sentence(run_main, monkeypatch, tmp_path):
    unit = _unit(tmp_path, "[Service]\nExecStart=/bin/k0s controller --config=${UNSET}\n")
    props = {"LoadState": "loaded", "ActiveState": "active", "FragmentPath": unit, "DropInPaths": ""}
    monkeypatch.setattr(k0s_host_info, "systemctl_show", lambda module, name: (props, ""))
    info = run_main(k0s_host_info.main)
    assert info["failed"] and "UNSET" in info["msg"] and "k0scontroller" in info["msg"]


def _warnings(info):
    """The warnings' texts, whichever form this ansible-core gives them in."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in info.get("warnings", [])]
