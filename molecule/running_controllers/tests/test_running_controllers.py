"""Three running controllers: one restart each, never two down at once, each ready and logging afterwards."""

from __future__ import annotations

import json

import pytest
import testinfra.utils.ansible_runner

HOSTS = ["k0s-audit-cp1", "k0s-audit-cp2", "k0s-audit-cp3"]


def _lifecycle(host):
    events = []
    for line in host.file("/var/lib/k0s-standin/lifecycle.log").content_string.splitlines():
        stamp, event, pid = line.split(" ", 3)[:3]
        events.append((float(stamp), event, int(pid)))
    return events


@pytest.fixture(scope="module")
def lifecycles():
    import os

    runner = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
    return {name: _lifecycle(runner.get_host(name)) for name in HOSTS}


def test_each_controller_was_restarted_exactly_once(lifecycles):
    for name, events in lifecycles.items():
        starts = [event for event in events if event[1] == "starting"]
        assert len(starts) == 2, (name, events)  # started by prepare, restarted once by converge, not by idempotence
        assert [event[1] for event in events].count("failed") == 0, (name, events)


def test_never_two_controllers_down_at_once(lifecycles):
    outages = []
    for name, events in lifecycles.items():
        stops = [stamp for stamp, event, _unused in events if event == "stopped"]
        readies = [stamp for stamp, event, _unused in events if event == "ready"]
        assert len(stops) == 1 and len(readies) == 2, (name, events)
        outages.append((stops[0], readies[1], name))
    outages.sort()
    for (_unused, end, first), (start, _unused, second) in zip(outages, outages[1:]):
        assert end < start, "%s was still down when %s went down" % (first, second)
    assert [name for _unused, _unused, name in outages] == HOSTS, "the rollout did not follow the inventory order"


def test_each_controller_is_ready_and_writes_audit_events(host):
    assert host.service("k0scontroller").is_running
    before = host.file("/var/log/k0s/audit.log").size
    ready = host.run("curl -sk https://127.0.0.1:6443/readyz")
    assert ready.stdout == "ok"
    lines = host.file("/var/log/k0s/audit.log").content_string.splitlines()
    assert host.file("/var/log/k0s/audit.log").size > before
    event = json.loads(lines[-1])
    assert event["kind"] == "Event" and event["requestURI"] == "/readyz"


def test_the_api_server_was_started_with_the_audit_flags(host):
    line = [
        entry
        for entry in host.file("/var/lib/k0s-standin/lifecycle.log").content_string.splitlines()
        if " ready " in entry
    ][-1]
    args = json.loads(line.split("args=", 1)[1])
    assert "--audit-policy-file=/etc/k0s/audit-policy.yaml" in args
    assert "--audit-log-path=/var/log/k0s/audit.log" in args


def test_hosts_with_other_policy_variables_get_their_own_policy():
    import os

    runner = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
    policies = {name: runner.get_host(name).file("/etc/k0s/audit-policy.yaml").content_string for name in HOSTS}
    assert policies["k0s-audit-cp1"] == policies["k0s-audit-cp2"]
    assert "system:test-only-cp3" in policies["k0s-audit-cp3"]
    assert "system:test-only-cp3" not in policies["k0s-audit-cp1"]
