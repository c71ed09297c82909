"""Quick-start single node: the controller keeps its kine storage; k0s.yaml holds only what the collection wrote."""

from __future__ import annotations

import yaml
from k0s_standin import parse_lifecycle_line, ready_fields

LIFECYCLE = "/var/lib/k0s-standin/lifecycle.log"


def _last_ready(host):
    lines = [parse_lifecycle_line(line) for line in host.file(LIFECYCLE).content_string.splitlines() if line.strip()]
    ready = [line for line in lines if line["event"] == "ready"]
    assert ready, "the controller never became ready"
    return ready[-1], lines


def test_the_unit_is_the_quick_start_one(host):
    exec_start = host.run("systemctl show --property=ExecStart k0scontroller").stdout
    assert "controller --single" in exec_start and "--config" not in exec_start


def test_k0s_yaml_holds_only_what_the_collection_wrote(host, strict_k0s):
    text = host.file("/etc/k0s/k0s.yaml").content_string
    document = yaml.safe_load(text)
    assert set(document) == {"apiVersion", "kind", "metadata", "spec"}
    assert document["metadata"] == {"name": "k0s"}
    assert list(document["spec"]) == ["api"] and list(document["spec"]["api"]) == ["extraArgs"]
    assert document["spec"]["api"]["extraArgs"]["audit-policy-file"] == "/etc/k0s/audit-policy.yaml"
    assert "storage" not in text and "address" not in text
    strict_k0s(text)


def test_the_restarted_controller_still_runs_on_kine(host):
    ready, lines = _last_ready(host)
    fields = ready_fields(ready["detail"])
    assert fields["storage"] == "kine"
    assert fields["config"] == "/etc/k0s/k0s.yaml"
    assert "--audit-policy-file=/etc/k0s/audit-policy.yaml" in fields["args"]
    assert sum(1 for line in lines if line["event"] == "ready") >= 2, "the controller was not restarted"


def test_the_api_server_writes_its_audit_log(host):
    log = host.file("/var/log/k0s/audit.log")
    assert log.exists and log.size > 0
    assert log.user == "kube-apiserver" and log.mode == 0o600


def test_a_run_interrupted_before_its_restart_is_finished_by_the_next_run(host, playbook):
    # The first run writes k0s.yaml but never restarts, as if it had been killed between the write and the restart.
    playbook("k0rdent.audit.enable", "-e", "k0s_audit_log_maxage=9", "-e", "k0s_audit_restart=never")
    ready, _lines = _last_ready(host)
    assert "--audit-log-maxage=7" in ready_fields(ready["detail"])["args"]
    result = playbook("k0rdent.audit.enable", "-e", "k0s_audit_log_maxage=9")
    assert "does not run what its files say" in result.stdout
    ready, _lines = _last_ready(host)
    assert "--audit-log-maxage=9" in ready_fields(ready["detail"])["args"]
    again = playbook("k0rdent.audit.enable", "-e", "k0s_audit_log_maxage=9")
    assert "changed=0" in again.stdout


def test_disable_removes_the_file_the_collection_created(host, playbook):
    playbook("k0rdent.audit.disable")
    assert not host.file("/etc/k0s/k0s.yaml").exists
    ready, _lines = _last_ready(host)
    fields = ready_fields(ready["detail"])
    assert fields["storage"] == "kine"
    assert not [arg for arg in fields["args"] if arg.startswith("--audit-")]
    assert host.run("curl -sk https://127.0.0.1:6443/readyz").stdout == "ok"
