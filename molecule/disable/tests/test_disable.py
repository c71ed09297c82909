"""State absent after enable on the real k0s: our flags are gone, the rest of k0s.yaml is as before, audit logs kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))

from _real_k0s import apiserver_args, apiserver_starts

LOG = "/var/log/k0s/audit.log"
PKI = "/var/lib/k0s/pki"


@pytest.fixture(scope="module")
def disabled(playbook):
    first = playbook("k0rdent.audit.disable")
    second = playbook("k0rdent.audit.disable")
    return first, second


def test_k0s_yaml_is_as_before_enable(host, disabled, strict_k0s):
    after = host.file("/etc/k0s/k0s.yaml").content_string
    before = host.file("/root/k0s.yaml.prepared").content_string
    assert strict_k0s(after) == strict_k0s(before)
    assert "audit-" not in after


def test_audit_logs_and_policy_are_kept(host, disabled):
    assert host.file(LOG).size > 0
    assert host.file("/etc/k0s/audit-policy.yaml").exists  # k0s_audit_purge is false


def test_the_controller_was_restarted_without_audit_flags(host, disabled):
    # The real API server refuses anonymous requests (k0s passes --anonymous-auth=false): ask as k0s's admin.
    tls = f"--cacert {PKI}/ca.crt --cert {PKI}/admin.crt --key {PKI}/admin.key"
    assert host.run(f"curl -s --max-time 10 {tls} https://127.0.0.1:6443/readyz").stdout == "ok"
    assert not [arg for arg in apiserver_args(host) if arg.startswith("--audit-")], apiserver_args(host)
    starts = apiserver_starts(host)
    paths = [start.flags["audit-log-path"] for start in starts]  # "": the flag was not given
    assert paths[-1] == "" and starts[-1].flags["audit-policy-file"] == "", paths
    assert LOG in paths[:-1], paths  # an earlier start, enable's, had it
    assert host.run("systemctl is-active k0scontroller").stdout.strip() == "active"


def test_disable_twice_changes_nothing_the_second_time(disabled):
    first, second = disabled
    assert "changed=0" not in first.stdout.split("PLAY RECAP")[-1]
    assert "changed=0" in second.stdout.split("PLAY RECAP")[-1]


def test_booleans_given_as_strings_on_the_command_line_work(host, disabled, playbook):
    # -e k0s_audit_purge=true arrives as the string "true", as Ansible users expect it to work.
    result = playbook("k0rdent.audit.disable", "-e", "k0s_audit_purge=true", "-e", "k0s_audit_rollback=false")
    assert "changed=1" in result.stdout.split("PLAY RECAP")[-1]
    assert not host.file("/etc/k0s/audit-policy.yaml").exists
    assert host.file(LOG).size > 0  # audit logs are never deleted
