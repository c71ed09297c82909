# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The kube-apiserver ``--audit-*`` flags: which exist, how kube-apiserver parses and validates their values.

A misspelled flag in ``spec.api.extraArgs`` is passed to kube-apiserver as it is and stops it ("unknown flag"), and
so does a value it cannot parse or that its option validation refuses. This module is the one place in the
collection that knows the flags (``AUDIT_FLAGS``), so the role can refuse all of that before anything is written to
a host, and warn about what kube-apiserver accepts but ignores or has deprecated.

Upstream sources modelled (k8s.io/apiserver v0.36.3 unless said otherwise):

- the flags, their types and defaults: ``pkg/server/options/audit.go`` (``NewAuditOptions``, the ``AddFlags``
  methods of ``AuditOptions``, ``AuditLogOptions``, ``AuditWebhookOptions``, ``AuditBatchOptions``,
  ``AuditTruncateOptions``);
- what is refused after parsing: ``pkg/server/options/audit.go`` (``Validate`` of those types,
  ``validateBackendBatchOptions``, ``validateGroupVersionString``, and ``ApplyTo``, which parses the webhook
  version even when the webhook backend is off);
- the value syntax (in ``_go_values``): github.com/spf13/pflag ``int.go``/``int64.go`` (``strconv.ParseInt(s, 0, 64)``),
  ``bool.go`` (``strconv.ParseBool``), ``duration.go`` (``time.ParseDuration``), ``float32.go``
  (``strconv.ParseFloat(s, 32)``); Go's ``strconv/atoi.go``, ``strconv/atof.go``, ``time/format.go``. No value
  is trimmed: ``" 5"`` is refused;
- flag names: kube-apiserver's flag set uses ``WordSepNormalizeFunc`` (k8s.io/component-base ``cli/flag/flags.go``),
  which reads ``_`` as ``-``; names are otherwise case-sensitive.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import posixpath
from typing import Any, Callable, Mapping, NamedTuple

# Go's value syntax (the parsers are re-exported here, as before they moved).
from ansible_collections.k0rdent.audit.plugins.module_utils._go_values import (
    go_float32_text as _go_float32_text,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._go_values import (
    parse_go_bool,
    parse_go_duration,
    parse_go_float32,
    parse_go_int,
)

__all__ = [
    "AUDIT_FLAGS",
    "AuditFlag",
    "audit_flag_errors",
    "audit_flag_problems",
    "audit_flag_warnings",
    "flag_value_to_string",
    "normalize_flag_name",
    "parse_go_bool",
    "parse_go_duration",
    "parse_go_float32",
    "parse_go_int",
]


class AuditFlag(NamedTuple):
    """One flag as ``NewAuditOptions().AddFlags`` registers it."""

    name: str
    # The pflag type: string, int (IntVar), int64 (Int64Var), bool, duration, float32.
    kind: str
    # pflag's DefValue, as ``kube-apiserver --help`` prints it.
    default: str
    # policy, log or webhook: the backend whose options the flag sets.
    backend: str
    # For string flags audit.go's Validate restricts: the values it accepts (only while the backend is on).
    choices: tuple[str, ...] = ()
    # pflag's MarkDeprecated message: kube-apiserver still accepts the flag and prints this warning.
    deprecated: str = ""


# audit.go AllowedModes; plugin/pkg/audit/log/backend.go AllowedFormats; audit.go knownGroupVersions.
_MODES = ("batch", "blocking", "blocking-strict")
_FORMATS = ("legacy", "json")
_VERSIONS = ("audit.k8s.io/v1",)


def _backend_flags(plugin: str, mode: str, batch: tuple[str, str, str, str, str, str]) -> list[AuditFlag]:
    """AuditBatchOptions.AddFlags and AuditTruncateOptions.AddFlags of audit.go for one backend."""
    buffer_size, max_size, max_wait, throttle, qps, burst = batch
    prefix = "audit-%s-" % plugin
    return [
        AuditFlag(prefix + "mode", "string", mode, plugin, _MODES),
        AuditFlag(prefix + "batch-buffer-size", "int", buffer_size, plugin),
        AuditFlag(prefix + "batch-max-size", "int", max_size, plugin),
        AuditFlag(prefix + "batch-max-wait", "duration", max_wait, plugin),
        AuditFlag(prefix + "batch-throttle-enable", "bool", throttle, plugin),
        AuditFlag(prefix + "batch-throttle-qps", "float32", qps, plugin),
        AuditFlag(prefix + "batch-throttle-burst", "int", burst, plugin),
        AuditFlag(prefix + "truncate-enabled", "bool", "false", plugin),
        # NewAuditTruncateOptions: 10 MiB batches, 100 KiB events.
        AuditFlag(prefix + "truncate-max-batch-size", "int64", "10485760", plugin),
        AuditFlag(prefix + "truncate-max-event-size", "int64", "102400", plugin),
    ]


# Flag name -> AuditFlag: exactly the flags NewAuditOptions().AddFlags registers (audit.go, v0.36.3), with the
# defaults of NewAuditOptions (the log retention defaults 366 days / 100 files / 100 MB are new in 1.36).
AUDIT_FLAGS: dict[str, AuditFlag] = {
    flag.name: flag
    for flag in [
        AuditFlag("audit-policy-file", "string", "", "policy"),
        # AuditLogOptions.AddFlags
        AuditFlag("audit-log-path", "string", "", "log"),
        AuditFlag("audit-log-maxage", "int", "366", "log"),
        AuditFlag("audit-log-maxbackup", "int", "100", "log"),
        AuditFlag("audit-log-maxsize", "int", "100", "log"),
        AuditFlag("audit-log-format", "string", "json", "log", _FORMATS),
        AuditFlag("audit-log-version", "string", "audit.k8s.io/v1", "log", _VERSIONS),
        AuditFlag("audit-log-compress", "bool", "false", "log"),
        # defaultLogBatchConfig: 10000 events, batches of 1, no throttling; mode blocking.
        *_backend_flags("log", "blocking", ("10000", "1", "0s", "false", "0", "0")),
        # AuditWebhookOptions.AddFlags; pluginwebhook.DefaultInitialBackoffDelay is 10s.
        AuditFlag("audit-webhook-config-file", "string", "", "webhook"),
        AuditFlag("audit-webhook-initial-backoff", "duration", "10s", "webhook"),
        AuditFlag(
            "audit-webhook-batch-initial-backoff",
            "duration",
            "10s",
            "webhook",
            deprecated="Deprecated, use --audit-webhook-initial-backoff instead.",
        ),
        AuditFlag("audit-webhook-version", "string", "audit.k8s.io/v1", "webhook", _VERSIONS),
        # defaultWebhookBatchConfig: 10000 events, batches of 400, 30s, throttled at 10 QPS, burst 15; mode batch.
        *_backend_flags("webhook", "batch", ("10000", "400", "30s", "true", "10", "15")),
    ]
}

# What a deprecated flag's pflag message (MarkDeprecated in audit.go) points at.
_REPLACEMENTS = {"audit-webhook-batch-initial-backoff": "audit-webhook-initial-backoff"}
# The flag that turns each backend on (audit.go AuditLogOptions.enabled / AuditWebhookOptions.enabled).
_SWITCH = {"log": "audit-log-path", "webhook": "audit-webhook-config-file"}
# String flags holding a path: an empty value reads as "not set" in kube-apiserver; this collection refuses it
# (our rule, not kube-apiserver's), since it silently turns the policy or a backend off.
_PATH_FLAGS = ("audit-policy-file", "audit-log-path", "audit-webhook-config-file")
# A path flag's value that is not a file: audit-log-path "-" writes to standard output (plugin/pkg/audit/log).
_STDOUT = {"audit-log-path": "-"}

_PARSERS: dict[str, Callable[[str], tuple[Any, str]]] = {
    "int": parse_go_int,
    "int64": parse_go_int,
    "bool": parse_go_bool,
    "duration": parse_go_duration,
    "float32": parse_go_float32,
    "string": lambda text: (text, ""),
}

# ----------------------------------------------------------------------------------------------- the checks


def flag_value_to_string(value: Any) -> str:
    """Spell a value the way k0s.yaml needs it: a string; booleans in Go's lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalize_flag_name(name: str) -> str:
    """The name kube-apiserver's flag set looks up: ``_`` read as ``-`` (component-base WordSepNormalizeFunc)."""
    return name.replace("_", "-")


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _shown(text: str) -> str:
    """A value inside kube-apiserver's own words: as it is, or quoted when spaces or control characters hide in it."""
    if text != text.strip() or any(not char.isprintable() for char in text):
        return _quote(text)
    return text


def _exact_fix(text: str, choices: tuple[str, ...], fix: str) -> str:
    """The fix for a value kube-apiserver compares exactly with ``choices``: the exact word when it is one."""
    if text.strip() in choices:
        return 'write "%s" exactly, without the spaces' % text.strip()
    if text.strip().lower() in choices:
        return 'write "%s" exactly (kube-apiserver compares case-sensitively)' % text.strip().lower()
    return fix


def _parse_problem(flag: AuditFlag, text: str, reason: str) -> str:
    """What a person should read when pflag cannot parse ``text`` (pflag: 'invalid argument ... for flag')."""
    if flag.kind in ("int", "int64"):
        if reason == "range":
            return "kube-apiserver cannot read %s: it does not fit in a 64-bit integer; write a smaller number" % (
                _quote(text)
            )
        return (
            "kube-apiserver cannot read %s as an integer; write a whole number such as 30 (decimal, or with a "
            "0x, 0o or 0b prefix, no spaces)" % _quote(text)
        )
    if flag.kind == "bool":
        return (
            "kube-apiserver reads only true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False), "
            "not %s; write true or false" % _quote(text)
        )
    if flag.kind == "duration":
        return (
            "kube-apiserver cannot read %s as a duration (time: %s); write numbers with units ns, us, ms, s, m or h, "
            "such as 5s or 1m30s, without spaces" % (_quote(text), reason)
        )
    if reason == "range":
        return "kube-apiserver cannot read %s: it is beyond a 32-bit float; write a smaller number" % _quote(text)
    return "kube-apiserver cannot read %s as a number; write a decimal number such as 2.5, without spaces" % _quote(
        text
    )


class _Given(NamedTuple):
    place: str
    spelled: str
    text: str
    value: Any
    parsed: bool


class _Unknown(Exception):
    """A value Validate needs could not be parsed: that rule is not judged (the parse error is reported)."""


def _problem(severity: str, place: str, flag: str, message: str) -> dict[str, str]:
    ending = "" if message.endswith(("?", ".")) else "."
    return {"severity": severity, "place": place, "flag": flag, "message": "%s: %s%s" % (place, message, ending)}


def _name_problem(name: Any, value: Any) -> str | None:
    if not isinstance(name, str) or not name or name.startswith("-") or "=" in name or any(c.isspace() for c in name):
        return "a flag name is written without leading dashes, '=' or spaces, e.g. audit-log-maxage"
    canonical = normalize_flag_name(name)
    if canonical in AUDIT_FLAGS:
        return None
    if canonical.lower().startswith("audit"):
        if canonical.lower() in AUDIT_FLAGS:
            return 'kube-apiserver flag names are case-sensitive and it would refuse to start; write "%s"' % (
                canonical.lower()
            )
        near = difflib.get_close_matches(canonical.lower(), list(AUDIT_FLAGS), n=1, cutoff=0.8)
        hint = 'did you mean "%s"?' % near[0] if near else "see kube-apiserver --help for the audit flags"
        return "kube-apiserver has no such audit flag and would refuse to start; %s" % hint
    if isinstance(value, (list, dict)) or value is None:
        return "must be a single value"
    return None


def audit_flag_problems(
    flags: Any,
    source_name: str = "extra_args",
    owned_by: Mapping[str, str] | None = None,
    owned_values: Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """Errors and warnings about the audit flags kube-apiserver would get, as dicts.

    ``flags`` is a mapping of flag names (without dashes) to values, named ``source_name.FLAG`` in messages.
    ``owned_by`` maps flags to the role variable that sets them: such a flag in ``flags`` is an error (set the
    variable instead). ``owned_values`` holds the values those variables give their flags; they are checked too,
    named after their variable, and together with ``flags`` they are the complete set audit.go's Validate judges
    (a backend's options are only validated while it is on). Each dict has ``severity`` (error or warning),
    ``place``, ``flag`` (kube-apiserver's name, or the name as written when unknown) and ``message``.
    """
    if not isinstance(flags, Mapping):
        return [
            {
                "severity": "error",
                "place": source_name,
                "flag": "",
                "message": "%s must be a mapping of kube-apiserver flag names to values, not %s."
                % (source_name, "null" if flags is None else type(flags).__name__),
            }
        ]
    owners = {normalize_flag_name(k): v for k, v in (owned_by or {}).items() if isinstance(k, str)}
    problems: list[dict[str, str]] = []
    given: dict[str, _Given] = {}

    def take(name: str, value: Any, place: str) -> None:
        canonical = normalize_flag_name(name)
        flag = AUDIT_FLAGS[canonical]
        if value is None or isinstance(value, (list, dict)):
            problems.append(
                _problem(
                    "error",
                    place,
                    canonical,
                    "must be a single value, not %s" % ("null" if value is None else type(value).__name__),
                )
            )
            given[canonical] = _Given(place, name, "", None, False)
            return
        text = flag_value_to_string(value)
        if "\0" in text:
            problems.append(
                _problem(
                    "error",
                    place,
                    canonical,
                    "is %s, which holds a NUL byte: no command-line argument can carry one (kube-apiserver would get"
                    " the value cut short there); remove it" % _quote(text),
                )
            )
            given[canonical] = _Given(place, name, text, None, False)
            return
        parsed, reason = _PARSERS[flag.kind](text)
        if reason:
            problems.append(_problem("error", place, canonical, _parse_problem(flag, text, reason)))
            given[canonical] = _Given(place, name, text, None, False)
            return
        if canonical in _PATH_FLAGS and text == "":
            problems.append(
                _problem(
                    "error",
                    place,
                    canonical,
                    "is empty, which kube-apiserver reads as not set; give a path, or leave the flag out",
                )
            )
        if canonical in _PATH_FLAGS and text and not text.startswith("/") and text != _STDOUT.get(canonical):
            problems.append(
                _problem(
                    "error",
                    place,
                    canonical,
                    "is %s, a relative path, which kube-apiserver would resolve in its working directory (the k0s data"
                    " directory); give an absolute path, such as %s"
                    % (_quote(text), posixpath.normpath("/" + text.strip())),
                )
            )
        if flag.deprecated:
            problems.append(
                _problem(
                    "warning",
                    place,
                    canonical,
                    'kube-apiserver accepts this deprecated flag with the warning "%s"; use %s instead'
                    % (flag.deprecated, _REPLACEMENTS[canonical]),
                )
            )
        given[canonical] = _Given(place, name, text, parsed, True)

    for name, value in (owned_values or {}).items():
        canonical = normalize_flag_name(name) if isinstance(name, str) else ""
        place = owners.get(canonical, "%s.%s" % (source_name, name))
        problem = _name_problem(name, value)
        if problem:
            problems.append(_problem("error", place, str(name), problem))
        elif canonical in AUDIT_FLAGS:
            take(name, value, place)

    seen: dict[str, str] = {}
    for name, value in flags.items():
        place = "%s.%s" % (source_name, name)
        problem = _name_problem(name, value)
        if problem:
            problems.append(_problem("error", place, str(name), problem))
            continue
        canonical = normalize_flag_name(name)
        if canonical in owners:
            problems.append(
                _problem(
                    "error",
                    place,
                    canonical,
                    "this flag is set by the role variable %s; set %s instead and remove %s from %s"
                    % (owners[canonical], owners[canonical], name, source_name),
                )
            )
            continue
        if canonical in seen:
            problems.append(
                _problem(
                    "error",
                    place,
                    canonical,
                    "the same kube-apiserver flag as %s, which is given too (kube-apiserver reads _ as -); keep one"
                    % seen[canonical],
                )
            )
            continue
        seen[canonical] = name
        if canonical in AUDIT_FLAGS:
            take(name, value, place)

    problems.extend(_validate(given))
    return problems


def _validate(given: Mapping[str, _Given]) -> list[dict[str, str]]:
    """audit.go AuditOptions.Validate (and the version parse of ApplyTo) over the given flags and the defaults."""

    def value(name: str) -> Any:
        if name in given:
            if not given[name].parsed:
                raise _Unknown(name)
            return given[name].value
        flag = AUDIT_FLAGS[name]
        return _PARSERS[flag.kind](flag.default)[0]

    def place(*names: str) -> tuple[str, str]:
        for name in names:
            if name in given:
                return given[name].place, name
        return "", names[0]

    problems: list[dict[str, str]] = []

    def refuse(names: tuple[str, ...], upstream: str, fix: str) -> None:
        where, name = place(*names)
        problems.append(_problem("error", where, name, "kube-apiserver would not start (%s); %s" % (upstream, fix)))

    def warn(name: str, message: str) -> None:
        problems.append(_problem("warning", given[name].place, name, message))

    for plugin in ("log", "webhook"):
        prefix = "audit-%s-" % plugin
        try:
            enabled = value(_SWITCH[plugin]) != ""
        except _Unknown:
            continue
        if not enabled:
            for name in given:
                if name.startswith(prefix) and name != _SWITCH[plugin]:
                    warn(name, "has no effect: the %s backend is off while %s is not set" % (plugin, _SWITCH[plugin]))
            if plugin == "webhook" and "audit-webhook-version" in given:
                # ApplyTo parses the webhook version with schema.ParseGroupVersion even when the webhook is off.
                version = given["audit-webhook-version"].text
                if version.count("/") > 1:
                    refuse(
                        ("audit-webhook-version",),
                        "unexpected GroupVersion string: %s" % _shown(version),
                        "write audit.k8s.io/v1",
                    )
            continue
        with contextlib.suppress(_Unknown):
            _validate_batch(plugin, value, refuse, warn, given)
        with contextlib.suppress(_Unknown):
            _validate_truncate(plugin, value, refuse, warn, given)
        # validateGroupVersionString: schema.ParseGroupVersion, then only audit.k8s.io/v1 is known.
        version = value(prefix + "version")
        if version.count("/") > 1:
            refuse(
                (prefix + "version",), "unexpected GroupVersion string: %s" % _shown(version), "write audit.k8s.io/v1"
            )
        elif version not in _VERSIONS:
            refuse(
                (prefix + "version",),
                'invalid group version, allowed versions are ["audit.k8s.io/v1"]',
                _exact_fix(version, _VERSIONS, "write audit.k8s.io/v1 or leave the flag out"),
            )
        if plugin != "log":
            continue
        log_format = value("audit-log-format")
        if log_format not in _FORMATS:
            refuse(
                ("audit-log-format",),
                'invalid audit log format %s, allowed formats are "legacy,json"' % _shown(log_format),
                _exact_fix(log_format, _FORMATS, "use json or legacy"),
            )
        for name in ("audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize"):
            try:
                number = value(name)
            except _Unknown:
                continue
            if number < 0:
                refuse((name,), "--%s %d can't be a negative number" % (name, number), "set 0 or more")
    return problems


def _validate_batch(plugin: str, value: Callable, refuse: Callable, warn: Callable, given: Mapping) -> None:
    """audit.go validateBackendBatchOptions: the mode, then (batch mode only) the first bad batch option."""
    prefix = "audit-%s-" % plugin
    mode = value(prefix + "mode")
    if mode not in _MODES:
        refuse(
            (prefix + "mode",),
            'invalid audit %s mode %s, allowed modes are "batch,blocking,blocking-strict"' % (plugin, _shown(mode)),
            _exact_fix(mode, _MODES, "use batch, blocking or blocking-strict"),
        )
        return
    batch_flags = [
        name for name in given if name.startswith(prefix + "batch-") and name != prefix + "batch-initial-backoff"
    ]
    if mode != "batch":
        # "Don't validate the unused options"; their help text says "Only used in batch mode".
        for name in batch_flags:
            warn(name, "has no effect: kube-apiserver uses the batch options only with %smode batch" % prefix)
        return
    checks = (
        ("batch-buffer-size", "buffer size"),
        ("batch-max-size", "max batch size"),
    )
    for suffix, words in checks:
        number = value(prefix + suffix)
        if number <= 0:
            refuse(
                (prefix + suffix,),
                "invalid audit batch %s %s %d, must be a positive number" % (plugin, words, number),
                "set 1 or more",
            )
            return
    if value(prefix + "batch-throttle-enable"):
        qps = value(prefix + "batch-throttle-qps")
        if qps <= 0:
            refuse(
                (prefix + "batch-throttle-qps", prefix + "batch-throttle-enable"),
                "invalid audit batch %s throttle QPS %s, must be a positive number" % (plugin, _go_float32_text(qps)),
                "set %sbatch-throttle-qps above 0, or %sbatch-throttle-enable to false" % (prefix, prefix),
            )
            return
        burst = value(prefix + "batch-throttle-burst")
        if burst <= 0:
            refuse(
                (prefix + "batch-throttle-burst", prefix + "batch-throttle-enable"),
                "invalid audit batch %s throttle burst %d, must be a positive number" % (plugin, burst),
                "set %sbatch-throttle-burst to 1 or more, or %sbatch-throttle-enable to false" % (prefix, prefix),
            )


def _validate_truncate(plugin: str, value: Callable, refuse: Callable, warn: Callable, given: Mapping) -> None:
    """audit.go AuditTruncateOptions.Validate: checked whether or not truncation is enabled."""
    prefix = "audit-%s-truncate-" % plugin
    event = value(prefix + "max-event-size")
    if event <= 0:
        refuse(
            (prefix + "max-event-size",),
            "invalid audit truncate %s max event size %d, must be a positive number" % (plugin, event),
            "set 1 or more",
        )
        return
    batch = value(prefix + "max-batch-size")
    if batch < event:
        refuse(
            (prefix + "max-batch-size", prefix + "max-event-size"),
            "invalid audit truncate %s max batch size %d, must be greater than max event size (%d)"
            % (plugin, batch, event),
            "make %smax-batch-size at least %smax-event-size" % (prefix, prefix),
        )
        return
    if not value(prefix + "enabled"):
        for name in (prefix + "max-batch-size", prefix + "max-event-size"):
            if name in given:
                warn(name, "has no effect while %senabled is not true" % prefix)


def audit_flag_errors(
    flags: Any,
    source_name: str = "extra_args",
    owned_by: Mapping[str, str] | None = None,
    owned_values: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every reason kube-apiserver would refuse the flags (see :func:`audit_flag_problems`), one sentence each."""
    return [
        p["message"]
        for p in audit_flag_problems(flags, source_name, owned_by, owned_values)
        if p["severity"] == "error"
    ]


def audit_flag_warnings(
    flags: Any,
    source_name: str = "extra_args",
    owned_by: Mapping[str, str] | None = None,
    owned_values: Mapping[str, Any] | None = None,
) -> list[str]:
    """What kube-apiserver accepts but has deprecated or ignores (see :func:`audit_flag_problems`), one each."""
    return [
        p["message"]
        for p in audit_flag_problems(flags, source_name, owned_by, owned_values)
        if p["severity"] == "warning"
    ]
