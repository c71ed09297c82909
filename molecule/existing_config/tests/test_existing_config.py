"""An operator's k0s.yaml: only our flags change; comments, other keys, owner and mode stay; the secret stays hidden."""

from __future__ import annotations

import json

import yaml

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
    assert (directory.user, directory.mode) == ("audit-apiserver", 0o750)
    assert not host.user("kube-apiserver").exists, "the role created the default user although k0s.yaml names another"


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
    ready = [
        line
        for line in host.file("/var/lib/k0s-standin/lifecycle.log").content_string.splitlines()
        if " ready " in line
    ]
    args = json.loads(ready[-1].split("args=", 1)[1])
    assert "--tls-min-version=VersionTLS12" in args and "--http2-max-streams-per-connection=1000" in args
    assert "--audit-log-path=/var/log/k0s/audit.log" in args
    assert host.file("/var/log/k0s/audit.log").size > 0
