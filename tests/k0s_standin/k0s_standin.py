#!/usr/bin/env python3
"""A TEST STAND-IN for the ``k0s`` binary, for the k0rdent.audit collection's tests.

Real k0s cannot be installed in the test containers, so this single file (standard library plus PyYAML) is
installed there as ``/usr/local/bin/k0s`` and run by the ``k0scontroller`` systemd unit. It models only what k0s
itself does that the collection depends on, each behaviour with the k0s source file it comes from:

* ``k0s controller``: the flags as k0s spells them, which ``k0s.yaml`` it reads and how it merges it over the
  built-in defaults, and how it starts and supervises kube-apiserver (account, credentials, command line,
  respawn, stop);
* ``k0s config validate`` (the strict decoding, ``load_strict``), ``k0s config create``, ``k0s status``,
  ``k0s version``.

kube-apiserver itself is NOT imitated: the controller runs a real API server binary built from k8s.io/apiserver
(``<data-dir>/bin/kube-apiserver``, see scripts/build-test-apiserver.sh), which parses and validates the audit
flags, loads the policy, evaluates it per request and writes and rotates the audit log. See README.md beside
this file.

The repository's unit tests import this file (``load_strict``, ``node_config``, ``apiserver_command``, ...); the
CLI only runs under ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import ipaddress
import json
import os
import pwd
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import yaml

VERSION = "v1.33.0+k0s.0-standin"
K0S_API_VERSION = "k0s.k0sproject.io/v1beta1"
K0S_KIND = "ClusterConfig"

# pkg/constant/constant.go ApiserverUser: the API server account is looked up by this FIXED name, whatever
# spec.installConfig.users.kubeAPIserverUser says (k0s issue 4265); missing, the API server runs as root.
APISERVER_USER = "kube-apiserver"
# pkg/supervisor/detachattr_linux.go: syscall.Credential{Uid: uid, Gid: gid} with the GID k0s's apiserver.go never
# sets (0) and no Groups: the process runs with primary group 0 (root) and NO supplementary groups.
APISERVER_GID = 0
APISERVER_NAME = "kube-apiserver"  # pkg/component/controller/apiserver.go kubeAPIComponentName

DEFAULT_CONFIG = "/etc/k0s/k0s.yaml"  # pkg/config/cfgvars.go defaultConfigPath
DEFAULT_DATA_DIR = "/var/lib/k0s"  # pkg/constant/constant_unix.go DataDirDefault
DEFAULT_RUN_DIR = "/run/k0s"  # pkg/config/cfgvars.go NewCfgVars: runDir for root
DEFAULT_API_PORT = 6443
# Stand-in only: where a test lays down kube-apiserver's --token-auth-file (CSV token,user,uid,"group1,group2").
# Real k0s has no such file; when it exists the stand-in passes --token-auth-file=<it>.
DEFAULT_TOKEN_FILE = "/etc/k0s-standin/tokens.csv"
DEFAULT_LIFECYCLE_LOG = "/var/lib/k0s-standin/lifecycle.log"
# Stand-in only: the real server binds to spec.api.address, or to all addresses (apiserver.go sets bind-address
# only with onlyBindToAddress); the stand-in always binds loopback, the containers have no network anyway.
BIND_ADDRESS = "127.0.0.1"
RESPAWN_SECONDS = 5.0  # pkg/supervisor/supervisor.go: TimeoutRespawn defaults to 5 s
STOP_SECONDS = 8.0  # pkg/supervisor/supervisor.go TimeoutStop (apiserver.go clamps it to 5..20 s); unit stops at 10
K0S_MANAGED = "_K0S_MANAGED=yes"  # pkg/supervisor/supervisor.go k0sManaged: marks the processes k0s started
KLOG_ERROR_RE = re.compile(r"[EF]\d{4} ")  # k8s.io/klog header: severity letter, then MMDD
SERVING_RE = re.compile(r"Serving securely on (\S+)")  # k8s.io/apiserver pkg/server/secure_serving.go

ENV_LIFECYCLE_LOG = "K0S_STANDIN_LIFECYCLE_LOG"
ENV_ON_FAILURE = "K0S_STANDIN_ON_FAILURE"
ENV_RESPAWN_SECONDS = "K0S_STANDIN_RESPAWN_SECONDS"  # tests only: shorten the 5 s respawn delay
ENV_TOKEN_FILE = "K0S_STANDIN_TOKEN_FILE"  # tests only: another token file path
ENV_RUN_DIR = "K0S_STANDIN_RUN_DIR"  # tests only: another run directory (pid file)

# spec.properties of the ClusterConfig CRD shipped with k0s (k0s-clusterconfig-crd.yaml). podSecurityPolicy is
# gone from current k0s; metricsServer is there.
SPEC_KEYS = frozenset(
    {
        "api",
        "controllerManager",
        "extensions",
        "featureGates",
        "images",
        "installConfig",
        "konnectivity",
        "metricsServer",
        "network",
        "scheduler",
        "storage",
        "telemetry",
        "workerProfiles",
    }
)
TOP_LEVEL_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


class K0sConfigError(Exception):
    """A k0s.yaml that ``k0s config validate`` (and ``k0s controller``) would refuse."""


# --------------------------------------------------------------------------------------------------------------
# Strict decoding of k0s.yaml
# --------------------------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (like go-yaml's "already set in map") and keeps
    timestamps as strings (sigs.k8s.io/yaml goes through JSON, which has no timestamp type)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # the parent class reports unhashable keys
                if key in seen:
                    raise K0sConfigError(
                        "error converting YAML to JSON: yaml: unmarshal errors: "
                        f'line {key_node.start_mark.line + 1}: key "{key}" already set in map '
                        f"(first set on line {seen[key]})"
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _load_documents(text: str, loader=_StrictLoader) -> list:
    try:
        return list(yaml.load_all(text, Loader=loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise K0sConfigError(f"error converting YAML to JSON: yaml: {where}{exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise K0sConfigError(f"error converting YAML to JSON: yaml: {exc}") from None


def _json_kind(value) -> str:
    """The JSON type name Go's encoding/json puts in "cannot unmarshal X into ..."."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _decode_error(message: str) -> K0sConfigError:
    return K0sConfigError(f"failed to decode config: error unmarshaling JSON: while decoding JSON: json: {message}")


def load_strict(text: str) -> dict:
    """Decode a k0s.yaml the way ``k0s config validate`` does, or raise ``K0sConfigError``.

    Returns the decoded document (a dict, with YAML timestamps kept as strings).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    docs = list(_load_documents(text))
    non_empty = [doc for doc in docs if doc is not None]
    if len(docs) > 1:
        raise K0sConfigError(
            f"expected exactly one YAML document, found {len(docs)} (k0s would silently use only the first)"
        )
    if not non_empty:
        raise K0sConfigError("the configuration is empty")
    config = non_empty[0]
    if not isinstance(config, dict):
        raise _decode_error(f"cannot unmarshal {_json_kind(config)} into Go value of type v1beta1.ClusterConfig")

    api_version, kind = config.get("apiVersion"), config.get("kind")
    if (isinstance(api_version, str) and api_version.startswith("k0sctl.k0sproject.io/")) or kind == "Cluster":
        raise K0sConfigError(
            f"this is a k0sctl configuration (apiVersion {api_version!s}, kind {kind!s}), not a k0s ClusterConfig: "
            "k0s reads the ClusterConfig that k0sctl keeps under spec.k0s.config"
        )
    if api_version != K0S_API_VERSION:
        raise K0sConfigError(f"invalid apiVersion {api_version!r}: expected {K0S_API_VERSION}")
    if kind != K0S_KIND:
        raise K0sConfigError(f"invalid kind {kind!r}: expected {K0S_KIND}")
    for key in config:
        if key not in TOP_LEVEL_KEYS:
            raise _decode_error(f'unknown field "{key}"')
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _decode_error(
            f"cannot unmarshal {_json_kind(metadata)} into Go struct field ClusterConfig.metadata of type v1.ObjectMeta"
        )

    spec = config.get("spec")
    if spec is None:
        return config
    if not isinstance(spec, dict):
        raise _decode_error(
            f"cannot unmarshal {_json_kind(spec)} into Go struct field ClusterConfig.spec of type v1beta1.ClusterSpec"
        )
    for key in spec:
        if key not in SPEC_KEYS:
            raise _decode_error(f'unknown field "{key}" (at spec.{key})')

    api = spec.get("api")
    if api is None:
        return config
    if not isinstance(api, dict):
        raise _decode_error(
            f"cannot unmarshal {_json_kind(api)} into Go struct field ClusterSpec.spec.api of type v1beta1.APISpec"
        )
    # APISpec has its own lenient unmarshaller: unknown keys inside spec.api are silently ignored (so a typo such
    # as "extraArg:" is accepted and does nothing). Its known fields are still typed.
    for key in ("port", "k0sApiPort"):
        value = api.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise K0sConfigError(
                f"failed to decode config: spec.api.{key}: json: cannot unmarshal {_json_kind(value)} "
                f"into Go struct field APISpec.spec.api.{key} of type int"
            )
    for key in ("sans", "rawArgs"):
        value = api.get(key)
        if value is not None and not isinstance(value, list):
            raise K0sConfigError(
                f"failed to decode config: spec.api.{key}: json: cannot unmarshal {_json_kind(value)} "
                f"into Go struct field APISpec.spec.api.{key} of type []string"
            )
        for item in value or ():
            if item is not None and not isinstance(item, str):
                raise K0sConfigError(
                    f"failed to decode config: spec.api.{key}: json: cannot unmarshal {_json_kind(item)} "
                    f"into Go struct field APISpec.spec.api.{key} of type string"
                )
    extra_args = api.get("extraArgs")
    if extra_args is not None:
        if not isinstance(extra_args, dict):
            raise K0sConfigError(
                f"failed to decode config: spec.api.extraArgs: json: cannot unmarshal {_json_kind(extra_args)} "
                "into Go struct field APISpec.spec.api.extraArgs of type map[string]string"
            )
        for key, value in extra_args.items():
            # JSON null leaves a Go string at "": k0s accepts "key:" and passes --key= to kube-apiserver.
            if value is not None and not isinstance(value, str):
                raise K0sConfigError(
                    f"failed to decode config: spec.api.extraArgs.{key}: json: cannot unmarshal "
                    f"{_json_kind(value)} into Go struct field APISpec.spec.api.extraArgs of type string "
                    "(quote the value: extraArgs values must be YAML strings)"
                )
    return config


# --------------------------------------------------------------------------------------------------------------
# config create
# --------------------------------------------------------------------------------------------------------------

_DEFAULT_CONFIG_TEMPLATE = """\
apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
  namespace: kube-system
spec:
  api:
    address: {address}
    ca:
      certificatesExpireAfter: 8760h0m0s
      expiresAfter: 87600h0m0s
    k0sApiPort: 9443
    port: 6443
  controllerManager: {{}}
  extensions:
    helm:
      concurrencyLevel: 5
  installConfig:
    users:
      etcdUser: etcd
      kineUser: kube-apiserver
      konnectivityUser: konnectivity-server
      kubeAPIserverUser: kube-apiserver
      kubeSchedulerUser: kube-scheduler
  konnectivity:
    adminPort: 8133
    agentPort: 8132
  network:
    clusterDomain: cluster.local
    dualStack:
      enabled: false
    kubeProxy:
      iptables:
        minSyncPeriod: 0s
        syncPeriod: 0s
      ipvs:
        minSyncPeriod: 0s
        syncPeriod: 0s
        tcpFinTimeout: 0s
        tcpTimeout: 0s
        udpTimeout: 0s
      metricsBindAddress: 0.0.0.0:10249
      mode: iptables
      nftables:
        minSyncPeriod: 0s
        syncPeriod: 0s
    kuberouter:
      autoMTU: true
      hairpin: Enabled
      metricsPort: 8080
    nodeLocalLoadBalancing:
      enabled: false
      envoyProxy:
        apiServerBindPort: 7443
        konnectivityServerBindPort: 7132
      type: EnvoyProxy
    podCIDR: 10.244.0.0/16
    provider: kuberouter
    serviceCIDR: 10.96.0.0/12
  scheduler: {{}}
  storage:
    etcd:
      peerAddress: {address}
    type: etcd
  telemetry:
    enabled: true
"""


def first_public_ipv4() -> str:
    """First IPv4 address of a non-loopback interface, in interface order; 127.0.0.1 when there is none."""
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return "127.0.0.1"
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in interfaces:
            try:
                packed = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            address = ipaddress.IPv4Address(packed[20:24])
            if not (address.is_loopback or address.is_link_local or address.is_unspecified):
                return str(address)
    return "127.0.0.1"


def default_config_text(address: str | None = None) -> str:
    return _DEFAULT_CONFIG_TEMPLATE.format(address=address or first_public_ipv4())


# --------------------------------------------------------------------------------------------------------------
# The node config: the file merged over the built-in defaults
# --------------------------------------------------------------------------------------------------------------


def kine_data_source(data_dir: str) -> str:
    """pkg/apis/k0s/v1beta1/storage.go DefaultKineConfig: SQLite under the data dir."""
    return f"sqlite://file:{os.path.join(data_dir, 'db', 'state.db')}?mode=rwc&_journal=WAL"


def default_config(data_dir: str = DEFAULT_DATA_DIR, single: bool = False, address: str | None = None) -> dict:
    """pkg/apis/k0s/v1beta1/clusterconfig_types.go DefaultClusterConfig, with pkg/config/cfgvars.go NodeConfig's
    one change for ``--single`` (pkg/config/cfgvars.go WithCommand: single sets DefaultStorageType to kine):
    the DEFAULT storage becomes kine before any file is merged."""
    config = yaml.safe_load(default_config_text(address))
    if single:
        config["spec"]["storage"] = {"type": "kine", "kine": {"dataSource": kine_data_source(data_dir)}}
    return config


def merge_over(base, overlay):
    """What decoding a file into an already filled Go struct does (clusterconfig_types.go MergedWithYAML):
    mappings merge key by key, anything else replaces, and a JSON null leaves the default in place."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            if value is None and key in merged:
                continue
            merged[key] = merge_over(merged[key], value) if key in merged else value
        return merged
    return base if overlay is None else overlay


def node_config(
    path: str | None,
    data_dir: str = DEFAULT_DATA_DIR,
    single: bool = False,
    address: str | None = None,
    stdin=None,
) -> tuple:
    """pkg/config/cfgvars.go NodeConfig: returns (effective config, what was read) or raises K0sConfigError.

    ``path`` None means no ``--config`` flag: the default path. A missing file AT THE DEFAULT PATH means "run on
    the defaults" (k0s compares the path, so ``--config=/etc/k0s/k0s.yaml`` behaves the same); any other missing
    path is an error. ``-`` reads standard input.
    """
    path = path or DEFAULT_CONFIG
    defaults = default_config(data_dir, single, address)
    if path == "-":
        text = (stdin or sys.stdin).read()
    else:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            if path == DEFAULT_CONFIG:
                return defaults, "<defaults>"
            raise K0sConfigError(f"failed to load node config: open {path}: no such file or directory") from None
        except OSError as exc:
            raise K0sConfigError(f"failed to load node config: {_go_error(exc)}") from None
        except UnicodeDecodeError as exc:
            raise K0sConfigError(f"failed to load node config: {path}: {exc}") from None
    config = load_strict(text)
    merged = merge_over(defaults, config)
    if not isinstance(merged.get("spec"), dict):  # MergedWithYAML: a file without spec keeps the default spec
        merged["spec"] = defaults["spec"]
    return merged, path


def storage_type(config: dict) -> str:
    storage = (config.get("spec") or {}).get("storage") or {}
    return str(storage.get("type") or "etcd")


def api_spec(config: dict) -> dict:
    spec = config.get("spec") or {}
    return spec.get("api") or {}


# --------------------------------------------------------------------------------------------------------------
# kube-apiserver's command line and account
# --------------------------------------------------------------------------------------------------------------


def apiserver_binary(data_dir: str) -> str:
    """pkg/component/controller/apiserver.go Init: assets.StageExecutable(K0sVars.BinDir, "kube-apiserver"),
    BinDir being <data-dir>/bin (pkg/config/cfgvars.go)."""
    return os.path.join(data_dir, "bin", APISERVER_NAME)


def apiserver_cert_dir(data_dir: str) -> str:
    """Stand-in only: k0s passes its own certificates under <data-dir>/pki; the test server makes a self-signed
    pair in this directory (owned by the API server account) instead."""
    return os.path.join(data_dir, "pki", "kube-apiserver-standin")


def apiserver_command(config: dict, data_dir: str = DEFAULT_DATA_DIR, token_file: str | None = None) -> tuple:
    """pkg/component/controller/apiserver.go buildSupervisor: k0s's own flags, every spec.api.extraArgs entry as
    ``--KEY=VALUE`` (an entry naming a flag k0s sets replaces it, with a warning), then spec.api.rawArgs appended
    unchecked. Returns (argv without the binary, names of k0s flags that extraArgs overrode).

    Of k0s's own flags only those the test server knows are passed (bind address, port, certificates, tokens);
    extraArgs and rawArgs are passed whole, so a non-audit flag the test server does not know stops it.
    """
    api = api_spec(config)
    port = api.get("port")
    flags = {
        "bind-address": BIND_ADDRESS,
        "secure-port": str(DEFAULT_API_PORT if port is None else port),
        "cert-dir": apiserver_cert_dir(data_dir),
    }
    if token_file:
        flags["token-auth-file"] = token_file
    overridden = []
    for key, value in (api.get("extraArgs") or {}).items():
        key = str(key)
        if key in flags:
            overridden.append(key)
        flags[key] = "" if value is None else str(value)  # JSON null leaves a Go string at ""
    argv = [f"--{key}={value}" for key, value in flags.items()]
    argv.extend(str(raw) for raw in api.get("rawArgs") or ())
    return argv, overridden


def apiserver_account(mode: str = "auto", user: str = APISERVER_USER) -> dict:
    """Whom k0s runs kube-apiserver as (pkg/component/controller/apiserver.go Init, users.LookupUID of the fixed
    name; pkg/supervisor/detachattr_linux.go: credentials only when k0s itself is root).

    Returns {"uid", "gid", "detail", "warning", "drop"}; ``drop`` tells whether to set the credentials.
    ``mode`` "never" is for tests that run unprivileged semantics as root.
    """
    uid, gid = os.getuid(), os.getgid()
    me = _user_name(uid)
    if mode == "never":
        return {
            "uid": uid,
            "gid": gid,
            "drop": False,
            "warning": "",
            "detail": f"user={me} uid={uid} gid={gid} drop=disabled-for-tests",
        }
    if os.geteuid() != 0:
        return {
            "uid": uid,
            "gid": gid,
            "drop": False,
            "warning": "",
            "detail": f"user={me} uid={uid} gid={gid} drop=skipped-not-root",
        }
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        warning = (
            f'level=warning msg="Running Kubernetes API server as root" '
            f'error="failed to lookup UID for \\"{user}\\": user: unknown user {user}"'
        )
        return {
            "uid": 0,
            "gid": APISERVER_GID,
            "drop": True,
            "warning": warning,
            "detail": f"user=root uid=0 gid=0 groups=none drop=fallback-to-root({user}-user-missing)",
        }
    return {
        "uid": entry.pw_uid,
        "gid": APISERVER_GID,
        "drop": True,
        "warning": "",
        "detail": f"user={user} uid={entry.pw_uid} gid={APISERVER_GID} groups=none",
    }


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def apiserver_env(data_dir: str) -> dict:
    """pkg/supervisor/supervisor.go getEnv: k0s's environment with <data-dir>/bin first in PATH and the
    _K0S_MANAGED=yes marker."""
    env = dict(os.environ)
    env["PATH"] = os.path.join(data_dir, "bin") + os.pathsep + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    name, _sep, value = K0S_MANAGED.partition("=")
    env[name] = value
    return env


def _go_error(exc: OSError, op: str = "open") -> str:
    """``open PATH: permission denied`` like Go's *PathError."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    reason = reason[:1].lower() + reason[1:]
    return f"{op} {exc.filename}: {reason}"


# --------------------------------------------------------------------------------------------------------------
# Lifecycle log
# --------------------------------------------------------------------------------------------------------------


class Lifecycle:
    """``<unix time, 6 decimals> <event> <pid> [detail]`` lines, appended and flushed one by one."""

    def __init__(self, path: str):
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, mode=0o755, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._lock = threading.Lock()

    def write(self, event: str, detail: str = "") -> None:
        detail = str(detail).replace("\r", " ").replace("\n", " ").strip()  # always one line
        line = f"{time.time():.6f} {event} {os.getpid()}" + (f" {detail}" if detail else "") + "\n"
        with self._lock:
            os.write(self._fd, line.encode("utf-8", "replace"))


def parse_lifecycle_line(line: str) -> dict:
    """Split a lifecycle line into time, event, pid and detail (helper for tests)."""
    parts = line.rstrip("\n").split(" ", 3)
    return {
        "time": float(parts[0]),
        "event": parts[1],
        "pid": int(parts[2]),
        "detail": parts[3] if len(parts) > 3 else "",
    }


def ready_fields(detail: str) -> dict:
    """The ``key=value`` tokens of a ``ready`` detail, with ``args`` decoded from its JSON list (helper for tests)."""
    head, _sep, args = detail.partition(" args=")
    fields = dict(token.split("=", 1) for token in head.split() if "=" in token)
    fields["args"] = json.loads(args) if args else []
    return fields


# --------------------------------------------------------------------------------------------------------------
# Supervising kube-apiserver
# --------------------------------------------------------------------------------------------------------------


class _StopFlag:
    requested = False

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``, returning within 0.05 s of a stop request."""
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(0.05)


def _pid_file(run_dir: str) -> str:
    return os.path.join(run_dir, APISERVER_NAME + ".pid")  # supervisor.go: <RunDir>/<Name>.pid


def cleanup_pid_file(run_dir: str, binary: str) -> None:
    """pkg/supervisor/supervisor.go maybeCleanupPIDFile, prochandle.go cleanupPID: a kube-apiserver left by an
    earlier controller (same binary, _K0S_MANAGED=yes in its environment) is terminated before a new one starts."""
    try:
        with open(_pid_file(run_dir), encoding="ascii") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv0 = handle.read().split(b"\0", 1)[0].decode("utf-8", "replace")
        with open(f"/proc/{pid}/environ", "rb") as handle:
            managed = K0S_MANAGED.encode() in handle.read().split(b"\0")
    except OSError:
        return
    if argv0 != binary or not managed:
        return
    _terminate_pid(pid)


def _terminate_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    if os.path.exists(f"/proc/{pid}"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class ApiServerProcess:
    """One run of kube-apiserver: started with k0s's credentials, output copied to our stderr (the journal) and
    watched for the ``Serving securely on`` line."""

    def __init__(self, binary: str, argv: list, data_dir: str, account: dict, run_dir: str):
        self.binary = binary
        self.tail = collections.deque(maxlen=40)
        self.serving = threading.Event()
        self.listen = ""
        kwargs = {}
        if account["drop"]:
            # detachattr_linux.go: Credential{Uid, Gid} without Groups, so Go calls setgroups([]).
            kwargs = {"user": account["uid"], "group": account["gid"], "extra_groups": []}
        self.proc = subprocess.Popen(
            [binary, *argv],
            cwd=data_dir,  # supervisor.go: cmd.Dir = DataDir
            env=apiserver_env(data_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # detachattr_linux.go: Setpgid, so signals to k0s do not reach it
            close_fds=True,
            **kwargs,
        )
        self.pid_file = _pid_file(run_dir)
        try:
            os.makedirs(run_dir, mode=0o755, exist_ok=True)
            with open(self.pid_file, "w", encoding="ascii") as handle:  # supervisor.go: PidFileMode 0644
                handle.write(f"{self.proc.pid}\n")
        except OSError as exc:
            print(f"W stand-in: failed to write {self.pid_file}: {exc}", file=sys.stderr, flush=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.tail.append(line)
            # pkg/supervisor/supervisor.go: the component's output goes to k0s's log, tagged with the component.
            sys.stderr.write(f"{APISERVER_NAME}: {line}\n")
            sys.stderr.flush()
            match = SERVING_RE.search(line)
            if match and not self.serving.is_set():
                self.listen = match.group(1)
                self.serving.set()
        self.proc.stdout.close()

    def wait(self, stop: _StopFlag, until_serving: bool) -> str:
        """ "serving", "exited" or "stop", whichever comes first."""
        while True:
            if stop.requested:
                return "stop"
            if until_serving and self.serving.is_set():
                return "serving"
            if self.proc.poll() is not None:
                self._reader.join(timeout=2)  # the last lines, including a "Serving" printed just before dying
                return "serving" if until_serving and self.serving.is_set() else "exited"
            time.sleep(0.05)

    def stop(self) -> None:
        """supervisor.go terminateSupervisedProcess: SIGTERM, then SIGKILL after the stop timeout."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=2)
        self.remove_pid_file()

    def remove_pid_file(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.pid_file)

    def exit_reason(self, when: str) -> str:
        code = self.proc.returncode
        status = f"signal {-code}" if code is not None and code < 0 else f"status {code}"
        lines = [line.strip() for line in self.tail if line.strip()]
        # The reason is in klog's error and fatal lines (E..../F....) or Go's "Error: ..."; else the last lines.
        errors = [line for line in lines if KLOG_ERROR_RE.match(line) or "rror" in line]
        return f"kube-apiserver exited with {status} {when}: " + (" | ".join((errors or lines)[-6:]) or "(no output)")


def prepare_data_dir(data_dir: str, account: dict) -> None:
    """Directories kube-apiserver needs under the data dir (k0s creates <data-dir> 0755 and its pki as root;
    the stand-in's serving-certificate directory belongs to the API server account, 0700)."""
    os.makedirs(data_dir, mode=0o755, exist_ok=True)
    os.makedirs(os.path.join(data_dir, "pki"), mode=0o755, exist_ok=True)
    cert_dir = apiserver_cert_dir(data_dir)
    os.makedirs(cert_dir, mode=0o700, exist_ok=True)
    if account["drop"] and os.geteuid() == 0:
        for name in [cert_dir, *(os.path.join(cert_dir, entry) for entry in os.listdir(cert_dir))]:
            os.chown(name, account["uid"], account["gid"])


def run_controller(options: dict) -> int:
    lifecycle_path = options["lifecycle_log"] or os.environ.get(ENV_LIFECYCLE_LOG) or DEFAULT_LIFECYCLE_LOG
    on_failure = options["on_failure"] or os.environ.get(ENV_ON_FAILURE) or "exit"
    if on_failure not in ("exit", "retry"):
        print(f"Error: {ENV_ON_FAILURE} / --on-failure must be exit or retry, not {on_failure!r}", file=sys.stderr)
        return 1
    try:
        respawn = float(os.environ.get(ENV_RESPAWN_SECONDS) or RESPAWN_SECONDS)
    except ValueError:
        respawn = RESPAWN_SECONDS
    data_dir = os.path.abspath(options["data_dir"] or DEFAULT_DATA_DIR)  # cfgvars.go: filepath.Abs(dataDir)
    run_dir = os.environ.get(ENV_RUN_DIR) or (DEFAULT_RUN_DIR if os.geteuid() == 0 else os.path.join(data_dir, "run"))
    try:
        lifecycle = Lifecycle(lifecycle_path)
    except OSError as exc:
        print(f"Error: stand-in: cannot open lifecycle log: {_go_error(exc)}", file=sys.stderr)
        return 1

    # A plain flag, not a threading.Event: a handler that takes a lock the main thread may hold can deadlock.
    stop = _StopFlag()

    def on_signal(_signum, _frame):
        stop.requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    config_path = options["config"] or DEFAULT_CONFIG
    lifecycle.write("starting", f"config={config_path}")

    def fail(reason: str) -> int:
        lifecycle.write("failed", reason)
        print(f"Error: {reason}", file=sys.stderr, flush=True)
        return 1

    # k0s itself (root) reads the config: a bad one makes the whole k0scontroller fail.
    try:
        config, source = node_config(config_path, data_dir, options["single"])
    except K0sConfigError as exc:
        return fail(str(exc))

    binary = apiserver_binary(data_dir)
    if not os.access(binary, os.X_OK):
        return fail(
            f"stand-in: no kube-apiserver executable at {binary} (install the test server built by "
            "scripts/build-test-apiserver.sh there)"
        )
    token_file = os.environ.get(ENV_TOKEN_FILE) or DEFAULT_TOKEN_FILE
    argv, overridden = apiserver_command(config, data_dir, token_file if os.path.isfile(token_file) else None)
    for name in overridden:  # apiserver.go buildSupervisor
        print(f'level=warning msg="overriding apiserver flag with user provided value: {name}"', file=sys.stderr)
    account = apiserver_account(options["drop_privileges"], options["apiserver_user"])
    if account["warning"]:
        print(account["warning"], file=sys.stderr, flush=True)
    try:
        prepare_data_dir(data_dir, account)
    except OSError as exc:
        return fail(f"stand-in: cannot prepare {data_dir}: {_go_error(exc, 'mkdir')}")
    cleanup_pid_file(run_dir, binary)

    while not stop.requested:
        try:
            child = ApiServerProcess(binary, argv, data_dir, account, run_dir)
        except OSError as exc:
            return fail(f"failed to start kube-apiserver: {_go_error(exc, 'fork/exec')}")
        outcome = child.wait(stop, until_serving=True)
        if outcome == "serving":
            detail = (
                f"listen={child.listen} storage={storage_type(config)} config={source} {account['detail']} "
                f"apiserver_pid={child.proc.pid} args={json.dumps(argv, separators=(',', ':'))}"
            )
            lifecycle.write("ready", detail)
            outcome = child.wait(stop, until_serving=False)
            if outcome == "stop":
                child.stop()
                lifecycle.write("stopped", "signal")
                return 0
            child.remove_pid_file()
            code = fail(child.exit_reason("after serving"))
        elif outcome == "stop":
            child.stop()
            lifecycle.write("stopped", "signal before ready")
            return 0
        else:
            child.remove_pid_file()
            code = fail(child.exit_reason("before serving"))
        if on_failure == "exit":
            return code
        # supervisor.go: k0scontroller stays up and respawns kube-apiserver after TimeoutRespawn
        print(f"respawning in {respawn:g}s", file=sys.stderr, flush=True)
        stop.sleep(respawn)
    lifecycle.write("stopped", "signal before ready")
    return 0


# --------------------------------------------------------------------------------------------------------------
# Command line (cobra/pflag spelling of k0s's flags)
# --------------------------------------------------------------------------------------------------------------


class UsageError(Exception):
    """A command line k0s's cobra would refuse."""


# pkg/config/cli.go: the controller flags the collection meets in k0scontroller's ExecStart.
CONTROLLER_BOOL_FLAGS = frozenset({"single", "enable-worker", "no-taints", "enable-dynamic-config"})
CONTROLLER_VALUE_FLAGS = frozenset({"config", "data-dir"})
SHORTHANDS = {"c": "config"}  # pkg/config/cli.go: StringVarP(&CfgFile, "config", "c", ...)
# Stand-in only, for tests: lifecycle log, failure mode, privilege drop, API server account name.
STANDIN_VALUE_FLAGS = frozenset({"lifecycle-log", "on-failure", "apiserver-user"})
STANDIN_BOOL_FLAGS = frozenset({"no-drop-privileges"})
GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_controller_args(args: list) -> dict:
    """pflag semantics: ``--name=value``, ``--name value``, ``-c value``, ``-cvalue``, ``-c=value``; booleans
    ``--name`` or ``--name=true|false``; an unknown flag is an error."""
    options = {
        "config": None,
        "data_dir": None,
        "single": False,
        "enable_worker": False,
        "no_taints": False,
        "enable_dynamic_config": False,
        "lifecycle_log": None,
        "on_failure": None,
        "apiserver_user": APISERVER_USER,
        "drop_privileges": "auto",
    }
    value_flags = CONTROLLER_VALUE_FLAGS | STANDIN_VALUE_FLAGS
    bool_flags = CONTROLLER_BOOL_FLAGS | STANDIN_BOOL_FLAGS
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.startswith("--") and len(arg) > 2:
            name, sep, value = arg[2:].partition("=")
        elif arg.startswith("-") and len(arg) > 1 and arg != "-":
            short = arg[1]
            if short not in SHORTHANDS:
                raise UsageError(f"unknown shorthand flag: '{short}' in {arg}")
            name, rest = SHORTHANDS[short], arg[2:]
            sep, value = ("=", rest[1:]) if rest.startswith("=") else (("=", rest) if rest else ("", ""))
        else:
            raise UsageError(f'stand-in: positional arguments (join tokens) are not supported: "{arg}"')
        if name in value_flags:
            if not sep:
                if index >= len(args):
                    raise UsageError(f"flag needs an argument: --{name}")
                value = args[index]
                index += 1
        elif name in bool_flags:
            if not sep:
                value = "true"
            elif value not in GO_TRUE | GO_FALSE:
                raise UsageError(
                    f'invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: parsing '
                    f'"{value}": invalid syntax'
                )
        else:
            raise UsageError(f"unknown flag: --{name}")
        key = name.replace("-", "_")
        if name == "no-drop-privileges":
            options["drop_privileges"] = "never" if value in GO_TRUE else "auto"
        elif name in bool_flags:
            options[key] = value in GO_TRUE
        else:
            options[key] = value
    if options["on_failure"] not in (None, "exit", "retry"):
        raise UsageError(f"--on-failure must be exit or retry, not {options['on_failure']!r}")
    return options


def run_validate(args: list) -> int:
    path = None
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg in ("-c", "--config"):
            if index >= len(args):
                print(f"Error: flag needs an argument: {arg}", file=sys.stderr)
                return 1
            path = args[index]
            index += 1
        elif arg.startswith("--config="):
            path = arg[len("--config=") :]
        elif arg.startswith("-c") and len(arg) > 2:
            path = arg[2:].removeprefix("=")
        else:
            print(f"Error: unknown flag: {arg}", file=sys.stderr)
            return 1
    if path is None:
        print('Error: required flag(s) "config" not set', file=sys.stderr)
        return 1
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        load_strict(text)
    except OSError as exc:
        print(f"Error: failed to read config: {_go_error(exc)}", file=sys.stderr)
        return 1
    except (K0sConfigError, UnicodeDecodeError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


def run_status(args: list) -> int:
    path = None
    for index, arg in enumerate(args):
        if arg.startswith("--lifecycle-log="):
            path = arg.split("=", 1)[1]
        elif arg == "--lifecycle-log" and index + 1 < len(args):
            path = args[index + 1]
    path = path or os.environ.get(ENV_LIFECYCLE_LOG) or DEFAULT_LIFECYCLE_LOG
    last = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    entry = parse_lifecycle_line(line)
                except (ValueError, IndexError):
                    continue
                last[entry["pid"]] = entry
    except OSError:
        pass
    running = [e for pid, e in last.items() if e["event"] == "ready" and os.path.exists(f"/proc/{pid}")]
    if not running:
        print(
            'Error: status: can\'t get "status" via "/run/k0s/status.sock": the k0s controller is not running',
            file=sys.stderr,
        )
        return 1
    entry = max(running, key=lambda e: e["time"])
    single = "true" if "storage=kine" in entry["detail"] else "false"
    print(f"Version: {VERSION}\nProcess ID: {entry['pid']}\nRole: controller\nWorkloads: false\nSingleNode: {single}")
    return 0


USAGE = """k0s TEST STAND-IN (not k0s)

Usage:
  k0s version
  k0s config create [--include-images]
  k0s config validate --config FILE
  k0s controller [--single] [--config=PATH|-c PATH] [--data-dir=DIR] [--enable-dynamic-config]
                 [--enable-worker] [--no-taints]
  k0s status
"""


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 1
    command, rest = args[0], args[1:]
    if command in ("version", "--version"):
        print(VERSION)
        return 0
    if command == "config" and rest[:1] == ["create"]:
        if any(arg != "--include-images" for arg in rest[1:]):
            print(f"Error: unknown flag: {' '.join(rest[1:])}", file=sys.stderr)
            return 1
        sys.stdout.write(default_config_text())
        return 0
    if command == "config" and rest[:1] == ["validate"]:
        return run_validate(rest[1:])
    if command == "controller":
        try:
            options = parse_controller_args(rest)
        except UsageError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        return run_controller(options)
    if command == "status":
        return run_status(rest)
    print(f'Error: unknown command "{" ".join(args[:2])}" for "k0s"\n\n{USAGE}', file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
