"""The audit report core: counts, spans, rates, retention, top-N, projection, rotated files, bad lines, memory."""

from __future__ import annotations

import gzip
import json
import math
import os
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from ansible_collections.k0rdent.audit.plugins.module_utils import _audit_report_events as events_mod
from ansible_collections.k0rdent.audit.plugins.module_utils import _audit_report_files as files_mod
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report import (
    MIB,
    LogReport,
    ReportError,
    find_log_files,
    render_table,
    retention,
    rule_names,
)
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_merge import merge_rules

BASELINE = Path(__file__).resolve().parents[4] / "roles/k0s_audit/vars/main/baseline.yml"
START = datetime(2026, 11, 30, 10, 0, 0, tzinfo=timezone.utc)

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        {"level": "None", "verbs": ["watch"]},
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods"]}]},
        {"level": "Metadata"},
    ],
}
NAMES = ["drop-watches", "secrets", "pods", "default"]


def _stamp(moment: datetime) -> str:
    # metav1.MicroTime's JSON form: RFC 3339 with microseconds, UTC.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(
    seconds: float = 0,
    user: str = "jane",
    verb: str = "get",
    resource: str | None = "pods",
    level: str = "Metadata",
    stage: str = "ResponseComplete",
    uri: str | None = None,
    **extra,
) -> dict:
    moment = START + timedelta(seconds=seconds)
    body = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": f"id-{seconds}-{user}-{verb}",
        "stage": stage,
        "requestURI": uri or f"/api/v1/namespaces/default/{resource}",
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["127.0.0.1"],
        "requestReceivedTimestamp": _stamp(moment - timedelta(milliseconds=2)),
        "stageTimestamp": _stamp(moment),
    }
    if resource is not None:
        body["objectRef"] = {"resource": resource, "namespace": "default", "apiVersion": "v1"}
    body.update(extra)
    return body


def line(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def write(path: Path, events: list, compressed: bool = False, tail: bytes = b"") -> bytes:
    data = b"".join(line(body) for body in events) + tail
    if compressed:
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return data


def run(files, policy=None, names=None, candidate=None, candidate_names=None, top=10) -> dict:
    policy, names = (POLICY if policy is None else policy), (NAMES if names is None else names)
    report = LogReport(policy, names, candidate, candidate_names)
    report.read_files(files)
    return report.result(top)


# ----------------------------------------------------------------------------------------------------------------
# Counts, spans, rates


def test_counts_span_and_rates_over_two_hours(tmp_path):
    events = [event(seconds=i * 60, level="RequestResponse") for i in range(121)]  # one a minute, 10:00 .. 12:00
    data = write(tmp_path / "audit.log", events)
    result = run(find_log_files(str(tmp_path / "audit.log")))
    assert result["events"] == 121
    assert result["bytes"] == len(data)
    assert result["first_event"] == "2026-11-30T10:00:00.000000Z"
    assert result["last_event"] == "2026-11-30T12:00:00.000000Z"
    assert result["span_seconds"] == 7200
    assert result["events_per_hour"] == pytest.approx(60.5)
    assert result["mib_per_hour"] == pytest.approx(len(data) / MIB / 2, abs=1e-6)
    assert [row["hour"] for row in result["hours"]] == [
        "2026-11-30T10:00Z",
        "2026-11-30T11:00Z",
        "2026-11-30T12:00Z",
    ]
    assert [row["events"] for row in result["hours"]] == [60, 60, 1]
    assert result["level_mismatches"] == 0
    assert result["skipped"]["total"] == 0


def test_request_received_timestamp_when_stage_timestamp_is_missing(tmp_path):
    first = event(seconds=0)
    del first["stageTimestamp"]
    write(tmp_path / "audit.log", [first, event(seconds=10)])
    result = run(find_log_files(str(tmp_path / "audit.log")))
    assert result["first_event"] == "2026-11-30T09:59:59.998000Z"
    assert result["span_seconds"] == pytest.approx(10.002)


def test_one_event_gives_no_rate(tmp_path):
    write(tmp_path / "audit.log", [event()])
    result = run(find_log_files(str(tmp_path / "audit.log")))
    assert (result["events"], result["events_per_hour"], result["mib_per_hour"]) == (1, None, None)


def test_a_logged_level_the_policy_would_not_give_is_counted(tmp_path):
    write(tmp_path / "audit.log", [event(level="Request"), event(level="RequestResponse", seconds=1)])
    assert run(find_log_files(str(tmp_path / "audit.log")))["level_mismatches"] == 1


# ----------------------------------------------------------------------------------------------------------------
# Lines that are not events


def test_truncated_legacy_garbage_and_blank_lines_are_counted_not_fatal(tmp_path):
    good = [event(seconds=i) for i in range(3)]
    legacy = (
        b'2026-11-30T10:00:01.5Z AUDIT: id="a1" stage="ResponseComplete" ip="127.0.0.1" method="get" user="jane"'
        b' groups="\\"system:authenticated\\"" as="<self>" asgroups="<lookup>" user-agent="curl"'
        b' namespace="default" uri="/api/v1/pods" response="200"\n'
    )
    data = b"".join(line(body) for body in good)
    data += legacy + b"not json at all\n" + b'{"kind":"Status"}\n' + b"[1,2]\n" + b"\n"
    data += line(event(seconds=4))[:50]  # the line kube-apiserver is writing right now
    (tmp_path / "audit.log").write_bytes(data)
    result = run(find_log_files(str(tmp_path / "audit.log")))
    assert result["events"] == 3
    assert result["skipped"] == {
        "truncated": 1,
        "legacy": 1,
        "garbage": 3,
        "oversized": 0,
        "nesting": 0,
        "malformed": 0,
        "timestamp": 0,
        "total": 5,
    }
    assert result["blank_lines"] == 1
    assert result["bytes"] == sum(len(line(body)) for body in good)


def test_an_over_long_line_is_skipped_without_being_held(tmp_path, monkeypatch):
    monkeypatch.setattr(files_mod, "MAX_LINE", 1024)
    big = event(seconds=1, uri="/api/v1/pods?fill=" + "a" * 5000)
    write(tmp_path / "audit.log", [event(seconds=0), big, event(seconds=2)])
    result = run(find_log_files(str(tmp_path / "audit.log")))
    assert result["events"] == 2
    assert result["skipped"]["oversized"] == 1
    assert result["span_seconds"] == 2


def test_a_complete_last_line_without_newline_still_counts(tmp_path):
    data = write(tmp_path / "audit.log", [event(seconds=0)], tail=line(event(seconds=5)).rstrip(b"\n"))
    result = run(find_log_files(str(tmp_path / "audit.log")))
    assert (result["events"], result["bytes"], result["skipped"]["total"]) == (2, len(data), 0)


# ----------------------------------------------------------------------------------------------------------------
# Rotated files


def test_lumberjack_backups_plain_and_gz_are_found_oldest_first(tmp_path):
    log = tmp_path / "audit.log"
    write(tmp_path / "audit-2026-11-30T10-00-00.000.log.gz", [event(seconds=0)], compressed=True)
    write(tmp_path / "audit-2026-11-30T11-00-00.000.log.gz", [event(seconds=3600)], compressed=True)
    write(tmp_path / "audit-2026-11-30T12-00-00.000.log", [event(seconds=7200)])
    # lumberjack is compressing this one right now: the plain file is read, the half-written .gz is not.
    write(tmp_path / "audit-2026-11-30T13-00-00.000.log", [event(seconds=10800)])
    (tmp_path / "audit-2026-11-30T13-00-00.000.log.gz").write_bytes(b"\x1f\x8b\x08")
    write(log, [event(seconds=14400)])
    for other in ("audit.log.1", "audit-2026-11-30.log", "other-2026-11-30T10-00-00.000.log", "audit.json"):
        (tmp_path / other).write_text("not ours\n")
    files = find_log_files(str(log))
    assert [Path(row["path"]).name for row in files] == [
        "audit-2026-11-30T10-00-00.000.log.gz",
        "audit-2026-11-30T11-00-00.000.log.gz",
        "audit-2026-11-30T12-00-00.000.log",
        "audit-2026-11-30T13-00-00.000.log",
        "audit.log",
    ]
    assert [row["compressed"] for row in files] == [True, True, False, False, False]
    assert files[0]["rotated_at"] == "2026-11-30T10:00:00.000Z" and files[-1]["rotated_at"] is None
    result = run(files)
    assert result["events"] == 5
    assert result["span_seconds"] == 14400
    assert [row["events"] for row in result["files"]] == [1, 1, 1, 1, 1]
    # bytes are the events' own (uncompressed) bytes, which is what --audit-log-maxsize counts
    assert result["bytes"] == sum(len(line(event(seconds=i * 3600))) for i in range(5))
    assert result["files"][0]["disk_bytes"] == os.path.getsize(files[0]["path"])


def test_a_damaged_gz_backup_is_reported_and_the_rest_is_read(tmp_path):
    good = gzip.compress(b"".join(line(event(seconds=i)) for i in range(50)))
    (tmp_path / "audit-2026-11-30T10-00-00.000.log.gz").write_bytes(good[: len(good) // 2])
    write(tmp_path / "audit.log", [event(seconds=100)])
    result = run(find_log_files(str(tmp_path / "audit.log")))
    assert result["files"][0]["damaged"] is True
    assert len(result["file_problems"]) == 1 and "audit-2026-11-30T10-00-00.000.log.gz" in result["file_problems"][0]
    assert result["files"][1]["events"] == 1 and result["events"] >= 1


def test_no_log_yet_and_a_directory_as_log_path(tmp_path):
    assert find_log_files(str(tmp_path / "audit.log")) == []
    assert find_log_files(str(tmp_path / "missing" / "audit.log")) == []
    (tmp_path / "dir.log").mkdir()
    with pytest.raises(ReportError, match=r"log_path: .*is a directory"):
        find_log_files(str(tmp_path / "dir.log"))


# ----------------------------------------------------------------------------------------------------------------
# Top-N


def test_top_rules_users_verbs_resources_by_bytes(tmp_path):
    events = (
        [
            event(seconds=i, user="big", resource="secrets", verb="list", uri="/api/v1/secrets?" + "x" * 2000)
            for i in range(3)
        ]
        + [event(seconds=i, user="many", verb="get") for i in range(10)]
        + [event(seconds=i, user="anon", resource=None, uri="/healthz", verb="get") for i in range(2)]
    )
    events[-1]["user"] = {}
    write(tmp_path / "audit.log", events)
    result = run(find_log_files(str(tmp_path / "audit.log")), top=2)
    assert [row["user"] for row in result["top_users"]] == ["big", "many"]
    assert result["top_users"][0]["events"] == 3
    assert [row["rule"] for row in result["top_rules"]] == ["secrets", "pods"]
    assert [row["resource"] for row in result["top_resources"]] == ["secrets", "pods"]
    assert [row["verb"] for row in result["top_verbs"]] == ["list", "get"]
    full = run(find_log_files(str(tmp_path / "audit.log")), top=10)
    assert {row["resource"] for row in full["top_resources"]} == {"secrets", "pods", "url /healthz"}
    assert "(anonymous)" in {row["user"] for row in full["top_users"]}
    assert {row["rule"] for row in full["top_rules"]} == {"secrets", "pods", "default"}
    assert sum(row["bytes"] for row in full["top_rules"]) == full["bytes"]


def test_counters_are_capped_and_sum_the_rest_under_other(tmp_path, monkeypatch):
    monkeypatch.setattr(events_mod, "MAX_KEYS", 5)
    write(tmp_path / "audit.log", [event(seconds=i, user=f"user-{i}") for i in range(20)])
    result = run(find_log_files(str(tmp_path / "audit.log")), top=50)
    users = {row["user"]: row["events"] for row in result["top_users"]}
    assert len(users) == 6 and users["(other)"] == 15
    assert sum(users.values()) == 20


# ----------------------------------------------------------------------------------------------------------------
# Retention


def test_size_decides_when_the_files_hold_less_than_maxage():
    keep = retention(MIB, maxsize=1, maxbackup=3, maxage=7)
    assert keep["hours_held"] == 4 and keep["hours_held_after_rotation"] == 3
    assert keep["decided_by"] == "size"
    assert keep["keeps_maxage_with"] == {
        "bytes_needed": 168 * MIB,
        "maxbackup_at_this_maxsize": 167,
        "maxsize_at_this_maxbackup": 42,
    }
    assert "The size limit, not maxage, decides" in keep["warning"] and "maxbackup to 167" in keep["warning"]
    # the suggested settings really hold maxage days at this rate
    assert retention(MIB, maxsize=1, maxbackup=167, maxage=7)["decided_by"] == "maxage"
    assert retention(MIB, maxsize=42, maxbackup=3, maxage=7)["decided_by"] == "maxage"


def test_maxage_decides_when_the_files_hold_more():
    keep = retention(10 * MIB / 24, maxsize=100, maxbackup=5, maxage=7)  # 10 MiB a day, 600 MiB of files
    assert keep["hours_held"] == pytest.approx(1440)
    assert (keep["decided_by"], keep["warning"], keep["keeps_maxage_with"]) == ("maxage", "", None)


def test_profiles_at_a_busy_rate():
    rate = 100 * MIB  # MiB per hour
    k0rdent = retention(rate, 100, 5, 7)
    cis = retention(rate, 100, 10, 30)
    assert (k0rdent["hours_held"], cis["hours_held"]) == (6, 11)
    assert k0rdent["keeps_maxage_with"]["maxbackup_at_this_maxsize"] == math.ceil(100 * 168 / 100) - 1
    assert cis["keeps_maxage_with"]["maxsize_at_this_maxbackup"] == math.ceil(100 * 720 / 11)


def test_no_rotation_no_backup_limit_no_rate_no_age_limit():
    # --audit-log-maxsize=0 is lumberjack's default size, 100 MiB (test_audit_report_hostile has the figures)
    assert retention(MIB, 0, 5, 7)["capacity_bytes"] == 100 * MIB * 6
    assert retention(MIB, 100, 0, 7)["capacity_bytes"] is None
    assert retention(None, 100, 5, 7)["decided_by"] == "maxage" and retention(None, 100, 5, 7)["hours_held"] is None
    unlimited = retention(MIB, 1, 1, 0)
    assert unlimited["decided_by"] == "size" and "maxage is 0" in unlimited["warning"]


# ----------------------------------------------------------------------------------------------------------------
# Projection with a candidate policy

CANDIDATE = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        {"level": "None", "resources": [{"group": "", "resources": ["configmaps"]}]},
        {"level": "Metadata", "resources": [{"group": "", "resources": ["pods"]}]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "Request", "verbs": ["create"]},
        {"level": "Metadata", "omitStages": ["RequestReceived"]},
    ],
}
CANDIDATE_NAMES = ["drop-configmaps", "pods-metadata", "secrets-full", "creates", "rest"]


def test_projection_drops_downgrades_and_estimates(tmp_path):
    pod_body = {"kind": "Pod", "metadata": {"name": "web", "labels": {"a": "b" * 300}}}
    pods_full = event(
        seconds=0, level="RequestResponse", requestObject=pod_body, responseObject=pod_body, verb="create"
    )
    configmap = event(seconds=1, resource="configmaps")
    received = event(seconds=2, resource="nodes", stage="RequestReceived")
    # secrets at Metadata; the candidate wants RequestResponse. One secret event at that level exists to size them.
    secret = event(seconds=3, resource="secrets", verb="get")
    secret_full = event(seconds=4, resource="secrets", verb="get", level="RequestResponse", responseObject=pod_body)
    # a create of services at Metadata becomes Request: nothing at that level seen, the fixed factor applies
    service = event(seconds=5, resource="services", verb="create")
    events = [pods_full, configmap, received, secret, secret_full, service]
    write(tmp_path / "audit.log", events)
    result = run(find_log_files(str(tmp_path / "audit.log")), candidate=CANDIDATE, candidate_names=CANDIDATE_NAMES)
    projection = result["projection"]
    sizes = [len(line(body)) for body in events]
    dropped = {(row["rule"], row["dropped_by"]): row for row in projection["dropped"]}
    assert dropped[("default", "drop-configmaps")]["bytes"] == sizes[1]
    assert dropped[("default", "rest")]["events"] == 1  # RequestReceived is omitted by the candidate
    assert (projection["dropped_events"], projection["dropped_bytes"]) == (2, sizes[1] + sizes[2])
    by_rule = {row["rule"]: row for row in projection["by_rule"]}
    # the same event at Metadata level, as kube-apiserver would have written it
    as_metadata = {key: value for key, value in pods_full.items() if key not in ("requestObject", "responseObject")}
    assert by_rule["pods-metadata"]["bytes"] == len(line(dict(as_metadata, level="Metadata")))
    assert by_rule["pods-metadata"]["bytes"] < sizes[0] / 2
    # secret at Metadata -> RequestResponse: sized like the secret event seen at RequestResponse; that one stays
    assert by_rule["secrets-full"]["bytes"] == 2 * sizes[4]
    # the service create becomes Request: 2x its size (its request body, BODY_FACTORS)
    assert by_rule["creates"]["bytes"] == 2 * sizes[5]
    assert projection["estimated_events"] == 2
    assert projection["events"] == 4
    assert projection["bytes"] == sum(row["bytes"] for row in projection["by_rule"])
    changes = {
        (row["rule"], row["candidate_rule"], row["from_level"], row["to_level"]) for row in projection["changes"]
    }
    assert ("pods", "pods-metadata", "RequestResponse", "Metadata") in changes
    assert ("secrets", "secrets-full", "Metadata", "RequestResponse") in changes
    assert ("default", "drop-configmaps", "Metadata", "None") in changes
    assert projection["mib_per_hour"] == pytest.approx(projection["bytes"] / MIB / (5 / 3600), rel=1e-4)


def test_no_candidate_no_projection(tmp_path):
    write(tmp_path / "audit.log", [event()])
    assert run(find_log_files(str(tmp_path / "audit.log")))["projection"] is None


def test_bad_policy_and_wrong_number_of_names_are_one_sentence():
    with pytest.raises(ReportError, match=r"^candidate_policy: The audit policy is not valid"):
        LogReport(POLICY, NAMES, {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Loud"}]})
    with pytest.raises(ReportError, match=r"^policy: has 4 rules but 2 rule names were given"):
        LogReport(POLICY, ["a", "b"])


# ----------------------------------------------------------------------------------------------------------------
# Rule names


def test_rule_names_from_the_baseline_with_additions_and_extra_groups():
    baseline = yaml.safe_load(BASELINE.read_text())["_k0s_audit_baseline_rules"]
    prepend = [{"name": "operator-pods", "level": "RequestResponse", "userGroups": ["system:masters"]}]
    append = [{"level": "Request", "verbs": ["create"]}]
    merged = merge_rules(baseline, prepend=prepend, append=append, extra_api_groups=["cert-manager.io"])
    names = rule_names(merged, baseline + prepend + append, ["cert-manager.io"])
    assert names[0] == "operator-pods"
    assert "known-api-groups-read" in names and "known-api-groups-default" in names
    assert names[-1] == "default-metadata"
    assert f"rules[{len(merged) - 2}]" == names[-2]  # the unnamed appended rule
    assert len(set(names)) == len(names)
    baseline_names = [rule["name"] for rule in baseline]
    assert [name for name in names if name in baseline_names] == baseline_names


def test_rule_names_without_sources_are_indexes():
    assert rule_names(POLICY["rules"]) == ["rules[0]", "rules[1]", "rules[2]", "rules[3]"]


# ----------------------------------------------------------------------------------------------------------------
# The table and memory


def test_render_table_shows_rates_retention_warning_and_drops(tmp_path):
    write(tmp_path / "audit.log", [event(seconds=i * 10, resource="configmaps") for i in range(10)])
    result = run(find_log_files(str(tmp_path / "audit.log")), candidate=CANDIDATE, candidate_names=CANDIDATE_NAMES)
    result["retention"] = retention(result["bytes"] / (result["span_seconds"] / 3600), 1, 3, 7)
    text = "\n".join(render_table("node-1", result))
    assert text.startswith("node-1: 10 events")
    assert "WARNING: The size limit, not maxage, decides" in text
    assert "drop-configmaps" in text and "no longer logged: 10 events" in text


def test_streaming_keeps_memory_bounded_on_a_50_mb_log(tmp_path):
    path = tmp_path / "audit.log"
    body = {"kind": "ConfigMap", "data": {"k": "v" * 4000}}
    target = 50 * 1000 * 1000
    written = count = 0
    with open(path, "wb") as handle:
        while written < target:
            data = line(event(seconds=count, user=f"user-{count % 50}", level="RequestResponse", responseObject=body))
            handle.write(data)
            written += len(data)
            count += 1
    files = find_log_files(str(path))
    tracemalloc.start()
    try:
        report = LogReport(POLICY, NAMES, CANDIDATE, CANDIDATE_NAMES)
        report.read_files(files)
        result = report.result()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["events"] == count and result["bytes"] == written
    assert peak < 4 * MIB, f"peak {peak} bytes while reading {written} bytes"


def test_the_host_side_needs_no_jsonschema_and_names_the_first_problem_of_a_bad_policy(tmp_path, monkeypatch):
    import importlib
    import sys

    write(tmp_path / "audit.log", [event(seconds=0, resource="secrets"), event(seconds=5, resource="pods")])
    files = find_log_files(str(tmp_path / "audit.log"))
    with_schema = run(files)
    prefix = "ansible_collections.k0rdent.audit.plugins.module_utils."
    for name in [name for name in sys.modules if name.startswith(prefix)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import jsonschema now raises ImportError
    report = importlib.import_module(prefix + "_audit_report")
    without = report.LogReport(POLICY, NAMES)
    without.read_files(files)
    assert without.result()["top_rules"] == with_schema["top_rules"] and without.result()["events"] == 2
    expected = (
        r"^policy: The audit policy is not valid: rules\[0\]\.level: must be one of None, Metadata, Request, "
        r'RequestResponse, not the string "Loud" \(the k0rdent\.audit\.audit_policy_errors filter'
    )
    with pytest.raises(report.ReportError, match=expected):
        report.LogReport({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Loud"}]})
