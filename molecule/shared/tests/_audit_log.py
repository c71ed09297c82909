"""Helpers of the verifiers that fill a host's audit log until the API server rotates it (rotation, report).

Rotation is lumberjack's: k8s.io/apiserver pkg/server/options/audit.go hands it --audit-log-maxsize, -maxbackup
and -compress, and each backup is named ``<stem>-<UTC time><ext>`` next to the live file
(gopkg.in/natefinch/lumberjack.v2 lumberjack.go, backupName).
"""

from __future__ import annotations

import posixpath
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _audit_requests import CA, client_cert

__all__ = ["log_location", "send_long_uri_requests"]

API = "https://127.0.0.1:6443"


def log_location(host) -> tuple[str, str]:
    """The directory and file name of the host's audit log (the role's default unless the scenario sets one)."""
    path = host.ansible.get_variables().get("k0s_audit_log_path", "/var/log/k0s/audit.log")
    return posixpath.dirname(path), posixpath.basename(path)


def send_long_uri_requests(host, *, count: int, uri_bytes: int, user: str, audit_id: str, config: str) -> list[str]:
    """``count`` GETs of pods with a query of ``uri_bytes`` bytes, Audit-ID ``<audit_id>-<i>``; their HTTP codes.

    The requests are made as ``user`` of the scenario's k0s_test_client_certs, with the client certificate
    prepare.yml minted from k0s's CA (the real API server refuses anonymous requests). Each event carries the whole
    requestURI, once per stage. curl reads the long URI from the config file ``config`` on the host, so it never
    travels through Ansible and execve; curl reads a config line of at most about 100 KiB and its HTTP/2 headers are
    smaller still, so the requests use HTTP/1.1.
    """
    cert, key = client_cert(host, user)
    tls = " ".join(shlex.quote(arg) for arg in ("--cacert", CA, "--cert", cert, "--key", key))
    make = (
        f"printf 'url = \"{API}/api/v1/namespaces/default/pods?fill=%s\"\\n' "
        f"\"$(head -c {uri_bytes} /dev/zero | tr '\\0' a)\" > {shlex.quote(config)}"
    )
    assert host.run(make).rc == 0
    loop = (
        f"for i in $(seq 1 {count}); do curl --http1.1 -s -o /dev/null -w '%{{http_code}} ' -K {shlex.quote(config)} "
        f'{tls} -H "Audit-ID: {audit_id}-$i"; done'
    )
    return host.run(loop).stdout.split()
