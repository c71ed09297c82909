"""Helpers of the verifiers that fill a host's audit log until the API server rotates it (rotation, report).

Rotation is lumberjack's: k8s.io/apiserver pkg/server/options/audit.go hands it --audit-log-maxsize, -maxbackup
and -compress, and each backup is named ``<stem>-<UTC time><ext>`` next to the live file
(gopkg.in/natefinch/lumberjack.v2 lumberjack.go, backupName).
"""

from __future__ import annotations

import posixpath
import shlex

__all__ = ["log_location", "send_long_uri_requests"]

API = "https://127.0.0.1:6443"


def log_location(host) -> tuple[str, str]:
    """The directory and file name of the host's audit log (the role's default unless the scenario sets one)."""
    path = host.ansible.get_variables().get("k0s_audit_log_path", "/var/log/k0s/audit.log")
    return posixpath.dirname(path), posixpath.basename(path)


def send_long_uri_requests(host, *, count: int, uri_bytes: int, token: str, audit_id: str, config: str) -> list[str]:
    """``count`` GETs of pods with a query of ``uri_bytes`` bytes, Audit-ID ``<audit_id>-<i>``; their HTTP codes.

    Each event carries the whole requestURI, once per stage. curl reads the long URI from the config file ``config``
    on the host, so it never travels through Ansible and execve; curl reads a config line of at most about 100 KiB
    and its HTTP/2 headers are smaller still, so the requests use HTTP/1.1.
    """
    make = (
        f"printf 'url = \"{API}/api/v1/namespaces/default/pods?fill=%s\"\\n' "
        f"\"$(head -c {uri_bytes} /dev/zero | tr '\\0' a)\" > {shlex.quote(config)}"
    )
    assert host.run(make).rc == 0
    loop = (
        f"for i in $(seq 1 {count}); do curl --http1.1 -sk -o /dev/null -w '%{{http_code}} ' -K {shlex.quote(config)} "
        f'-H {shlex.quote("Authorization: Bearer " + token)} -H "Audit-ID: {audit_id}-$i"; done'
    )
    return host.run(loop).stdout.split()
