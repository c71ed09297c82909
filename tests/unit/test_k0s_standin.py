"""Tests of the k0s TEST STAND-IN (tests/k0s_standin/k0s_standin.py).

The pure parts (strict k0s.yaml decoding, audit policy and flag checks) are imported; the CLI runs as a
subprocess in a temporary directory, with the lifecycle log redirected, port 0 and privilege dropping disabled,
so no root and no network beyond loopback are needed.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

STANDIN_DIR = Path(__file__).resolve().parents[1] / "k0s_standin"
STANDIN = STANDIN_DIR / "k0s_standin.py"
if str(STANDIN_DIR) not in sys.path:
    sys.path.insert(0, str(STANDIN_DIR))

import k0s_standin  # noqa: E402
from k0s_standin import K0sConfigError, load_strict  # noqa: E402

HEADER = "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\n"
POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"


def _config(extra: str = "") -> str:
    return HEADER + "metadata:\n  name: k0s\nspec:\n  api:\n    port: 6443\n" + extra


# ---------------------------------------------------------------------------------------------------------------
# load_strict
# ---------------------------------------------------------------------------------------------------------------


def test_default_config_passes():
    config = load_strict(k0s_standin.default_config_text("192.0.2.10"))
    assert config["kind"] == "ClusterConfig"
    api = config["spec"]["api"]
    assert api["address"] == "192.0.2.10"
    assert api["port"] == 6443 and api["k0sApiPort"] == 9443
    assert "extraArgs" not in api
    assert config["spec"]["installConfig"]["users"]["kubeAPIserverUser"] == "kube-apiserver"
    assert config["spec"]["storage"] == {"type": "etcd", "etcd": {"peerAddress": "192.0.2.10"}}


def test_string_extra_args_pass():
    config = load_strict(
        _config('    extraArgs:\n      audit-log-maxage: "30"\n      audit-log-path: /var/log/k0s/a.log\n')
    )
    assert k0s_standin.apiserver_args(config) == ["--audit-log-maxage=30", "--audit-log-path=/var/log/k0s/a.log"]


def test_null_extra_arg_becomes_empty_string_like_go():
    config = load_strict(_config("    extraArgs:\n      audit-log-path:\n"))
    assert k0s_standin.apiserver_args(config) == ["--audit-log-path="]


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "kind: ClusterConfig\n",
        _config("    port: 7443\n"),
        _config("    extraArgs:\n      a: '1'\n    extraArgs:\n      b: '2'\n"),
        _config("    extraArgs:\n      audit-log-maxage: '7'\n      audit-log-maxage: '30'\n"),
    ],
    ids=["top-level", "in-api", "extraArgs-twice", "inside-extraArgs"],
)
def test_duplicate_keys_are_errors(text):
    with pytest.raises(K0sConfigError, match="already set in map"):
        load_strict(text)


def test_merge_keys_are_not_duplicates():
    config = load_strict(_config("    <<: {port: 7443, k0sApiPort: 9443}\n"))
    assert (config["spec"]["api"]["port"], config["spec"]["api"]["k0sApiPort"]) == (6443, 9443)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("7", "number"), ("7.5", "number"), ("true", "bool"), ("yes", "bool"), ("[a]", "array"), ("{a: b}", "object")],
)
def test_unquoted_non_string_extra_arg_is_error(value, kind):
    with pytest.raises(K0sConfigError) as info:
        load_strict(_config(f"    extraArgs:\n      audit-log-maxage: {value}\n"))
    message = str(info.value)
    assert "spec.api.extraArgs.audit-log-maxage" in message
    assert f"cannot unmarshal {kind} into Go struct field" in message
    assert "of type string" in message


@pytest.mark.parametrize("value", ["[--a=b]", "'--a=b'", "7"])
def test_extra_args_not_a_mapping(value):
    with pytest.raises(K0sConfigError, match=r"spec\.api\.extraArgs: .*map\[string\]string"):
        load_strict(_config(f"    extraArgs: {value}\n"))


def test_unknown_key_under_spec_is_error():
    with pytest.raises(K0sConfigError, match='unknown field "apiServer"'):
        load_strict(_config("  apiServer: {}\n"))


def test_known_spec_keys_from_crd_are_accepted():
    extra = "".join(f"  {key}: {{}}\n" for key in sorted(k0s_standin.SPEC_KEYS - {"api"}))
    assert set(load_strict(_config(extra))["spec"]) == k0s_standin.SPEC_KEYS


def test_unknown_key_under_spec_api_is_ignored():
    config = load_strict(_config("    extraArg:\n      audit-log-maxage: 30\n"))
    assert k0s_standin.apiserver_args(config) == []


def test_unknown_top_level_key_is_error():
    with pytest.raises(K0sConfigError, match='unknown field "spac"'):
        load_strict(HEADER + "spac: {}\n")


def test_port_must_be_int():
    with pytest.raises(K0sConfigError, match=r"spec\.api\.port"):
        load_strict(HEADER + "spec:\n  api:\n    port: '6443'\n")


@pytest.mark.parametrize("text", [_config() + "---\n" + _config(), "---\n" + _config() + "---\n"])
def test_multi_document_is_error(text):
    with pytest.raises(K0sConfigError, match="exactly one YAML document"):
        load_strict(text)


def test_k0sctl_file_is_named():
    text = "apiVersion: k0sctl.k0sproject.io/v1beta1\nkind: Cluster\nspec:\n  hosts: []\n"
    with pytest.raises(K0sConfigError, match="k0sctl configuration"):
        load_strict(text)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_not_a_mapping(text):
    with pytest.raises(K0sConfigError, match=r"cannot unmarshal .* into Go value of type v1beta1\.ClusterConfig"):
        load_strict(text)


@pytest.mark.parametrize("text", ["", "# nothing\n", "---\n"])
def test_empty_is_error(text):
    with pytest.raises(K0sConfigError, match="empty"):
        load_strict(text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("apiVersion: k0s.k0sproject.io/v1\nkind: ClusterConfig\n", "invalid apiVersion"),
        ("kind: ClusterConfig\n", "invalid apiVersion"),
        ("apiVersion: k0s.k0sproject.io/v1beta1\nkind: Config\n", "invalid kind"),
        (HEADER + "spec: [1]\n", "ClusterConfig.spec"),
        (HEADER + "spec:\n  api: [1]\n", "spec.api"),
        ("a: [\n", "error converting YAML to JSON"),
    ],
)
def test_other_errors(text, match):
    with pytest.raises(K0sConfigError, match=match):
        load_strict(text)


def test_timestamps_stay_strings():
    config = load_strict(_config("    extraArgs:\n      some-date: 2024-01-01\n"))
    assert config["spec"]["api"]["extraArgs"]["some-date"] == "2024-01-01"


# ---------------------------------------------------------------------------------------------------------------
# Audit flags and policy (pure)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"audit-log-maxage": "abc"}, "strconv.ParseInt"),
        ({"audit-log-maxbackup": "-1"}, "negative"),
        ({"audit-log-maxsize": ""}, "strconv.ParseInt"),
        ({"audit-log-max-age": "30"}, "unknown flag: --audit-log-max-age"),
        ({"audit-log-format": "yaml"}, "audit-log-format"),
        ({"audit-log-compress": "yes"}, "ParseBool"),
    ],
)
def test_bad_audit_flags(flags, match):
    with pytest.raises(k0s_standin.StartupError, match=match):
        k0s_standin.check_audit_flags(flags)


def test_good_audit_flags():
    k0s_standin.check_audit_flags(
        {
            "audit-log-maxage": "30",
            "audit-log-maxbackup": "0",
            "audit-log-maxsize": "+100",
            "audit-log-format": "json",
            "audit-log-compress": "true",
            "profiling": "whatever",
        }
    )


def test_valid_policy_with_unknown_field_only_warns():
    policy, warnings = k0s_standin.validate_policy(POLICY + "  namespace: [kube-system]\n")
    assert policy["rules"][0]["level"] == "Metadata"
    assert warnings == ['unknown field "rules[0].namespace"']


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\n", "0 rules"),
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n", "0 rules"),
        ("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: Metadata\n", "no kind"),
        ("apiVersion: audit.k8s.io/v1\nkind: Pol\nrules:\n- level: Metadata\n", "no kind"),
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- verbs: [get]\n", r"rules\[0\].level: Required"),
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n", "Unsupported value"),
        (POLICY + "- level: None\n  omitStages: [Done]\n", r"rules\[1\].omitStages\[0\]"),
        (POLICY + "- level: None\n  nonResourceURLs: ['']\n", "non-empty"),
        (POLICY + "- level: None\n  nonResourceURLs: ['/a*b']\n", "wildcards"),
        (POLICY + "- level: None\n  nonResourceURLs: [/x]\n  namespaces: [a]\n", "both"),
        (POLICY + "- level: None\n  resources:\n  - resourceNames: [x]\n", "resourceNames"),
        ("- level: Metadata\n", "not a mapping"),
        (POLICY + "---\n" + POLICY, "one YAML document"),
        ("rules: [\n", "failed decoding"),
    ],
)
def test_bad_policies(text, match):
    with pytest.raises(k0s_standin.StartupError, match=match):
        k0s_standin.validate_policy(text, "/p.yaml")


def test_parse_lifecycle_line():
    entry = k0s_standin.parse_lifecycle_line("1700000000.123456 failed 42 open /x: permission denied\n")
    assert entry == {"time": 1700000000.123456, "event": "failed", "pid": 42, "detail": "open /x: permission denied"}
    assert k0s_standin.parse_lifecycle_line("1.000000 stopped 7\n")["detail"] == ""


# ---------------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------------


def _run(*args, **kwargs):
    return subprocess.run(
        [sys.executable, str(STANDIN), *args], capture_output=True, text=True, timeout=30, check=False, **kwargs
    )


def test_shebang_and_main_guard():
    text = STANDIN.read_text()
    assert text.startswith("#!/usr/bin/env python3\n")
    assert 'if __name__ == "__main__":\n    sys.exit(main())' in text


def test_cli_version():
    result = _run("version")
    assert (result.returncode, result.stdout) == (0, "v1.33.0+k0s.0-standin\n")


def test_cli_config_create_passes_load_strict():
    result = _run("config", "create")
    assert result.returncode == 0, result.stderr
    config = load_strict(result.stdout)
    assert "extraArgs" not in config["spec"]["api"]
    assert config["spec"]["network"]["provider"] == "kuberouter"


@pytest.mark.parametrize("form", ["--config", "--config=", "-c"])
def test_cli_config_validate(tmp_path, form):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(_config('    extraArgs:\n      audit-log-maxage: "30"\n'))
    bad.write_text(_config("    extraArgs:\n      audit-log-maxage: 30\n"))
    for path, code in ((good, 0), (bad, 1)):
        args = [f"{form}{path}"] if form.endswith("=") else [form, str(path)]
        result = _run("config", "validate", *args)
        assert result.returncode == code
        assert result.stdout == ""
        if code:
            assert result.stderr.startswith("Error: ")
            assert "cannot unmarshal number" in result.stderr
        else:
            assert result.stderr == ""


def test_cli_config_validate_missing_file(tmp_path):
    result = _run("config", "validate", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "no such file or directory" in result.stderr


# ---------------------------------------------------------------------------------------------------------------
# k0s controller
# ---------------------------------------------------------------------------------------------------------------


class Controller:
    def __init__(self, tmp_path: Path, extra_args: dict, *options: str, env: dict | None = None):
        self.dir = tmp_path
        self.lifecycle = tmp_path / "state" / "lifecycle.log"
        self.config = tmp_path / "k0s.yaml"
        lines = "".join(f"      {key}: {json.dumps(value)}\n" for key, value in extra_args.items())
        self.config.write_text(HEADER + "spec:\n  api:\n    port: 0\n" + (f"    extraArgs:\n{lines}" if lines else ""))
        full_env = {key: value for key, value in os.environ.items() if not key.startswith("K0S_STANDIN_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(STANDIN),
                "controller",
                f"--config={self.config}",
                "--lifecycle-log",
                str(self.lifecycle),
                "--no-drop-privileges",
                *options,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )

    def events(self) -> list:
        if not self.lifecycle.exists():
            return []
        return [k0s_standin.parse_lifecycle_line(line) for line in self.lifecycle.read_text().splitlines()]

    def wait_for(self, event: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.events():
                if entry["event"] == event:
                    return entry
            if self.proc.poll() is not None and event not in ("failed", "stopped"):
                break
            time.sleep(0.02)
        raise AssertionError(f"no {event!r} line; lifecycle={self.events()} stderr={self.stderr()}")

    def port(self) -> int:
        detail = self.wait_for("ready")["detail"]
        listen = next(token for token in detail.split() if token.startswith("listen="))
        return int(listen.rsplit(":", 1)[1])

    def get(self, path: str):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        url = f"https://127.0.0.1:{self.port()}{path}"
        try:
            with urllib.request.urlopen(url, context=context, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read() if self.proc.stderr else ""

    def stop(self) -> float:
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=5)
        return time.monotonic() - start

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture
def controller(tmp_path):
    started = []

    def start(extra_args: dict, *options: str, env: dict | None = None) -> Controller:
        instance = Controller(tmp_path, extra_args, *options, env=env)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.close()


def _audit_lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_controller_serves_readyz_and_writes_audit_log(tmp_path, controller):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "logs" / "audit.log"
    ctl = controller(
        {"audit-policy-file": str(policy), "audit-log-path": str(log), "audit-log-maxage": "30"},
    )
    ready = ctl.wait_for("ready", timeout=5)
    starting = ctl.wait_for("starting")
    assert starting["pid"] == ready["pid"] == ctl.proc.pid
    assert ready["time"] - starting["time"] < 2.0
    assert "drop=disabled-for-tests" in ready["detail"]
    assert json.loads(ready["detail"].split(" args=", 1)[1]) == [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={log}",
        "--audit-log-maxage=30",
    ]
    assert (log.stat().st_mode & 0o777) == 0o600
    assert (log.parent.stat().st_mode & 0o777) == 0o700
    startup_events = _audit_lines(log)
    assert len(startup_events) == 1

    assert ctl.get("/readyz") == (200, "ok")
    assert ctl.get("/livez") == (200, "ok")
    assert ctl.get("/healthz") == (200, "ok")
    assert ctl.get("/readyz?verbose")[1].endswith("readyz check passed\n")
    assert ctl.get("/api/v1/pods")[0] == 404

    events = _audit_lines(log)
    assert len(events) == 6
    event = events[1]
    assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
    assert event["level"] == "Metadata" and event["stage"] == "ResponseComplete"
    assert event["requestURI"] == "/readyz" and event["verb"] == "get"
    assert event["user"]["username"] == "system:anonymous"
    assert event["sourceIPs"] == ["127.0.0.1"]
    assert event["responseStatus"]["code"] == 200
    assert event["requestReceivedTimestamp"].endswith("Z") and event["stageTimestamp"].endswith("Z")
    assert events[-1]["responseStatus"]["code"] == 404
    assert len({e["auditID"] for e in events}) == 6

    status = _run("status", "--lifecycle-log", str(ctl.lifecycle))
    assert status.returncode == 0 and "Role: controller" in status.stdout

    assert ctl.stop() < 1.0
    assert ctl.proc.returncode == 0
    assert [e["event"] for e in ctl.events()] == ["starting", "ready", "stopped"]
    assert _run("status", "--lifecycle-log", str(ctl.lifecycle)).returncode == 1


def test_controller_without_audit_args(controller):
    ctl = controller({})
    assert ctl.get("/readyz") == (200, "ok")
    assert "args=[]" in ctl.wait_for("ready")["detail"]
    ctl.stop()
    assert ctl.proc.returncode == 0


def test_log_without_policy_creates_file_but_records_nothing(tmp_path, controller):
    log = tmp_path / "audit.log"
    ctl = controller({"audit-log-path": str(log)})
    assert ctl.get("/readyz") == (200, "ok")
    assert log.exists() and log.read_text() == ""
    ctl.stop()


def _assert_failed(ctl: Controller, *fragments: str) -> str:
    assert ctl.proc.wait(timeout=10) == 1
    events = ctl.events()
    assert [e["event"] for e in events] == ["starting", "failed"]
    detail = events[-1]["detail"]
    stderr = ctl.stderr()
    for fragment in fragments:
        assert fragment in detail
        assert fragment in stderr
    assert f"Error: {detail}" in stderr
    return detail


def test_missing_policy_file_fails(tmp_path, controller):
    ctl = controller({"audit-policy-file": str(tmp_path / "missing.yaml"), "audit-log-path": str(tmp_path / "a.log")})
    _assert_failed(ctl, "loading audit policy file", "no such file or directory")


def test_unreadable_policy_file_fails(tmp_path, controller):
    policy = tmp_path / "policy-dir"  # a directory cannot be read, not even by root
    policy.mkdir()
    ctl = controller({"audit-policy-file": str(policy)})
    _assert_failed(ctl, "failed to read file path", "is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_policy_without_read_permission_fails(tmp_path, controller):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    policy.chmod(0)
    ctl = controller({"audit-policy-file": str(policy)})
    _assert_failed(ctl, "permission denied")


def _nobody_exists() -> bool:
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return False
    return True


needs_root_and_nobody = pytest.mark.skipif(
    os.geteuid() != 0 or not _nobody_exists(), reason="needs root and the user nobody"
)


@pytest.fixture
def open_dir():
    """A directory every user can traverse (pytest's tmp_path sits under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="k0s-standin-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _drop_to_nobody(directory: Path, policy_mode: int):
    policy = directory / "policy.yaml"
    policy.write_text(POLICY)
    policy.chmod(policy_mode)  # owned root:root
    logs = directory / "logs"
    logs.mkdir()
    os.chown(logs, pwd.getpwnam("nobody").pw_uid, 0)
    config = directory / "k0s.yaml"
    config.write_text(
        HEADER + "spec:\n  api:\n    port: 0\n    extraArgs:\n"
        f"      audit-policy-file: {policy}\n      audit-log-path: {logs}/k0s/audit.log\n"
    )
    lifecycle = directory / "lifecycle.log"
    command = [sys.executable, str(STANDIN), "controller", f"--config={config}", f"--lifecycle-log={lifecycle}"]
    return subprocess.Popen(
        [*command, "--apiserver-user", "nobody"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ), lifecycle


@needs_root_and_nobody
def test_real_privilege_drop_runs_as_user_with_gid_0_and_no_groups(open_dir):
    proc, lifecycle = _drop_to_nobody(open_dir, 0o640)  # root:root 0640 is readable through gid 0, like in k0s
    try:
        deadline = time.monotonic() + 10
        while "ready" not in (lifecycle.read_text() if lifecycle.exists() else "") and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        ids = {line.split(":")[0]: line.split()[1:] for line in status.splitlines() if ":" in line}
        assert ids["Uid"][0] == str(pwd.getpwnam("nobody").pw_uid)
        assert ids["Gid"][0] == "0"
        assert ids["Groups"] == []
        audit_log = open_dir / "logs" / "k0s" / "audit.log"
        assert audit_log.stat().st_uid == pwd.getpwnam("nobody").pw_uid
        assert len(audit_log.read_text().splitlines()) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=5)


@needs_root_and_nobody
def test_real_privilege_drop_blocks_root_only_policy(open_dir):
    proc, lifecycle = _drop_to_nobody(open_dir, 0o600)
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 1
    assert "permission denied (user=nobody)" in err
    events = [k0s_standin.parse_lifecycle_line(line)["event"] for line in lifecycle.read_text().splitlines()]
    assert events == ["starting", "failed"]


@pytest.mark.parametrize(
    ("policy_text", "fragment"),
    [
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n", "0 rules"),
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: All\n", "Unsupported value"),
        ("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: None\n", "no kind"),
    ],
)
def test_bad_policy_fails(tmp_path, controller, policy_text, fragment):
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    ctl = controller({"audit-policy-file": str(policy), "audit-log-path": str(tmp_path / "a.log")})
    _assert_failed(ctl, fragment)


def test_log_dir_not_writable_fails(tmp_path, controller):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    blocker = tmp_path / "not-a-dir"  # a regular file where the log directory should be: fails even for root
    blocker.write_text("")
    ctl = controller({"audit-policy-file": str(policy), "audit-log-path": str(blocker / "k0s" / "audit.log")})
    _assert_failed(ctl, "failed to create audit log directory", "not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_log_dir_without_write_permission_fails(tmp_path, controller):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o500)
    ctl = controller({"audit-policy-file": str(policy), "audit-log-path": str(logs / "audit.log")})
    _assert_failed(ctl, "permission denied")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"audit-log-maxage": "seven"}, "strconv.ParseInt"),
        ({"audit-log-maxbackup": "-3"}, "negative"),
        ({"audit-log-maxsize": None}, 'invalid argument "" for "--audit-log-maxsize"'),
        ({"audit-log-max-age": "30"}, "unknown flag: --audit-log-max-age"),
    ],
)
def test_bad_log_flags_fail(tmp_path, controller, extra, fragment):
    ctl = controller({"audit-log-path": str(tmp_path / "a.log"), **extra})
    _assert_failed(ctl, fragment)


def test_bad_config_fails(tmp_path, controller):
    ctl = controller({"audit-log-maxage": 30})  # json.dumps(30) -> unquoted number
    _assert_failed(ctl, "cannot unmarshal number")


def test_retry_mode_respawns_until_fixed(tmp_path, controller):
    policy = tmp_path / "policy.yaml"
    ctl = controller(
        {"audit-policy-file": str(policy)}, "--on-failure=retry", env={"K0S_STANDIN_RESPAWN_SECONDS": "0.1"}
    )
    ctl.wait_for("failed")
    assert ctl.proc.poll() is None  # like k0s: the controller stays up while kube-apiserver cannot start
    policy.write_text(POLICY)
    assert ctl.get("/readyz") == (200, "ok")
    ctl.stop()
    events = [e["event"] for e in ctl.events()]
    assert events[0] == "starting" and "failed" in events and events[-2:] == ["ready", "stopped"]
