"""On the real k0s: a controller that cannot start after the change is rolled back, brought back, and stops the
rollout.

Both hosts run the real k0s and kube-apiserver (scripts/build-k0s.sh), installed by `k0s install controller`. What
happened is read from what they say themselves: the live kube-apiserver's command line, each of its starts with the
flags it parsed and each start of the unit, from the controller's journal (molecule/shared/tests/_real_k0s.py).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))
from _real_k0s import apiserver_args, apiserver_starts, controller_starts

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
FAILING, UNTOUCHED = RUNNER.get_host("k0s-audit-rb1"), RUNNER.get_host("k0s-audit-rb2")
LOG = "/var/log/k0s/audit.log"
POLICY = "/etc/k0s/audit-policy.yaml"
DENIED = re.compile(
    r'(\d+) run\.go:\d+\] \\"command failed\\" err=\\"ensureLogFile: open /var/log/k0s/audit\.log: '
    r'permission denied\\"" component=kube-apiserver'
)


@pytest.fixture(scope="module")
def rollout(playbook):
    return playbook("k0rdent.audit.enable", check=False)


def journal(host) -> str:
    return host.run("journalctl -u k0scontroller -o cat --no-pager").stdout


def ready(host) -> bool:
    return host.run("/usr/local/bin/k0s kubectl get --raw=/readyz").stdout.strip() == "ok"


def test_the_rollout_fails_with_what_was_rolled_back(rollout):
    assert rollout.returncode != 0
    output = rollout.stdout + rollout.stderr
    # The real k0s keeps respawning kube-apiserver and its unit never enters "failed" (Restart=always): the wait
    # stops at the third respawn instead of running into k0s_audit_restart_timeout, and the message quotes
    # kube-apiserver's own error from the controller's journal.
    assert (
        "kube-apiserver exited 3 times after the restart of k0scontroller (k0s respawns it) on k0s-audit-rb1 after"
        " the audit change" in output
    ), output[-4000:]
    said = output.split("The controller said:", 1)[1].split("Rolled back:", 1)[0]
    assert "ensureLogFile: open /var/log/k0s/audit.log: permission denied" in said, said
    assert "FLAG:" not in said, said
    assert "Rolled back: /etc/k0s/k0s.yaml from /etc/k0s/k0s-real.yaml." in output  # the backup beside the real file
    assert "is ready again" in output
    assert "journalctl -u k0scontroller" in output


def test_the_failing_host_has_its_previous_k0s_yaml_and_runs_again(rollout):
    assert FAILING.file("/etc/k0s/k0s.yaml").content_string == FAILING.file("/root/k0s.yaml.prepared").content_string
    link = FAILING.file("/etc/k0s/k0s.yaml")
    assert link.is_symlink and link.linked_to == "/etc/k0s/k0s-real.yaml", "the rollback replaced the symlink"
    assert FAILING.service("k0scontroller").is_running
    assert ready(FAILING)
    # The live kube-apiserver runs without any audit flag again.
    assert not [arg for arg in apiserver_args(FAILING) if arg.startswith("--audit-")], apiserver_args(FAILING)


def test_the_api_server_error_was_the_log_file(rollout):
    """Started with the audit flags, every kube-apiserver failed on the log file; then it ran again without them."""
    starts = apiserver_starts(FAILING)
    assert len(starts) >= 3, [s.pid for s in starts]
    first, last = starts[0], starts[-1]
    assert first.flags["audit-log-path"] == "" and first.flags["audit-policy-file"] == "", first.flags
    audited = [s for s in starts if s.flags.get("audit-log-path") == LOG]
    assert audited, "no kube-apiserver was started with the audit flags"
    assert all(s.flags["audit-policy-file"] == POLICY for s in audited)
    # The audited starts sit between the first and the last one, and each of them failed on the log file.
    assert starts[1:-1] == audited, [(s.pid, s.flags.get("audit-log-path")) for s in starts]
    denied = {int(pid) for pid in DENIED.findall(journal(FAILING))}
    assert {s.pid for s in audited} <= denied, (sorted(s.pid for s in audited), sorted(denied))
    # The last start is the one running now, without audit flags.
    assert last.flags["audit-log-path"] == "", last.flags
    assert FAILING.run("pgrep -x kube-apiserver").stdout.split() == [str(last.pid)]
    # The unit: started by prepare, restarted by the role, restarted again by the rollback.
    assert controller_starts(FAILING) == 3
    # The file left behind is still there, untouched by the role.
    left = FAILING.file(LOG)
    assert left.user == "root" and left.mode == 0o600
    assert left.content_string == "left by an API server that ran as root\n"


def test_the_other_host_was_not_touched(rollout):
    assert (
        UNTOUCHED.file("/etc/k0s/k0s.yaml").content_string == UNTOUCHED.file("/root/k0s.yaml.prepared").content_string
    )
    assert not UNTOUCHED.file(POLICY).exists
    assert not UNTOUCHED.file("/var/log/k0s").exists
    # Its kube-apiserver was started once, by prepare, never with the audit flags, and still runs.
    starts = apiserver_starts(UNTOUCHED)
    assert len(starts) == 1, "the untouched controller's kube-apiserver was restarted"
    assert starts[0].flags["audit-log-path"] == "" and starts[0].flags["audit-policy-file"] == "", starts[0].flags
    assert UNTOUCHED.run("pgrep -x kube-apiserver").stdout.split() == [str(starts[0].pid)]
    assert not [arg for arg in apiserver_args(UNTOUCHED) if arg.startswith("--audit-")]
    assert controller_starts(UNTOUCHED) == 1, "the untouched controller was restarted"
    assert ready(UNTOUCHED)
