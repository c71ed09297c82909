"""`k0s install controller -c PATH`: the flags land in the file the unit names, and only there."""

from __future__ import annotations

import yaml
from k0s_standin import parse_lifecycle_line, ready_fields

CUSTOM = "/etc/k0s/custom.yaml"


def test_the_flags_are_in_the_file_the_unit_reads(host, strict_k0s):
    document = strict_k0s(host.file(CUSTOM).content_string)
    assert document["spec"]["api"]["extraArgs"]["audit-log-path"] == "/var/log/k0s/audit.log"
    assert document["spec"]["storage"] == {"type": "kine"} or document["spec"]["storage"]["type"] == "kine"
    prepared = yaml.safe_load(host.file("/root/k0s.yaml.prepared").content_string)
    after = yaml.safe_load(host.file(CUSTOM).content_string)
    after["spec"].pop("api")
    assert after == prepared


def test_the_default_file_is_not_created(host):
    assert not host.file("/etc/k0s/k0s.yaml").exists


def test_the_controller_runs_with_the_flags_from_its_own_file(host):
    lines = [
        parse_lifecycle_line(x)
        for x in host.file("/var/lib/k0s-standin/lifecycle.log").content_string.splitlines()
        if x
    ]
    ready = ready_fields([x for x in lines if x["event"] == "ready"][-1]["detail"])
    assert ready["config"] == CUSTOM
    assert "--audit-log-path=/var/log/k0s/audit.log" in ready["args"]
    assert host.file("/var/log/k0s/audit.log").size > 0


def test_a_config_path_that_disagrees_with_the_unit_is_refused(host, playbook):
    before = host.file(CUSTOM).content_string
    result = playbook("k0rdent.audit.enable", "-e", "k0s_audit_config_path=/etc/k0s/k0s.yaml", check=False)
    output = result.stdout + result.stderr  # failures may go to standard error (display_failed_stderr)
    assert result.returncode != 0
    assert "k0s_audit_config_path is /etc/k0s/k0s.yaml, but k0scontroller" in output
    assert "reads /etc/k0s/custom.yaml" in output
    assert not host.file("/etc/k0s/k0s.yaml").exists
    assert host.file(CUSTOM).content_string == before
