"""Run the real kube-apiserver on the real kine in tests, as k0s runs them (both built by scripts/build-k0s.sh).

The binaries are ``.cache/k0s/bin/kube-apiserver`` (Kubernetes at tests/k0s/versions.env's version) and
``.cache/k0s/bin/kine``. kine keeps its data in SQLite and serves the etcd API on a unix socket, with the flags
k0s gives it; kube-apiserver gets that socket as ``--etcd-servers``, a self-signed serving certificate
(``--cert-dir``), a service-account key pair made with openssl, a ``--token-auth-file`` for the test's users and
the authorization mode the test needs.

Two signs of how far a start got, both lines kube-apiserver logs:

- ``ACCEPTED``: "Loaded N mutating admission controller(s) successfully", logged by k8s.io/apiserver
  ``pkg/admission/plugins.go`` from ``Admission.ApplyTo`` in kubernetes ``pkg/controlplane/apiserver/config.go``
  CreateConfig, which cmd/kube-apiserver/app/config.go NewConfig calls only after BuildGenericConfig returned
  without error. BuildGenericConfig's last step is ``s.Audit.ApplyTo(genericConfig)`` (the policy read and
  validated, the log file created, the backends built), and option validation (``Validate``, where the flag
  checks of audit.go are) runs before all of it. So the line proves the audit flags passed validation and ApplyTo,
  about a second after the start, long before the server serves.
- ``SERVING``: "Serving securely on HOST:PORT" (k8s.io/apiserver ``pkg/server/secure_serving.go``), once the
  whole server runs (the port itself opens earlier, in ``SecureServingOptions.ApplyTo``).
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
    "ACCEPTED",
    "APISERVER",
    "KINE",
    "SERVING",
    "Kine",
    "Run",
    "Server",
    "free_port",
    "read_events",
    "request",
    "require_binaries",
    "run_once",
    "server_args",
    "service_account_keys",
    "wait_for_events",
    "wait_ready",
]

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".cache" / "k0s" / "bin"
APISERVER = BIN / "kube-apiserver"
KINE = BIN / "kine"
ACCEPTED = "mutating admission controller(s) successfully"
SERVING = "Serving securely on "


def require_binaries() -> None:
    """Fail (with the fix) when the binaries have not been built; scripts/test-all.sh and .ci/run build them first.

    A failure, not a skip: a skipped drift check would hide exactly the drift it is there to catch.
    """
    for binary in (APISERVER, KINE):
        if not os.access(binary, os.X_OK):
            pytest.fail("%s is not built; run scripts/build-k0s.sh" % binary.relative_to(REPO))


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (kube-apiserver refuses --secure-port=0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_account_keys(directory: Path) -> tuple[Path, Path]:
    """An RSA key pair made with openssl, for --service-account-signing-key-file and --service-account-key-file."""
    directory.mkdir(parents=True, exist_ok=True)
    key, pub = directory / "sa.key", directory / "sa.pub"
    if not key.exists():
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        subprocess.run(
            ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True
        )
    return key, pub


class _Process:
    """A child process whose stdout and stderr a thread reads into ``output``, watching for one line."""

    def __init__(self, args: Sequence[str], sign: str) -> None:
        self.args = [str(a) for a in args]
        self.sign = sign
        self._lines: list[str] = []
        self._seen = threading.Event()
        self._done = threading.Event()
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)
            if self.sign in line:
                self._seen.set()
        self._done.set()

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def wait_for(self, timeout: float) -> bool:
        """True once the sign line is logged; False when the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._seen.wait(0.02):
                return True
            if self._done.is_set():
                self.proc.wait()
                return self._seen.is_set()
        raise AssertionError(
            "%s neither logged %r nor exited in %s s:\n%s" % (self.args[0], self.sign, timeout, self.output)
        )

    def stop(self, kill: bool = False) -> int | None:
        """Stop the process (SIGTERM, or SIGKILL), return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._done.wait(5)
        return self.proc.returncode


class Kine(_Process):
    """kine on SQLite in ``directory``, serving the etcd API on ``directory/kine.sock``, as k0s starts it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.socket = "%s/kine.sock:2379" % directory
        super().__init__(
            [
                KINE,
                "--endpoint=sqlite://file:%s/state.db?mode=rwc&_journal=WAL" % directory,
                "--listen-address=unix://%s" % self.socket,
                "--metrics-bind-address=0",
            ],
            sign="Kine available at ",
        )
        assert self.wait_for(30), self.output

    @property
    def etcd_servers(self) -> str:
        return "unix:%s" % self.socket


def server_args(
    directory: Path,
    kine: Kine,
    port: int,
    authorization: str = "AlwaysAllow",
    tokens: Path | None = None,
) -> list[str]:
    """kube-apiserver's flags for a server on ``port`` storing in ``kine``; keys and certificates in ``directory``."""
    key, pub = service_account_keys(directory / "sa")
    args = [
        "--etcd-servers=%s" % kine.etcd_servers,
        "--cert-dir=%s" % (directory / "certs"),
        "--service-account-issuer=https://kubernetes.default.svc",
        "--service-account-key-file=%s" % pub,
        "--service-account-signing-key-file=%s" % key,
        "--service-cluster-ip-range=10.96.0.0/12",
        "--authorization-mode=%s" % authorization,
        "--bind-address=127.0.0.1",
        "--secure-port=%d" % port,
    ]
    if tokens is not None:
        args.append("--token-auth-file=%s" % tokens)
    return args


class Run:
    """The outcome of starting the server: whether it got past the sign, its exit status and its output."""

    def __init__(self, accepted: bool, returncode: int | None, output: str) -> None:
        self.accepted = accepted
        self.returncode = returncode
        self.output = output

    @property
    def refused(self) -> bool:
        return not self.accepted

    def __repr__(self) -> str:
        return "Run(accepted=%r, returncode=%r, output=%r)" % (self.accepted, self.returncode, self.output[-3000:])


class Server(_Process):
    """The real kube-apiserver as a child process."""

    def __init__(self, args: Sequence[str], sign: str = SERVING) -> None:
        super().__init__([APISERVER, *args], sign=sign)
        ports = [a.split("=", 1)[1] for a in self.args if a.startswith("--secure-port=")]
        self.port = int(ports[-1]) if ports else None

    def wait_serving(self, timeout: float = 120.0) -> bool:
        return self.wait_for(timeout)


def run_once(args: Sequence[str], sign: str = ACCEPTED, timeout: float = 120.0) -> Run:
    """Start kube-apiserver and kill it as soon as it logs ``sign``: did it accept ``args``?"""
    server = Server(args, sign=sign)
    accepted = server.wait_for(timeout)
    returncode = server.stop(kill=True) if accepted else server.proc.returncode
    return Run(accepted, None if accepted else returncode, server.output)


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
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_ready(port: int, token: str, paths: Sequence[str] = ("/readyz",), timeout: float = 120.0) -> None:
    """Wait until each path answers 200 to ``token``'s user (RBAC's roles and the namespaces come after serving)."""
    deadline = time.monotonic() + timeout
    for path in paths:
        while True:
            try:
                status = request(port, path, token=token)
            except OSError:
                status = None
            if status == 200:
                break
            assert time.monotonic() < deadline, "%s did not answer 200 in %s s (last: %s)" % (path, timeout, status)
            time.sleep(0.2)


def read_events(log: Path) -> list[dict]:
    """The JSON events in an audit log (one per line, as k8s.io/apiserver plugin/pkg/audit/log writes them)."""
    if not log.exists():
        return []
    # The server may be writing: what follows the last newline is an event not yet complete.
    return [json.loads(line) for line in log.read_text().split("\n")[:-1] if line.strip()]


def wait_for_events(log: Path, audit_id: str, stages: int = 2, timeout: float = 10.0) -> list[dict]:
    """The events of one request, once ``stages`` of them are written (ResponseComplete may trail the reply)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in read_events(log) if e.get("auditID") == audit_id]
        if len(found) >= stages or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
