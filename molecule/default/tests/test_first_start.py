"""The bootstrap shape: the role runs before k0s is installed; k0s is installed and started afterwards, and its
first start already audits, with kube-apiserver's own audit code (the test API server) writing the log."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _docker_cp(source: Path, container: str, target: str) -> None:
    subprocess.run(["docker", "cp", str(source), "%s:%s" % (container, target)], check=True)


def test_k0s_installed_after_the_role_starts_with_audit_logging(host):
    container = host.backend.get_hostname()
    host.run("mkdir -p /var/lib/k0s/bin")
    _docker_cp(REPO / "tests" / "k0s_standin" / "k0s_standin.py", container, "/usr/local/bin/k0s")
    _docker_cp(REPO / "tests" / "k0s_standin" / "k0scontroller.service", container, "/etc/systemd/system/")
    _docker_cp(REPO / ".cache" / "testbed" / "kube-apiserver", container, "/var/lib/k0s/bin/kube-apiserver")
    host.run("chmod 0755 /usr/local/bin/k0s /var/lib/k0s/bin/kube-apiserver")
    assert host.run("systemctl daemon-reload && systemctl start k0scontroller").rc == 0
    for _attempt in range(30):
        if host.run("curl -sk https://127.0.0.1:6443/readyz").stdout == "ok":
            break
        time.sleep(1)
    assert host.run("curl -sk https://127.0.0.1:6443/readyz").stdout == "ok"
    log = host.file("/var/log/k0s/audit.log")
    assert log.exists and log.user == "kube-apiserver" and log.mode == 0o600
    events = [json.loads(line) for line in log.content_string.splitlines()]
    assert any(event["requestURI"] == "/readyz" and event["level"] == "Metadata" for event in events)
