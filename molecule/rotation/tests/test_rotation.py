"""Rotation of the audit log by the real API server: maxsize 1 MiB, maxbackup 2 leave three files, 0600, owned
by the account kube-apiserver runs as (k8s.io/apiserver pkg/server/options/audit.go hands the log to lumberjack,
which creates backups with the current file's mode and owner and removes all but maxbackup of them). The host runs
the real k0s: the flags are read from the live kube-apiserver's command line, and the log also holds the events of
k0s's own components, told apart from the test's by their Audit-ID."""

from __future__ import annotations

import json
import posixpath
import shlex
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))
from _audit_log import log_location, send_long_uri_requests
from _real_k0s import apiserver_args

USER = "operator"  # k0s_test_client_certs: group system:masters, which the scenario's prepend rule logs whole
URI_BYTES = 90 * 1024  # each event carries the whole requestURI, once per stage: about 180 KiB per request
REQUESTS = 40


@pytest.fixture(scope="module")
def log_dir(host):
    return log_location(host)


@pytest.fixture(scope="module")
def rotated(host, log_dir):
    codes = send_long_uri_requests(
        host, count=REQUESTS, uri_bytes=URI_BYTES, user=USER, audit_id="rotation", config="/tmp/rotation.curl"
    )
    assert codes == ["200"] * REQUESTS, codes  # audited, and answered by the server (the list of pods)
    directory, name = log_dir
    stem, ext = posixpath.splitext(name)
    listing = f"find {shlex.quote(directory)} -maxdepth 1 -type f -name {shlex.quote(stem + '*' + ext)}"
    deadline = time.monotonic() + 20  # lumberjack removes old backups in a goroutine after each rotation
    while True:
        files = sorted(host.run(listing).stdout.split())
        if len(files) <= 3 or time.monotonic() > deadline:
            return files
        time.sleep(0.5)


def test_the_api_server_got_the_rotation_flags(host):
    args = apiserver_args(host)
    assert "--audit-log-maxsize=1" in args and "--audit-log-maxbackup=2" in args


def test_three_files_are_left(rotated, log_dir):
    directory, name = log_dir
    assert len(rotated) == 3, rotated
    assert posixpath.join(directory, name) in rotated


def test_the_backups_are_full_and_hold_the_big_events(host, rotated, log_dir):
    directory, name = log_dir
    for path in rotated:
        if path == posixpath.join(directory, name):
            continue
        assert host.file(path).size > URI_BYTES, path  # a backup holds at least one whole event
        events = [json.loads(line) for line in host.run(f"cat {shlex.quote(path)}").stdout.splitlines() if line]
        ours = [event for event in events if event["auditID"].startswith("rotation-")]
        assert ours and {event["level"] for event in ours} == {"RequestResponse"}, path
        assert all(len(event["requestURI"]) > URI_BYTES for event in ours), path


def test_every_file_is_0600_and_owned_by_the_api_server_account(host, rotated):
    pids = host.run("pgrep -x kube-apiserver").stdout.split()
    assert len(pids) == 1, pids
    pid = pids[0]
    status = host.file(f"/proc/{pid}/status").content_string
    uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
    assert host.file(f"/proc/{pid}/comm").content_string.strip() == "kube-apiserver"
    assert uid == int(host.run("id -u kube-apiserver").stdout)
    for path in rotated:
        info = host.file(path)
        assert (info.uid, info.mode) == (uid, 0o600), path
