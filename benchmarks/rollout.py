"""Rollout cost of playbook k0rdent.audit.enable against N local systemd containers, beside the ping floor.

For each N (default 1, 5, 20) and each fork count (default 5, 20), in one run:
  1. start N fresh Debian 12 systemd containers (image k0s-audit-systemd:bookworm, scripts/build-image.sh);
  2. time `ansible -m ansible.builtin.ping` on them (the floor: one round trip per host);
  3. time the enable playbook, first run (creates user, directory, policy, k0s.yaml) and idempotent re-run;
  4. count the task executions that reached the hosts (results of tasks whose action runs on the host, not
     skipped) from the ansible.posix.json callback.
Hosts are fresh (no running controller), so no restart is involved and the playbook may handle hosts in parallel
(k0s_audit_serial=100%); the figures measure the collection's own round trips. Pipelining is on, as the README
recommends. Containers are removed afterwards. Needs a Docker engine and the venv (scripts/bootstrap.sh).

    .venv/bin/python benchmarks/rollout.py [--hosts 1 5 20] [--forks 5 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = "k0s-audit-systemd:bookworm"
PREFIX = "k0s-audit-bench-"
CONTROLLER_ACTIONS = {
    "ansible.builtin.validate_argument_spec",
    "validate_argument_spec",
    "ansible.builtin.set_fact",
    "ansible.builtin.assert",
    "ansible.builtin.debug",
    "ansible.builtin.fail",
    "ansible.builtin.include_tasks",
    "ansible.builtin.meta",
    "set_fact",
    "assert",
    "debug",
    "fail",
    "include_tasks",
    "meta",
}


def sh(*command: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, check=check)


def start_hosts(count: int) -> list[str]:
    names = ["%s%02d" % (PREFIX, index) for index in range(count)]
    for name in names:
        sh(
            "docker", "run", "-d", "--name", name, "--network", "none", "--cgroupns", "host",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            IMAGE,
        )  # fmt: skip
    for name in names:
        sh("docker", "exec", name, "systemctl", "is-system-running", "--wait", check=False)
    return names


def remove_hosts() -> None:
    names = sh("docker", "ps", "-aq", "--filter", "name=" + PREFIX).stdout.split()
    if names:
        sh("docker", "rm", "-f", *names)


def inventory(names: list[str], directory: Path) -> Path:
    path = directory / "inventory.json"
    hosts = {name: {} for name in names}
    path.write_text(
        json.dumps(
            {
                "k0s_controllers": {
                    "hosts": hosts,
                    "vars": {
                        "ansible_connection": "community.docker.docker",
                        "ansible_python_interpreter": "/usr/bin/python3",
                    },
                }
            }
        )
    )
    return path


def environment(forks: int, callback: str | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
        ANSIBLE_PIPELINING="true",
        ANSIBLE_FORKS=str(forks),
        ANSIBLE_HOST_KEY_CHECKING="false",
        PATH=str(REPO / ".venv" / "bin") + os.pathsep + env.get("PATH", ""),
    )
    if callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = callback
    return env


def timed(command: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit("%s failed:\n%s\n%s" % (" ".join(command), result.stdout[-3000:], result.stderr[-2000:]))
    return elapsed, result.stdout


def host_executions(json_output: str) -> tuple[int, int]:
    """(task executions that reached a host, of which changed) from ansible.posix.json output."""
    report = json.loads(json_output[json_output.index("{") :])
    reached = changed = 0
    for play in report["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                if result.get("skipped") or result.get("action") in CONTROLLER_ACTIONS:
                    continue
                reached += 1
                changed += bool(result.get("changed"))
    return reached, changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--forks", type=int, nargs="+", default=[5, 20])
    options = parser.parse_args()
    rows = []
    try:
        for count in options.hosts:
            for forks in options.forks:
                remove_hosts()
                names = start_hosts(count)
                with tempfile.TemporaryDirectory() as work:
                    inv = str(inventory(names, Path(work)))
                    ping, _unused = timed(
                        ["ansible", "-i", inv, "all", "-m", "ansible.builtin.ping"], environment(forks)
                    )
                    # serial is decided before inventory variables exist: it must come as an extra variable.
                    playbook = ["ansible-playbook", "-i", inv, "-e", "k0s_audit_serial=100%", "k0rdent.audit.enable"]
                    first, first_out = timed(playbook, environment(forks, "ansible.posix.json"))
                    again, again_out = timed(playbook, environment(forks, "ansible.posix.json"))
                first_reached, first_changed = host_executions(first_out)
                again_reached, again_changed = host_executions(again_out)
                rows.append(
                    (count, forks, ping, first, again, first_reached, first_changed, again_reached, again_changed)
                )
                print(
                    "N=%-3d forks=%-3d ping %.1f s | first run %.1f s (%.1fx ping, %d host tasks, %d changed)"
                    " | re-run %.1f s (%.1fx ping, %d host tasks, %d changed)"
                    % (count, forks, ping, first, first / ping, first_reached, first_changed, again, again / ping,
                       again_reached, again_changed),
                    flush=True,
                )  # fmt: skip
    finally:
        remove_hosts()
    print()
    print("| N | forks | ping s | first run s | x ping | host tasks (chg) | re-run s | x ping | host tasks (chg) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for count, forks, ping, first, again, f_reached, f_changed, a_reached, a_changed in rows:
        print(
            "| %d | %d | %.1f | %.1f | %.1f | %d (%d) | %.1f | %.1f | %d (%d) |"
            % (count, forks, ping, first, first / ping, f_reached, f_changed, again, again / ping, a_reached, a_changed)
        )
    # The lines benchmarks/run-all.sh collects, with the targets: (N, forks or None for the worst over the
    # fork counts, column of the table, what, target ratio to the ping floor).
    ratios = (
        (20, 20, 4, "idempotent re-run", 2.5),
        (20, None, 3, "first run", 8.0),
        (1, None, 4, "idempotent re-run", 2.0),
    )
    missed = False
    for count, forks_wanted, column, what, target in ratios:
        chosen = [row for row in rows if row[0] == count and forks_wanted in (None, row[1])]
        if not chosen:
            continue
        worst = max(row[column] / row[2] for row in chosen)
        if forks_wanted is None:
            forks = "worst of forks " + ", ".join(str(row[1]) for row in chosen)
        else:
            forks = "forks %d" % forks_wanted
        verdict = "OK" if worst <= target else "MISSED"
        missed = missed or verdict == "MISSED"
        print(
            "ratio: %s, %d host%s / ping = %.1f (%s; target <= %g): %s"
            % (what, count, "" if count == 1 else "s", worst, forks, target, verdict)
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
