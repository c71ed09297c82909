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


POLICY = "/etc/k0s/audit-policy.yaml"
LOG = "/var/log/k0s/audit.log"


def _suggested(error):
    """The path an error's advice gives (its last word that is an absolute path)."""
    words = [w.rstrip(".,;:") for w in error.split() if w.startswith("/")]
    return words[-1]


@pytest.mark.parametrize(
    "log_path",
    [
        "/var/log/kube-audit.log",
        "/audit.log",
        "/etc/k0s/audit.log",
        "/var/lib/k0s/audit.log",
        "/var/log/k0s/",
        "var/log/k0s/audit.log",
        "audit.log",
        "/var/log/k0s/../k0s/audit.log",
        "//var/log/k0s/audit.log",
        "/var/log/k0s/audit.log\n",
        "/var/log/k0s/audit.log ",
        " /var/log/k0s/audit.log",
        "/var/log/k0s/audit.log\r\n",
    ],
)
def test_the_advice_for_a_log_path_is_a_path_that_passes(log_path):
    errors = audit_path_errors(POLICY, log_path, CONFIG)
    assert len(errors) == 1 and errors[0].startswith("k0s_audit_log_path"), errors
    fixed = _suggested(errors[0])
    assert audit_path_errors(POLICY, fixed, CONFIG) == [], (errors[0], fixed)


@pytest.mark.parametrize(
    "policy_path",
    ["etc/k0s/audit-policy.yaml", "/etc/k0s/", CONFIG, "/etc/k0s/audit-policy.yaml\n", "/var/log/k0s/policy.yaml"],
)
def test_the_advice_for_a_policy_path_is_a_path_that_passes(policy_path):
    errors = audit_path_errors(policy_path, LOG, CONFIG)
    assert len(errors) == 1 and errors[0].startswith("k0s_audit_policy_path"), errors
    fixed = _suggested(errors[0])
    assert audit_path_errors(fixed, LOG, CONFIG) == [], (errors[0], fixed)


def test_a_relative_path_is_fixed_by_a_leading_slash_when_that_passes():
    errors = audit_path_errors(POLICY, "var/log/k0s/audit.log", CONFIG)
    assert _suggested(errors[0]) == "/var/log/k0s/audit.log"


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/var/log/k0s/audit.log\n", "ends with a line break"),
        ("/var/log/k0s/audit.log ", "ends with whitespace"),
        ("\t/var/log/k0s/audit.log", "starts with whitespace"),
        ("/var/log/k0s/au\x00dit.log", "a NUL byte"),
        ("/var/log/k0s/au\ndit.log", "a control character"),
    ],
)
def test_invisible_characters_are_refused_by_name(path, needle):
    for errors, name in (
        (audit_path_errors(POLICY, path, CONFIG), "k0s_audit_log_path"),
        (
            audit_path_errors(path.replace("/var/log/k0s/audit", "/etc/k0s/policy"), LOG, CONFIG),
            "k0s_audit_policy_path",
        ),
    ):
        assert len(errors) == 1 and errors[0].startswith(name) and needle in errors[0], errors


def test_a_yaml_block_scalar_with_its_line_break_is_refused_with_the_stripped_path():
    errors = audit_path_errors(POLICY, "/var/log/k0s/audit.log\n", CONFIG)
    assert "write it as /var/log/k0s/audit.log" in errors[0]
    assert "\n" not in errors[0]  # the message shows the value escaped, not a raw line break


def test_names_and_paths_longer_than_the_kernel_allows_are_refused():
    long_name = "/var/log/k0s/" + "a" * 256 + ".log"
    errors = audit_path_errors(POLICY, long_name, CONFIG)
    assert len(errors) == 1 and "255 bytes" in errors[0] and errors[0].startswith("k0s_audit_log_path"), errors
    # 255 bytes is the limit, counted in bytes of UTF-8, not in characters
    assert audit_path_errors(POLICY, "/var/log/k0s/" + "a" * 251 + ".log", CONFIG) == []
    assert "255 bytes" in audit_path_errors(POLICY, "/var/log/k0s/" + "\u00e9" * 128 + ".log", CONFIG)[0]
    deep = "/var/log/k0s" + "/d" * 2050 + "/audit.log"
    errors = audit_path_errors(POLICY, deep, CONFIG)
    assert len(errors) == 1 and "4096" in errors[0], errors
    errors = audit_path_errors("/etc/k0s/" + "p" * 300 + ".yaml", LOG, CONFIG)
    assert len(errors) == 1 and errors[0].startswith("k0s_audit_policy_path") and "255 bytes" in errors[0]


@pytest.mark.parametrize("policy_path", ["/var/log/k0s/audit-policy.yaml", "/var/log/k0s/sub/audit-policy.yaml"])
def test_the_policy_may_not_lie_in_the_log_directory(policy_path):
    errors = audit_path_errors(policy_path, LOG, CONFIG)
    assert len(errors) == 1, errors
    assert errors[0].startswith("k0s_audit_policy_path is %s, inside /var/log/k0s" % policy_path)
    assert "can write there" in errors[0]
    # a directory whose name merely starts the same is another directory
    assert audit_path_errors("/var/log/k0s-policy/audit-policy.yaml", LOG, CONFIG) == []
    # with the log on standard output there is no log directory
    assert audit_path_errors(policy_path, "-", CONFIG) == []
