"""Wrong inventories fail in preflight with a message naming the variable or file, and change nothing on the host.

The host has the real k0s (scripts/build-k0s.sh), installed by `k0s install controller`; its controller is not
running, so nothing but the role could change the files the snapshot covers.
"""

from __future__ import annotations

import json

import pytest

# Everything the role could touch, by path, owner, group, mode and content: /etc/k0s, the log directory, the
# controller's unit and its drop-ins, k0s's data directory (its bin directory: the controller is stopped, so no
# database or certificates change under it), the API server's account, and /root (the unreadable-parent case).
# Ansible's own working directory on the host (/root/.ansible) is left out: it is the connection's, not the role's;
# so is the systemd journal.
PATHS = (
    "/etc/k0s /var/log/k0s /var/log/k0s-old /var/log/shared /root /var/lib/k0s"
    " /etc/systemd/system/k0scontroller.service /etc/systemd/system/k0scontroller.service.d"
)
SNAPSHOT = (
    f"find {PATHS} -xdev -path /root/.ansible -prune"
    " -o -printf '%p %u %g %m %l\\n' 2>/dev/null | sort;"
    f" find {PATHS} -xdev -path /root/.ansible -prune -o -type f -exec sha256sum {{}} +"
    " 2>/dev/null | sort;"
    " getent passwd kube-apiserver; getent group kube-apiserver"
)


# A k0s.yaml that replaces the prepared one for a case (restored afterwards): the operator's own audit settings.
OPERATOR_FLAGS = """apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
spec:
  api:
    extraArgs:
      audit-policy-file: /etc/k0s/their-policy.yaml
      audit-log-maxage: "90"
"""
RAW_ARGS = """apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
spec:
  api:
    rawArgs:
      - --audit-log-maxage=90
"""
NOT_A_MAPPING = "- just\n- a list\n"

# Cases whose k0s.yaml is not the prepared one: the content written to /etc/k0s/k0s.yaml before the snapshot.
CONFIGS = {
    "k0s.yaml not a mapping": NOT_A_MAPPING,
    "operator's own audit flags": OPERATOR_FLAGS,
    "audit flags in rawArgs": RAW_ARGS,
    "controller down before the run": NOT_A_MAPPING,
}

CASES = {
    "controller down before the run": (
        {},
        "k0scontroller on k0s-audit-bad_input is failed before the role changed anything",
    ),
    "k0s.yaml not a mapping": ({}, "/etc/k0s/k0s.yaml"),
    "operator's own audit flags": (
        {},
        "already has audit settings this collection did not make",
    ),
    "audit flags in rawArgs": ({}, "remove those entries from rawArgs"),
    "config path disagrees with the unit": (
        {"k0s_audit_config_path": "/etc/k0s/not-a-mapping.yaml"},
        "but k0scontroller on k0s-audit-bad_input reads /etc/k0s/k0s.yaml",
    ),
    "--tags that skip the policy": (
        {"__k0s_test_args": ["--tags", "k0s_audit_config"]},
        "was not written by it (--tags without k0s_audit_policy?)",
    ),
    "negative retention": (
        {"k0s_audit_log_maxage": -1},
        "k0s_audit_log_maxage: kube-apiserver would not start (--audit-log-maxage -1 can't be a negative number)",
    ),
    "duration without a unit": (
        {"k0s_audit_log_mode": "batch", "k0s_audit_extra_args": {"audit-log-batch-max-wait": "5"}},
        "k0s_audit_extra_args.audit-log-batch-max-wait",
    ),
    "log path is /": ({"k0s_audit_log_path": "/"}, "k0s_audit_log_path is /, a directory"),
    "log file directly in /var/log": (
        {"k0s_audit_log_path": "/var/log/kube-audit.log"},
        "whose directory /var/log is a system directory",
    ),
    "log directory shared with other files": (
        {"k0s_audit_log_path": "/var/log/shared/audit.log"},
        "also holds app.log, which are not audit logs",
    ),
    "old log file kube-apiserver cannot write": (
        {"k0s_audit_log_path": "/var/log/k0s-old/audit.log"},
        "/var/log/k0s-old/audit.log is owned by root:root with mode 0600, which kube-apiserver, running as"
        " kube-apiserver (group root), cannot write, so it would not start on k0s-audit-bad_input: k0s_audit_log_path"
        " names an old file; move it out of the way, or give it to kube-apiserver",
    ),
    "policy path is the k0s config file": (
        {"k0s_audit_policy_path": "/etc/k0s/k0s.yaml"},
        "k0s_audit_policy_path is /etc/k0s/k0s.yaml, the k0s config file itself",
    ),
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
    "unreadable parent directory": (
        {"k0s_audit_policy_path": "/root/private/audit-policy.yaml"},
        "kube-apiserver runs as kube-apiserver (group root), which cannot enter /root",
    ),
    "disk budget too small": (
        {"k0s_audit_log_maxsize": 100000000},
        "MB free: lower the retention, free space, or set k0s_audit_disk_budget_action: warn",
    ),
    "unknown exclude name": (
        {"k0s_audit_rules_exclude": ["no-such-rule"]},
        "no-such-rule",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_in_preflight_and_changes_nothing(host, playbook, case):
    extra_vars, message = CASES[case]
    if case in CONFIGS:
        host.run("cp -p /etc/k0s/k0s.yaml /etc/k0s/k0s.yaml.keep-for-test")
    try:
        if case in CONFIGS:
            host.run("cat > /etc/k0s/k0s.yaml <<'EOF'\n%sEOF" % CONFIGS[case])
        if case == "controller down before the run":
            _crash_until_failed(host)
        _fails_and_changes_nothing(host, playbook, extra_vars, message)
    finally:
        if case in CONFIGS:
            host.run("mv /etc/k0s/k0s.yaml.keep-for-test /etc/k0s/k0s.yaml")
        host.run("systemctl stop k0scontroller; systemctl reset-failed k0scontroller")


def _crash_until_failed(host):
    """Start the real controller on a k0s.yaml it refuses until systemd gives up on it.

    k0s exits at once on a k0s.yaml that is not a mapping. The unit `k0s install controller` writes restarts it
    (Restart=always, RestartSec=10) and is never "failed" on its own; it is when its start limit is hit
    (StartLimitBurst=10 in StartLimitInterval=5), here by starting it again as each attempt exits, as a watchdog or
    an operator retrying would; systemd then stops restarting it and leaves it failed with k0s's exit code.
    """
    unit = host.run("systemctl cat k0scontroller").stdout
    assert "Restart=always" in unit and "StartLimitBurst=10" in unit, unit
    host.run(
        "for attempt in $(seq 60); do systemctl is-failed -q k0scontroller && break;"
        " systemctl restart k0scontroller; sleep 0.2; done"
    )
    assert host.run("systemctl is-failed k0scontroller").stdout.strip() == "failed"
    # Failed because k0s exited with an error and systemd then gave up restarting it.
    result = sorted(host.run("systemctl show --property=Result,ExecMainStatus k0scontroller").stdout.split())
    assert result == ["ExecMainStatus=1", "Result=exit-code"], result
    # It was k0s that refused the list ("Error: ... cannot unmarshal array into Go value ...").
    said = host.run("journalctl -u k0scontroller -o cat --no-pager -n 50").stdout
    assert "Error: " in said and "cannot unmarshal array" in said, said


def _fails_and_changes_nothing(host, playbook, extra_vars, message):
    before = host.run(SNAPSHOT).stdout
    extra_vars = dict(extra_vars)
    args = extra_vars.pop("__k0s_test_args", [])
    result = playbook("k0rdent.audit.enable", "-e", json.dumps(extra_vars), *args, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert message in output, output[-3000:]
    after = host.run(SNAPSHOT).stdout
    changed = sorted(set(before.splitlines()) ^ set(after.splitlines()))
    assert after == before, changed
