"""Tests of the k0s TEST STAND-IN (tests/k0s_standin/k0s_standin.py).

The pure parts (strict k0s.yaml decoding, the merge over k0s's defaults, kube-apiserver's command line and
account) are imported. The controller runs as a subprocess with its own data dir, lifecycle log and run dir in a
temporary directory, supervising either a scripted child (for the supervision paths: ready only after "Serving
securely", exits, respawn, stop) or, when it has been built, the real test API server
(.cache/testbed/kube-apiserver from scripts/build-test-apiserver.sh) for the audit behaviour end to end.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
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


FIXED_FLAGS = 3  # --bind-address, --secure-port, --cert-dir: what the stand-in always passes first


def _extra_args(config: dict) -> list:
    argv, _overridden = k0s_standin.apiserver_command(config, "/var/lib/k0s")
    return argv[FIXED_FLAGS:]


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
    assert _extra_args(config) == ["--audit-log-maxage=30", "--audit-log-path=/var/log/k0s/a.log"]


def test_null_extra_arg_becomes_empty_string_like_go():
    config = load_strict(_config("    extraArgs:\n      audit-log-path:\n"))
    assert _extra_args(config) == ["--audit-log-path="]


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
    assert _extra_args(config) == []


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
# The node config: merged over k0s's defaults (pkg/config/cfgvars.go NodeConfig, MergedWithYAML)
# ---------------------------------------------------------------------------------------------------------------

MINIMAL = HEADER + 'metadata:\n  name: k0s\nspec:\n  api:\n    extraArgs:\n      audit-log-maxage: "30"\n'


def test_minimal_file_is_merged_over_the_defaults(tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(MINIMAL)
    config, source = k0s_standin.node_config(str(path), str(tmp_path), address="192.0.2.7")
    assert source == str(path)
    api = config["spec"]["api"]
    assert api["extraArgs"] == {"audit-log-maxage": "30"}
    assert (api["port"], api["k0sApiPort"], api["address"]) == (6443, 9443, "192.0.2.7")
    assert config["spec"]["network"]["provider"] == "kuberouter"
    assert config["spec"]["installConfig"]["users"]["kubeAPIserverUser"] == "kube-apiserver"
    assert k0s_standin.storage_type(config) == "etcd"
    assert config["metadata"] == {"name": "k0s", "namespace": "kube-system"}


def test_file_values_replace_defaults_and_lists_are_not_merged(tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(_config("    sans: [a.example]\n  network:\n    podCIDR: 10.1.0.0/16\n"))
    config, _source = k0s_standin.node_config(str(path), str(tmp_path))
    assert config["spec"]["api"]["sans"] == ["a.example"]
    assert config["spec"]["network"]["podCIDR"] == "10.1.0.0/16"
    assert config["spec"]["network"]["serviceCIDR"] == "10.96.0.0/12"  # the default, kept beside it


def test_file_without_spec_keeps_the_default_spec(tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(HEADER + "metadata:\n  name: k0s\nspec:\n")
    config, _source = k0s_standin.node_config(str(path), str(tmp_path))
    assert config["spec"]["api"]["port"] == 6443


def test_single_makes_kine_the_default_storage(tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(MINIMAL)
    config, _source = k0s_standin.node_config(str(path), "/var/lib/k0s", single=True)
    assert config["spec"]["storage"] == {
        "type": "kine",
        "kine": {"dataSource": "sqlite://file:/var/lib/k0s/db/state.db?mode=rwc&_journal=WAL"},
    }
    assert k0s_standin.node_config(str(path), "/var/lib/k0s", single=False)[0]["spec"]["storage"]["type"] == "etcd"


def test_a_file_saying_etcd_overrides_single(tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(MINIMAL + "  storage:\n    type: etcd\n")
    config, _source = k0s_standin.node_config(str(path), "/var/lib/k0s", single=True)
    assert k0s_standin.storage_type(config) == "etcd"


def test_config_create_output_on_a_single_node_switches_to_etcd(tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(k0s_standin.default_config_text("192.0.2.7"))
    assert k0s_standin.storage_type(k0s_standin.node_config(str(path), str(tmp_path), single=True)[0]) == "etcd"


def test_missing_default_path_runs_on_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(k0s_standin, "DEFAULT_CONFIG", str(tmp_path / "k0s.yaml"))
    for path in (None, str(tmp_path / "k0s.yaml")):  # k0s compares the path, explicit or not
        config, source = k0s_standin.node_config(path, str(tmp_path), single=True)
        assert source == "<defaults>"
        assert k0s_standin.storage_type(config) == "kine"
        assert "extraArgs" not in config["spec"]["api"]


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(K0sConfigError, match=r"open .*custom\.yaml: no such file or directory"):
        k0s_standin.node_config(str(tmp_path / "custom.yaml"), str(tmp_path))


def test_config_from_stdin(tmp_path):
    import io

    config, source = k0s_standin.node_config("-", str(tmp_path), stdin=io.StringIO(MINIMAL))
    assert source == "-" and config["spec"]["api"]["extraArgs"] == {"audit-log-maxage": "30"}


def test_strict_errors_still_apply_to_the_merged_file(tmp_path):
    path = tmp_path / "k0s.yaml"
    path.write_text(_config("    extraArgs:\n      audit-log-maxage: 30\n"))
    with pytest.raises(K0sConfigError, match="cannot unmarshal number"):
        k0s_standin.node_config(str(path), str(tmp_path))


# ---------------------------------------------------------------------------------------------------------------
# kube-apiserver's command line and account (pkg/component/controller/apiserver.go)
# ---------------------------------------------------------------------------------------------------------------


def test_command_line_from_defaults_extra_args_and_raw_args():
    config = load_strict(
        HEADER + "spec:\n  api:\n    port: 7443\n    extraArgs:\n"
        "      audit-log-path: /var/log/k0s/audit.log\n      profiling: 'false'\n      audit-log-maxage:\n"
        "    rawArgs: [--audit-log-maxbackup=3, --v=2]\n"
    )
    argv, overridden = k0s_standin.apiserver_command(config, "/data", "/etc/k0s-standin/tokens.csv")
    assert argv == [
        "--bind-address=127.0.0.1",
        "--secure-port=7443",
        "--cert-dir=/data/pki/kube-apiserver-standin",
        "--token-auth-file=/etc/k0s-standin/tokens.csv",
        "--audit-log-path=/var/log/k0s/audit.log",
        "--profiling=false",
        "--audit-log-maxage=",
        "--audit-log-maxbackup=3",
        "--v=2",
    ]
    assert overridden == []


def test_extra_args_override_k0s_flags_in_place():
    config = load_strict(HEADER + "spec:\n  api:\n    extraArgs:\n      secure-port: '1234'\n")
    argv, overridden = k0s_standin.apiserver_command(config, "/var/lib/k0s")
    assert argv[:2] == ["--bind-address=127.0.0.1", "--secure-port=1234"]
    assert overridden == ["secure-port"]
    assert not any(arg.startswith("--token-auth-file") for arg in argv)


def test_default_port_and_binary_under_the_data_dir():
    config = k0s_standin.default_config("/d")
    assert "--secure-port=6443" in k0s_standin.apiserver_command(config, "/d")[0]
    assert k0s_standin.apiserver_binary("/d") == "/d/bin/kube-apiserver"


def test_account_missing_user_falls_back_to_root_with_a_warning():
    if os.geteuid() != 0:
        assert k0s_standin.apiserver_account("auto", "no-such-user-k0s")["detail"].endswith("drop=skipped-not-root")
        return
    account = k0s_standin.apiserver_account("auto", "no-such-user-k0s")
    assert (account["uid"], account["gid"], account["drop"]) == (0, 0, True)
    assert "Running Kubernetes API server as root" in account["warning"]
    assert "drop=fallback-to-root(no-such-user-k0s-user-missing)" in account["detail"]


def test_account_is_the_fixed_name_with_gid_0():
    if os.geteuid() != 0:
        assert not k0s_standin.apiserver_account("auto")["drop"]
        return
    nobody = pwd.getpwnam("nobody")
    account = k0s_standin.apiserver_account("auto", "nobody")
    assert (account["uid"], account["gid"], account["drop"]) == (nobody.pw_uid, 0, True)
    assert account["detail"] == f"user=nobody uid={nobody.pw_uid} gid=0 groups=none"
    assert account["warning"] == ""


def test_account_ignores_kube_apiserver_user_of_the_config():
    # apiserver.go looks up constant.ApiserverUser only: the function takes no config at all.
    import inspect

    assert list(inspect.signature(k0s_standin.apiserver_account).parameters) == ["mode", "user"]
    assert k0s_standin.APISERVER_USER == "kube-apiserver"


def test_account_never_mode_stays_the_current_user():
    account = k0s_standin.apiserver_account("never")
    assert (account["uid"], account["drop"]) == (os.getuid(), False)
    assert account["detail"].endswith("drop=disabled-for-tests")


# ---------------------------------------------------------------------------------------------------------------
# Controller flags as k0s spells them (pkg/config/cli.go, pflag)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["--config=/x.yaml"], ["--config", "/x.yaml"], ["-c", "/x.yaml"], ["-c/x.yaml"], ["-c=/x.yaml"]],
)
def test_config_flag_forms(args):
    assert k0s_standin.parse_controller_args(args)["config"] == "/x.yaml"


def test_controller_flags():
    options = k0s_standin.parse_controller_args(
        ["--single", "--data-dir=/d", "--enable-dynamic-config", "--enable-worker=false", "--no-taints=true"]
    )
    assert options["single"] and options["no_taints"] and options["enable_dynamic_config"]
    assert not options["enable_worker"]
    assert options["data_dir"] == "/d" and options["config"] is None


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--singel"], "unknown flag: --singel"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["--single=maybe"], "strconv.ParseBool"),
        (["--config"], "flag needs an argument: --config"),
        (["join-token"], "positional"),
    ],
)
def test_bad_controller_flags(args, match):
    with pytest.raises(k0s_standin.UsageError, match=match):
        k0s_standin.parse_controller_args(args)


def test_ready_fields():
    fields = k0s_standin.ready_fields('listen=127.0.0.1:6443 storage=kine config=<defaults> user=root args=["--a=b c"]')
    assert fields == {
        "listen": "127.0.0.1:6443",
        "storage": "kine",
        "config": "<defaults>",
        "user": "root",
        "args": ["--a=b c"],
    }


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
# k0s controller: supervision, with a scripted child in place of kube-apiserver
# ---------------------------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
TEST_APISERVER = REPO / ".cache" / "testbed" / "kube-apiserver"
needs_test_apiserver = pytest.mark.skipif(
    not os.access(TEST_APISERVER, os.X_OK),
    reason=f"{TEST_APISERVER} is absent: build it with scripts/build-test-apiserver.sh",
)

# The child records how it was started, then serves (prints the line the real server prints) once the file named
# by FAKE_SERVE_WHEN exists, else fails the way the real one does: an error line and exit status 1.
SCRIPTED_CHILD = r"""#!/usr/bin/env python3
import json, os, signal, sys, time
with open(os.environ["FAKE_RECORD"], "a") as handle:
    handle.write(json.dumps({
        "pid": os.getpid(), "argv": sys.argv[1:], "cwd": os.getcwd(), "uid": os.getuid(), "gid": os.getgid(),
        "groups": os.getgroups(), "managed": os.environ.get("_K0S_MANAGED"), "own_group": os.getpgid(0) == os.getpid(),
        "path": os.environ.get("PATH", ""),
    }) + "\n")
if not os.path.exists(os.environ["FAKE_SERVE_WHEN"]):
    print('E1201 12:00:00.000000 1 run.go:72] "command failed" '
          'err="open /var/log/k0s/audit.log: permission denied"', flush=True)
    sys.exit(1)
signal.signal(signal.SIGTERM, lambda *_: (print("terminated", flush=True), sys.exit(0)))
time.sleep(float(os.environ.get("FAKE_DELAY", "0")))
print("I1201 12:00:00.000000 1 secure_serving.go:213] Serving securely on 127.0.0.1:16443", flush=True)
deadline = time.monotonic() + float(os.environ.get("FAKE_EXIT_AFTER", "3600"))
while time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(3)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Controller:
    """``k0s controller`` in a temporary directory: data dir, run dir, lifecycle log and k0s.yaml of its own."""

    def __init__(self, base: Path, config_text: str | None, *options: str, env: dict | None = None, child=None):
        self.dir = base
        self.data = base / "data"
        (self.data / "bin").mkdir(parents=True, exist_ok=True)
        self.binary = self.data / "bin" / "kube-apiserver"
        if child == "scripted":
            self.binary.write_text(SCRIPTED_CHILD)
            self.binary.chmod(0o755)
        elif child == "real" and not self.binary.exists():
            # A hard link (else a copy), not a symlink: the account the API server runs as must reach the binary,
            # and the checkout may sit under a 0700 directory (a clone in a mktemp directory, as CI makes).
            try:
                os.link(TEST_APISERVER, self.binary)
            except OSError:
                shutil.copy2(TEST_APISERVER, self.binary)
        self.lifecycle = base / "state" / "lifecycle.log"
        self.record = base / "child.jsonl"
        self.serve_when = base / "serve"
        self.config = base / "k0s.yaml"
        config_args = []
        if config_text is not None:
            self.config.write_text(config_text)
            config_args = [f"--config={self.config}"]
        full_env = {key: value for key, value in os.environ.items() if not key.startswith(("K0S_STANDIN_", "FAKE_"))}
        full_env.update(
            {
                "FAKE_RECORD": str(self.record),
                "FAKE_SERVE_WHEN": str(self.serve_when),
                "K0S_STANDIN_RUN_DIR": str(base / "run"),
                "K0S_STANDIN_TOKEN_FILE": str(base / "tokens.csv"),
            }
        )
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(STANDIN),
                "controller",
                *config_args,
                f"--data-dir={self.data}",
                "--lifecycle-log",
                str(self.lifecycle),
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

    def wait_for(self, event: str, timeout: float = 20.0, count: int = 1) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [entry for entry in self.events() if entry["event"] == event]
            if len(found) >= count:
                return found[count - 1]
            if self.proc.poll() is not None and event not in ("failed", "stopped"):
                break
            time.sleep(0.02)
        raise AssertionError(f"no {event!r} line; lifecycle={self.events()} stderr={self.stderr()}")

    def ready(self) -> dict:
        return k0s_standin.ready_fields(self.wait_for("ready")["detail"])

    def children(self) -> list:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read() if self.proc.stderr else ""

    def stop(self) -> float:
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)
        return time.monotonic() - start

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for child in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child["pid"], signal.SIGKILL)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture
def controller(tmp_path):
    started = []

    def start(config_text: str | None, *options: str, env=None, child="scripted", base: Path | None = None):
        instance = Controller(base or tmp_path, config_text, *options, env=env, child=child)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.close()


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}") and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


def test_ready_only_after_the_serving_line(controller):
    ctl = controller(MINIMAL, "--no-drop-privileges", env={"FAKE_DELAY": "1.0"})
    ctl.serve_when.write_text("")
    starting = ctl.wait_for("starting")
    time.sleep(0.6)
    assert [e["event"] for e in ctl.events()] == ["starting"]  # the child runs, but has not said it serves
    ready_line = ctl.wait_for("ready")
    assert ready_line["time"] - starting["time"] >= 1.0
    fields = k0s_standin.ready_fields(ready_line["detail"])
    assert fields["listen"] == "127.0.0.1:16443"
    assert fields["storage"] == "etcd" and fields["config"] == str(ctl.config)
    assert fields["args"] == [
        "--bind-address=127.0.0.1",
        "--secure-port=6443",
        f"--cert-dir={ctl.data}/pki/kube-apiserver-standin",
        "--audit-log-maxage=30",
    ]
    (child,) = ctl.children()
    assert fields["apiserver_pid"] == str(child["pid"])
    assert child["argv"] == fields["args"]
    assert child["cwd"] == str(ctl.data)  # supervisor.go: cmd.Dir = DataDir
    assert child["managed"] == "yes" and child["own_group"]
    assert child["path"].startswith(f"{ctl.data}/bin:")
    assert (ctl.dir / "run" / "kube-apiserver.pid").read_text() == f"{child['pid']}\n"


def test_sigterm_stops_the_api_server_and_exits_0(controller):
    ctl = controller(MINIMAL, "--no-drop-privileges")
    ctl.serve_when.write_text("")
    ctl.wait_for("ready")
    (child,) = ctl.children()
    status = _run("status", "--lifecycle-log", str(ctl.lifecycle))
    assert status.returncode == 0 and "Role: controller" in status.stdout and "SingleNode: false" in status.stdout
    assert ctl.stop() < 5.0
    assert ctl.proc.returncode == 0
    assert not _alive(child["pid"])
    assert not (ctl.dir / "run" / "kube-apiserver.pid").exists()
    assert [e["event"] for e in ctl.events()] == ["starting", "ready", "stopped"]
    assert "kube-apiserver: terminated" in ctl.stderr()
    assert _run("status", "--lifecycle-log", str(ctl.lifecycle)).returncode == 1


def test_api_server_exit_before_serving_fails_the_controller(controller):
    ctl = controller(MINIMAL, "--no-drop-privileges")
    assert ctl.proc.wait(timeout=20) == 1
    assert [e["event"] for e in ctl.events()] == ["starting", "failed"]
    detail = ctl.events()[-1]["detail"]
    assert detail.startswith("kube-apiserver exited with status 1 before serving: ")
    assert "open /var/log/k0s/audit.log: permission denied" in detail
    stderr = ctl.stderr()
    assert 'kube-apiserver: E1201 12:00:00.000000 1 run.go:72] "command failed"' in stderr  # copied to the journal
    assert f"Error: {detail}" in stderr


def test_api_server_exit_after_serving_fails_the_controller(controller):
    ctl = controller(MINIMAL, "--no-drop-privileges", env={"FAKE_EXIT_AFTER": "0.3"})
    ctl.serve_when.write_text("")
    assert ctl.proc.wait(timeout=20) == 1
    assert [e["event"] for e in ctl.events()] == ["starting", "ready", "failed"]
    assert "exited with status 3 after serving" in ctl.events()[-1]["detail"]


def test_retry_mode_respawns_until_the_api_server_serves(controller):
    ctl = controller(MINIMAL, "--no-drop-privileges", "--on-failure=retry", env={"K0S_STANDIN_RESPAWN_SECONDS": "0.2"})
    ctl.wait_for("failed", count=2)
    assert ctl.proc.poll() is None  # like k0s: the controller stays up while kube-apiserver cannot start
    ctl.serve_when.write_text("")
    ctl.wait_for("ready")
    ctl.stop()
    events = [e["event"] for e in ctl.events()]
    assert events[0] == "starting" and events.count("failed") >= 2 and events[-2:] == ["ready", "stopped"]
    assert len(ctl.children()) == events.count("failed") + 1
    assert "respawning in 0.2s" in ctl.stderr()


def test_stale_api_server_from_the_pid_file_is_terminated(controller, tmp_path):
    ctl_dir = tmp_path / "data" / "bin"
    ctl_dir.mkdir(parents=True)
    binary = ctl_dir / "kube-apiserver"
    binary.write_text(SCRIPTED_CHILD)
    binary.chmod(0o755)
    (tmp_path / "serve").write_text("")
    env = dict(os.environ, FAKE_RECORD=str(tmp_path / "stale.jsonl"), FAKE_SERVE_WHEN=str(tmp_path / "serve"))
    env["_K0S_MANAGED"] = "yes"
    # argv[0] must be the binary's path (prochandle.go isK0sManaged compares it): run the script with it as argv[0].
    stale = subprocess.Popen([str(binary), str(binary)], executable=sys.executable, env=env, stdout=subprocess.DEVNULL)
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "kube-apiserver.pid").write_text(f"{stale.pid}\n")
        ctl = controller(MINIMAL, "--no-drop-privileges")
        ctl.wait_for("ready")
        assert stale.wait(timeout=10) == 0  # it got SIGTERM from the new controller
        (child,) = ctl.children()
        assert child["pid"] != stale.pid
    finally:
        if stale.poll() is None:
            stale.kill()
            stale.wait()


def test_missing_explicit_config_fails_the_controller(controller, tmp_path):
    ctl = controller(None, f"--config={tmp_path / 'custom.yaml'}", "--no-drop-privileges")
    assert ctl.proc.wait(timeout=20) == 1
    assert [e["event"] for e in ctl.events()] == ["starting", "failed"]
    assert "custom.yaml: no such file or directory" in ctl.events()[-1]["detail"]
    assert ctl.children() == []


def test_bad_config_fails_before_the_api_server_starts(controller):
    ctl = controller(_config("    extraArgs:\n      audit-log-maxage: 30\n"), "--no-drop-privileges")
    assert ctl.proc.wait(timeout=20) == 1
    assert "cannot unmarshal number" in ctl.events()[-1]["detail"]
    assert ctl.children() == []


def test_missing_binary_names_the_build_script(controller):
    ctl = controller(MINIMAL, "--no-drop-privileges", child=None)
    assert ctl.proc.wait(timeout=20) == 1
    assert "scripts/build-test-apiserver.sh" in ctl.events()[-1]["detail"]


def test_single_token_file_and_extra_args(controller):
    ctl = controller(MINIMAL, "--single", "--no-drop-privileges")
    (ctl.dir / "tokens.csv").write_text('t0k3n,alice,1,"system:masters"\n')
    ctl.serve_when.write_text("")
    fields = ctl.ready()
    assert fields["storage"] == "kine"
    assert f"--token-auth-file={ctl.dir / 'tokens.csv'}" in fields["args"]
    assert "SingleNode: true" in _run("status", "--lifecycle-log", str(ctl.lifecycle)).stdout
    ctl.stop()


def test_unknown_controller_flag_is_an_error(controller):
    ctl = controller(MINIMAL, "--singel")
    assert ctl.proc.wait(timeout=10) == 1
    assert "Error: unknown flag: --singel" in ctl.stderr()
    assert ctl.events() == []


@pytest.fixture
def open_dir():
    """A directory every user can traverse (pytest's tmp_path sits under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="k0s-standin-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _nobody_exists() -> bool:
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return False
    return True


needs_root_and_nobody = pytest.mark.skipif(
    os.geteuid() != 0 or not _nobody_exists(), reason="needs root and the user nobody"
)


@needs_root_and_nobody
def test_scripted_child_runs_as_the_account_with_gid_0_and_no_groups(controller, open_dir):
    ctl = controller(MINIMAL, "--apiserver-user=nobody", base=open_dir)
    ctl.record.write_text("")
    ctl.record.chmod(0o666)
    ctl.serve_when.write_text("")
    fields = ctl.ready()
    nobody = pwd.getpwnam("nobody").pw_uid
    assert (fields["user"], fields["uid"], fields["gid"], fields["groups"]) == ("nobody", str(nobody), "0", "none")
    (child,) = ctl.children()
    assert (child["uid"], child["gid"], child["groups"]) == (nobody, 0, [])
    cert_dir = ctl.data / "pki" / "kube-apiserver-standin"
    assert (cert_dir.stat().st_uid, cert_dir.stat().st_mode & 0o777) == (nobody, 0o700)
    ctl.stop()


# ---------------------------------------------------------------------------------------------------------------
# k0s controller with the real test API server (k8s.io/apiserver's audit code)
# ---------------------------------------------------------------------------------------------------------------

POLICY_TEXT = """apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: [/healthz*]
- level: Metadata
  resources: [{group: "", resources: [secrets]}]
  omitStages: [RequestReceived]
- level: RequestResponse
"""


def _real_config(port: int, policy: Path, log: Path, extra: str = "") -> str:
    return (
        HEADER + f"spec:\n  api:\n    port: {port}\n    extraArgs:\n"
        f"      audit-policy-file: {policy}\n      audit-log-path: {log}\n" + extra
    )


def _request(port: int, path: str, audit_id: str, token: str | None = None) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    headers = {"Audit-ID": audit_id}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _events(log: Path, audit_id: str, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        found = [event for event in map(json.loads, lines) if event.get("auditID") == audit_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@needs_test_apiserver
def test_real_api_server_audits_by_the_policy(controller, tmp_path):
    policy, log, port = tmp_path / "policy.yaml", tmp_path / "logs" / "audit.log", _free_port()
    policy.write_text(POLICY_TEXT)
    ctl = controller(_real_config(port, policy, log), "--no-drop-privileges", child="real")
    (tmp_path / "tokens.csv").write_text('t0k3n,alice,1001,"ops,system:masters"\n')
    fields = ctl.ready()
    assert fields["listen"].endswith(f":{port}")
    assert f"--token-auth-file={tmp_path / 'tokens.csv'}" in fields["args"]
    assert (log.stat().st_mode & 0o777, log.parent.stat().st_mode & 0o777) == (0o600, 0o700)

    assert _request(port, "/healthz", "unit-healthz") == 200
    assert _request(port, "/api/v1/namespaces/default/secrets/db", "unit-secret", "t0k3n") == 404
    assert _request(port, "/readyz", "unit-readyz") == 200
    secret = _events(log, "unit-secret")
    assert [e["stage"] for e in secret] == ["ResponseComplete"]
    assert secret[0]["level"] == "Metadata"
    assert secret[0]["user"]["username"] == "alice" and "ops" in secret[0]["user"]["groups"]
    assert secret[0]["objectRef"]["resource"] == "secrets" and secret[0]["objectRef"]["name"] == "db"
    readyz = _events(log, "unit-readyz")
    assert {e["level"] for e in readyz} == {"RequestResponse"}
    assert "RequestReceived" in [e["stage"] for e in readyz]
    assert _events(log, "unit-healthz", timeout=1.0) == []  # level None: nothing logged
    assert ctl.stop() < 10.0 and ctl.proc.returncode == 0
    assert [e["event"] for e in ctl.events()] == ["starting", "ready", "stopped"]


@needs_test_apiserver
@pytest.mark.parametrize(
    ("policy_text", "extra", "reason"),
    [
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: All\n", "", 'Unsupported value: \\"All\\"'),
        (POLICY_TEXT, "      audit-log-max-age: '30'\n", "Error: unknown flag: --audit-log-max-age"),
        (POLICY_TEXT, "      audit-log-maxage: '-1'\n", "--audit-log-maxage -1 can't be a negative number"),
    ],
    ids=["bad-level", "unknown-flag", "negative-maxage"],
)
def test_real_api_server_refusal_fails_the_controller(controller, tmp_path, policy_text, extra, reason):
    policy, log = tmp_path / "policy.yaml", tmp_path / "audit.log"
    policy.write_text(policy_text)
    ctl = controller(_real_config(_free_port(), policy, log, extra), "--no-drop-privileges", child="real")
    assert ctl.proc.wait(timeout=60) == 1
    assert [e["event"] for e in ctl.events()] == ["starting", "failed"]
    detail = ctl.events()[-1]["detail"]
    assert "before serving" in detail and reason in detail
    assert "Generated self-signed cert" not in detail  # the error lines, not the chatter before them
    assert f"Error: {detail}" in ctl.stderr()


@needs_test_apiserver
@needs_root_and_nobody
def test_real_api_server_runs_as_the_account(controller, open_dir):
    policy, logs, port = open_dir / "policy.yaml", open_dir / "logs", _free_port()
    policy.write_text(POLICY_TEXT)
    policy.chmod(0o640)  # root:root 0640 is readable through gid 0, like in k0s
    logs.mkdir()
    os.chown(logs, pwd.getpwnam("nobody").pw_uid, 0)
    ctl = controller(
        _real_config(port, policy, logs / "k0s" / "audit.log"), "--apiserver-user=nobody", child="real", base=open_dir
    )
    fields = ctl.ready()
    pid = int(fields["apiserver_pid"])
    status = Path(f"/proc/{pid}/status").read_text()
    ids = {line.split(":")[0]: line.split()[1:] for line in status.splitlines() if ":" in line}
    nobody = pwd.getpwnam("nobody").pw_uid
    assert ids["Uid"][0] == str(nobody) and ids["Gid"][0] == "0" and ids["Groups"] == []
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "kube-apiserver"
    audit_log = logs / "k0s" / "audit.log"
    assert (audit_log.stat().st_uid, audit_log.stat().st_mode & 0o777) == (nobody, 0o600)
    ctl.stop()


@needs_test_apiserver
@needs_root_and_nobody
def test_real_api_server_as_the_account_cannot_read_a_root_only_policy(controller, open_dir):
    policy = open_dir / "policy.yaml"
    policy.write_text(POLICY_TEXT)
    policy.chmod(0o600)
    ctl = controller(
        _real_config(_free_port(), policy, open_dir / "audit.log"), "--apiserver-user=nobody", child="real",
        base=open_dir,
    )  # fmt: skip
    assert ctl.proc.wait(timeout=60) == 1
    assert "permission denied" in ctl.events()[-1]["detail"]
