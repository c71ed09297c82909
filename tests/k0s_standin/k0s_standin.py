#!/usr/bin/env python3
"""A TEST STAND-IN for the ``k0s`` binary, for the k0rdent.audit collection's tests.

Real k0s cannot be installed in the test containers, so this single file (standard library plus PyYAML) is
installed there as ``/usr/local/bin/k0s`` and run by the ``k0scontroller`` systemd unit. It imitates only what
the collection depends on:

* ``k0s config validate``: the strict decoding of ``k0s.yaml`` (``load_strict``);
* ``k0s config create``: an approximate default ``ClusterConfig``;
* ``k0s controller``: the kube-apiserver start-up checks that audit logging can break (policy file readable by
  the API server user and valid, log file creatable, log flags well-formed), then an HTTPS ``/readyz`` endpoint
  and an audit log that grows by one JSON line per request;
* ``k0s status`` and ``k0s version``.

It is NOT an API server: no authentication, no resources, no etcd, and the audit policy is validated but never
evaluated (every request is logged at level Metadata). See README.md beside this file.

The repository's unit tests import this file (``load_strict``, ``K0sConfigError``, ...); the CLI only runs under
``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import codecs
import datetime
import fcntl
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

VERSION = "v1.33.0+k0s.0-standin"
K0S_API_VERSION = "k0s.k0sproject.io/v1beta1"
K0S_KIND = "ClusterConfig"

# The API server user is HARD-CODED, as in k0s (constant.ApiserverUser; k0s issue 4265): whatever
# spec.installConfig.users.kubeAPIserverUser says, kube-apiserver runs as this user, or as root when it is missing.
APISERVER_USER = "kube-apiserver"
# k0s starts kube-apiserver with syscall.Credential{Uid: uid} and no Gid and no Groups: the process runs with the
# primary group 0 (root) and NO supplementary groups. Membership in a group "kube-apiserver" grants nothing.
APISERVER_GID = 0

DEFAULT_CONFIG = "/etc/k0s/k0s.yaml"
DEFAULT_LIFECYCLE_LOG = "/var/lib/k0s-standin/lifecycle.log"
DEFAULT_API_PORT = 6443
BIND_ADDRESS = "127.0.0.1"
RESPAWN_SECONDS = 5.0  # k0s's supervisor respawns a dead kube-apiserver after 5 s

ENV_LIFECYCLE_LOG = "K0S_STANDIN_LIFECYCLE_LOG"
ENV_ON_FAILURE = "K0S_STANDIN_ON_FAILURE"
ENV_RESPAWN_SECONDS = "K0S_STANDIN_RESPAWN_SECONDS"  # tests only: shorten the 5 s respawn delay

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

AUDIT_LEVELS = ("None", "Metadata", "Request", "RequestResponse")
AUDIT_STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
POLICY_RULE_KEYS = frozenset(
    {
        "level",
        "users",
        "userGroups",
        "verbs",
        "resources",
        "namespaces",
        "nonResourceURLs",
        "omitStages",
        "omitManagedFields",
    }
)
POLICY_KEYS = frozenset({"apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"})

# kube-apiserver's audit flags (k8s.io/apiserver pkg/server/options/audit.go). An --audit-* flag not in this set
# makes the real kube-apiserver exit with "unknown flag", so a typo in extraArgs must fail here too.
AUDIT_INT_FLAGS = frozenset(
    {
        "audit-log-maxage",
        "audit-log-maxbackup",
        "audit-log-maxsize",
        "audit-log-batch-buffer-size",
        "audit-log-batch-max-size",
        "audit-log-batch-throttle-burst",
        "audit-log-truncate-max-batch-size",
        "audit-log-truncate-max-event-size",
        "audit-webhook-batch-buffer-size",
        "audit-webhook-batch-max-size",
        "audit-webhook-batch-throttle-burst",
        "audit-webhook-truncate-max-batch-size",
        "audit-webhook-truncate-max-event-size",
    }
)
AUDIT_BOOL_FLAGS = frozenset(
    {
        "audit-log-compress",
        "audit-log-batch-throttle-enable",
        "audit-log-truncate-enabled",
        "audit-webhook-batch-throttle-enable",
        "audit-webhook-truncate-enabled",
    }
)
AUDIT_CHOICE_FLAGS = {
    "audit-log-format": ("json", "legacy"),
    "audit-log-mode": ("batch", "blocking", "blocking-strict"),
    "audit-webhook-mode": ("batch", "blocking", "blocking-strict"),
    "audit-log-version": ("audit.k8s.io/v1",),
    "audit-webhook-version": ("audit.k8s.io/v1",),
}
AUDIT_OTHER_FLAGS = frozenset(
    {
        "audit-policy-file",
        "audit-log-path",
        "audit-log-batch-max-wait",
        "audit-log-batch-throttle-qps",
        "audit-webhook-config-file",
        "audit-webhook-initial-backoff",
        "audit-webhook-batch-initial-backoff",
        "audit-webhook-batch-max-wait",
        "audit-webhook-batch-throttle-qps",
    }
)
AUDIT_FLAGS = AUDIT_INT_FLAGS | AUDIT_BOOL_FLAGS | frozenset(AUDIT_CHOICE_FLAGS) | AUDIT_OTHER_FLAGS
GO_BOOLS = frozenset({"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"})


class K0sConfigError(Exception):
    """A k0s.yaml that ``k0s config validate`` (and ``k0s controller``) would refuse."""


class StartupError(Exception):
    """Something that makes kube-apiserver (and so the stand-in) refuse to start."""


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


def api_spec(config: dict) -> dict:
    spec = config.get("spec") or {}
    return spec.get("api") or {}


def apiserver_flags(config: dict) -> dict:
    """kube-apiserver flags (without dashes) from spec.api.extraArgs, then spec.api.rawArgs (last one wins)."""
    api = api_spec(config)
    flags = {}
    for key, value in (api.get("extraArgs") or {}).items():
        flags[str(key)] = "" if value is None else value
    for raw in api.get("rawArgs") or ():
        if raw and raw.startswith("--"):
            name, sep, value = raw[2:].partition("=")
            flags[name] = value if sep else "true"
    return flags


def apiserver_args(config: dict) -> list:
    """The ``--KEY=VALUE`` arguments k0s would add to kube-apiserver's command line from spec.api."""
    return [f"--{key}={value}" for key, value in apiserver_flags(config).items()]


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
# kube-apiserver start-up checks
# --------------------------------------------------------------------------------------------------------------


def _go_error(exc: OSError, op: str = "open") -> str:
    """``open PATH: permission denied`` like Go's *PathError."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    reason = reason[:1].lower() + reason[1:]
    return f"{op} {exc.filename}: {reason}"


def check_audit_flags(flags: dict) -> None:
    """Refuse audit flags the real kube-apiserver refuses (unknown --audit-* flag, bad number, bad choice)."""
    for name, value in flags.items():
        if not name.startswith("audit-"):
            continue
        if name not in AUDIT_FLAGS:
            raise StartupError(f"unknown flag: --{name}")
        if name in AUDIT_INT_FLAGS:
            if not re.fullmatch(r"[+-]?[0-9]+", value):
                raise StartupError(
                    f'invalid argument "{value}" for "--{name}" flag: strconv.ParseInt: parsing "{value}": '
                    "invalid syntax"
                )
            if int(value) < 0:
                raise StartupError(f"--{name} {value} can't be a negative number")
        elif name in AUDIT_BOOL_FLAGS:
            if value not in GO_BOOLS:
                raise StartupError(
                    f'invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: parsing "{value}": '
                    "invalid syntax"
                )
        elif name in AUDIT_CHOICE_FLAGS and value not in AUDIT_CHOICE_FLAGS[name]:
            raise StartupError(
                f"--{name}: invalid value {value!r}, must be one of {', '.join(AUDIT_CHOICE_FLAGS[name])}"
            )


def _check_stages(stages, where: str) -> None:
    if stages is None:
        return
    if not isinstance(stages, list):
        raise StartupError(f"{where}: must be a list of stages")
    for index, stage in enumerate(stages):
        if stage not in AUDIT_STAGES:
            raise StartupError(
                f'{where}[{index}]: Unsupported value: "{stage}": supported values: '
                + ", ".join(f'"{s}"' for s in AUDIT_STAGES)
            )


def _check_non_resource_url(url, where: str) -> None:
    if not isinstance(url, str) or url == "":
        raise StartupError(f"{where}: Invalid value: {url!r}: must be a non-empty string")
    if url == "*":
        return
    if not url.startswith("/"):
        raise StartupError(f"{where}: Invalid value: \"{url}\": non-resource URL rules must begin with a '/'")
    if "*" in url[:-1]:
        raise StartupError(f'{where}: Invalid value: "{url}": non-resource URL wildcards only allowed at the end')


def validate_policy(text: str, path: str = "<policy>") -> tuple:
    """Validate an audit policy like kube-apiserver's loader. Returns (policy, warnings); raises StartupError."""
    prefix = "loading audit policy file"
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise StartupError(f'{prefix}: failed decoding file "{path}": {exc}'.replace("\n", " ")) from None
    docs = [doc for doc in docs if doc is not None]
    if len(docs) != 1:
        raise StartupError(f'{prefix}: failed decoding file "{path}": expected one YAML document, found {len(docs)}')
    policy = docs[0]
    if not isinstance(policy, dict):
        raise StartupError(f'{prefix}: failed decoding file "{path}": not a mapping')
    api_version, kind = policy.get("apiVersion"), policy.get("kind")
    if kind != "Policy" or api_version != "audit.k8s.io/v1":
        raise StartupError(
            f'{prefix}: failed decoding file "{path}": no kind "{kind}" is registered for version "{api_version}" '
            "(expected apiVersion audit.k8s.io/v1, kind Policy)"
        )
    warnings = [f'unknown field "{key}"' for key in policy if key not in POLICY_KEYS]
    _check_stages(policy.get("omitStages"), "omitStages")
    rules = policy.get("rules")
    if rules is not None and not isinstance(rules, list):
        raise StartupError(f'{prefix}: failed decoding file "{path}": rules must be a list')
    if not rules:
        raise StartupError(f"{prefix}: loaded illegal policy with 0 rules from file {path}")
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            raise StartupError(f'{prefix}: failed decoding file "{path}": {where} is not a mapping')
        warnings.extend(f'unknown field "{where}.{key}"' for key in rule if key not in POLICY_RULE_KEYS)
        level = rule.get("level")
        if level in (None, ""):
            raise StartupError(f"{prefix}: {where}.level: Required value")
        if level not in AUDIT_LEVELS:
            raise StartupError(
                f'{prefix}: {where}.level: Unsupported value: "{level}": supported values: '
                + ", ".join(f'"{lv}"' for lv in AUDIT_LEVELS)
            )
        try:
            _check_stages(rule.get("omitStages"), f"{where}.omitStages")
            urls = rule.get("nonResourceURLs") or []
            if not isinstance(urls, list):
                raise StartupError(f"{where}.nonResourceURLs: must be a list")
            for url_index, url in enumerate(urls):
                _check_non_resource_url(url, f"{where}.nonResourceURLs[{url_index}]")
            if urls and (rule.get("resources") or rule.get("namespaces")):
                raise StartupError(
                    f"{where}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources "
                    "and non-resource URLs"
                )
            resources = rule.get("resources") or []
            if not isinstance(resources, list):
                raise StartupError(f"{where}.resources: must be a list")
            for res_index, group in enumerate(resources):
                if not isinstance(group, dict):
                    raise StartupError(f"{where}.resources[{res_index}]: must be a mapping")
                if group.get("resourceNames") and not group.get("resources"):
                    raise StartupError(
                        f"{where}.resources[{res_index}].resourceNames: Invalid value: using resourceNames "
                        "requires at least one resource"
                    )
        except StartupError as exc:
            raise StartupError(f"{prefix}: {exc}") from None
    return policy, warnings


# --------------------------------------------------------------------------------------------------------------
# Lifecycle log and audit log
# --------------------------------------------------------------------------------------------------------------


class Lifecycle:
    """``<unix time, 6 decimals> <event> <pid> [detail]`` lines, appended and flushed one by one.

    The file is opened (as root) before privileges are dropped and the descriptor is kept.
    """

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


def _timestamp(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    """Writes one audit.k8s.io/v1 Event per served request (no policy evaluation: always level Metadata)."""

    def __init__(self, fd: int, log_format: str = "json"):
        self._fd = fd
        self._format = log_format
        self._lock = threading.Lock()

    def event(self, uri, code, received, *, verb="get", username="system:anonymous", groups=None, source="", agent=""):
        groups = ["system:unauthenticated"] if groups is None else groups
        audit_id = str(uuid.uuid4())
        now = time.time()
        if self._format == "legacy":
            line = (
                f'{_timestamp(now)} AUDIT: id="{audit_id}" stage="ResponseComplete" ip="{source}" method="{verb}" '
                f'user="{username}" groups="{",".join(groups)}" as="<self>" asgroups="<lookup>" '
                f'user-agent="{agent}" namespace="<none>" uri="{uri}" response="{code}"\n'
            )
        else:
            event = {
                "kind": "Event",
                "apiVersion": "audit.k8s.io/v1",
                "level": "Metadata",
                "auditID": audit_id,
                "stage": "ResponseComplete",
                "requestURI": uri,
                "verb": verb,
                "user": {"username": username, "groups": groups},
                "sourceIPs": [source] if source else [],
                "userAgent": agent,
                "responseStatus": {"metadata": {}, "code": code},
                "requestReceivedTimestamp": _timestamp(received),
                "stageTimestamp": _timestamp(now),
                "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
            }
            line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            os.write(self._fd, line.encode("utf-8", "replace"))


def open_audit_log(path: str) -> int:
    """Like kube-apiserver's ensureLogFile: MkdirAll(dir, 0700), then open O_CREATE|O_APPEND 0600, as the
    (already dropped) API server user."""
    directory = os.path.dirname(path)
    try:
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"failed to create audit log directory: {_go_error(exc, 'mkdir')}") from None
    try:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StartupError(f"failed to open audit log file: {_go_error(exc)}") from None


# --------------------------------------------------------------------------------------------------------------
# HTTPS server
# --------------------------------------------------------------------------------------------------------------


def make_ssl_context() -> ssl.SSLContext:
    """Self-signed certificate made with the openssl command, loaded into memory, files removed at once."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise StartupError("stand-in: the openssl command is needed to make a self-signed serving certificate")
    tmp = tempfile.mkdtemp(prefix="k0s-standin-tls-")
    try:
        key, cert = os.path.join(tmp, "server.key"), os.path.join(tmp, "server.crt")
        command = [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "365", "-subj", "/CN=kube-apiserver",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise StartupError(f"stand-in: openssl failed: {result.stderr.strip()}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        return context
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Handler(BaseHTTPRequestHandler):
    server_version = "kube-apiserver-standin"
    protocol_version = "HTTP/1.1"
    timeout = 30

    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        received = time.time()
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.path in ("/readyz", "/livez", "/healthz"):
            code, content_type = 200, "text/plain; charset=utf-8"
            if "verbose" in query:
                name = parts.path.strip("/")
                body = f"[+]ping ok\n[+]log ok\n[+]etcd ok\n{name} check passed\n"
            else:
                body = "ok"
        elif parts.path == "/version":
            code, content_type = 200, "application/json"
            body = json.dumps({"major": "1", "minor": "33", "gitVersion": VERSION, "platform": "linux/standin"})
        else:
            code, content_type = 404, "application/json"
            body = json.dumps(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "the server could not find the requested resource (stand-in)",
                    "reason": "NotFound",
                    "code": 404,
                }
            )
        # Logged before the response is sent, so a client that got its answer finds the line already there.
        audit = self.server.audit
        if audit is not None:
            audit.event(
                self.path,
                code,
                received,
                verb=self.command.lower(),
                source=self.client_address[0],
                agent=self.headers.get("User-Agent", ""),
            )
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def log_message(self, format, *args):
        pass


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, ssl_context: ssl.SSLContext, audit: AuditLog | None):
        self.ssl_context = ssl_context
        self.audit = audit
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind would call socket.getfqdn(): a name lookup, pointless and slow without a network.
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        # The TLS handshake happens in the request's thread, so a silent client cannot block accept().
        sock, address = self.socket.accept()
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------------------------
# k0s controller
# --------------------------------------------------------------------------------------------------------------


def drop_privileges(mode: str, user: str) -> str:
    """Become the API server user like k0s's supervisor: uid of ``user``, gid 0, no supplementary groups.

    mode: "auto" (drop when root), "never" (tests only). Returns a detail string for the lifecycle log.
    """
    if mode == "never":
        return f"user={pwd.getpwuid(os.getuid()).pw_name} uid={os.getuid()} gid={os.getgid()} drop=disabled-for-tests"
    if os.geteuid() != 0:
        return f"user={pwd.getpwuid(os.getuid()).pw_name} uid={os.getuid()} gid={os.getgid()} drop=skipped-not-root"
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return f"user=root uid=0 gid=0 drop=fallback-to-root({user}-user-missing)"
    os.setgroups([])
    os.setgid(APISERVER_GID)
    os.setuid(entry.pw_uid)
    if os.getuid() != entry.pw_uid or os.geteuid() != entry.pw_uid:
        raise StartupError(f"stand-in: could not drop privileges to {user}")
    return f"user={user} uid={entry.pw_uid} gid={APISERVER_GID} groups=none"


def start_apiserver(config: dict, flags: dict, ssl_context: ssl.SSLContext, user_detail: str) -> StandinServer:
    """Everything kube-apiserver does (as the dropped user) before it serves; raises StartupError."""
    check_audit_flags(flags)
    policy_file = flags.get("audit-policy-file", "")
    policy_warnings = []
    if policy_file:
        try:
            with open(policy_file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise StartupError(
                f'loading audit policy file: failed to read file path "{policy_file}": {_go_error(exc)} '
                f"({user_detail.split(' ')[0]})"
            ) from None
        except UnicodeDecodeError as exc:
            raise StartupError(f'loading audit policy file: failed decoding file "{policy_file}": {exc}') from None
        _policy, policy_warnings = validate_policy(text, policy_file)
    for warning in policy_warnings:
        print(f"W audit policy {policy_file}: {warning} (ignored by kube-apiserver, lenient decoding)", file=sys.stderr)

    log_path = flags.get("audit-log-path", "")
    audit = None
    if log_path:
        try:
            fd = sys.stdout.fileno() if log_path == "-" else open_audit_log(log_path)
        except StartupError as exc:
            raise StartupError(f"{exc} ({user_detail.split(' ')[0]})") from None
        if policy_file:  # without a policy, kube-apiserver records no events (but still creates the file)
            audit = AuditLog(fd, flags.get("audit-log-format", "json") or "json")

    port = api_spec(config).get("port")
    port = DEFAULT_API_PORT if port is None else port
    try:
        server = StandinServer((BIND_ADDRESS, port), ssl_context, audit)
    except OSError as exc:
        if log_path and log_path != "-":
            os.close(fd)
        raise StartupError(f"failed to listen on {BIND_ADDRESS}:{port}: {exc.strerror or exc}") from None
    if audit is not None:  # the API server's own start-up requests
        audit.event(
            "/api/v1/namespaces/kube-system",
            200,
            time.time(),
            username="system:apiserver",
            groups=["system:authenticated", "system:masters"],
            source="127.0.0.1",
            agent=f"kube-apiserver/{VERSION}",
        )
    return server


class _StopFlag:
    requested = False

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``, returning within 0.05 s of a stop request."""
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(0.05)


def run_controller(args) -> int:
    lifecycle_path = args.lifecycle_log or os.environ.get(ENV_LIFECYCLE_LOG) or DEFAULT_LIFECYCLE_LOG
    on_failure = args.on_failure or os.environ.get(ENV_ON_FAILURE) or "exit"
    if on_failure not in ("exit", "retry"):
        print(f"Error: {ENV_ON_FAILURE} / --on-failure must be exit or retry, not {on_failure!r}", file=sys.stderr)
        return 1
    try:
        respawn = float(os.environ.get(ENV_RESPAWN_SECONDS) or RESPAWN_SECONDS)
    except ValueError:
        respawn = RESPAWN_SECONDS
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

    lifecycle.write("starting", f"config={args.config}")

    def fail(reason: str) -> int:
        lifecycle.write("failed", reason)
        print(f"Error: {reason}", file=sys.stderr, flush=True)
        return 1

    # k0s itself (root) reads the config: a bad one makes the whole k0scontroller fail.
    try:
        with open(args.config, encoding="utf-8") as handle:
            config = load_strict(handle.read())
    except OSError as exc:
        return fail(f"failed to read config: {_go_error(exc)}")
    except (K0sConfigError, UnicodeDecodeError) as exc:
        return fail(str(exc))
    flags = apiserver_flags(config)

    try:
        ssl_context = make_ssl_context()  # as root, before dropping: only the in-memory context is kept
        for codec in ("idna", "latin-1", "ascii", "utf-8"):  # load lazily imported codecs while still root
            codecs.lookup(codec)
        user_detail = drop_privileges(args.drop_privileges, args.apiserver_user)
    except (StartupError, OSError) as exc:
        return fail(str(exc))

    server = None
    while not stop.requested:
        try:
            server = start_apiserver(config, flags, ssl_context, user_detail)
            break
        except StartupError as exc:
            code = fail(str(exc))
            if on_failure == "exit":
                return code
            # like k0s: k0scontroller stays up and its supervisor respawns kube-apiserver
            print(f"respawning in {respawn:g}s", file=sys.stderr, flush=True)
            stop.sleep(respawn)
    if server is None:
        lifecycle.write("stopped", "signal before ready")
        return 0

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    args_json = json.dumps(apiserver_args(config), separators=(",", ":"))
    lifecycle.write("ready", f"listen={host}:{port} {user_detail} args={args_json}")
    print(f"kube-apiserver stand-in ready on https://{host}:{port} ({user_detail})", file=sys.stderr, flush=True)
    while not stop.requested:
        stop.sleep(1.0)
    server.shutdown()
    server.server_close()
    lifecycle.write("stopped", "signal")
    return 0


# --------------------------------------------------------------------------------------------------------------
# Other commands
# --------------------------------------------------------------------------------------------------------------


def run_validate(args) -> int:
    try:
        if args.config == "-":
            text = sys.stdin.read()
        else:
            with open(args.config, encoding="utf-8") as handle:
                text = handle.read()
        load_strict(text)
    except OSError as exc:
        print(f"Error: failed to read config: {_go_error(exc)}", file=sys.stderr)
        return 1
    except (K0sConfigError, UnicodeDecodeError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


def run_status(args) -> int:
    path = args.lifecycle_log or os.environ.get(ENV_LIFECYCLE_LOG) or DEFAULT_LIFECYCLE_LOG
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
    print(f"Version: {VERSION}\nProcess ID: {entry['pid']}\nRole: controller\nWorkloads: false\nSingleNode: false")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k0s", description="k0s TEST STAND-IN (not k0s)")
    parser.add_argument("--version", action="version", version=VERSION)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("version", help="print the version")

    config = commands.add_parser("config", help="config create / validate")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    create = config_commands.add_parser("create", help="print a default ClusterConfig")
    create.add_argument("--include-images", action="store_true", help="ignored")
    validate = config_commands.add_parser("validate", help="decode a k0s.yaml strictly")
    validate.add_argument("-c", "--config", required=True)

    controller = commands.add_parser("controller", help="run the controller stand-in")
    controller.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    controller.add_argument(
        "--lifecycle-log", default=None, help=f"default ${ENV_LIFECYCLE_LOG} or {DEFAULT_LIFECYCLE_LOG}"
    )
    controller.add_argument(
        "--on-failure",
        choices=("exit", "retry"),
        default=None,
        help=f"exit (default; also ${ENV_ON_FAILURE}) or retry every 5 s like k0s's supervisor",
    )
    controller.add_argument(
        "--no-drop-privileges",
        dest="drop_privileges",
        action="store_const",
        const="never",
        default="auto",
        help="TESTS ONLY: stay the current user even when root",
    )
    controller.add_argument("--apiserver-user", default=APISERVER_USER, help=argparse.SUPPRESS)  # tests only

    status = commands.add_parser("status", help="show whether the controller stand-in runs")
    status.add_argument("--lifecycle-log", default=None)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if args.command != "controller":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        print(f"W stand-in: ignoring k0s flags {' '.join(unknown)}", file=sys.stderr)
    if args.command == "version":
        print(VERSION)
        return 0
    if args.command == "config":
        if args.config_command == "create":
            sys.stdout.write(default_config_text())
            return 0
        return run_validate(args)
    if args.command == "controller":
        return run_controller(args)
    if args.command == "status":
        return run_status(args)
    parser.error("unknown command")
    return 2


if __name__ == "__main__":
    sys.exit(main())
