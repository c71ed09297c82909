"""The running kube-apiserver, read from /proc as k0s_host_info and k0s_audit_report read it."""

from __future__ import annotations

from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_apiserver import audit_args, find_live_apiserver


def _process(proc, pid, comm, argv, uid=998, ticks=1000):
    base = proc / pid
    base.mkdir(parents=True)
    (base / "comm").write_text(comm + "\n")
    (base / "status").write_text("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\n" % (comm, uid, uid, uid, uid))
    (base / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in argv) + b"\0")
    (base / "stat").write_text("%s (%s) S " % (pid, comm) + " ".join(["0"] * 18) + " %d 0\n" % ticks)


def test_the_process_named_kube_apiserver_is_found_with_its_account_start_and_flags(tmp_path):
    (tmp_path / "stat").write_text("cpu 0 0\nbtime 1700000000\n")
    _process(tmp_path, "12", "k0s", ["k0s", "controller", "--audit-log-maxsize=9"], uid=0)
    _process(
        tmp_path,
        "40",
        "kube-apiserver",
        [
            "/var/lib/k0s/bin/kube-apiserver",
            "--audit-log-path=/var/log/k0s/audit.log",
            "--audit-log-maxsize",
            "1",
            "--audit-log-compress",
            "--audit_log_maxbackup=3",
            "--audit-policy-file=/etc/k0s/audit-policy.yaml",
            "--secure-port=6443",
        ],
    )
    (tmp_path / "self").mkdir()
    live = find_live_apiserver(str(tmp_path))
    assert (live["pid"], live["uid"]) == (40, 998)
    assert 1700000000 < live["started"] < 1700000100
    assert live["audit_args"] == {
        "audit-log-path": "/var/log/k0s/audit.log",
        "audit-log-maxsize": "1",
        "audit-log-compress": "true",
        "audit-log-maxbackup": "3",
        "audit-policy-file": "/etc/k0s/audit-policy.yaml",
    }
    assert find_live_apiserver(str(tmp_path / "none")) is None


def test_audit_args_as_pflag_reads_them():
    assert audit_args(["--audit-log-truncate-enabled", "--audit-log-maxage", "7", "--audit-log-maxage=9"]) == {
        "audit-log-truncate-enabled": "true",
        "audit-log-maxage": "9",
    }
