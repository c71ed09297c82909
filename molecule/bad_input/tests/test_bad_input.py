"""Wrong inventories fail in preflight with a message naming the variable or file, and change nothing on the host."""

from __future__ import annotations

import json

import pytest

# Everything the role could touch, by path, owner, group, mode and content: /etc/k0s, the log directory, the API
# server's account, and /root (the unreadable-parent case). Ansible's own working directory on the host
# (/root/.ansible) is left out: it is the connection's, not the role's; so is the systemd journal.
SNAPSHOT = (
    "find /etc/k0s /var/log/k0s /root /var/lib/k0s-standin -xdev -path /root/.ansible -prune"
    " -o -printf '%p %u %g %m\\n' 2>/dev/null | sort;"
    " find /etc/k0s /var/log/k0s /root -xdev -path /root/.ansible -prune -o -type f -exec sha256sum {} +"
    " 2>/dev/null | sort;"
    " getent passwd kube-apiserver; getent group kube-apiserver"
)


CASES = {
    "invalid rule": (
        {"k0s_audit_rules_prepend": [{"level": "Loud"}]},
        "k0s_audit_rules_prepend[0].level",
    ),
    "misspelled field": (
        {"k0s_audit_rules_append": [{"level": "None", "namespace": ["kube-system"]}]},
        'did you mean "namespaces"',
    ),
    "unknown audit flag": (
        {"k0s_audit_extra_args": {"audit-log-maxag": "3"}},
        "k0s_audit_extra_args.audit-log-maxag: kube-apiserver has no such audit flag and would refuse to start;"
        ' did you mean "audit-log-maxage"?',
    ),
    "k0s.yaml not a mapping": (
        {"k0s_audit_config_path": "/etc/k0s/not-a-mapping.yaml"},
        "/etc/k0s/not-a-mapping.yaml",
    ),
    "unreadable parent directory": (
        {"k0s_audit_policy_path": "/root/private/audit-policy.yaml"},
        "kube-apiserver runs as kube-apiserver, which cannot enter /root",
    ),
    "disk budget too small": (
        {"k0s_audit_log_maxsize": 100000000},
        "MB free: lower the retention, free space, or set k0s_audit_disk_budget_action: warn",
    ),
    "unknown exclude name": (
        {"k0s_audit_exclude_rules": ["no-such-rule"]},
        "no-such-rule",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_in_preflight_and_changes_nothing(host, playbook, case):
    extra_vars, message = CASES[case]
    before = host.run(SNAPSHOT).stdout
    result = playbook("k0rdent.audit.enable", "-e", json.dumps(extra_vars), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert message in output, output[-3000:]
    after = host.run(SNAPSHOT).stdout
    changed = sorted(set(before.splitlines()) ^ set(after.splitlines()))
    assert after == before, changed
