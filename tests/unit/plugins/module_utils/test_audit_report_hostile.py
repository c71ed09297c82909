"""The audit report core against hostile input: odd lines, foreign files, bombs, rotation mid-read, absurd figures."""

from __future__ import annotations

import gzip
import json
import os
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest

from ansible_collections.k0rdent.audit.plugins.module_utils import _audit_report_events as events_mod
from ansible_collections.k0rdent.audit.plugins.module_utils import _audit_report_files as files_mod
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report import (
    MIB,
    LogReport,
    ReportError,
    find_log_files,
    render_table,
    retention,
)

from .test_audit_report import NAMES, POLICY, START, event, line, write


def read_log(log: Path, maxsize: int = 100, top: int = 10) -> dict:
    report = LogReport(POLICY, NAMES)
    report.read_log(str(log), maxsize)
    return report.result(top)


def raw(text: str) -> bytes:
    return text.encode() + b"\n"


def good(seconds: float = 0, **extra) -> bytes:
    return line(event(seconds=seconds, **extra))


def with_field(seconds: float, path: tuple, value) -> bytes:
    body = event(seconds=seconds)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return line(body)


# ----------------------------------------------------------------------------------------------------------------
# Any line


def test_hostile_lines_are_skipped_with_their_reason_and_never_fatal(tmp_path):
    lines = [
        good(0),
        raw("[" * 200_000 + "]" * 200_000),  # nesting deeper than the parser's recursion limit
        raw('{"kind":"Event","auditID":"x","stage":"ResponseComplete","n":' + "9" * 5000 + "}"),  # int too long
        with_field(1, ("level",), ["Metadata"]),  # a list where a string belongs
        with_field(2, ("verb",), {"get": 1}),  # a mapping where a string belongs
        with_field(3, ("user", "username"), ["root"]),
        with_field(4, ("user", "groups"), ["ok", 7]),
        with_field(5, ("objectRef", "resource"), {"a": "b"}),
        with_field(6, ("requestURI",), 12),
        with_field(7, ("stage",), "Elsewhere"),
        with_field(8, ("stageTimestamp",), "9999-12-31T23:59:59.999999-01:00"),  # past year 9999 in UTC
        with_field(9, ("stageTimestamp",), "0001-01-01T00:00:00.000000+01:00"),  # before year 1 in UTC
        with_field(10, ("stageTimestamp",), "2026-13-01T00:00:00.000000Z"),
        with_field(11, ("stageTimestamp",), 1_764_496_800),
        with_field(12, ("stageTimestamp",), "2026-11-30 10:00:12"),  # not RFC 3339
        with_field(13, ("stageTimestamp",), "2026-11-30T10:00:60.000000Z"),
        b'{"kind":"Event","auditID":"\xff\xfe","stage":"ResponseComplete"}\n',  # not UTF-8
        with_field(14, ("responseStatus",), {"code": 1e999, "big": 10**300}),  # numbers out of any range: kept
        with_field(15, ("user", "username"), "bad\ud800name"),  # a lone surrogate: kept, shown replaced
        with_field(16, ("requestObject",), {"text": "\udfff"}),
        good(17),
    ]
    (tmp_path / "audit.log").write_bytes(b"".join(lines))
    result = read_log(tmp_path / "audit.log")
    assert result["events"] == 5
    skipped = result["skipped"]
    assert skipped["nesting"] == 1
    assert skipped["garbage"] == 2  # the over-long integer and the bytes that are not UTF-8
    assert skipped["malformed"] == 7
    assert skipped["timestamp"] == 6
    assert skipped["total"] == 16
    reasons = "\n".join(result["skipped_examples"])
    assert "line 4: level is a list" in reasons and "user.username is a list" in reasons
    assert "stageTimestamp" in reasons and "nesting" in reasons
    # the whole report is valid UTF-8 JSON (what the module prints and the page is written from)
    text = json.dumps(result, ensure_ascii=False).encode()
    assert "bad\ufffd".encode() in text
    assert result["last_event"] == "2026-11-30T10:00:17.000000Z"


def test_other_timestamp_forms_of_rfc_3339_are_read_in_utc(tmp_path):
    lines = [
        with_field(0, ("stageTimestamp",), "2026-11-30T11:00:00+01:00"),
        with_field(0, ("stageTimestamp",), "2026-11-30T10:30:00.123456789Z"),
    ]
    (tmp_path / "audit.log").write_bytes(b"".join(lines))
    result = read_log(tmp_path / "audit.log")
    assert (result["events"], result["first_event"]) == (2, "2026-11-30T10:00:00.000000Z")
    assert result["last_event"] == "2026-11-30T10:30:00.123456Z"


# ----------------------------------------------------------------------------------------------------------------
# Only the log's own files


def test_symlinks_fifos_and_foreign_names_are_never_read(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    outside = tmp_path / "secret.log"
    write(outside, [event(seconds=i, user="outside") for i in range(5)])
    write(logs / "audit-2026-11-30T08-00-00.000.log", [event(seconds=-7200)])
    os.symlink(outside, logs / "audit-2026-11-30T09-00-00.000.log")
    os.symlink(outside, logs / "audit-2026-11-30T09-30-00.000.log.gz")
    os.mkfifo(logs / "audit-2026-11-30T09-45-00.000.log")
    write(logs / "audit-2026-13-45T99-99-99.000.log", [event(seconds=1, user="bad-stamp")])
    write(logs / "audit.log", [event(seconds=0)])
    skipped: list = []
    names = [Path(row["path"]).name for row in find_log_files(str(logs / "audit.log"), skipped)]
    assert names == ["audit-2026-11-30T08-00-00.000.log", "audit.log"]
    reasons = {Path(row["path"]).name: row["reason"] for row in skipped}
    assert "symbolic link" in reasons["audit-2026-11-30T09-00-00.000.log"]
    assert "symbolic link" in reasons["audit-2026-11-30T09-30-00.000.log.gz"]
    assert "not a regular file" in reasons["audit-2026-11-30T09-45-00.000.log"]
    result = read_log(logs / "audit.log")
    assert result["events"] == 2
    assert {row["user"] for row in result["top_users"]} == {"jane"}
    assert len(result["skipped_files"]) == 3


def test_a_symlinked_live_log_is_named_and_not_followed(tmp_path):
    outside = tmp_path / "elsewhere.log"
    write(outside, [event(seconds=0)])
    logs = tmp_path / "logs"
    logs.mkdir()
    os.symlink(outside, logs / "audit.log")
    result = read_log(logs / "audit.log")
    assert result["events"] == 0
    assert result["skipped_files"] == [
        {"path": str(logs / "audit.log"), "reason": "a symbolic link, not followed: only the log's own files are read"}
    ]


def test_a_symlink_swapped_in_after_listing_is_not_followed(tmp_path):
    outside = tmp_path / "secret.log"
    write(outside, [event(seconds=i, user="outside") for i in range(3)])
    logs = tmp_path / "logs"
    logs.mkdir()
    backup = logs / "audit-2026-11-30T09-00-00.000.log"
    write(backup, [event(seconds=-60)])
    write(logs / "audit.log", [event(seconds=0)])
    files = find_log_files(str(logs / "audit.log"))
    backup.unlink()
    os.symlink(outside, backup)
    report = LogReport(POLICY, NAMES)
    report.read_files(files)
    result = report.result()
    assert result["events"] == 1 and "outside" not in {row["user"] for row in result["top_users"]}
    assert "symbolic link" in result["files"][0]["note"]


# ----------------------------------------------------------------------------------------------------------------
# Bounded work and memory


def test_a_compressed_backup_is_read_at_most_to_maxsize_and_flagged(tmp_path):
    body = b"".join(good(i) for i in range(20_000))  # about 7 MiB
    assert len(body) > 3 * MIB
    with gzip.open(tmp_path / "audit-2026-11-30T10-00-00.000.log.gz", "wb") as handle:
        handle.write(body)
    write(tmp_path / "audit.log", [event(seconds=30_000)])
    result = read_log(tmp_path / "audit.log", maxsize=1)
    backup = result["files"][0]
    assert backup["over_limit"] is True and "more than lumberjack writes" in backup["note"]
    assert result["bytes"] <= MIB + len(good(30_000))
    assert any("more than lumberjack writes" in problem for problem in result["file_problems"])


def test_maxsize_zero_bounds_a_backup_at_lumberjacks_default(tmp_path, monkeypatch):
    monkeypatch.setattr(files_mod, "DEFAULT_MAXSIZE", 1)  # lumberjack's 100 MB, scaled down
    body = b"".join(good(i) for i in range(10_000))
    with gzip.open(tmp_path / "audit-2026-11-30T10-00-00.000.log.gz", "wb") as handle:
        handle.write(body)
    write(tmp_path / "audit.log", [])
    result = read_log(tmp_path / "audit.log", maxsize=0)
    assert result["files"][0]["over_limit"] is True and result["bytes"] <= MIB


def test_memory_does_not_grow_with_distinct_long_values(tmp_path):
    path = tmp_path / "audit.log"
    with open(path, "wb") as handle:
        for index in range(600):
            name = f"{index}-" + "u" * 20_000
            handle.write(good(index, user=name, resource="pods" + "r" * 20_000))
    tracemalloc.start()
    try:
        report = LogReport(POLICY, NAMES)
        report.read_log(str(path), 100)
        result = report.result()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["events"] == 600
    assert peak < 6 * MIB, f"peak {peak} bytes"
    assert all(len(row["user"]) <= 256 for row in result["top_users"])


def test_the_hourly_series_keeps_the_newest_hours(tmp_path, monkeypatch):
    monkeypatch.setattr(events_mod, "MAX_HOURS", 5)
    write(tmp_path / "audit.log", [event(seconds=hour * 3600) for hour in range(10)])
    result = read_log(tmp_path / "audit.log")
    assert [row["hour"] for row in result["hours"]] == [f"2026-11-30T{hour}:00Z" for hour in range(15, 20)]
    assert result["older_hours"] == {"events": 5, "bytes": sum(len(good(h * 3600)) for h in range(5))}
    # the rate is measured over the hours kept
    assert result["first_event"] == "2026-11-30T15:00:00.000000Z"


# ----------------------------------------------------------------------------------------------------------------
# Rotation while reading


def test_a_backup_compressed_after_listing_is_found_under_its_new_name(tmp_path):
    backup = tmp_path / "audit-2026-11-30T09-00-00.000.log"
    write(backup, [event(seconds=-60 - i) for i in range(3)])
    write(tmp_path / "audit.log", [event(seconds=0)])
    files = find_log_files(str(tmp_path / "audit.log"))
    with gzip.open(str(backup) + ".gz", "wb") as handle:  # lumberjack's compressLogFile, then the plain one goes
        handle.write(backup.read_bytes())
    backup.unlink()
    report = LogReport(POLICY, NAMES)
    report.read_files(files)
    result = report.result()
    assert result["events"] == 4
    assert result["files"][0]["path"] == str(backup) + ".gz" and result["files"][0]["compressed"] is True


def test_the_live_log_rotated_after_listing_loses_nothing(tmp_path, monkeypatch):
    log = tmp_path / "audit.log"
    write(tmp_path / "audit-2026-11-30T09-00-00.000.log", [event(seconds=-60)])
    write(log, [event(seconds=i) for i in range(3)])
    real_find = files_mod.find_log_files
    calls = []

    def find_then_rotate(path, skipped=None):
        found = real_find(path, skipped)
        calls.append(path)
        if len(calls) == 1:  # kube-apiserver rotates right after the listing
            log.rename(tmp_path / "audit-2026-11-30T10-00-03.000.log")
            write(log, [event(seconds=10 + i) for i in range(2)])
        return found

    monkeypatch.setattr(files_mod, "find_log_files", find_then_rotate)
    result = read_log(log)
    assert result["events"] == 6 and result["span_seconds"] == 71


def test_the_live_log_rotated_and_compressed_under_an_open_handle_counts_once(tmp_path, monkeypatch):
    log = tmp_path / "audit.log"
    write(log, [event(seconds=i) for i in range(3)])
    real_open = files_mod.open_log_file

    def open_then_rotate(path):
        handle = real_open(path)
        if path == str(log) and not (tmp_path / "audit-2026-11-30T10-00-03.000.log.gz").exists():
            with gzip.open(tmp_path / "audit-2026-11-30T10-00-03.000.log.gz", "wb") as out:
                out.write(log.read_bytes())
            log.unlink()  # renamed, compressed and removed while this handle still reads it
            write(log, [event(seconds=10 + i) for i in range(2)])
        return handle

    monkeypatch.setattr(files_mod, "open_log_file", open_then_rotate)
    result = read_log(log)
    assert result["events"] == 5
    assert sum(row["events"] for row in result["files"]) == 5


# ----------------------------------------------------------------------------------------------------------------
# True figures


def test_maxsize_zero_rotates_at_lumberjacks_default_size():
    keep = retention(MIB, maxsize=0, maxbackup=5, maxage=7)
    assert keep["capacity_bytes"] == 100 * MIB * 6 and keep["hours_held"] == 600
    assert keep["effective_maxsize"] == 100 and "default" in keep["note"]


@pytest.mark.parametrize(
    ("rate", "maxsize", "maxbackup", "maxage"),
    [(1e-300, 10**30, 10**30, 10**30), (1e300, 2**63, 1, 2**62), (MIB, 1, 1, 10**400), (float("inf"), 1, 1, 1)],
)
def test_absurd_settings_and_rates_do_not_crash(rate, maxsize, maxbackup, maxage):
    keep = retention(rate, maxsize, maxbackup, maxage)
    assert keep["decided_by"] in ("size", "maxage", "nothing")
    json.dumps(keep, allow_nan=False)


def test_one_event_with_a_wrong_clock_does_not_change_the_rate(tmp_path):
    events = [event(seconds=i * 60) for i in range(121)]
    wrong = event(seconds=0, user="skewed")
    wrong["stageTimestamp"] = "1970-01-01T00:00:00.000000Z"
    wrong["requestReceivedTimestamp"] = "1970-01-01T00:00:00.000000Z"
    write(tmp_path / "audit.log", [*events[:60], wrong, *events[60:]])
    result = read_log(tmp_path / "audit.log")
    assert result["events"] == 122
    assert result["span_seconds"] == 7200 and result["events_per_hour"] == pytest.approx(60.5)
    assert result["first_event"] == "2026-11-30T10:00:00.000000Z"
    assert result["clock_outliers"] == [{"hour": "1970-01-01T00:00Z", "events": 1, "bytes": len(line(wrong))}]
    assert "1970-01-01T00:00Z" in "\n".join(render_table("h", dict(result, retention=retention(MIB, 1, 1, 1))))


def test_two_busy_periods_are_both_kept(tmp_path):
    events = [event(seconds=i * 60) for i in range(60)] + [event(seconds=86400 * 3 + i * 60) for i in range(60)]
    write(tmp_path / "audit.log", events)
    result = read_log(tmp_path / "audit.log")
    assert result["clock_outliers"] == [] and result["span_seconds"] == 86400 * 3 + 59 * 60


# ----------------------------------------------------------------------------------------------------------------
# Unreadable


def test_an_unreadable_directory_is_one_sentence(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(files_mod.os, "listdir", refuse)
    with pytest.raises(ReportError, match=r"^log_path: the directory .* cannot be listed \(Permission denied\)"):
        find_log_files(str(tmp_path / "audit.log"))


def test_an_unreadable_live_log_is_one_sentence_not_a_damaged_backup(tmp_path, monkeypatch):
    write(tmp_path / "audit.log", [event()])
    real_open = files_mod.os.open

    def refuse(path, flags, *args):
        if str(path).endswith("audit.log"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(files_mod.os, "open", refuse)
    with pytest.raises(ReportError, match=r"^log_path: .*audit.log cannot be read \(Permission denied\)"):
        read_log(tmp_path / "audit.log")


def test_timestamps_are_compared_in_utc_across_forms(tmp_path):
    first = event(seconds=0)
    first["stageTimestamp"] = (START - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + "-01:00"
    write(tmp_path / "audit.log", [first, event(seconds=30)])
    assert read_log(tmp_path / "audit.log")["span_seconds"] == 30


def test_long_distinct_values_are_decided_as_whole_and_leave_no_large_cache(tmp_path):
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "rules": [
            {"level": "None", "nonResourceURLs": ["/healthz*"]},
            {"level": "Request", "users": ["x" * 300]},
            {"level": "Metadata"},
        ],
    }
    path = tmp_path / "audit.log"
    with open(path, "wb") as handle:
        for index in range(400):
            tail = f"{index}-" + "a" * 30_000
            handle.write(good(index, resource=None, uri="/healthz/%25" + tail + "?q=1"))  # prefix: rules[0]
            handle.write(good(index, resource=None, uri="/apis/" + tail))  # rules[2]
        handle.write(good(500, user="x" * 300))  # exactly the rule's user: rules[1]
        handle.write(good(501, user="x" * 301))  # longer: rules[2]
    tracemalloc.start()
    try:
        report = LogReport(policy)
        report.read_log(str(path), 100)
        result = report.result()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rules = {row["rule"]: row["events"] for row in result["top_rules"]}
    assert rules == {"rules[0]": 400, "rules[1]": 1, "rules[2]": 401}
    assert peak < 6 * MIB, f"peak {peak} bytes"
