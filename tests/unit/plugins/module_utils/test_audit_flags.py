from __future__ import annotations

import math

import pytest

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_flags import (
    AUDIT_FLAGS,
    audit_flag_errors,
    audit_flag_problems,
    audit_flag_warnings,
    flag_value_to_string,
    parse_go_bool,
    parse_go_duration,
    parse_go_float32,
    parse_go_int,
)

# The role's usual complete set: the log backend on, so audit.go's AuditLogOptions.Validate runs.
LOG_ON = {"audit-log-path": "/var/log/k0s/audit.log", "audit-policy-file": "/etc/k0s/audit-policy.yaml"}


def errors(flags, **kwargs):
    return audit_flag_errors({**LOG_ON, **flags}, **kwargs)


# ------------------------------------------------------------------------------------------------ the table

# What NewAuditOptions().AddFlags registers in k8s.io/apiserver v0.36.3 (pkg/server/options/audit.go), read there.
REGISTERED = {
    "audit-policy-file",
    *("audit-log-" + s for s in ("path", "maxage", "maxbackup", "maxsize", "format", "version", "compress")),
    "audit-webhook-config-file",
    "audit-webhook-initial-backoff",
    "audit-webhook-batch-initial-backoff",
    "audit-webhook-version",
    *(
        "audit-%s-%s" % (backend, option)
        for backend in ("log", "webhook")
        for option in (
            "mode",
            "batch-buffer-size",
            "batch-max-size",
            "batch-max-wait",
            "batch-throttle-enable",
            "batch-throttle-qps",
            "batch-throttle-burst",
            "truncate-enabled",
            "truncate-max-batch-size",
            "truncate-max-event-size",
        )
    ),
}


def test_the_table_is_exactly_the_registered_flags():
    assert set(AUDIT_FLAGS) == REGISTERED
    assert all(flag.name == name for name, flag in AUDIT_FLAGS.items())


def test_only_the_batch_initial_backoff_alias_is_deprecated():
    assert [name for name, flag in AUDIT_FLAGS.items() if flag.deprecated] == ["audit-webhook-batch-initial-backoff"]


@pytest.mark.parametrize(
    ("name", "kind", "default"),
    [
        ("audit-log-maxage", "int", "366"),
        ("audit-log-maxbackup", "int", "100"),
        ("audit-log-maxsize", "int", "100"),
        ("audit-log-mode", "string", "blocking"),
        ("audit-webhook-mode", "string", "batch"),
        ("audit-log-batch-max-size", "int", "1"),
        ("audit-webhook-batch-max-size", "int", "400"),
        ("audit-webhook-batch-max-wait", "duration", "30s"),
        ("audit-webhook-batch-throttle-qps", "float32", "10"),
        ("audit-webhook-initial-backoff", "duration", "10s"),
        ("audit-log-truncate-max-batch-size", "int64", "10485760"),
        ("audit-log-truncate-max-event-size", "int64", "102400"),
        ("audit-log-version", "string", "audit.k8s.io/v1"),
    ],
)
def test_kinds_and_defaults_are_kube_apiservers(name, kind, default):
    assert (AUDIT_FLAGS[name].kind, AUDIT_FLAGS[name].default) == (kind, default)


def test_every_default_parses_and_passes_validation():
    # The defaults alone, with both backends on, are what kube-apiserver starts with.
    flags = {name: flag.default for name, flag in AUDIT_FLAGS.items() if not flag.deprecated}
    flags.update({"audit-log-path": "-", "audit-webhook-config-file": "/etc/k0s/webhook.yaml", **LOG_ON})
    assert audit_flag_errors(flags) == []


# ---------------------------------------------------------------------------------------------- Go parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", (5, "")),
        ("+7", (7, "")),
        ("-1", (-1, "")),
        ("0x10", (16, "")),
        ("0X1f", (31, "")),
        ("0o17", (15, "")),
        ("0b101", (5, "")),
        ("010", (8, "")),
        ("0", (0, "")),
        ("1_000", (1000, "")),
        ("0x_1f", (31, "")),
        ("9223372036854775807", (2**63 - 1, "")),
        ("-9223372036854775808", (-(2**63), "")),
        ("9223372036854775808", (None, "range")),
        ("99999999999999999999999", (None, "range")),
        (" 5", (None, "syntax")),
        ("5 ", (None, "syntax")),
        ("1e3", (None, "syntax")),
        ("08", (None, "syntax")),
        ("0x", (None, "syntax")),
        ("_1", (None, "syntax")),
        ("1__0", (None, "syntax")),
        ("1_", (None, "syntax")),
        ("", (None, "syntax")),
        ("-", (None, "syntax")),
        ("٣", (None, "syntax")),
        ("7d", (None, "syntax")),
    ],
)
def test_integers_parse_like_strconv_parseint_base_0(text, expected):
    assert parse_go_int(text) == expected


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"])
def test_strconv_parsebool_words(text):
    assert parse_go_bool(text) == (text in ("1", "t", "T", "TRUE", "true", "True"), "")


@pytest.mark.parametrize("text", ["yes", "no", "on", "tRUE", " true", "true ", "", "2"])
def test_other_bool_words_are_refused(text):
    assert parse_go_bool(text) == (None, "syntax")


S = 10**9


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("5s", 5 * S),
        (".5s", S // 2),
        ("1.s", S),
        ("1h2m3.5s", 3723 * S + S // 2),
        ("-1.5h", -5400 * S),
        ("+300ms", 300 * 10**6),
        ("1us", 1000),
        ("1\u00b5s", 1000),
        ("1\u03bcs", 1000),
        ("1ns", 1),
        ("0s", 0),
        ("9223372036854775807ns", 2**63 - 1),
        ("-9223372036854775808ns", -(2**63)),
        ("2562047h", 2562047 * 3600 * S),
    ],
)
def test_durations_parse_like_time_parseduration(text, nanoseconds):
    assert parse_go_duration(text) == (nanoseconds, "")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "invalid duration"),
        ("-", "invalid duration"),
        ("1", "missing unit in duration"),
        ("00", "missing unit in duration"),
        (".s", "invalid duration"),
        (" 5s", "invalid duration"),
        ("5s ", 'unknown unit "s " in duration'),
        ("5 seconds", 'unknown unit " seconds" in duration'),
        ("1sec", 'unknown unit "sec" in duration'),
        ("1d", 'unknown unit "d" in duration'),
        ("9223372036854775808ns", "invalid duration"),
        ("2562048h", "invalid duration"),
    ],
)
def test_bad_durations_are_refused_with_gos_reason(text, reason):
    assert parse_go_duration(text) == (None, reason)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e3", 1000.0),
        ("2.5", 2.5),
        ("1.", 1.0),
        (".5", 0.5),
        ("-2", -2.0),
        ("1_000.5", 1000.5),
        ("0x1p-2", 0.25),
        ("1e-50", 0.0),
        ("Inf", math.inf),
        ("-infinity", -math.inf),
    ],
)
def test_floats_parse_like_strconv_parsefloat_32(text, value):
    assert parse_go_float32(text) == (value, "")


def test_float_nan_and_float32_rounding():
    assert math.isnan(parse_go_float32("NaN")[0])
    assert parse_go_float32("0.1")[0] != 0.1  # rounded to float32, as pflag's Float32Var stores it
    assert abs(parse_go_float32("0.1")[0] - 0.1) < 1e-8


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e39", "range"),
        ("0x1.8", "syntax"),
        ("+nan", "syntax"),
        (".", "syntax"),
        ("_1", "syntax"),
        ("1__0", "syntax"),
        (" 1", "syntax"),
        ("1 ", "syntax"),
        ("", "syntax"),
        ("1e", "syntax"),
        ("ten", "syntax"),
    ],
)
def test_bad_floats_are_refused(text, reason):
    assert parse_go_float32(text) == (None, reason)


# ------------------------------------------------------------------------------------------- the messages


def test_valid_flags_have_no_errors_nor_warnings():
    flags = {
        "audit-log-maxage": 30,
        "audit-log-maxbackup": "10",
        "audit-log-compress": True,
        "audit-log-format": "json",
        "audit-log-mode": "batch",
        "audit-log-batch-max-wait": "1m30s",
        "audit-log-batch-throttle-enable": "true",
        "audit-log-batch-throttle-qps": "2.5",
        "audit-log-batch-throttle-burst": "0x10",
        "service-node-port-range": "30000-32767",
    }
    assert errors(flags) == []
    assert audit_flag_warnings({**LOG_ON, **flags}) == []


def test_misspelled_flag_suggests_the_nearest_name():
    assert audit_flag_errors({"audit-log-maxag": 3}, source_name="k0s_audit_extra_args") == [
        "k0s_audit_extra_args.audit-log-maxag: kube-apiserver has no such audit flag and would refuse to start;"
        ' did you mean "audit-log-maxage"?'
    ]


def test_unknown_flag_far_from_any_name_points_at_help():
    (error,) = audit_flag_errors({"audit-everything": "yes"})
    assert error == (
        "extra_args.audit-everything: kube-apiserver has no such audit flag and would refuse to start; "
        "see kube-apiserver --help for the audit flags."
    )


def test_names_are_case_sensitive():
    assert audit_flag_errors({"Audit-Log-Maxage": "7"}) == [
        "extra_args.Audit-Log-Maxage: kube-apiserver flag names are case-sensitive and it would refuse to start; "
        'write "audit-log-maxage".'
    ]


def test_underscores_name_the_same_flag():
    assert errors({"audit_log_maxage": "7"}) == []
    assert errors({"audit_log_maxage": "-7"}) == [
        "extra_args.audit_log_maxage: kube-apiserver would not start (--audit-log-maxage -7 can't be a negative "
        "number); set 0 or more."
    ]


def test_both_spellings_of_one_flag_are_a_duplicate():
    assert errors({"audit-log-maxage": "7", "audit_log_maxage": "9"}, source_name="k0s_audit_extra_args") == [
        "k0s_audit_extra_args.audit_log_maxage: the same kube-apiserver flag as audit-log-maxage, which is given too "
        "(kube-apiserver reads _ as -); keep one."
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "audit-log-maxage",
            "7d",
            'kube-apiserver cannot read "7d" as an integer; write a whole number such as 30 (decimal, or with a '
            "0x, 0o or 0b prefix, no spaces).",
        ),
        (
            "audit-log-maxage",
            " 5",
            'kube-apiserver cannot read " 5" as an integer; write a whole number such as 30 (decimal, or with a '
            "0x, 0o or 0b prefix, no spaces).",
        ),
        (
            "audit-log-maxsize",
            "1e3",
            'kube-apiserver cannot read "1e3" as an integer; write a whole number such as 30 (decimal, or with a '
            "0x, 0o or 0b prefix, no spaces).",
        ),
        (
            "audit-log-truncate-max-event-size",
            "9223372036854775808",
            'kube-apiserver cannot read "9223372036854775808": it does not fit in a 64-bit integer; write a smaller '
            "number.",
        ),
        (
            "audit-log-compress",
            "yes",
            "kube-apiserver reads only true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False), "
            'not "yes"; write true or false.',
        ),
        (
            "audit-log-batch-max-wait",
            "5 seconds",
            'kube-apiserver cannot read "5 seconds" as a duration (time: unknown unit " seconds" in duration); '
            "write numbers with units ns, us, ms, s, m or h, such as 5s or 1m30s, without spaces.",
        ),
        (
            "audit-log-batch-throttle-qps",
            "1e39",
            'kube-apiserver cannot read "1e39": it is beyond a 32-bit float; write a smaller number.',
        ),
        (
            "audit-log-batch-throttle-qps",
            "fast",
            'kube-apiserver cannot read "fast" as a number; write a decimal number such as 2.5, without spaces.',
        ),
        ("audit-log-maxsize", [100], "must be a single value, not list."),
        ("audit-log-maxsize", None, "must be a single value, not null."),
        (
            "audit-policy-file",
            "",
            "is empty, which kube-apiserver reads as not set; give a path, or leave the flag out.",
        ),
    ],
)
def test_values_kube_apiserver_cannot_parse(name, value, message):
    assert errors({name: value}) == ["extra_args.%s: %s" % (name, message)]


@pytest.mark.parametrize(
    ("flags", "place", "upstream", "fix"),
    [
        (
            {"audit-log-maxage": -1},
            "audit-log-maxage",
            "--audit-log-maxage -1 can't be a negative number",
            "set 0 or more",
        ),
        (
            {"audit-log-maxbackup": "-0x2"},
            "audit-log-maxbackup",
            "--audit-log-maxbackup -2 can't be a negative number",
            "set 0 or more",
        ),
        (
            {"audit-log-maxsize": "-5"},
            "audit-log-maxsize",
            "--audit-log-maxsize -5 can't be a negative number",
            "set 0 or more",
        ),
        (
            {"audit-log-format": "xml"},
            "audit-log-format",
            'invalid audit log format xml, allowed formats are "legacy,json"',
            "use json or legacy",
        ),
        (
            {"audit-log-mode": "async"},
            "audit-log-mode",
            'invalid audit log mode async, allowed modes are "batch,blocking,blocking-strict"',
            "use batch, blocking or blocking-strict",
        ),
        (
            {"audit-log-version": "audit.k8s.io/v1beta1"},
            "audit-log-version",
            'invalid group version, allowed versions are ["audit.k8s.io/v1"]',
            "write audit.k8s.io/v1 or leave the flag out",
        ),
        (
            {"audit-log-mode": "batch", "audit-log-batch-buffer-size": "0"},
            "audit-log-batch-buffer-size",
            "invalid audit batch log buffer size 0, must be a positive number",
            "set 1 or more",
        ),
        (
            {"audit-log-mode": "batch", "audit-log-batch-max-size": "-3"},
            "audit-log-batch-max-size",
            "invalid audit batch log max batch size -3, must be a positive number",
            "set 1 or more",
        ),
        (
            # The log backend's default QPS is 0: turning throttling on without a QPS is refused.
            {"audit-log-mode": "batch", "audit-log-batch-throttle-enable": "true"},
            "audit-log-batch-throttle-enable",
            "invalid audit batch log throttle QPS 0, must be a positive number",
            "set audit-log-batch-throttle-qps above 0, or audit-log-batch-throttle-enable to false",
        ),
        (
            {"audit-log-mode": "batch", "audit-log-batch-throttle-enable": "t", "audit-log-batch-throttle-qps": "-0.1"},
            "audit-log-batch-throttle-qps",
            "invalid audit batch log throttle QPS -0.1, must be a positive number",
            "set audit-log-batch-throttle-qps above 0, or audit-log-batch-throttle-enable to false",
        ),
        (
            {"audit-log-mode": "batch", "audit-log-batch-throttle-enable": "1", "audit-log-batch-throttle-qps": "5"},
            "audit-log-batch-throttle-enable",
            "invalid audit batch log throttle burst 0, must be a positive number",
            "set audit-log-batch-throttle-burst to 1 or more, or audit-log-batch-throttle-enable to false",
        ),
        (
            {"audit-log-truncate-max-event-size": "0"},
            "audit-log-truncate-max-event-size",
            "invalid audit truncate log max event size 0, must be a positive number",
            "set 1 or more",
        ),
        (
            # Truncate sizes are validated even with truncation off (AuditTruncateOptions.Validate).
            {"audit-log-truncate-max-event-size": "20000000"},
            "audit-log-truncate-max-event-size",
            "invalid audit truncate log max batch size 10485760, must be greater than max event size (20000000)",
            "make audit-log-truncate-max-batch-size at least audit-log-truncate-max-event-size",
        ),
        (
            {"audit-webhook-config-file": "/etc/k0s/webhook.yaml", "audit-webhook-batch-throttle-qps": "0"},
            "audit-webhook-batch-throttle-qps",
            "invalid audit batch webhook throttle QPS 0, must be a positive number",
            "set audit-webhook-batch-throttle-qps above 0, or audit-webhook-batch-throttle-enable to false",
        ),
        (
            # Without a webhook config ApplyTo still parses the webhook version.
            {"audit-webhook-version": "a/b/c"},
            "audit-webhook-version",
            "unexpected GroupVersion string: a/b/c",
            "write audit.k8s.io/v1",
        ),
    ],
)
def test_what_audit_go_validate_refuses(flags, place, upstream, fix):
    assert errors(flags, source_name="s") == ["s.%s: kube-apiserver would not start (%s); %s." % (place, upstream, fix)]


@pytest.mark.parametrize(
    "flags",
    [
        # A backend's options are only validated while it is on (AuditLogOptions.enabled: a log path).
        {"audit-log-maxage": "-1", "audit-log-format": "xml", "audit-log-mode": "async"},
        {"audit-webhook-mode": "async", "audit-webhook-batch-buffer-size": "0"},
        {"audit-webhook-version": "v1"},
        # Batch options are not validated unless the mode is batch.
        {**LOG_ON, "audit-log-batch-buffer-size": "0", "audit-log-batch-max-size": "-1"},
        # Throttle values are not validated unless throttling is on; a NaN QPS is not <= 0.
        {**LOG_ON, "audit-log-mode": "batch", "audit-log-batch-throttle-qps": "-1"},
        {
            **LOG_ON,
            "audit-log-mode": "batch",
            "audit-log-batch-throttle-enable": "true",
            "audit-log-batch-throttle-qps": "NaN",
            "audit-log-batch-throttle-burst": "1",
        },
        # Negative durations are not validated.
        {**LOG_ON, "audit-log-batch-max-wait": "-5s", "audit-webhook-initial-backoff": "-1h"},
    ],
)
def test_what_kube_apiserver_accepts(flags):
    assert audit_flag_errors(flags) == []


def test_a_value_that_cannot_be_parsed_is_not_also_judged_by_validate():
    assert errors({"audit-log-mode": "batch", "audit-log-batch-buffer-size": "none"}) == [
        'extra_args.audit-log-batch-buffer-size: kube-apiserver cannot read "none" as an integer; write a whole '
        "number such as 30 (decimal, or with a 0x, 0o or 0b prefix, no spaces)."
    ]


# ----------------------------------------------------------------------------------------------- warnings


def test_deprecated_flag_is_accepted_with_a_warning():
    flags = {"audit-webhook-config-file": "/etc/k0s/webhook.yaml", "audit-webhook-batch-initial-backoff": "5s"}
    assert audit_flag_errors(flags) == []
    assert audit_flag_warnings(flags, source_name="v") == [
        "v.audit-webhook-batch-initial-backoff: kube-apiserver accepts this deprecated flag with the warning "
        '"Deprecated, use --audit-webhook-initial-backoff instead."; use audit-webhook-initial-backoff instead.'
    ]


def test_ignored_options_are_warnings():
    assert audit_flag_warnings(
        {
            **LOG_ON,
            "audit-log-batch-max-size": "10",
            "audit-log-truncate-max-event-size": "1000",
            "audit-webhook-mode": "blocking",
        }
    ) == [
        "extra_args.audit-log-batch-max-size: has no effect: kube-apiserver uses the batch options only with "
        "audit-log-mode batch.",
        "extra_args.audit-log-truncate-max-event-size: has no effect while audit-log-truncate-enabled is not true.",
        "extra_args.audit-webhook-mode: has no effect: the webhook backend is off while audit-webhook-config-file "
        "is not set.",
    ]


def test_problems_are_structured():
    (problem,) = audit_flag_problems({"audit-log-maxag": "1"}, source_name="x")
    assert problem["severity"] == "error"
    assert problem["place"] == "x.audit-log-maxag"
    assert problem["flag"] == "audit-log-maxag"


# ------------------------------------------------------------------------- flags owned by role variables


OWNED = {"audit-log-maxage": "k0s_audit_log_maxage", "audit-log-path": "k0s_audit_log_path"}


def test_a_flag_a_role_variable_sets_is_refused_in_extra_args():
    assert audit_flag_errors({"audit_log_maxage": "7"}, source_name="k0s_audit_extra_args", owned_by=OWNED) == [
        "k0s_audit_extra_args.audit_log_maxage: this flag is set by the role variable k0s_audit_log_maxage; set "
        "k0s_audit_log_maxage instead and remove audit_log_maxage from k0s_audit_extra_args."
    ]


def test_role_variable_values_are_checked_and_named_after_the_variable():
    owned_values = {"audit-log-path": "/var/log/k0s/audit.log", "audit-log-maxage": -1}
    assert audit_flag_errors({}, source_name="k0s_audit_extra_args", owned_by=OWNED, owned_values=owned_values) == [
        "k0s_audit_log_maxage: kube-apiserver would not start (--audit-log-maxage -1 can't be a negative number); "
        "set 0 or more."
    ]


def test_extra_args_are_validated_together_with_the_role_flags():
    # The log path comes from the role; without it, the log backend would be off and nothing judged.
    owned_values = {"audit-log-path": "-"}
    assert audit_flag_errors(
        {"audit-log-mode": "batch", "audit-log-batch-max-size": "0"}, owned_by=OWNED, owned_values=owned_values
    ) == [
        "extra_args.audit-log-batch-max-size: kube-apiserver would not start (invalid audit batch log max batch "
        "size 0, must be a positive number); set 1 or more."
    ]


@pytest.mark.parametrize("name", ["--audit-log-maxage", "", "audit log", "audit-log-maxage=7", 7])
def test_badly_written_names(name):
    (error,) = audit_flag_errors({name: "7"})
    assert error == (
        "extra_args.%s: a flag name is written without leading dashes, '=' or spaces, e.g. audit-log-maxage." % name
    )


@pytest.mark.parametrize(("flags", "kind"), [(["audit-log-maxage"], "list"), (None, "null"), ("x", "str")])
def test_not_a_mapping(flags, kind):
    assert audit_flag_errors(flags, source_name="x") == [
        "x must be a mapping of kube-apiserver flag names to values, not %s." % kind
    ]


def test_other_flags_pass_unless_not_a_single_value():
    assert audit_flag_errors({"service-node-port-range": "1-2", "v": 4}) == []
    assert audit_flag_errors({"feature-gates": ["A=true"]}) == ["extra_args.feature-gates: must be a single value."]


def test_values_are_spelled_as_k0s_needs_them():
    assert flag_value_to_string(True) == "true"
    assert flag_value_to_string(False) == "false"
    assert flag_value_to_string(7) == "7"
    assert flag_value_to_string("/var/log/k0s/audit.log") == "/var/log/k0s/audit.log"


# ------------------------------------------------------------------ exact enumerations, paths, named variables

ROLE_VARIABLES = {
    "audit-policy-file": "k0s_audit_policy_path",
    "audit-log-path": "k0s_audit_log_path",
    "audit-log-maxage": "k0s_audit_log_maxage",
    "audit-log-format": "k0s_audit_log_format",
    "audit-log-mode": "k0s_audit_log_mode",
    "audit-log-compress": "k0s_audit_log_compress",
}
ROLE_VALUES = {"audit-policy-file": "/etc/k0s/audit-policy.yaml", "audit-log-path": "/var/log/k0s/audit.log"}


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("audit-log-mode", "batch ", 'write "batch" exactly, without the spaces'),
        ("audit-log-mode", " blocking", 'write "blocking" exactly, without the spaces'),
        ("audit-log-mode", "batch\n", 'write "batch" exactly, without the spaces'),
        ("audit-log-mode", "Batch", 'write "batch" exactly (kube-apiserver compares case-sensitively)'),
        ("audit-log-format", "json ", 'write "json" exactly, without the spaces'),
        ("audit-log-format", "JSON", 'write "json" exactly (kube-apiserver compares case-sensitively)'),
    ],
)
def test_enumerations_are_compared_exactly_and_the_fix_names_the_exact_word(name, value, fix):
    (error,) = audit_flag_errors(
        {}, source_name="k0s_audit_extra_args", owned_by=ROLE_VARIABLES, owned_values={**ROLE_VALUES, name: value}
    )
    assert error.startswith(ROLE_VARIABLES[name] + ": kube-apiserver would not start"), error
    assert fix in error, error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("flags", "upstream"),
    [
        ({"audit-log-version": "audit.k8s.io/v1 "}, "invalid group version"),
        ({"audit-webhook-config-file": "/etc/k0s/webhook.yaml", "audit-webhook-mode": "batch "}, "invalid audit"),
        ({"audit-webhook-config-file": "/etc/k0s/webhook.yaml", "audit-webhook-version": " audit.k8s.io/v1"}, "group"),
    ],
)
def test_other_enumerations_with_spaces_are_refused_too(flags, upstream):
    (error,) = errors(flags, source_name="k0s_audit_extra_args")
    assert error.startswith("k0s_audit_extra_args.") and upstream in error, error


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("audit-log-path", "audit.log"),
        ("audit-log-path", "var/log/k0s/audit.log"),
        ("audit-policy-file", "audit-policy.yaml"),
    ],
)
def test_a_relative_path_from_a_role_variable_names_that_variable(name, value):
    (error,) = audit_flag_errors(
        {}, source_name="k0s_audit_extra_args", owned_by=ROLE_VARIABLES, owned_values={**ROLE_VALUES, name: value}
    )
    assert error.startswith("%s: is %s, a relative path" % (ROLE_VARIABLES[name], json_quote(value))), error
    assert "working directory" in error and "absolute path" in error


def test_a_relative_path_in_extra_args_names_the_flag_there():
    (error,) = errors({"audit-webhook-config-file": "webhook.yaml"}, source_name="k0s_audit_extra_args")
    assert error.startswith('k0s_audit_extra_args.audit-webhook-config-file: is "webhook.yaml", a relative path')


def test_standard_output_is_not_a_relative_path():
    assert audit_flag_errors({"audit-log-path": "-", "audit-policy-file": "/etc/k0s/p.yaml"}) == []


@pytest.mark.parametrize("name", ["audit-log-path", "audit-log-mode", "audit-log-maxage"])
def test_a_nul_byte_in_a_value_is_refused(name):
    value = {"audit-log-path": "/var/log/k0s/au\0dit.log", "audit-log-mode": "batch\0", "audit-log-maxage": "7\0"}[name]
    found = audit_flag_errors(
        {}, source_name="k0s_audit_extra_args", owned_by=ROLE_VARIABLES, owned_values={**ROLE_VALUES, name: value}
    )
    assert found and all(e.startswith(ROLE_VARIABLES[name] + ":") for e in found), found
    assert any("NUL byte" in e for e in found), found


@pytest.mark.parametrize(
    "owned_values",
    [
        {"audit-log-path": "audit.log", "audit-log-mode": "batch "},
        {"audit-log-path": "/var/log/k0s/audit.log", "audit-log-format": "xml", "audit-log-maxage": -1},
        {"audit-log-path": "/var/log/k0s/audit.log", "audit-log-compress": "yes", "audit-log-mode": "async"},
        {"audit-policy-file": "", "audit-log-path": "/var/log/k0s/audit.log"},
    ],
)
def test_every_message_about_a_role_value_names_its_variable(owned_values):
    found = audit_flag_problems(
        {}, source_name="k0s_audit_extra_args", owned_by=ROLE_VARIABLES, owned_values={**ROLE_VALUES, **owned_values}
    )
    errors_found = [p for p in found if p["severity"] == "error"]
    assert errors_found
    for problem in errors_found:
        assert problem["message"].startswith(ROLE_VARIABLES[problem["flag"]] + ": "), problem


def json_quote(text):
    import json

    return json.dumps(text, ensure_ascii=False)
