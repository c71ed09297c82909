"""Three running controllers on the real k0s: one restart each, never two down at once, each ready and logging
afterwards.

Each host runs the real k0s and kube-apiserver (scripts/build-k0s.sh). Restarts and outages are read from what they
say themselves: systemd's and k0s's lines in each controller's journal (each start of the unit, each start of
kube-apiserver with the flags it parsed: molecule/shared/tests/_real_k0s.py), the live kube-apiserver's command
line, and the audit log its first served request opened.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import sys
import time
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))
from _real_k0s import apiserver_args, apiserver_starts, controller_starts

HOSTS = ["k0s-audit-cp1", "k0s-audit-cp2", "k0s-audit-cp3"]
LOG = "/var/log/k0s/audit.log"
POLICY = "/etc/k0s/audit-policy.yaml"
PKI = "/var/lib/k0s/pki"
ADMIN = f"--cacert {PKI}/ca.crt --cert {PKI}/admin.crt --key {PKI}/admin.key"


@pytest.fixture(scope="module")
def hosts():
    runner = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
    return {name: runner.get_host(name) for name in HOSTS}


def _stopping(host) -> list[float]:
    """When systemd began stopping the controller, each time (Unix seconds)."""
    out = host.run("journalctl -u k0scontroller -o short-unix --no-pager").stdout
    return [float(line.split()[0]) for line in out.splitlines() if "Stopping k0scontroller.service" in line]


def _first_served(host) -> float:
    """When the restarted kube-apiserver received its first request: the oldest event of its audit log."""
    first = json.loads(host.run(f"head -n 1 {LOG}").stdout)
    stamp = first["requestReceivedTimestamp"].replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(stamp).timestamp()


def test_each_controller_was_restarted_exactly_once(hosts):
    for name, host in hosts.items():
        # Started by prepare, restarted once by converge, not by the idempotent run.
        assert controller_starts(host) == 2, name
        logs = [start.flags["audit-log-path"] for start in apiserver_starts(host)]
        assert logs == ["", LOG], (name, logs)  # no failed start of kube-apiserver in between
        assert len(_stopping(host)) == 1, name


def test_never_two_controllers_down_at_once(hosts):
    outages = []
    for name, host in hosts.items():
        (stopped,) = _stopping(host)
        served = _first_served(host)
        assert stopped < served, name
        outages.append((stopped, served, name))
    outages.sort()
    for (_unused, end, first), (start, _unused, second) in zip(outages, outages[1:]):
        assert end < start, "%s was still down when %s went down" % (first, second)
    assert [name for _unused, _unused, name in outages] == HOSTS, "the rollout did not follow the inventory order"


def test_each_controller_is_ready_and_writes_audit_events(host):
    assert host.service("k0scontroller").is_running
    assert host.run("/usr/local/bin/k0s kubectl get --raw=/readyz").stdout.strip() == "ok"
    audit_id = "running-" + secrets.token_hex(4)
    result = host.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Audit-ID: {audit_id}' {ADMIN}"
        " https://127.0.0.1:6443/api/v1/namespaces/default"
    )
    assert result.stdout == "200", result.stdout + result.stderr
    for _attempt in range(30):
        events = [json.loads(line) for line in host.run(f"grep -F {audit_id} {LOG}").stdout.splitlines()]
        if any(e["stage"] == "ResponseComplete" for e in events):
            break
        time.sleep(0.5)
    assert events and all(e["kind"] == "Event" and e["auditID"] == audit_id for e in events), events
    assert {e["requestURI"] for e in events} == {"/api/v1/namespaces/default"}
    assert any(e["stage"] == "ResponseComplete" and e["responseStatus"]["code"] == 200 for e in events), events


def test_the_api_server_was_started_with_the_audit_flags(host):
    args = apiserver_args(host)
    assert f"--audit-policy-file={POLICY}" in args
    assert f"--audit-log-path={LOG}" in args
    last = apiserver_starts(host)[-1]
    assert host.run("pgrep -x kube-apiserver").stdout.split() == [str(last.pid)]
    assert last.flags["audit-policy-file"] == POLICY


def test_hosts_with_other_policy_variables_get_their_own_policy(hosts):
    policies = {name: host.file(POLICY).content_string for name, host in hosts.items()}
    assert policies["k0s-audit-cp1"] == policies["k0s-audit-cp2"]
    assert "system:test-only-cp3" in policies["k0s-audit-cp3"]
    assert "system:test-only-cp3" not in policies["k0s-audit-cp1"]
