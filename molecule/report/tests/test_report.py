"""k0rdent.audit.report on a controller whose real API server rotated its audit log into .gz backups: the JSON
figures equal what this test counts in the host's files itself, and headless Chromium renders them.

Rotation is lumberjack's (k8s.io/apiserver pkg/server/options/audit.go hands it --audit-log-maxsize, -maxbackup,
-compress): a backup is named audit-<UTC time>.log and, with compress, gzipped by a goroutine after the rotation
(gopkg.in/natefinch/lumberjack.v2 lumberjack.go, backupName and millRunOnce). The host runs the real k0s: the
log also holds the events of k0s's own components (kube-controller-manager, kube-scheduler, k0s's controllers),
which keep coming while the test counts, so the live file is counted up to the report's last event."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2] / "shared" / "tests"))
sys.path.insert(0, str(HERE.parents[3] / "tests"))
from _audit_log import log_location, send_long_uri_requests  # noqa: E402
from _audit_requests import CA, client_cert  # noqa: E402
from report_page import figures_of, rendered_dom  # noqa: E402

USER = "operator"  # k0s_test_client_certs: the operator-pods rule logs its pods requests whole
URI_BYTES = 90 * 1024  # each request logs the URI twice (two stages): about 180 KiB per request
REQUESTS = 15  # about 2.7 MiB: two rotations at 1 MiB; all backups kept (maxbackup 3) with room for k0s's events
SMALL = 15  # configmaps reads, logged at Metadata (ResponseComplete only) by the baseline
# What the baseline's sensitive-resources-metadata rule covers, as (apiGroup, resource, subresource).
SENSITIVE = {("", "secrets", ""), ("", "configmaps", ""), ("", "serviceaccounts", "token")}
SENSITIVE_GROUPS = {("authentication.k8s.io", "tokenreviews")}


def _files(host, directory, name):
    stem = posixpath.splitext(name)[0]
    listing = f"find {shlex.quote(directory)} -maxdepth 1 -type f -name {shlex.quote(stem + '*')}"
    return sorted(host.run(listing).stdout.split())


@pytest.fixture(scope="module")
def log_dir(host):
    return log_location(host)


@pytest.fixture(scope="module")
def loaded(host, log_dir):
    codes = send_long_uri_requests(
        host, count=REQUESTS, uri_bytes=URI_BYTES, user=USER, audit_id="report-big", config="/tmp/report.curl"
    )
    cert, key = client_cert(host, USER)
    tls = " ".join(shlex.quote(arg) for arg in ("--cacert", CA, "--cert", cert, "--key", key))
    loop = (
        f"for i in $(seq 1 {SMALL}); do curl -s -o /dev/null -w '%{{http_code}} ' {tls} "
        f'-H "Audit-ID: report-small-$i" https://127.0.0.1:6443/api/v1/namespaces/default/configmaps; done'
    )
    codes += host.run(loop).stdout.split()
    assert codes == ["200"] * (REQUESTS + SMALL), codes
    directory, name = log_dir
    deadline = time.monotonic() + 30
    # wait until lumberjack has compressed every backup (the live file keeps growing with k0s's own events: the
    # report is compared with counts made around it, see counted_report)
    previous = None
    while True:
        files = _files(host, directory, name)
        backups = [path for path in files if posixpath.basename(path) != name]
        sizes = host.run("stat -c '%n %s' " + " ".join(shlex.quote(path) for path in backups)).stdout
        plain_backups = [path for path in files if path.endswith(".log") and posixpath.basename(path) != name]
        if not plain_backups and sizes == previous:
            return files
        assert time.monotonic() < deadline, (files, sizes)
        previous = sizes
        time.sleep(1)


def _count(host, log_dir, last_event: str):
    """What the files hold, counted here: events (JSON lines with a stage), bytes, first and last stageTimestamp,
    the test's own events by Audit-ID prefix, and the events on the resources sensitive-resources-metadata covers.

    The live file keeps growing with the events of k0s's components, so it is counted up to the last line with the
    report's last event (the report read the file up to there; later lines were written after it read)."""
    directory, name = log_dir
    backups = [path for path in _files(host, directory, name) if path.endswith(".gz")]
    live = posixpath.join(directory, name)
    old = host.run(" ".join(["zcat"] + [shlex.quote(path) for path in backups])).stdout.splitlines()
    new = host.run(f"cat {shlex.quote(live)}").stdout.splitlines()
    cut = [i for i, line in enumerate(new) if f'"stageTimestamp":"{last_event}' in line]
    assert cut, f"the report's last event {last_event} is not in {live}"
    events, size, stamps, skipped, sensitive = 0, 0, [], 0, 0
    ours = {"report-big": [], "report-small": []}
    for line in old + new[: cut[-1] + 1]:
        try:
            event = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        events += 1
        size += len(line.encode()) + 1
        stamps.append(event["stageTimestamp"])
        prefix = event["auditID"].rsplit("-", 1)[0]
        if prefix in ours:
            ours[prefix].append(event)
        ref = event.get("objectRef") or {}
        group, resource = ref.get("apiGroup", ""), ref.get("resource")
        if (group, resource, ref.get("subresource", "")) in SENSITIVE or (group, resource) in SENSITIVE_GROUPS:
            sensitive += 1
    return {
        "backups": backups,
        "events": events,
        "bytes": size,
        "stamps": stamps,
        "skipped": skipped,
        "ours": ours,
        "sensitive": sensitive,
    }


@pytest.fixture(scope="module")
def counted_report(host, loaded, log_dir, playbook, tmp_path_factory):
    """The report and this test's own count of the files as the report read them."""
    out_dir = tmp_path_factory.mktemp("report")
    run = playbook("k0rdent.audit.report", "-e", f"k0s_audit_report_dir={out_dir}")
    hosts = [path.stem for path in out_dir.glob("*.json")]
    assert hosts == ["k0s-audit-report"], (hosts, run.stdout[-3000:])
    data = json.loads((out_dir / "k0s-audit-report.json").read_text())
    count = _count(host, log_dir, data["report"]["last_event"].rstrip("Z")[:26])
    return {"dir": out_dir, "data": data["report"], "stdout": run.stdout}, count


@pytest.fixture(scope="module")
def own_count(counted_report):
    return counted_report[1]


@pytest.fixture(scope="module")
def report(counted_report):
    return counted_report[0]


def test_the_log_rotated_at_least_twice_into_gz_backups(own_count):
    assert len(own_count["backups"]) >= 2, own_count["backups"]
    for path in own_count["backups"]:
        assert re.search(r"/audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log\.gz$", path), path


def test_the_json_figures_are_the_host_files_own(report, own_count):
    data = report["data"]
    assert data["events"] == own_count["events"] and own_count["events"] >= 2 * REQUESTS + SMALL
    assert data["bytes"] == own_count["bytes"]
    assert data["skipped"]["total"] == own_count["skipped"] == 0
    assert data["first_event"].rstrip("Z")[:26] == min(own_count["stamps"]).rstrip("Z")[:26]
    assert data["last_event"].rstrip("Z")[:26] == max(own_count["stamps"]).rstrip("Z")[:26]
    assert sorted(row["path"] for row in data["files"] if row["compressed"]) == own_count["backups"]
    hours = data["span_seconds"] / 3600
    assert data["mib_per_hour"] == pytest.approx(own_count["bytes"] / 1048576 / hours, rel=1e-3)


def test_flags_and_policy_came_from_the_live_api_server(report):
    settings = report["data"]["settings"]
    assert (settings["maxsize"], settings["maxbackup"], settings["maxage"], settings["compress"]) == (1, 3, 7, True)
    assert set(settings["sources"].values()) == {"process"}
    assert settings["policy_source"] == "file" and settings["apiserver_pid"]
    assert report["data"]["level_mismatches"] == 0


def test_rules_by_name_and_the_size_warning(report, own_count):
    data = report["data"]
    rules = {row["rule"]: row for row in data["top_rules"]}
    assert data["top_rules"][0]["rule"] == "operator-pods"
    # the operator's pods requests are the test's big ones, logged at both stages
    assert len(own_count["ours"]["report-big"]) == 2 * REQUESTS
    assert {event["level"] for event in own_count["ours"]["report-big"]} == {"RequestResponse"}
    assert rules["operator-pods"]["events"] == 2 * REQUESTS
    # configmaps: the baseline rule omits RequestReceived, so one event per request; k0s's components read
    # configmaps and secrets too, and the rule counts theirs
    assert [event["stage"] for event in own_count["ours"]["report-small"]] == ["ResponseComplete"] * SMALL
    assert rules["sensitive-resources-metadata"]["events"] == own_count["sensitive"] >= SMALL
    keep = data["retention"]
    assert keep["decided_by"] == "size" and "The size limit, not maxage, decides" in keep["warning"]
    assert keep["keeps_maxage_with"]["maxbackup_at_this_maxsize"] > 3
    assert data["projection"]["dropped_events"] == 0  # the role's own policy as candidate changes nothing
    assert "WARNING: The size limit" in report["stdout"]


def test_chromium_renders_the_json_figures(report, tmp_path):
    dom = rendered_dom(report["dir"] / "index.html", tmp_path / "profile")
    figures = figures_of(dom, "k0s-audit-report")
    data = report["data"]
    assert figures["events"] == str(data["events"])
    assert figures["bytes"] == str(data["bytes"])
    assert figures["hours_held"] == f"{data['retention']['hours_held']:.3f}"
    assert figures["warning"] == data["retention"]["warning"]
    assert 'data-name="operator-pods"' in dom
