"""k0rdent.audit.report on a controller whose real API server rotated its audit log into .gz backups: the JSON
figures equal what this test counts in the host's files itself, and headless Chromium renders them.

Rotation is lumberjack's (k8s.io/apiserver pkg/server/options/audit.go hands it --audit-log-maxsize, -maxbackup,
-compress): a backup is named audit-<UTC time>.log and, with compress, gzipped by a goroutine after the rotation
(gopkg.in/natefinch/lumberjack.v2 lumberjack.go, backupName and millRunOnce)."""

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
from report_page import figures_of, rendered_dom  # noqa: E402

TOKEN = "operator-0123456789"
URI_BYTES = 90 * 1024  # each request logs the URI twice (two stages): about 180 KiB per request
REQUESTS = 20  # about 3.5 MiB: three rotations at 1 MiB, all backups kept (maxbackup 3)
SMALL = 15  # configmaps reads, logged at Metadata (ResponseComplete only) by the baseline


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
        host, count=REQUESTS, uri_bytes=URI_BYTES, token=TOKEN, audit_id="report-big", config="/tmp/report.curl"
    )
    auth = shlex.quote("Authorization: Bearer " + TOKEN)
    loop = (
        f"for i in $(seq 1 {SMALL}); do curl -sk -o /dev/null -w '%{{http_code}} ' -H {auth} "
        f'-H "Audit-ID: report-small-$i" https://127.0.0.1:6443/api/v1/namespaces/default/configmaps; done'
    )
    codes += host.run(loop).stdout.split()
    assert len(codes) == REQUESTS + SMALL and set(codes) <= {"404", "200"}, codes
    directory, name = log_dir
    deadline = time.monotonic() + 30
    # wait until lumberjack has compressed every backup and the live file has stopped growing
    previous = None
    while True:
        files = _files(host, directory, name)
        sizes = host.run("stat -c '%n %s' " + " ".join(shlex.quote(path) for path in files)).stdout
        plain_backups = [path for path in files if path.endswith(".log") and posixpath.basename(path) != name]
        if not plain_backups and sizes == previous:
            return files
        assert time.monotonic() < deadline, (files, sizes)
        previous = sizes
        time.sleep(1)


@pytest.fixture(scope="module")
def own_count(host, loaded, log_dir):
    """What the files hold, counted here: events (JSON lines with a stage), bytes, first and last stageTimestamp."""
    directory, name = log_dir
    backups = [path for path in loaded if path.endswith(".gz")]
    live = posixpath.join(directory, name)
    text = host.run(" ".join(["zcat"] + [shlex.quote(path) for path in backups]) + f"; cat {shlex.quote(live)}").stdout
    events, size, stamps, skipped = 0, 0, [], 0
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        try:
            event = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        events += 1
        size += len(line.encode()) + 1
        stamps.append(event["stageTimestamp"])
    return {"backups": backups, "events": events, "bytes": size, "stamps": stamps, "skipped": skipped}


@pytest.fixture(scope="module")
def report(loaded, own_count, playbook, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("report")
    run = playbook("k0rdent.audit.report", "-e", f"k0s_audit_report_dir={out_dir}")
    hosts = [path.stem for path in out_dir.glob("*.json")]
    assert hosts == ["k0s-audit-report"], (hosts, run.stdout[-3000:])
    data = json.loads((out_dir / "k0s-audit-report.json").read_text())
    return {"dir": out_dir, "data": data["report"], "stdout": run.stdout}


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


def test_rules_by_name_and_the_size_warning(report):
    data = report["data"]
    rules = {row["rule"]: row for row in data["top_rules"]}
    assert data["top_rules"][0]["rule"] == "operator-pods"
    assert rules["operator-pods"]["events"] == 2 * REQUESTS
    # configmaps: the baseline rule omits RequestReceived, so one event per request
    assert rules["sensitive-resources-metadata"]["events"] == SMALL
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
