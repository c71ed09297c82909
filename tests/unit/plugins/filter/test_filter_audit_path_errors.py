from __future__ import annotations

import pytest

from ansible_collections.k0rdent.audit.plugins.filter.audit_path_errors import audit_path_errors

CONFIG = "/etc/k0s/k0s.yaml"


def test_the_defaults_pass():
    assert audit_path_errors("/etc/k0s/audit-policy.yaml", "/var/log/k0s/audit.log", CONFIG) == []
    assert audit_path_errors("/etc/k0s/audit-policy.yaml", "-", CONFIG) == []


@pytest.mark.parametrize(
    ("log_path", "needle"),
    [
        ("/", "k0s_audit_log_path is /, a directory"),
        ("/var/log/kube-audit.log", "whose directory /var/log is a system directory"),
        ("/audit.log", "whose directory / is a system directory"),
        ("/etc/k0s/audit.log", "the directory of the k0s config file"),
        ("/var/lib/k0s/audit.log", "the k0s data directory"),
        ("/var/log/k0s/", "a directory: give the path of a file in it, for example /var/log/k0s/audit.log"),
        ("var/log/k0s/audit.log", "a relative path"),
        ("/var/log/k0s/../k0s/audit.log", "write it as /var/log/k0s/audit.log"),
        ("//var/log/k0s/audit.log", "not a normalised path"),
        ("/var/log/k0s/.", "a directory"),
        (CONFIG, "the k0s config file itself"),
    ],
)
def test_log_paths_that_would_damage_the_host(log_path, needle):
    errors = audit_path_errors("/etc/k0s/audit-policy.yaml", log_path, CONFIG)
    assert any(needle in e for e in errors), errors
    assert all(e.startswith("k0s_audit_log_path") for e in errors)


def test_policy_path_equal_to_the_config_file_is_refused():
    errors = audit_path_errors(CONFIG, "/var/log/k0s/audit.log", CONFIG)
    assert errors == [
        "k0s_audit_policy_path is /etc/k0s/k0s.yaml, the k0s config file itself: writing the policy there would"
        " replace k0s.yaml; choose another file, such as /etc/k0s/audit-policy.yaml"
    ]


def test_a_custom_config_path_and_data_dir_are_judged_too():
    errors = audit_path_errors("/etc/k0s/p.yaml", "/srv/k0s-data/audit.log", "/srv/cfg/k0s.yaml", "/srv/k0s-data")
    assert errors and "the k0s data directory" in errors[0]
    assert audit_path_errors("/srv/cfg/p.yaml", "/srv/audit/audit.log", "/srv/cfg/k0s.yaml") == []


def test_log_and_policy_may_not_share_a_file():
    errors = audit_path_errors("/var/log/k0s/audit.log", "/var/log/k0s/audit.log", CONFIG)
    assert errors == [
        "k0s_audit_log_path and k0s_audit_policy_path are both /var/log/k0s/audit.log: give each its own file"
    ]


@pytest.mark.parametrize("bad", ["", None, "etc/k0s/p.yaml", "/etc/k0s/"])
def test_bad_policy_paths(bad):
    errors = audit_path_errors(bad, "/var/log/k0s/audit.log", CONFIG)
    assert len(errors) == 1 and errors[0].startswith("k0s_audit_policy_path")
