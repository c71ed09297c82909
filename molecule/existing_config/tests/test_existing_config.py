"""An operator's k0s.yaml on the real k0s: only our flags change; comments, other keys, owner and mode stay; the secret
stays hidden; the restarted kube-apiserver runs with the operator's flags and ours."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))

from _real_k0s import apiserver_account, apiserver_args, apiserver_starts

OUR_FLAGS = {
    "audit-policy-file": "/etc/k0s/audit-policy.yaml",
    "audit-log-path": "/var/log/k0s/audit.log",
    "audit-log-maxage": "7",
    "audit-log-maxbackup": "5",
    "audit-log-maxsize": "100",
}
SECRET = "S3cr3t-Passw0rd"


def test_only_the_audit_flags_were_added(host, strict_k0s):
    before = strict_k0s(host.file("/root/k0s.yaml.prepared").content_string)
    after = strict_k0s(host.file("/etc/k0s/k0s.yaml").content_string)
    added = after["spec"]["api"]["extraArgs"]
    assert added == {**before["spec"]["api"]["extraArgs"], **OUR_FLAGS}
    before["spec"]["api"].pop("extraArgs")
    after["spec"]["api"].pop("extraArgs")
    assert after == before


def test_comments_and_untouched_lines_are_kept(host):
    before = host.file("/root/k0s.yaml.prepared").content_string.splitlines()
    after = host.file("/etc/k0s/k0s.yaml").content_string.splitlines()
    assert "# Managed by hand: keep this comment." in after
    assert any("# a non-default user" in line for line in after)
    assert [line for line in after if not any(flag in line for flag in OUR_FLAGS)] == before


def test_owner_and_mode_are_kept(host):
    config = host.file("/etc/k0s/k0s.yaml")
    assert (config.user, config.group, config.mode) == ("root", "root", 0o600)


def test_a_backup_exists_and_is_no_more_readable(host):
    backups = host.run("ls /etc/k0s/ | grep '^k0s.yaml\\..*~$'").stdout.split()
    assert len(backups) == 1, backups
    backup = host.file("/etc/k0s/" + backups[0])
    assert backup.mode & 0o077 == 0
    assert backup.content_string == host.file("/root/k0s.yaml.prepared").content_string


def test_the_configured_api_server_user_owns_the_log_directory(host):
    directory = host.file("/var/log/k0s")
    assert directory.user == "audit-apiserver"
    # k0s runs kube-apiserver as kube-apiserver whatever kubeAPIserverUser says (k0s issue 4265); that account
    # exists here because the file names it as kineUser and `k0s install controller` created it. The role lets it
    # write through an ACL, whose mask is what the group bits of the mode show (0750 plus the ACL reads 0770).
    assert apiserver_account(host) == "kube-apiserver:root"
    acl = host.run("getfacl -cp /var/log/k0s").stdout.splitlines()
    assert {"user::rwx", "group::r-x", "other::---", "user:kube-apiserver:rwx", "mask::rwx"} <= set(acl), acl
    assert host.file("/var/log/k0s/audit.log").user == "kube-apiserver"


def test_the_file_passes_k0s_config_validate(host):
    assert host.run("k0s config validate --config /etc/k0s/k0s.yaml").rc == 0


def test_diff_never_shows_the_database_password(playbook):
    result = playbook("k0rdent.audit.enable", "--check", "--diff", "-e", "k0s_audit_log_maxage=9")
    assert "audit-log-maxage" in result.stdout
    assert "********" in result.stdout
    assert SECRET not in result.stdout


def test_the_policy_is_valid_yaml(host, seed_policy):
    assert yaml.safe_load(host.file("/etc/k0s/audit-policy.yaml").content_string) == seed_policy


def test_the_restarted_controller_runs_the_operators_flags_and_the_audit_flags(host):
    args = apiserver_args(host)
    assert "--tls-min-version=VersionTLS12" in args and "--http2-max-streams-per-connection=1000" in args
    assert "--audit-log-path=/var/log/k0s/audit.log" in args
    assert "--audit-policy-file=/etc/k0s/audit-policy.yaml" in args
    starts = apiserver_starts(host)
    assert len(starts) >= 2 and starts[0].flags["audit-log-path"] == "", "the role did not restart the controller"
    assert starts[0].flags["tls-min-version"] == "VersionTLS12"
    assert host.file("/var/log/k0s/audit.log").size > 0


def test_storage_is_the_operators_kine_data_source(host):
    kine = host.run("ps -o args= -C kine").stdout.strip()
    assert kine.startswith("/var/lib/k0s/bin/kine "), kine
    assert f"_auth_pass={SECRET}" in kine and "--endpoint=sqlite://file:/var/lib/k0s/db/state.db?" in kine, kine
