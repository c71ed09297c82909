"""A fresh host: the role created the API server user, the log directory, the policy and k0s.yaml."""

from __future__ import annotations

import yaml

EXPECTED_FLAGS = {
    "audit-policy-file": "/etc/k0s/audit-policy.yaml",
    "audit-log-path": "/var/log/k0s/audit.log",
    "audit-log-maxage": "7",
    "audit-log-maxbackup": "5",
    "audit-log-maxsize": "100",
}


def test_api_server_user_is_a_system_account(host):
    user = host.user("kube-apiserver")
    assert user.exists
    assert user.uid < 1000
    assert user.shell == "/usr/sbin/nologin"
    assert user.group == "kube-apiserver"


def test_log_directory_belongs_to_the_api_server_user(host):
    directory = host.file("/var/log/k0s")
    assert directory.is_directory
    assert (directory.user, directory.group, directory.mode) == ("kube-apiserver", "kube-apiserver", 0o750)


def test_policy_file_is_readable_by_the_api_server_and_writable_by_root_only(host):
    policy = host.file("/etc/k0s/audit-policy.yaml")
    assert (policy.user, policy.group, policy.mode) == ("root", "root", 0o644)
    assert host.run("runuser -u kube-apiserver -g root -- cat /etc/k0s/audit-policy.yaml").rc == 0
    assert host.run("runuser -u kube-apiserver -- sh -c ': >> /etc/k0s/audit-policy.yaml'").rc != 0


def test_policy_is_the_k0rdent_baseline(host, seed_policy):
    text = host.file("/etc/k0s/audit-policy.yaml").content_string
    assert text.startswith("#"), "the ansible_managed header is missing"
    assert yaml.safe_load(text) == seed_policy


def test_new_k0s_yaml_carries_the_audit_flags_as_strings(host, strict_k0s):
    config = host.file("/etc/k0s/k0s.yaml")
    assert (config.user, config.group, config.mode) == ("root", "root", 0o600)
    parsed = strict_k0s(config.content_string)
    assert parsed["spec"]["api"]["extraArgs"] == EXPECTED_FLAGS


def test_without_ruamel_the_pyyaml_fallback_was_used(host):
    assert host.run("python3 -c 'import ruamel.yaml'").rc != 0
