"""Run the test API server (``.cache/testbed/kube-apiserver``, built by scripts/build-test-apiserver.sh) in tests.

The binary is kube-apiserver's own audit code (k8s.io/apiserver ``pkg/server/options/audit.go`` and the audit
plugins) in a small server, see tests/apiserver/README.md. These helpers start it, wait for the line
``Serving securely on HOST:PORT`` that k8s.io/apiserver ``pkg/server/secure_serving.go`` logs once the audit
backends are set up (the port itself opens earlier, in ``SecureServingOptions.ApplyTo``, so an open port proves
nothing), send it requests and read its audit log.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Sequence

import pytest

__all__ = [
    "BINARY",
    "SERVING",
    "Run",
    "Server",
    "free_port",
    "read_events",
    "request",
    "require_binary",
    "run_once",
    "wait_for_events",
]

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / ".cache" / "testbed" / "kube-apiserver"
SERVING = "Serving securely on "


def require_binary() -> None:
    """Skip (with the fix) when the binary has not been built; scripts/test-all.sh and .ci/run build it."""
    if not os.access(BINARY, os.X_OK):
        pytest.skip("%s is not built; run scripts/build-test-apiserver.sh" % BINARY.relative_to(REPO))


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (kube-apiserver refuses --secure-port=0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    """The outcome of starting the server: whether it reached serving, its exit status and its output."""

    def __init__(self, serving: bool, returncode: int | None, output: str) -> None:
        self.serving = serving
        self.returncode = returncode
        self.output = output

    @property
    def refused(self) -> bool:
        return not self.serving

    def __repr__(self) -> str:
        return "Run(serving=%r, returncode=%r, output=%r)" % (self.serving, self.returncode, self.output[-2000:])


class Server:
    """The binary as a child process, its stdout and stderr read by a thread into ``output``."""

    def __init__(self, args: Sequence[str]) -> None:
        self.args = [str(BINARY), *args]
        self._lines: list[str] = []
        self._serving = threading.Event()
        self._done = threading.Event()
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port: int | None = None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)
            if SERVING in line:
                self.port = int(line.rsplit(":", 1)[1])
                self._serving.set()
        self._done.set()

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def wait_serving(self, timeout: float = 30.0) -> bool:
        """True once the server logs that it serves; False when it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._serving.wait(0.02):
                return True
            if self._done.is_set():
                self.proc.wait()
                return self._serving.is_set()
        raise AssertionError("the test API server neither served nor exited in %s s:\n%s" % (timeout, self.output))

    def stop(self, kill: bool = False) -> int | None:
        """Stop the server (SIGTERM, or SIGKILL when a webhook backend would make shutdown wait), return status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._done.wait(5)
        return self.proc.returncode


def run_once(args: Sequence[str], timeout: float = 30.0) -> Run:
    """Start the server, and stop it again as soon as it serves: did it accept ``args``?"""
    server = Server(args)
    serving = server.wait_serving(timeout)
    returncode = server.stop(kill=True) if serving else server.proc.returncode
    return Run(serving, None if serving else returncode, server.output)


def request(
    port: int,
    path: str,
    method: str = "GET",
    token: str | None = None,
    audit_id: str | None = None,
    body: bytes | None = None,
) -> int:
    """One HTTPS request to the server (its certificate is self-signed); returns the status code."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    headers: dict[str, str] = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if audit_id:
        headers["Audit-ID"] = audit_id
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def read_events(log: Path) -> list[dict]:
    """The JSON events in an audit log (one per line, as k8s.io/apiserver plugin/pkg/audit/log writes them)."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def wait_for_events(log: Path, audit_id: str, stages: int = 2, timeout: float = 10.0) -> list[dict]:
    """The events of one request, once ``stages`` of them are written (ResponseComplete may trail the reply)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in read_events(log) if e.get("auditID") == audit_id]
        if len(found) >= stages or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
