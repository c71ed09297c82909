from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.k0rdent.audit.plugins.modules import k0s_host_info


class _Stat:
    def __init__(self, mode, uid=0, gid=0):
        self.st_mode = stat.S_IFDIR | mode
        self.st_uid = uid
        self.st_gid = gid


def test_traversal_uses_owner_then_group_then_other_bits():
    assert k0s_host_info._can_traverse(_Stat(0o700, uid=5), 5, {9})
    assert not k0s_host_info._can_traverse(_Stat(0o070, uid=5), 5, {0})  # owner bits win even when group allows
    assert k0s_host_info._can_traverse(_Stat(0o750, gid=9), 5, {9})
    assert not k0s_host_info._can_traverse(_Stat(0o750, gid=0), 5, {9})
    assert k0s_host_info._can_traverse(_Stat(0o751, gid=0), 5, {9})
    assert k0s_host_info._can_traverse(_Stat(0o700), 0, set())  # root traverses everything


def test_a_missing_user_is_judged_by_the_other_bits(tmp_path):
    os.chmod(tmp_path, 0o755)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o750)
    os.chmod(locked, 0o750)
    found = k0s_host_info._untraversable([str(locked / "sub" / "audit.log")], None, set())
    assert [entry["path"] for entry in found if entry["path"].startswith(str(tmp_path))] == [str(locked)]
    assert found[-1]["mode"] == "0750"


def test_parents_are_listed_from_the_root_down():
    assert list(k0s_host_info._parents("/etc/k0s/audit-policy.yaml")) == ["/", "/etc", "/etc/k0s"]


def test_disk_measures_the_nearest_existing_ancestor(tmp_path):
    disk = k0s_host_info._disk(str(tmp_path / "not" / "yet"))
    assert disk["path"] == str(tmp_path)
    assert 0 <= disk["free_mb"] <= disk["total_mb"]
    assert k0s_host_info._disk(None) == {}


def test_account_of_a_missing_user():
    info, uid, gids = k0s_host_info._account("no-such-user-k0s-audit")
    assert info == {"name": "no-such-user-k0s-audit", "exists": False, "uid": None, "group": None, "groups": []}
    assert (uid, gids) == (None, set())


def test_account_of_root():
    info, uid, gids = k0s_host_info._account("root")
    assert info["exists"] and uid == 0 and 0 in gids and info["group"] == "root"


def test_stat_reports_what_the_role_compares(tmp_path):
    policy = tmp_path / "audit-policy.yaml"
    policy.write_text("rules: []\n")
    os.chmod(policy, 0o644)
    found = k0s_host_info._stat(str(policy))
    assert found["exists"] and not found["isdir"] and not found["islnk"]
    assert found["mode"] == "0644"
    assert found["checksum"] == "6086d66762cb8b9581d573d3ddaa15929da10b91"  # sha1 of "rules: []\n"
    directory = k0s_host_info._stat(str(tmp_path))
    assert directory["isdir"] and directory["checksum"] is None
    assert k0s_host_info._stat(str(tmp_path / "missing")) == {"exists": False}


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


def test_exec_start_is_read_from_systemctl_show_and_else_from_the_unit_file(tmp_path):
    show = {
        "ExecStart": "{ path=/usr/local/bin/k0s ; argv[]=/usr/local/bin/k0s controller --single ; ignore_errors=no }"
    }
    assert k0s_host_info._exec_start_argv(show) == ["/usr/local/bin/k0s", "controller", "--single"]
    unit = tmp_path / "k0scontroller.service"
    unit.write_text("[Service]\nExecStart=/usr/local/bin/k0s controller \\\n  --config=/etc/k0s/custom.yaml\n")
    argv = k0s_host_info._exec_start_argv({"ExecStart": "", "FragmentPath": str(unit)})
    assert argv == ["/usr/local/bin/k0s", "controller", "--config=/etc/k0s/custom.yaml"]


def test_config_facts(tmp_path):
    missing = k0s_host_info._config(str(tmp_path / "k0s.yaml"))
    assert missing["exists"] is False and missing["api_port"] == 6443
    assert missing["kube_apiserver_user"] == "kube-apiserver"
    path = tmp_path / "k0s.yaml"
    path.write_text(
        "# generated-by-k0sctl 2026-11-30T10:00:00Z\napiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\n"
        "spec:\n  api: {port: 7443}\n  installConfig: {users: {kubeAPIserverUser: custom-api}}\n"
    )
    found = k0s_host_info._config(str(path))
    assert found["k0sctl_generated"] and found["api_port"] == 7443 and found["kube_apiserver_user"] == "custom-api"
    path.write_text("spec: [unclosed\n")
    assert k0s_host_info._config(str(path))["error"]


def test_a_log_directory_with_other_files_is_reported(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("audit.log", "audit-2026-11-30T10-00-00.000.log", "audit-2026-11-29T10-00-00.000.log.gz", "syslog"):
        (logs / name).write_text("x")
    found = k0s_host_info._foreign_files([str(logs)], [str(logs / "audit.log")])
    assert found == {str(logs): ["syslog"]}


def test_named_user_acl_entries_grant_access(tmp_path):
    # A version-2 ACL: user::rwx, user:4242:rwx, group::r-x, mask::r-x, other::---
    raw = b"\x02\x00\x00\x00" + b"".join(
        k0s_host_info._ACL_ENTRY.pack(tag, perm, ident)
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
        assert k0s_host_info._acl_user_perms("/x", 4242) == 5  # masked to r-x
        assert k0s_host_info._acl_user_perms("/x", 1) is None
        st = _Stat(0o750, uid=1, gid=1)
        assert k0s_host_info._access(st, "/x", 4242, {0}, 1)  # traverse through the ACL entry
        assert not k0s_host_info._access(st, "/x", 4242, {0}, 3)  # the mask takes write away
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
    monkeypatch.setattr(k0s_host_info, "_systemctl_show", lambda module, name: {})
    monkeypatch.setattr(k0s_host_info, "find_live_apiserver", lambda: None)
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
    monkeypatch.setattr(k0s_host_info, "_systemctl_show", lambda module, name: {})
    monkeypatch.setattr(k0s_host_info, "find_live_apiserver", lambda: None)
    monkeypatch.setattr(k0s_host_info, "k0s_validate_command", lambda module: "false %s")
    path = tmp_path / "k0s.yaml"
    path.write_text(K0S_YAML_WITH_OPERATOR_FLAGS)
    plan = run_main(k0s_host_info.main, config_path=str(path), config_extra_args={"audit-log-maxage": 7})["config_plan"]
    assert "refused the new content" in plan["error"] and plan["changed"] is True
