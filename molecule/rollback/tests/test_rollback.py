"""A controller that cannot start after the change is rolled back, brought back, and stops the rollout."""

from __future__ import annotations

import os

import pytest
import testinfra.utils.ansible_runner

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
FAILING, UNTOUCHED = RUNNER.get_host("k0s-audit-rb1"), RUNNER.get_host("k0s-audit-rb2")


@pytest.fixture(scope="module")
def rollout(playbook):
    return playbook("k0rdent.audit.enable", check=False)


def test_the_rollout_fails_with_what_was_rolled_back(rollout):
    assert rollout.returncode != 0
    output = rollout.stdout + rollout.stderr
    # The wait ends when systemd reports the unit failed, not at the timeout, and quotes the controller's own error.
    assert "k0scontroller failed after the restart on k0s-audit-rb1 after the audit change" in output, output[-4000:]
    said = output.split("The controller said:", 1)[1].split("Rolled back:", 1)[0]
    assert "audit.log" in said and "permission denied" in said.lower(), said
    assert "Rolled back: /etc/k0s/k0s.yaml from /etc/k0s/k0s-real.yaml." in output  # the backup beside the real file
    assert "is ready again" in output
    assert "journalctl -u k0scontroller" in output


def test_the_failing_host_has_its_previous_k0s_yaml_and_runs_again(rollout):
    assert FAILING.file("/etc/k0s/k0s.yaml").content_string == FAILING.file("/root/k0s.yaml.prepared").content_string
    link = FAILING.file("/etc/k0s/k0s.yaml")
    assert link.is_symlink and link.linked_to == "/etc/k0s/k0s-real.yaml", "the rollback replaced the symlink"
    assert FAILING.service("k0scontroller").is_running
    assert FAILING.run("curl -sk https://127.0.0.1:6443/readyz").stdout == "ok"


def test_the_api_server_error_was_the_log_file(rollout):
    lifecycle = FAILING.file("/var/lib/k0s-standin/lifecycle.log").content_string
    assert "failed" in lifecycle and "audit.log" in lifecycle and "permission denied" in lifecycle.lower()


def test_the_other_host_was_not_touched(rollout):
    assert (
        UNTOUCHED.file("/etc/k0s/k0s.yaml").content_string == UNTOUCHED.file("/root/k0s.yaml.prepared").content_string
    )
    assert not UNTOUCHED.file("/etc/k0s/audit-policy.yaml").exists
    assert not UNTOUCHED.file("/var/log/k0s").exists
    starts = UNTOUCHED.run("grep -c ' starting ' /var/lib/k0s-standin/lifecycle.log").stdout.strip()
    assert starts == "1", "the untouched controller was restarted"
