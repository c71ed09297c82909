"""k0rdent.audit.k0s_audit_report: figures from the files, flags from the live process, one-sentence errors."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.k0rdent.audit.plugins.modules import k0s_audit_report

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods"]}]},
        {"level": "Metadata"},
    ],
}
NAMED = [dict(POLICY["rules"][0], name="pods-full"), dict(POLICY["rules"][1], name="default-metadata")]


def _line(second: int, level: str = "Metadata", resource: str = "secrets") -> bytes:
    event = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": f"a-{second}",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/{resource}",
        "verb": "list",
        "user": {"username": "jane", "groups": ["system:authenticated"]},
        "objectRef": {"resource": resource, "apiVersion": "v1"},
        "requestReceivedTimestamp": f"2026-11-30T10:00:{second:02d}.000000Z",
        "stageTimestamp": f"2026-11-30T10:00:{second:02d}.500000Z",
    }
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


@pytest.fixture
def logs(tmp_path):
    old = b"".join(_line(i) for i in range(10))
    with gzip.open(tmp_path / "audit-2026-11-30T10-00-10.000.log.gz", "wb") as handle:
        handle.write(old)
    new = b"".join(_line(i, "RequestResponse", "pods") for i in range(10, 20)) + b"garbage\n"
    (tmp_path / "audit.log").write_bytes(new)
    return tmp_path, len(old) + len(new) - len(b"garbage\n")


@pytest.fixture
def run(run_main, monkeypatch):
    def run_module(live=None, **args) -> dict:
        monkeypatch.setattr(k0s_audit_report, "find_live_apiserver", lambda: live)
        return run_main(k0s_audit_report.main, **args)

    return run_module


def test_figures_from_the_files_with_options(run, logs):
    directory, size = logs
    out = run(
        log_path=str(directory / "audit.log"),
        maxsize=1,
        maxbackup=3,
        maxage=7,
        policy=POLICY,
        named_rules=NAMED,
        use_live_flags=False,
        check=True,
    )
    report = out["report"]
    assert out["changed"] is False and "failed" not in out
    assert (report["events"], report["bytes"], report["skipped"]["garbage"]) == (20, size, 1)
    assert report["span_seconds"] == 19
    assert {row["rule"] for row in report["top_rules"]} == {"pods-full", "default-metadata"}
    assert report["settings"]["sources"] == {
        "log_path": "option",
        "maxsize": "option",
        "maxbackup": "option",
        "maxage": "option",
        "compress": "option",
    }
    assert report["retention"]["decided_by"] == "size" and report["retention"]["warning"]
    assert any("1 lines were not audit events" in warning for warning in report["warnings"])
    assert out["lines"][0].startswith(str(directory / "audit.log") + ": 20 events") and out["lines"][0].endswith(
        "(19.0 s)"
    )


def _run_live(run, directory, pid, retention, **more_flags):
    """The report with a live kube-apiserver (pid) running with these --audit-log-max{size,backup,age} and -compress
    values, and the options all 1: the report, and the retention settings it took."""
    maxsize, maxbackup, maxage, compress = retention
    flags = {"audit-log-path": str(directory / "audit.log"), "audit-log-maxsize": maxsize}
    flags.update({"audit-log-maxbackup": maxbackup, "audit-log-maxage": maxage, "audit-log-compress": compress})
    out = run(
        live={"pid": pid, "audit_args": {**flags, **more_flags}},
        log_path="/nowhere/audit.log",
        maxsize=1,
        maxbackup=1,
        maxage=1,
        policy=POLICY,
    )
    settings = out["report"]["settings"]
    return out, (settings["maxsize"], settings["maxbackup"], settings["maxage"], settings["compress"])


def test_live_flags_and_policy_file_win_over_options(run, logs, tmp_path):
    directory, _size = logs
    policy_file = tmp_path / "audit-policy.yaml"
    # the live policy logs everything at Metadata: the pods events logged at RequestResponse are mismatches
    policy_file.write_text(
        yaml.safe_dump({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]})
    )
    retention = ("200", "10", "30", "true")
    out, taken = _run_live(run, directory, 77, retention, **{"audit-policy-file": str(policy_file)})
    assert taken == (200, 10, 30, True)
    settings = out["report"]["settings"]
    assert set(settings["sources"].values()) == {"process"}
    assert (settings["apiserver_pid"], settings["policy_source"]) == (77, "file")
    assert out["report"]["level_mismatches"] == 10
    assert out["report"]["top_rules"] == [{"rule": "rules[0]", "events": 20, "bytes": out["report"]["bytes"]}]


def test_live_numbers_and_booleans_are_read_as_kube_apiserver_read_them(run, logs):
    # pflag: integers are strconv.ParseInt(s, 0, 64) (base prefixes, underscores), booleans strconv.ParseBool.
    directory, _size = logs
    assert _run_live(run, directory, 78, ("0x10", "1_0", "+7", "T"))[1] == (16, 10, 7, True)
    assert _run_live(run, directory, 78, ("0", "0", "0", "F"))[1] == (0, 0, 0, False)


def test_an_unreadable_live_policy_falls_back_to_the_option_with_a_warning(run, logs, tmp_path):
    directory, _size = logs
    live = {"pid": 5, "audit_args": {"audit-policy-file": str(tmp_path / "missing.yaml")}}
    out = run(live=live, log_path=str(directory / "audit.log"), maxsize=1, maxbackup=3, maxage=7, policy=POLICY)
    assert out["report"]["settings"]["policy_source"] == "option"
    assert any("missing.yaml could not be read" in warning for warning in out["report"]["warnings"])
    assert out["report"]["settings"]["sources"]["log_path"] == "option"


def test_candidate_projection_is_returned(run, logs):
    directory, _size = logs
    candidate = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [POLICY["rules"][1]]}
    out = run(
        log_path=str(directory / "audit.log"),
        maxsize=1,
        maxbackup=3,
        maxage=7,
        policy=POLICY,
        named_rules=NAMED,
        candidate_policy=candidate,
        use_live_flags=False,
    )
    projection = out["report"]["projection"]
    assert projection["events"] == 20 and projection["dropped_events"] == 0
    assert projection["by_rule"][0]["rule"] == "default-metadata"
    assert projection["bytes"] < out["report"]["bytes"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"maxbackup": 3, "maxage": 7}, "maxsize: kube-apiserver's command line does not show --audit-log-maxsize"),
        ({"maxsize": -1, "maxbackup": 3, "maxage": 7}, "maxsize: must be 0 or more, not -1."),
        ({"maxsize": 1, "maxbackup": 3, "maxage": 7, "policy": None}, "policy: the live policy file could not be used"),
        (
            {
                "maxsize": 1,
                "maxbackup": 3,
                "maxage": 7,
                "policy": {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": []},
            },
            "policy: The audit policy is not valid",
        ),
    ],
)
def test_bad_input_is_one_sentence(run, logs, args, message):
    directory, _size = logs
    args = {"policy": POLICY, **args}
    out = run(log_path=str(directory / "audit.log"), use_live_flags=False, **args)
    assert out["failed"] is True and out["msg"].startswith(message), out["msg"]


def test_a_missing_log_is_a_warning_not_a_failure(run, tmp_path):
    out = run(
        log_path=str(tmp_path / "audit.log"), maxsize=1, maxbackup=3, maxage=7, policy=POLICY, use_live_flags=False
    )
    assert out["report"]["events"] == 0 and "does not exist yet" in out["report"]["warnings"][0]


# ----------------------------------------------------------------------------------------------------------------
# Hostile input


def _live(directory, **flags) -> dict:
    args = {"audit-log-maxsize": "1", "audit-log-maxbackup": "3", "audit-log-maxage": "7"}
    args.update(flags)
    return {"pid": 77, "audit_args": args}


def test_relative_live_paths_resolve_in_the_apiserver_working_directory(run, logs, monkeypatch):
    directory, _size = logs
    (directory / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    monkeypatch.setattr(k0s_audit_report, "_process_cwd", lambda pid: str(directory))
    live = _live(directory, **{"audit-log-path": "audit.log", "audit-policy-file": "./policy.yaml"})
    out = run(live=live, policy=POLICY)
    settings = out["report"]["settings"]
    assert settings["log_path"] == str(directory / "audit.log") and out["report"]["events"] == 20
    assert (settings["policy_file"], settings["policy_source"]) == (str(directory / "policy.yaml"), "file")


def test_the_working_directory_comes_from_proc_else_k0s_data_dir(tmp_path):
    proc = tmp_path / "proc"
    (proc / "77").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (proc / "77" / "cwd").symlink_to(tmp_path / "work")
    assert k0s_audit_report._process_cwd(77, str(proc)) == str(tmp_path / "work")
    assert k0s_audit_report._process_cwd(78, str(proc)) == "/var/lib/k0s"


@pytest.mark.parametrize(
    ("flags", "capacity"),
    [
        ({"audit-log-maxsize": "0"}, 100 * 1024 * 1024 * 4),  # lumberjack's default size, not "never rotated"
        ({"audit-log-maxsize": "9" * 40, "audit-log-maxage": "9" * 40}, None),
    ],
)
def test_live_sizes_as_lumberjack_reads_them_and_absurd_values(run, logs, flags, capacity):
    directory, _size = logs
    out = run(live=_live(directory, **{"audit-log-path": str(directory / "audit.log"), **flags}), policy=POLICY)
    assert "failed" not in out, out.get("msg")
    keep = out["report"]["retention"]
    if capacity is not None:
        assert keep["capacity_bytes"] == capacity
    else:
        assert keep["maxsize"] == 2**63 - 1 and keep["decided_by"] in ("size", "maxage")


def test_an_unreadable_log_directory_is_one_sentence(run, logs, monkeypatch):
    directory, _size = logs

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(k0s_audit_report.os, "listdir", refuse)
    out = run(
        log_path=str(directory / "audit.log"), maxsize=1, maxbackup=3, maxage=7, policy=POLICY, use_live_flags=False
    )
    assert out["failed"] is True
    assert out["msg"].startswith(f"log_path: the directory {directory} cannot be listed (Permission denied)")
    assert "Traceback" not in out["msg"] and out["msg"].count(". ") <= 1


def test_a_fifo_as_the_live_policy_file_is_a_warning_not_a_hang(run, logs, tmp_path):
    import signal

    directory, _size = logs
    os_fifo = tmp_path / "policy.fifo"
    import os

    os.mkfifo(os_fifo)
    live = _live(directory, **{"audit-log-path": str(directory / "audit.log"), "audit-policy-file": str(os_fifo)})
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading the FIFO blocked"))
    signal.alarm(10)
    try:
        out = run(live=live, policy=POLICY)
    finally:
        signal.alarm(0)
    assert out["report"]["settings"]["policy_source"] == "option"
    assert any("policy.fifo is not a regular file" in warning for warning in out["report"]["warnings"])


def _page_of(report: dict) -> str:
    """The audit_report_html page of ``report``, made in a process of its own: the filter loads Ansible's
    controller-side warning machinery, which would change how the module runs of later tests report warnings."""
    program = (
        "import json, sys\n"
        "from ansible_collections.k0rdent.audit.plugins.filter.audit_report_html import audit_report_html\n"
        "sys.stdout.write(audit_report_html(json.load(sys.stdin)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(report),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_hostile_lines_leave_a_report_and_its_page(run, tmp_path):
    hostile = [
        _line(0),
        b"[" * 100_000 + b"\n",
        json.dumps({"kind": "Event", "auditID": "x", "stage": "ResponseComplete", "level": ["x"]}).encode() + b"\n",
        _line(1).replace(b'"jane"', b'"j\\ud800ne"'),
        b"\xff\xfe\n",
        _line(2).replace(b"2026-11-30T10:00:02.500000Z", b"9999-12-31T23:59:59.999999-01:00"),
    ]
    (tmp_path / "audit.log").write_bytes(b"".join(hostile))
    out = run(
        log_path=str(tmp_path / "audit.log"), maxsize=1, maxbackup=3, maxage=7, policy=POLICY, use_live_flags=False
    )
    report = out["report"]
    assert report["events"] == 2 and report["skipped"]["total"] == 4
    assert any("nesting" in warning for warning in report["warnings"])
    page = _page_of({"node": report})
    assert "j\ufffdne" in page and page.encode("utf-8")


def test_a_live_policy_file_the_matcher_refuses_is_named(run, logs, tmp_path):
    directory, _size = logs
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": 3}]}))
    live = _live(directory, **{"audit-log-path": str(directory / "audit.log"), "audit-policy-file": str(policy_file)})
    out = run(live=live, policy=POLICY)
    assert out["failed"] is True
    assert out["msg"].startswith(f"{policy_file} (kube-apiserver's --audit-policy-file): The audit policy is not valid")
