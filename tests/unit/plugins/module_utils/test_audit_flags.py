from __future__ import annotations

import pytest

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_flags import (
    AUDIT_FLAGS,
    audit_flag_errors,
    flag_value_to_string,
)


def test_valid_flags_have_no_errors():
    flags = {
        "audit-log-maxage": 30,
        "audit-log-maxbackup": "10",
        "audit-log-compress": True,
        "audit-log-format": "json",
        "audit-log-mode": "blocking-strict",
        "audit-log-batch-max-wait": "1m30s",
        "audit-log-batch-throttle-qps": "2.5",
        "audit-webhook-config-file": "/etc/k0s/webhook.yaml",
        "service-node-port-range": "30000-32767",
    }
    assert audit_flag_errors(flags) == []


def test_misspelled_flag_suggests_the_nearest_name():
    assert audit_flag_errors({"audit-log-maxag": 3}, source_name="k0s_audit_extra_args") == [
        "k0s_audit_extra_args.audit-log-maxag: kube-apiserver has no such audit flag and would refuse to start;"
        ' did you mean "audit-log-maxage"?'
    ]


def test_unknown_flag_far_from_any_name_points_at_help():
    (error,) = audit_flag_errors({"audit-everything": "yes"})
    assert error.endswith("see kube-apiserver --help for the audit flags")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("audit-log-maxage", -1, "must be a non-negative integer, not '-1'"),
        ("audit-log-maxage", "7d", "must be a non-negative integer, not '7d'"),
        ("audit-log-format", "xml", "must be one of json, legacy, not 'xml'"),
        ("audit-log-mode", "async", "must be one of batch, blocking, blocking-strict, not 'async'"),
        ("audit-log-compress", "maybe", "must be true or false, not 'maybe'"),
        ("audit-log-batch-max-wait", "5 seconds", "must be a duration such as 5s or 1m30s, not '5 seconds'"),
        ("audit-log-path", "", "must not be empty"),
        ("audit-log-maxsize", [100], "must be a single value, not list"),
        ("audit-log-maxsize", None, "must be a single value, not null"),
    ],
)
def test_wrong_values_are_named(name, value, message):
    assert audit_flag_errors({name: value}) == ["extra_args.%s: %s" % (name, message)]


@pytest.mark.parametrize("name", ["--audit-log-maxage", "", "audit log", "audit-log-maxage=7"])
def test_badly_written_names(name):
    (error,) = audit_flag_errors({name: "7"})
    assert "without leading dashes" in error


def test_not_a_mapping():
    assert audit_flag_errors(["audit-log-maxage"], source_name="x") == [
        "x must be a mapping of kube-apiserver flag names to values, not list"
    ]


def test_values_are_spelled_as_k0s_needs_them():
    assert flag_value_to_string(True) == "true"
    assert flag_value_to_string(False) == "false"
    assert flag_value_to_string(7) == "7"
    assert flag_value_to_string("/var/log/k0s/audit.log") == "/var/log/k0s/audit.log"


def test_every_flag_is_an_audit_flag():
    assert all(name.startswith("audit-") for name in AUDIT_FLAGS)
