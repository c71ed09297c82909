"""Rotation of the audit log by the real API server: maxsize 1 MiB, maxbackup 2 leave three files, 0600, owned
by the account kube-apiserver runs as (k8s.io/apiserver pkg/server/options/audit.go hands the log to lumberjack,
which creates backups with the current file's mode and owner and removes all but maxbackup of them)."""

from __future__ import annotations

import json
import posixpath
import shlex
import time

import pytest

TOKEN = "operator-0123456789"
# Each event carries the whole requestURI, once per stage: about 180 KiB per request, 7 MiB in all. curl reads a
# config line of at most about 100 KiB, and its HTTP/2 headers are smaller still, so the requests use HTTP/1.1.
URI_BYTES = 90 * 1024
REQUESTS = 40


def _ready(host) -> dict:
    lines = host.file("/var/lib/k0s-standin/lifecycle.log").content_string.splitlines()
    detail = [line for line in lines if " ready " in line][-1].split(" ", 3)[3]
    head, _sep, args = detail.partition(" args=")
    fields = dict(token.split("=", 1) for token in head.split() if "=" in token)
    fields["args"] = json.loads(args)
    return fields


@pytest.fixture(scope="module")
def log_dir(host):
    path = host.ansible.get_variables().get("k0s_audit_log_path", "/var/log/k0s/audit.log")
    return posixpath.dirname(path), posixpath.basename(path)


@pytest.fixture(scope="module")
def rotated(host, log_dir):
    # curl reads the long URI from a config file, so it never travels through ansible and execve.
    make = (
        "printf 'url = \"https://127.0.0.1:6443/api/v1/namespaces/default/pods?fill=%s\"\\n' "
        f"\"$(head -c {URI_BYTES} /dev/zero | tr '\\0' a)\" > /tmp/rotation.curl"
    )
    assert host.run(make).rc == 0
    loop = (
        f"for i in $(seq 1 {REQUESTS}); do curl --http1.1 -sk -o /dev/null -w '%{{http_code}} ' -K /tmp/rotation.curl "
        f'-H {shlex.quote("Authorization: Bearer " + TOKEN)} -H "Audit-ID: rotation-$i"; done'
    )
    codes = host.run(loop).stdout.split()
    assert codes == ["404"] * REQUESTS, codes  # audited, answered by the server (no API groups: 404)
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
    args = _ready(host)["args"]
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
        first = json.loads(host.run(f"head -c 2000000 {shlex.quote(path)} | head -n 1").stdout)
        assert first["level"] == "RequestResponse" and first["auditID"].startswith("rotation-")


def test_every_file_is_0600_and_owned_by_the_api_server_account(host, rotated):
    pid = _ready(host)["apiserver_pid"]
    status = host.file(f"/proc/{pid}/status").content_string
    uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
    assert host.file(f"/proc/{pid}/comm").content_string.strip() == "kube-apiserver"
    assert uid == int(host.run("id -u kube-apiserver").stdout)
    for path in rotated:
        info = host.file(path)
        assert (info.uid, info.mode) == (uid, 0o600), path
