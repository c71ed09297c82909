"""Helpers of the audit-event verifiers: send requests to a host's API server as clients do, read its audit log.

Requests run on the host with curl (testinfra's ``host.run``) as a user of the scenario's ``k0s_test_client_certs``,
with the client certificate prepare.yml minted for it from k0s's CA, each with a unique ``Audit-ID`` header, which the
API server takes as the event's ``auditID`` (k8s.io/apiserver pkg/endpoints/filters/audit.go via
pkg/audit/request.go), so every event can be matched to the request that caused it.
"""

from __future__ import annotations

import json
import shlex
import time
import uuid
from dataclasses import dataclass, field

__all__ = ["API", "CA", "CLIENTS", "Request", "client_cert", "events_by_id", "send", "wait_for_ids"]

API = "https://127.0.0.1:6443"
CA = "/var/lib/k0s/pki/ca.crt"
CLIENTS = "/root/k0s-test-clients"  # prepare.yml: <user>.crt and .key (":" as "_"), from k0s_test_client_certs
# A request emits RequestReceived and ResponseComplete; long-running ones (watch) also ResponseStarted
# (k8s.io/apiserver pkg/endpoints/filters/audit.go, decorateResponseWriter).
SHORT_STAGES = ("RequestReceived", "ResponseComplete")
LONG_STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete")


@dataclass
class Request:
    name: str
    user: str  # a k0s_test_client_certs user
    method: str
    path: str
    level: str  # what the policy must log
    rule: str  # the rule that decides, by its name in the baseline or the scenario's additions
    long_running: bool = False
    body: str | None = None
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    verb: str | None = None  # for requests logged at None: how the server parses them, for the engine
    ref: dict | None = None  # the same: the objectRef of a resource request
    audit_id: str = ""

    def expected_stages(self, omitted) -> list:
        if self.level == "None":
            return []
        stages = LONG_STAGES if self.long_running else SHORT_STAGES
        return [stage for stage in stages if stage not in omitted]


def client_cert(host, user: str) -> tuple[str, str]:
    """The client certificate and key prepare.yml minted for ``user`` (k0s_test_client_certs)."""
    stem = user.replace(":", "_")  # curl's --cert reads what follows a ':' as the key's password
    cert, key = f"{CLIENTS}/{stem}.crt", f"{CLIENTS}/{stem}.key"
    assert host.file(cert).exists, f"k0s_test_client_certs has no certificate for {user}: add it to the group_vars"
    return cert, key


def send(host, request: Request) -> int:
    request.audit_id = request.audit_id or f"{request.name}-{uuid.uuid4()}"
    cert, key = client_cert(host, request.user)
    command = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-X", request.method]
    command += ["--cacert", CA, "--cert", cert, "--key", key, "-H", f"Audit-ID: {request.audit_id}"]
    for name, value in request.headers.items():
        command += ["-H", f"{name}: {value}"]
    if request.body is not None:
        command += ["-H", f"Content-Type: {request.content_type}", "--data-binary", request.body]
    command.append(API + request.path)
    result = host.run(shlex.join(command))
    assert result.stdout.strip().isdigit(), (command, result.stdout, result.stderr)
    return int(result.stdout.strip())


def events_by_id(host, log_path: str) -> dict:
    text = host.run(f"cat {shlex.quote(log_path)}").stdout
    found: dict = {}
    for line in text.splitlines():
        if line.strip():
            event = json.loads(line)
            found.setdefault(event.get("auditID"), []).append(event)
    return found


def wait_for_ids(host, log_path: str, ids, timeout: float = 20.0) -> dict:
    """The log's events by auditID, once every id in ``ids`` has its ResponseComplete event (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = events_by_id(host, log_path)
        complete = {i for i, events in found.items() if any(e.get("stage") == "ResponseComplete" for e in events)}
        if set(ids) <= complete or time.monotonic() > deadline:
            return found
        time.sleep(0.3)
