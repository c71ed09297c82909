"""Helpers of the audit-event verifiers: send requests to a host's API server as clients do, read its audit log.

Requests run on the host with curl (testinfra's ``host.run``), each with a unique ``Audit-ID`` header, which the
API server takes as the event's ``auditID`` (k8s.io/apiserver pkg/endpoints/filters/audit.go via
pkg/audit/request.go), so every event can be matched to the request that caused it.
"""

from __future__ import annotations

import json
import shlex
import time
import uuid
from dataclasses import dataclass, field

__all__ = ["API", "Request", "events_by_id", "send", "token_of", "wait_for_ids"]

API = "https://127.0.0.1:6443"
# A request emits RequestReceived and ResponseComplete; long-running ones (watch) also ResponseStarted
# (k8s.io/apiserver pkg/endpoints/filters/audit.go, decorateResponseWriter).
SHORT_STAGES = ("RequestReceived", "ResponseComplete")
LONG_STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete")


@dataclass
class Request:
    name: str
    user: str | None  # a k0s_test_tokens user, None for anonymous
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


def token_of(tokens: list, user: str | None) -> str | None:
    if user is None:
        return None
    for row in tokens:
        if row["user"] == user:
            return row["token"]
    raise AssertionError(f"k0s_test_tokens has no token for {user}: add it to the scenario's group_vars")


def send(host, request: Request, tokens: list) -> int:
    request.audit_id = request.audit_id or f"{request.name}-{uuid.uuid4()}"
    command = ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-X", request.method]
    command += ["-H", f"Audit-ID: {request.audit_id}"]
    token = token_of(tokens, request.user)
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    for key, value in request.headers.items():
        command += ["-H", f"{key}: {value}"]
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
