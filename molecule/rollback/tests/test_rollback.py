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
# kube-apiserver's log backend when a write fails (k8s.io/apiserver pkg/audit/metrics.go HandlePluginError).
NO_SPACE = re.compile(
    r"(\d+) metrics\.go:\d+\] Error in audit plugin 'log' affecting \d+ audit events: write /var/log/k0s/audit\.log:"
    r" no space left on device"
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
    # The real kube-apiserver serves /readyz, but the log stays empty: the wait for a growing log ends it, and the
    # message quotes kube-apiserver's own error from the controller's journal.
    assert (
        "k0scontroller serves /readyz but /var/log/k0s/audit.log did not grow within 30 s on k0s-audit-rb1 after the"
        " audit change" in output
    ), output[-4000:]
    said = output.split("The controller said:", 1)[1].split("Rolled back:", 1)[0]
    assert "write /var/log/k0s/audit.log: no space left on device" in said, said
    assert "FLAG:" not in said, said
    assert "WARNING: " in output and "MB free" in output, "the disk-budget warning the operator let pass"
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


def test_the_api_server_error_was_the_full_log_file_system(rollout):
    """Started with the audit flags, kube-apiserver could write no event; then it ran again without them."""
    starts = apiserver_starts(FAILING)
    assert len(starts) == 3, [s.pid for s in starts]
    first, audited, last = starts
    assert first.flags["audit-log-path"] == "" and first.flags["audit-policy-file"] == "", first.flags
    assert audited.flags["audit-log-path"] == LOG and audited.flags["audit-policy-file"] == POLICY, audited.flags
    no_space = {int(pid) for pid in NO_SPACE.findall(journal(FAILING))}
    assert no_space == {audited.pid}, (audited.pid, sorted(no_space))
    # The last start is the one running now, without audit flags.
    assert last.flags["audit-log-path"] == "", last.flags
    assert FAILING.run("pgrep -x kube-apiserver").stdout.split() == [str(last.pid)]
    # The unit: started by prepare, restarted by the role, restarted again by the rollback.
    assert controller_starts(FAILING) == 3
    # kube-apiserver made the log file when it started, and could put nothing in it.
    assert FAILING.file(LOG).size == 0


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
