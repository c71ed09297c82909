"""Quick-start single node on the real k0s: the controller keeps its kine storage; k0s.yaml holds only what the
collection wrote.

Everything is read from the real k0s and kube-apiserver: the unit `k0s install controller --single` wrote, the
live kube-apiserver and kine command lines, each start of the controller in its journal, and the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "tests"))
from _real_k0s import apiserver_args, apiserver_starts, controller_starts

PKI = "/var/lib/k0s/pki"
ADMIN = f"--cacert {PKI}/ca.crt --cert {PKI}/admin.crt --key {PKI}/admin.key"


def _on_kine(host):
    kine = host.run("ps -o args= -C kine").stdout.strip()
    assert kine.startswith("/var/lib/k0s/bin/kine "), kine
    assert "--endpoint=sqlite://file:/var/lib/k0s/db/state.db" in kine, kine
    assert "--etcd-servers=unix:/run/k0s/kine/kine.sock:2379" in apiserver_args(host)


def test_the_unit_is_the_quick_start_one(host):
    exec_start = host.run("systemctl show --property=ExecStart k0scontroller").stdout
    assert "/usr/local/bin/k0s controller" in exec_start and "--single=true" in exec_start, exec_start
    assert "--config" not in exec_start
    status = host.run("/usr/local/bin/k0s status").stdout
    assert "SingleNode: true" in status and "Workloads: true" in status, status


def test_k0s_yaml_holds_only_what_the_collection_wrote(host):
    text = host.file("/etc/k0s/k0s.yaml").content_string
    document = yaml.safe_load(text)
    assert set(document) == {"apiVersion", "kind", "metadata", "spec"}
    assert document["metadata"] == {"name": "k0s"}
    assert list(document["spec"]) == ["api"] and list(document["spec"]["api"]) == ["extraArgs"]
    assert document["spec"]["api"]["extraArgs"]["audit-policy-file"] == "/etc/k0s/audit-policy.yaml"
    assert "storage" not in text and "address" not in text
    result = host.run("/usr/local/bin/k0s config validate --config /etc/k0s/k0s.yaml")
    assert result.rc == 0, result.stderr


def test_the_restarted_controller_still_runs_on_kine(host):
    _on_kine(host)
    assert "--audit-policy-file=/etc/k0s/audit-policy.yaml" in apiserver_args(host)
    assert controller_starts(host) >= 2, "the controller was not restarted"
    first, last = apiserver_starts(host)[0], apiserver_starts(host)[-1]
    assert first.flags["audit-policy-file"] == "" and last.flags["audit-policy-file"] == "/etc/k0s/audit-policy.yaml"


def test_the_api_server_writes_its_audit_log(host):
    log = host.file("/var/log/k0s/audit.log")
    assert log.exists and log.size > 0
    assert log.user == "kube-apiserver" and log.mode == 0o600


def test_a_run_interrupted_before_its_restart_is_finished_by_the_next_run(host, playbook):
    # The first run writes k0s.yaml but never restarts, as if it had been killed between the write and the restart.
    playbook("k0rdent.audit.enable", "-e", "k0s_audit_log_maxage=9", "-e", "k0s_audit_restart=never")
    assert "--audit-log-maxage=7" in apiserver_args(host)
    result = playbook("k0rdent.audit.enable", "-e", "k0s_audit_log_maxage=9")
    assert "does not run what its files say" in result.stdout
    assert "--audit-log-maxage=9" in apiserver_args(host)
    again = playbook("k0rdent.audit.enable", "-e", "k0s_audit_log_maxage=9")
    assert "changed=0" in again.stdout


def test_disable_removes_the_file_the_collection_created(host, playbook):
    playbook("k0rdent.audit.disable")
    assert not host.file("/etc/k0s/k0s.yaml").exists
    _on_kine(host)
    assert not [arg for arg in apiserver_args(host) if arg.startswith("--audit-")]
    assert host.run(f"curl -s {ADMIN} https://127.0.0.1:6443/readyz").stdout == "ok"
