"""Helpers of the verifiers on hosts that run the real k0s: what its kube-apiserver runs with, now and at each start.

Everything is read from what k0s and kube-apiserver say themselves: the live process (``/proc/PID/cmdline``) and
the controller's journal, where k0s's supervisor logs each start of kube-apiserver ("Started successfully, go nuts
pid N", pkg/supervisor/supervisor.go) and kube-apiserver, started with ``--v=1``, prints every flag it parsed
(``flags.go: FLAG: --name="value"``, k8s.io/component-base/cli/flag), defaults included.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field

__all__ = [
    "ApiserverStart",
    "apiserver_account",
    "apiserver_args",
    "apiserver_starts",
    "controller_starts",
    "serving_again",
]

UNIT = "k0scontroller"
_STARTED = re.compile(r'msg="Started successfully, go nuts pid (\d+)" component=kube-apiserver')
_FLAG = re.compile(r'msg="I\d+ [\d:.]+\s+(\d+) flags\.go:\d+\] FLAG: --([\w-]+)=\\"(.*)\\"" component=kube-apiserver')


@dataclass
class ApiserverStart:
    pid: int
    flags: dict = field(default_factory=dict)  # every flag as kube-apiserver parsed it, defaults included


def apiserver_args(host) -> list[str]:
    """The command line of the running kube-apiserver (exactly one must run)."""
    pids = host.run("pgrep -x kube-apiserver").stdout.split()
    assert len(pids) == 1, f"expected one kube-apiserver, found {pids}"
    return host.run(f"tr '\\0' '\\n' < /proc/{pids[0]}/cmdline").stdout.splitlines()


def apiserver_account(host) -> str:
    """``user:group`` of the running kube-apiserver."""
    return ":".join(host.run("ps -o user:32=,group:32= -C kube-apiserver").stdout.split())


def apiserver_starts(host, unit: str = UNIT) -> list[ApiserverStart]:
    """Each start of kube-apiserver under the controller, oldest first, with the flags it parsed."""
    journal = host.run(f"journalctl -u {shlex.quote(unit)} -o cat --no-pager").stdout
    starts: dict[int, ApiserverStart] = {}
    for line in journal.splitlines():
        started = _STARTED.search(line)
        if started:
            pid = int(started.group(1))
            starts[pid] = ApiserverStart(pid)
            continue
        flag = _FLAG.search(line)
        if flag and int(flag.group(1)) in starts:
            starts[int(flag.group(1))].flags[flag.group(2)] = flag.group(3).replace('\\\\"', '"')
    return list(starts.values())


def controller_starts(host, unit: str = UNIT) -> int:
    """How often systemd started the controller's unit."""
    journal = host.run(f"journalctl -u {shlex.quote(unit)} -o cat --no-pager").stdout
    return sum(1 for line in journal.splitlines() if line.startswith(f"Started {unit}.service"))


def serving_again(host, starts_before: int, timeout: float = 180.0) -> list[ApiserverStart]:
    """Wait until kube-apiserver started at least once more than ``starts_before`` times, the newest start is the live
    process and the controller serves /readyz; kube-apiserver's starts, oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        starts = apiserver_starts(host)
        live = host.run("pgrep -x kube-apiserver").stdout.split()
        if (
            len(starts) > starts_before
            and live == [str(starts[-1].pid)]
            and host.run("/usr/local/bin/k0s kubectl get --raw=/readyz").stdout.strip() == "ok"
        ):
            return starts
        if time.monotonic() > deadline:
            journal = host.run(f"journalctl -u {UNIT} -n 20 -o cat --no-pager").stdout
            raise AssertionError(f"kube-apiserver did not serve again within {timeout:.0f} s:\n{journal}")
        time.sleep(2)
