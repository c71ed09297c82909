# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A k0s controller as its systemd unit runs it: what its command line says, and the kube-apiserver it supervises.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

Used by ``k0s_host_info``. The config file says its API port, the account named for kube-apiserver and whether
k0sctl wrote it (its first line). ``k0s controller`` reads its flags with cobra/pflag (k0s cmd/controller):
``--config``/``-c`` (default ``/etc/k0s/k0s.yaml``), ``--single``, ``--enable-dynamic-config``, ``--data-dir``. Its
supervisor (pkg/supervisor) starts kube-apiserver as a child process; the one that counts is the one in the process
tree of the unit's main process, not any process of that name on the host (a second k0s, a test server, a
container).
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.k0rdent.audit.plugins.module_utils._go_values import parse_go_bool
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_apiserver import audit_args, boot_time
from ansible_collections.k0rdent.audit.plugins.module_utils._systemd_unit import read_text

try:
    import yaml
except ImportError:  # pragma: no cover - Debian hosts have python3-yaml, which the role requires
    yaml = None

__all__ = [
    "APISERVER_USER",
    "DEFAULT_API_PORT",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_DATA_DIR",
    "config_facts",
    "find_supervised_apiserver",
    "parse_controller_args",
]

# k0s's defaults (pkg/config/cfgvars.go, pkg/constant/constant.go): the config file read when ExecStart names none,
# the data dir, the API port and the account that runs kube-apiserver.
DEFAULT_CONFIG_PATH = "/etc/k0s/k0s.yaml"
DEFAULT_DATA_DIR = "/var/lib/k0s"
DEFAULT_API_PORT = 6443
APISERVER_USER = "kube-apiserver"  # constant.ApiserverUser, looked up by pkg/component/controller/apiserver.go
K0SCTL_HEADER = "# generated-by-k0sctl"  # k0sctl phase/configure_k0s.go writes it as the first line
MAX_CONFIG = 1024 * 1024  # a k0s.yaml is a few kilobytes; a bigger file is not parsed
PROCESS_NAME = "kube-apiserver"


def parse_controller_args(argv: list[str]) -> dict[str, Any]:
    """What a `k0s controller` command line says, parsed like k0s's cobra/pflag flags (cmd/controller)."""
    found = {
        "argv": list(argv),
        "config_path": DEFAULT_CONFIG_PATH,
        "config_from_unit": False,
        "single": False,
        "dynamic_config": False,
        "data_dir": DEFAULT_DATA_DIR,
    }
    bools = {"--single": "single", "--enable-dynamic-config": "dynamic_config"}
    values = {"--config": "config_path", "-c": "config_path", "--data-dir": "data_dir"}
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        name, sep, value = arg.partition("=")
        if name in values:
            if not sep:
                value = args.pop(0) if args else ""
            found[values[name]] = value
            if values[name] == "config_path":
                found["config_from_unit"] = True
        elif name.startswith("-c") and not name.startswith("--") and len(name) > 2:
            found["config_path"], found["config_from_unit"] = arg[2:], True  # -cPATH
        elif name in bools:
            # k0s's flags are pflag's: --single=VALUE is strconv.ParseBool; k0s does not start on any other word.
            found[bools[name]] = bool(parse_go_bool(value)[0]) if sep else True
    return found


def config_facts(path: str) -> dict[str, Any]:
    """What the k0s config file says that the role needs; ``error`` says why it was not read, or not as YAML."""
    info = {
        "path": path,
        "exists": False,
        "k0sctl_generated": False,
        "api_port": DEFAULT_API_PORT,
        "kube_apiserver_user": APISERVER_USER,
        "error": "",
    }
    text, info["error"] = read_text(path, "the k0s config file must be one", MAX_CONFIG)
    info["exists"] = text is not None or bool(info["error"])
    if text is None:
        return info
    info["k0sctl_generated"] = text.lstrip("\ufeff").startswith(K0SCTL_HEADER)
    if yaml is None or len(text) > MAX_CONFIG:
        return info
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        info["error"] = str(exc).splitlines()[0]
        return info
    spec = document.get("spec") if isinstance(document, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    api = spec.get("api") if isinstance(spec.get("api"), dict) else {}
    if isinstance(api.get("port"), int) and not isinstance(api.get("port"), bool):
        info["api_port"] = api["port"]
    users = (spec.get("installConfig") or {}).get("users") if isinstance(spec.get("installConfig"), dict) else None
    if isinstance(users, dict) and isinstance(users.get("kubeAPIserverUser"), str) and users["kubeAPIserverUser"]:
        info["kube_apiserver_user"] = users["kubeAPIserverUser"]
    return info


def _stat_fields(proc: str, pid: str) -> tuple[str, int, int]:
    """(comm, ppid, starttime in clock ticks) from ``/proc/PID/stat`` (fields 2, 4 and 22)."""
    with open(os.path.join(proc, pid, "stat"), encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    rest = text.rsplit(")", 1)[1].split()
    return comm, int(rest[1]), int(rest[19])


def find_supervised_apiserver(main_pid: int, proc: str = "/proc") -> dict[str, Any] | None:
    """``{pid, uid, started, audit_args}`` of the kube-apiserver in the process tree of ``main_pid``, or None.

    ``main_pid`` is the unit's MainPID (the k0s controller, or a wrapper that runs it); 0 means none runs. ``uid``
    is the real uid (``/proc/PID/status``); ``started`` is seconds since the epoch, known to the clock tick after
    the boot time, which ``/proc/stat`` gives in whole seconds. When several match, the one nearest to
    ``main_pid``, then the oldest, wins.
    """
    if not main_pid or main_pid <= 0:
        return None
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return None
    table: dict[int, tuple[str, int, int]] = {}
    for pid in pids:
        try:
            table[int(pid)] = _stat_fields(proc, pid)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or unreadable
    children: dict[int, list[int]] = {}
    for pid, (_comm, ppid, _ticks) in table.items():
        children.setdefault(ppid, []).append(pid)
    level = [main_pid] if main_pid in table else []
    seen = set(level)
    while level:
        found = sorted((table[pid][2], pid) for pid in level if table[pid][0] == PROCESS_NAME)
        for _ticks, pid in found:
            live = _read_process(proc, pid, table[pid][2])
            if live is not None:
                return live
        level = [child for pid in level for child in sorted(children.get(pid, ())) if child not in seen]
        seen.update(level)
    return None


def _read_process(proc: str, pid: int, ticks: int) -> dict[str, Any] | None:
    base = os.path.join(proc, str(pid))
    try:
        with open(os.path.join(base, "status"), encoding="utf-8", errors="replace") as handle:
            uid = next(int(line.split()[1]) for line in handle if line.startswith("Uid:"))
        with open(os.path.join(base, "cmdline"), "rb") as handle:
            argv = [a.decode("utf-8", errors="replace") for a in handle.read().split(b"\0") if a]
        started = boot_time(proc) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return {"pid": pid, "uid": uid, "started": started, "audit_args": audit_args(argv[1:])}
