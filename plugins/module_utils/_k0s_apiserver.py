# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The kube-apiserver a k0s controller runs right now, read from ``/proc``: its pid, account, start and audit flags.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

k0s starts kube-apiserver as a child process named ``kube-apiserver`` from its bin directory, with every flag on the
command line (k0s pkg/component/controller/apiserver.go: ``--KEY=VALUE`` from ``spec.api.extraArgs``, then
``rawArgs``), as the account ``kube-apiserver`` (else root) with group root (pkg/supervisor/detachattr_linux.go).
Used by ``k0s_host_info`` (which account really runs it; did a run end before its restart) and by
``k0s_audit_report`` (which log and rotation settings are in effect).
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_flags import AUDIT_FLAGS

__all__ = ["audit_args", "boot_time", "find_live_apiserver"]

PROCESS_NAME = "kube-apiserver"


def audit_args(argv: list[str]) -> dict[str, str]:
    """The ``--audit-*`` flags of a command line, by name without dashes, as pflag reads them.

    pflag (github.com/spf13/pflag flag.go) takes ``--name=value`` or ``--name value``, except for a boolean flag,
    which is true when given bare; kube-apiserver's normaliser reads ``_`` as ``-``; the last occurrence wins.
    """
    flags: dict[str, str] = {}
    pending: str | None = None
    for arg in argv:
        if pending is not None:
            flags[pending] = arg
            pending = None
            continue
        if not arg.startswith("--audit"):
            continue
        name, sep, value = arg[2:].partition("=")
        name = name.replace("_", "-")
        if sep:
            flags[name] = value
        elif name in AUDIT_FLAGS and AUDIT_FLAGS[name].kind == "bool":
            flags[name] = "true"
        else:
            pending = name
    return flags


def boot_time(proc: str) -> float:
    """When the host booted (``btime`` of ``PROC/stat``), for a process's start time from its clock ticks."""
    with open(os.path.join(proc, "stat"), encoding="ascii") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def find_live_apiserver(proc: str = "/proc") -> dict[str, Any] | None:
    """``{pid, uid, started, audit_args}`` of the running process named kube-apiserver, or None.

    ``uid`` is the real uid (``/proc/PID/status``); ``started`` is seconds since the epoch, known to the clock tick
    after the boot time, which ``/proc/stat`` gives in whole seconds.
    """
    try:
        pids = sorted((p for p in os.listdir(proc) if p.isdigit()), key=int)
    except OSError:
        return None
    for pid in pids:
        base = os.path.join(proc, pid)
        try:
            with open(os.path.join(base, "comm"), encoding="utf-8", errors="replace") as handle:
                if handle.read().strip() != PROCESS_NAME:
                    continue
            with open(os.path.join(base, "status"), encoding="utf-8", errors="replace") as handle:
                uid = next(int(line.split()[1]) for line in handle if line.startswith("Uid:"))
            with open(os.path.join(base, "cmdline"), "rb") as handle:
                argv = [a.decode("utf-8", errors="replace") for a in handle.read().split(b"\0") if a]
            with open(os.path.join(base, "stat"), encoding="utf-8", errors="replace") as handle:
                ticks = int(handle.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
            started = boot_time(proc) + ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        return {"pid": int(pid), "uid": uid, "started": started, "audit_args": audit_args(argv[1:])}
    return None
