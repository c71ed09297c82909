"""Drift check: the collection's audit flag table against the real kube-apiserver, run.

``plugins/module_utils/_audit_flags.py`` imitates what kube-apiserver does with ``--audit-*`` flags: which exist
(k8s.io/apiserver ``pkg/server/options/audit.go`` AddFlags), how their values parse (github.com/spf13/pflag) and
what validation refuses (audit.go Validate/ApplyTo). ``.cache/k0s/bin/kube-apiserver`` (scripts/build-k0s.sh, the
version k0s ships) runs that very code, so:

- the flags ``--help`` lists are exactly the table's flags that are not deprecated (pflag hides deprecated flags
  from the usage text), and each flag the table marks deprecated is still accepted, with pflag's warning;
- for each flag and a set of good and bad values of its kind, the server refuses exactly the values that
  ``audit_flag_errors`` refuses, judged with the same other flags (the policy, both backends switched on, and
  the mode or throttle switches under which audit.go validates the batch options at all).

A value counts as accepted when the server logs _apiserver.ACCEPTED (after option validation and the audit ApplyTo,
see _apiserver.py); it is killed right there. A refused value makes it exit with the reason within a second. All
runs share the session's kine and run two at a time.
"""

from __future__ import annotations

import itertools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _apiserver import REPO, free_port, require_binaries, run_once, server_args

from ansible_collections.k0rdent.audit.plugins.module_utils import _audit_flags

AUDIT_FLAGS = _audit_flags.AUDIT_FLAGS

# The flags that switch the policy and the backends on; every run gives them (see _context).
PATH_FLAGS = ("audit-policy-file", "audit-log-path", "audit-webhook-config-file")

# Good and bad values per pflag type; the comments say what Go makes of them.
VALUES = {
    # strconv.ParseInt(s, 0, 64): base prefixes and '_' between digits are accepted, spaces and exponents are not.
    # 1048576 is big enough for --audit-*-truncate-max-batch-size, which must not be below the 100 KiB event size.
    "int": ["5", "0", "-1", "0x10", " 5", "1e3", "010", "1_000", "1048576", "9223372036854775808", ""],
    # strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.
    "bool": ["true", "TRUE", "True", "yes", "2", "0", "T", ""],
    # time.ParseDuration: a unit is required except for "0"; negative durations parse.
    "duration": ["5s", "5", "-1s", "1h2x", "0", "1h30m", "1.5h", ""],
    # strconv.ParseFloat(s, 32): hexadecimal floats, NaN and Inf parse; 3.5e38 is out of float32's range.
    "float32": ["10", "-1", "0", "1e3", "0x1p-2", "abc", "NaN", "3.5e38", "Inf"],
    # audit.go AllowedModes, log/backend.go AllowedFormats, knownGroupVersions; values are case-sensitive.
    "string": [
        "json",
        "JSON",
        "legacy",
        "batch",
        "Batch",
        "blocking",
        "blocking-strict",
        "audit.k8s.io/v1",
        "audit.k8s.io/v1beta1",
        "v1",
        "bogus",
    ],
}
VALUES["int64"] = VALUES["int"]

# Flags also tried with their backend switched off: audit.go only validates a backend's options while it is on,
# but ApplyTo parses --audit-webhook-version always.
BACKEND_OFF = {
    "audit-log-maxage": "audit-log-path",
    "audit-log-format": "audit-log-path",
    "audit-log-version": "audit-log-path",
    "audit-webhook-version": "audit-webhook-config-file",
    "audit-webhook-batch-max-size": "audit-webhook-config-file",
}

WEBHOOK_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
  - name: sink
    cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}
contexts:
  - name: sink
    context: {cluster: sink}
current-context: sink
"""
POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n"


def _kind(name: str) -> str:
    entry = AUDIT_FLAGS[name]
    return getattr(entry, "kind", entry)


def _deprecated(name: str) -> bool:
    return bool(getattr(AUDIT_FLAGS[name], "deprecated", ""))


def _contexts(name: str) -> list[dict[str, str | None]]:
    """The switch settings under which a flag's values are tried; None removes a base flag."""
    contexts: list[dict[str, str | None]] = [{}]
    match = re.match(r"audit-(log|webhook)-batch-(.*)$", name)
    if match:
        plugin, option = match.groups()
        # audit.go validateBackendBatchOptions checks the batch options only in batch mode, and the throttle
        # options only with throttling on; the log backend defaults to blocking, the webhook to batch.
        other_mode = "batch" if plugin == "log" else "blocking"
        contexts.append({"audit-%s-mode" % plugin: other_mode})
        if option in ("throttle-qps", "throttle-burst"):
            contexts.append({"audit-%s-mode" % plugin: "batch", "audit-%s-batch-throttle-enable" % plugin: "true"})
    if name in BACKEND_OFF:
        contexts.append({BACKEND_OFF[name]: None})
    return contexts


class Bed:
    def __init__(self, tmp: Path, kine) -> None:
        self.tmp = tmp
        self.kine = kine


@pytest.fixture(scope="module")
def bed(tmp_path_factory, shared_kine):
    """A policy, a webhook kubeconfig, keys and a certificate directory that already holds the serving pair."""
    tmp = tmp_path_factory.mktemp("drift")
    (tmp / "policy.yaml").write_text(POLICY)
    (tmp / "webhook.kubeconfig").write_text(WEBHOOK_KUBECONFIG)
    bed = Bed(tmp, shared_kine)
    first = run_once(_args(bed, {}, 0))
    assert first.accepted, first
    assert (tmp / "certs" / "apiserver.crt").is_file()
    return bed


def _base(tmp: Path, n: int) -> dict[str, str]:
    return {
        "audit-policy-file": str(tmp / "policy.yaml"),
        "audit-log-path": str(tmp / "logs" / str(n) / "audit.log"),
        "audit-webhook-config-file": str(tmp / "webhook.kubeconfig"),
    }


def _flags(tmp: Path, context: dict[str, str | None], n: int) -> dict[str, str]:
    flags = _base(tmp, n)
    for key, value in context.items():
        if value is None:
            flags.pop(key, None)
        else:
            flags[key] = value
    return flags


def _args(bed: Bed, flags: dict[str, str], n: int, context: dict[str, str | None] | None = None) -> list[str]:
    everything = {**_flags(bed.tmp, context or {}, n), **flags}
    return [
        *server_args(bed.tmp, bed.kine, free_port()),
        *("--%s=%s" % item for item in everything.items()),
    ]


def test_help_lists_the_table_flags(bed):
    run = run_once(["--help"])
    assert run.returncode == 0, run
    listed = set(re.findall(r"^\s+(?:-\w, )?--(audit-[a-z0-9-]+)\b", run.output, re.M))
    assert listed, run.output
    expected = {name for name in AUDIT_FLAGS if not _deprecated(name)}
    assert sorted(listed - expected) == [], "kube-apiserver has --audit-* flags the table lacks"
    assert sorted(expected - listed) == [], "the table has flags kube-apiserver does not list"


def test_deprecated_flags_are_accepted_with_a_warning(bed):
    deprecated = sorted(name for name in AUDIT_FLAGS if _deprecated(name))
    for name in deprecated:
        value = {"duration": "5s", "bool": "true", "string": "json"}.get(_kind(name), "5")
        run = run_once(_args(bed, {name: value}, 0))
        assert run.accepted, run
        assert "Flag --%s has been deprecated" % name in run.output, run


def test_source_deprecations_match_the_table():
    """Deprecated flags are hidden from --help; the k8s.io/apiserver module the binary was built from names them."""
    require_binaries()
    audit_go = _module_source("k8s.io/apiserver", "pkg/server/options/audit.go")
    in_source = set(re.findall(r'MarkDeprecated\(\s*"(audit-[a-z0-9-]+)"', audit_go.read_text()))
    assert in_source == {name for name in AUDIT_FLAGS if _deprecated(name)}


def _cases() -> list[tuple[str, dict[str, str | None], str]]:
    cases = []
    for name in sorted(AUDIT_FLAGS):
        if name in PATH_FLAGS:
            continue  # the switches themselves: every run sets them; test_refusals.py covers bad paths
        kind = _kind(name)
        assert kind in VALUES, "no test values for flag kind %r of %s" % (kind, name)
        for context, value in itertools.product(_contexts(name), VALUES[kind]):
            cases.append((name, context, value))
    return cases


def _module_source(module: str, path: str) -> Path:
    """A file of the Go module kube-apiserver was built with, in the module cache scripts/build-k0s.sh fills."""
    versions = dict(
        line.split("=", 1)
        for line in (REPO / "tests/k0s/versions.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    version = "v0." + versions["KUBERNETES_VERSION"].split(".", 1)[1]  # Kubernetes 1.X.Y's libraries are v0.X.Y
    cache = Path(os.environ.get("GOMODCACHE") or Path.home() / ".cache" / "go-mod")  # as scripts/build-k0s.sh
    source = cache / ("%s@%s" % (module, version)) / path
    assert source.is_file(), "%s is absent: scripts/build-k0s.sh downloads it (GOMODCACHE as there)" % source
    return source


@pytest.mark.parametrize("name", sorted(n for n in AUDIT_FLAGS if n not in PATH_FLAGS))
def test_server_refuses_what_the_table_refuses(bed, name):
    cases = [case for case in _cases() if case[0] == name]
    assert cases

    def judge(numbered):
        n, (flag, context, value) = numbered
        flags = {**_flags(bed.tmp, context, n), flag: value}
        table = _audit_flag_errors(flags)
        run = run_once(_args(bed, {flag: value}, n, context))
        return flag, context, value, run, table

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(judge, enumerate(cases, start=1)))
    # Each flag's values hold some the server takes and some it refuses, so a disagreement either way shows.
    assert any(r[3].accepted for r in results), results
    assert any(r[3].refused for r in results), results
    wrong = []
    for flag, context, value, run, table in results:
        if run.refused != bool(table):
            reason = run.output.strip().splitlines()[-1][-300:] if run.refused else "accepts it"
            wrong.append(
                "--%s=%r with %s: kube-apiserver %s; the table %s"
                % (flag, value, context or "the base flags", reason, table or "accepts it")
            )
    assert wrong == [], "\n".join(wrong)


def _audit_flag_errors(flags: dict[str, str]) -> list[str]:
    return _audit_flags.audit_flag_errors(flags, source_name="extra_args")
