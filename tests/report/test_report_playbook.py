"""k0rdent.audit.report through a real ``ansible-playbook`` run against localhost (connection local), on a log and
lumberjack backups made here; the JSON and HTML it leaves on the controller, and that the log is not touched.

The page is also opened in headless Chromium (Debian's ``chromium`` package) and its rendered DOM must show the
figures of the JSON."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from playbook_runner import run_playbook  # noqa: E402
from report_page import figures_of, rendered_dom  # noqa: E402

START = datetime(2026, 11, 30, 10, 0, 0, tzinfo=timezone.utc)


def _event(second: int, user: str, resource: str, verb: str = "get", level: str = "Metadata", **extra) -> bytes:
    moment = START + timedelta(seconds=second)
    body = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": f"id-{second}",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/namespaces/default/{resource}",
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "objectRef": {"resource": resource, "namespace": "default", "apiVersion": "v1"},
        "requestReceivedTimestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "stageTimestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **extra,
    }
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


@pytest.fixture
def logs(tmp_path):
    """Two hours of events: a gz backup, a plain backup, and the live file with a half-written last line."""
    directory = tmp_path / "log"
    directory.mkdir()
    backup_gz = b"".join(_event(i * 30, "alice", "secrets") for i in range(120))  # 10:00 .. 11:00
    with gzip.open(directory / "audit-2026-11-30T11-00-00.000.log.gz", "wb") as handle:
        handle.write(backup_gz)
    backup = b"".join(_event(3600 + i * 60, "bob", "configmaps", "list") for i in range(30))
    (directory / "audit-2026-11-30T11-30-00.000.log").write_bytes(backup)
    live = b"".join(_event(5400 + i * 60, "carol", "pods") for i in range(31)) + _event(7300, "carol", "pods")[:40]
    (directory / "audit.log").write_bytes(live)
    expected = {"events": 181, "bytes": len(backup_gz) + len(backup) + len(live) - 40, "truncated": 1}
    return directory, expected


def _digest(directory: Path) -> dict:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


def _playbook(tmp_path, variables: dict, *options: str, ok: bool = True) -> str:
    process = run_playbook(
        tmp_path,
        "k0rdent.audit.report",
        variables,
        "-e",
        "ansible_become=false",
        *options,
        host="node-1",
        group="k0s_controllers",
        ok=ok,
        timeout=180,
    )
    return process.stdout + process.stderr


@pytest.fixture(scope="module")
def candidate_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("candidate") / "candidate.yaml"
    path.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
        "  - name: drop-configmaps\n    level: None\n    resources: [{group: '', resources: [configmaps]}]\n"
        "  - level: Metadata\n"
    )
    return path


def test_report_playbook_writes_json_and_html_and_touches_nothing(tmp_path, logs):
    directory, expected = logs
    before = _digest(directory)
    out_dir = tmp_path / "report"
    variables = {
        "k0s_audit_log_path": str(directory / "audit.log"),
        "k0s_audit_log_maxsize": 1,
        "k0s_audit_log_maxbackup": 3,
        "k0s_audit_profile": "cis",
        "k0s_audit_report_dir": str(out_dir),
        "k0s_audit_report_live_flags": False,
    }
    output = _playbook(tmp_path, variables, "--check")
    assert _digest(directory) == before
    report = json.loads((out_dir / "node-1.json").read_text())["report"]
    assert (report["events"], report["bytes"]) == (expected["events"], expected["bytes"])
    assert report["skipped"]["truncated"] == expected["truncated"]
    assert (report["first_event"], report["last_event"]) == (
        "2026-11-30T10:00:00.000000Z",
        "2026-11-30T12:00:00.000000Z",
    )
    assert [Path(row["path"]).name for row in report["files"]] == [
        "audit-2026-11-30T11-00-00.000.log.gz",
        "audit-2026-11-30T11-30-00.000.log",
        "audit.log",
    ]
    keep = report["retention"]
    assert (keep["maxsize"], keep["maxbackup"], keep["maxage"]) == (1, 3, 30)  # maxage from the cis profile
    # the baseline's rule names: secrets are logged by sensitive-resources-metadata
    assert "sensitive-resources-metadata" in {row["rule"] for row in report["top_rules"]}
    assert report["projection"]["dropped_events"] == 0  # the role's policy is the candidate: the same rules
    assert ": 181 events, " in output and "retention:" in output
    page = (out_dir / "index.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert f'data-figure="events">{expected["events"]}<' in page


def test_candidate_file_projection(tmp_path, logs, candidate_file):
    directory, _expected = logs
    out_dir = tmp_path / "report"
    variables = {
        "k0s_audit_log_path": str(directory / "audit.log"),
        "k0s_audit_report_dir": str(out_dir),
        "k0s_audit_report_live_flags": False,
        "k0s_audit_report_candidate_policy": str(candidate_file),
    }
    _playbook(tmp_path, variables)
    report = json.loads((out_dir / "node-1.json").read_text())["report"]
    assert (report["retention"]["maxsize"], report["retention"]["maxbackup"]) == (100, 5)  # the k0rdent profile
    projection = report["projection"]
    assert projection["dropped_events"] == 30
    assert projection["dropped"][0]["dropped_by"] == "drop-configmaps"  # the name in the candidate file
    assert projection["events"] == 151


def test_the_page_rendered_by_chromium_shows_the_json_figures(tmp_path, logs, candidate_file):
    directory, _expected = logs
    out_dir = tmp_path / "report"
    variables = {
        "k0s_audit_log_path": str(directory / "audit.log"),
        "k0s_audit_log_maxsize": 1,
        "k0s_audit_log_maxbackup": 3,
        "k0s_audit_report_dir": str(out_dir),
        "k0s_audit_report_live_flags": False,
        "k0s_audit_report_candidate_policy": str(candidate_file),
    }
    _playbook(tmp_path, variables)
    report = json.loads((out_dir / "node-1.json").read_text())["report"]
    dom = rendered_dom(out_dir / "index.html", tmp_path / "chromium-profile")
    figures = figures_of(dom, "node-1")
    assert figures["events"] == str(report["events"])
    assert figures["bytes"] == str(report["bytes"])
    assert figures["mib_per_hour"] == f"{report['mib_per_hour']:.3f}"
    assert figures["hours_held"] == f"{report['retention']['hours_held']:.3f}"
    assert figures["projection.dropped_events"] == str(report["projection"]["dropped_events"])
    assert report["retention"]["warning"] and figures["warning"] == report["retention"]["warning"]
    for row in report["top_rules"]:
        assert re.search(rf'data-name="{re.escape(row["rule"])}"[^>]*>{row["bytes"]} B, {row["events"]} events<', dom)
    assert dom.count("<svg") >= 6


def test_a_bad_candidate_file_is_one_sentence_naming_it_and_nothing_is_written(tmp_path, logs):
    directory, _expected = logs
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - name: loud\n    level: Loud\n")
    out_dir = tmp_path / "report"
    variables = {
        "k0s_audit_log_path": str(directory / "audit.log"),
        "k0s_audit_report_dir": str(out_dir),
        "k0s_audit_report_live_flags": False,
        "k0s_audit_report_candidate_policy": str(bad),
    }
    output = _playbook(tmp_path, variables, ok=False)
    assert f"{bad}: rules[0].level" in output
    assert not out_dir.exists()
