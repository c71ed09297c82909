#!/usr/bin/python
# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: k0s_controller_ready
short_description: Wait until a restarted k0s controller serves again and writes its audit log, or has failed
version_added: 0.2.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Polls, on the controller itself, until the API server answers C(GET https://127.0.0.1:PORT/readyz) with 200
    and, when O(log_path) is given, the audit log has grown since O(log_before) (or was replaced by a new file that
    is not empty, since kube-apiserver creates the file when it starts, before it writes any event).
  - k0s starts kube-apiserver with C(--anonymous-auth=false), so an anonymous C(/readyz) is refused with 401; the
    module asks as k0s's admin, with the client certificate k0s writes (C(DATA_DIR/pki/admin.crt) and C(admin.key)),
    when they exist, and anonymously otherwise.
  - Stops waiting, instead of running into the timeout, as soon as systemd reports the unit C(failed), or k0s has
    respawned kube-apiserver O(respawn_limit) times in the unit's current run. The unit k0s writes has
    C(Restart=always) and k0s's supervisor respawns a kube-apiserver that exits (every 5 seconds, logging
    C(respawning in 5s) for it), so a kube-apiserver that cannot start leaves the unit C(active), not C(failed).
  - Returns the controller's own journal lines of its current run, so the caller can quote them; kube-apiserver's
    list of parsed flags (C(FLAG:) lines) is left out, and after respawns the lines end at its last exit.
  - Reads only; it never fails because the controller is not ready. The caller judges RV(ready).
options:
  service:
    description: The controller's systemd unit.
    type: str
    default: k0scontroller
  port:
    description: The API server's port (C(spec.api.port)).
    type: int
    default: 6443
  timeout:
    description: Seconds to wait for /readyz.
    type: int
    default: 180
  data_dir:
    description: k0s's data directory (C(k0s controller --data-dir)), where its admin client certificate is.
    type: path
    default: /var/lib/k0s
    version_added: 0.3.0
  log_path:
    description: The audit log that must exist and grow; not checked when omitted.
    type: path
  log_before:
    description: The audit log's C(inode) and C(size) before the restart (from M(ansible.builtin.stat)); empty or
      C(exists=false) when it did not exist.
    type: dict
    default: {}
  log_timeout:
    description: Seconds to wait, once /readyz answers, for the audit log to grow.
    type: int
    default: 30
  respawn_limit:
    description: >-
      Stop waiting once k0s has respawned kube-apiserver this many times since the restart (the unit's current
      systemd invocation); C(0) waits for O(timeout) whatever happens.
    type: int
    default: 3
    version_added: 0.3.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - In check mode it reports what it sees at once, without waiting.
seealso:
  - module: k0rdent.audit.k0s_host_info
    description: Reads the unit, the API server port and the audit log path before the restart.
  - module: k0rdent.audit.k0s_config
    description: Writes the audit flags whose effect this module waits for.
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that restarts the controller, waits with this module and rolls back when it is not ready.
"""

EXAMPLES = r"""
- name: Wait for the controller after a restart
  k0rdent.audit.k0s_controller_ready:
    port: 6443
    log_path: /var/log/k0s/audit.log
    log_before: "{{ log_before.stat }}"
  register: ready
  # ready.ready: true, ready.reason: "", ready.state: "active", ready.journal: [], ready.waited: 12.4

- name: Stop with the controller's own error
  ansible.builtin.fail:
    msg: "{{ ready.reason }}: {{ ready.journal | join(' / ') }}"
  when: not ready.ready
  # "kube-apiserver exited 3 times after the restart of k0scontroller (k0s respawns it): ... \"command failed\"
  #  err=\"ensureLogFile: open /var/log/k0s/audit.log: permission denied\" ..." from the controller's journal
"""

RETURN = r"""
ready:
  description: Whether /readyz answered 200 and the audit log grew.
  returned: always
  type: bool
reason:
  description: Why it is not ready, one sentence; empty when it is.
  returned: always
  type: str
  sample: kube-apiserver exited 3 times after the restart of k0scontroller (k0s respawns it)
state:
  description: The unit's ActiveState when the wait ended.
  returned: always
  type: str
  sample: active
journal:
  description: >-
    The last journal lines (at most 15) of the unit's current run (its systemd invocation) when it is not ready,
    without kube-apiserver's C(FLAG:) lines; after respawns of kube-apiserver, those up to its last exit.
  returned: always
  type: list
  elements: str
respawns:
  description: How often k0s respawned kube-apiserver in the unit's current run, as far as the wait saw.
  returned: always
  type: int
  sample: 0
  version_added: 0.3.0
waited:
  description: Seconds waited.
  returned: always
  type: float
"""

import os
import re
import time
from http.client import HTTPException
from urllib.error import URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

_POLL_SECONDS = 1.0
_JOURNAL_LINES = 15
# k0s's supervisor (pkg/supervisor/supervisor.go) logs through logrus: msg first, then the fields, sorted.
_RESPAWN = re.compile(r'msg="respawning in [^"]*" component=kube-apiserver(?: |$)')
# kube-apiserver at --v=1 prints every flag it parsed, about 300 lines a start (k8s.io/component-base/cli/flag).
_FLAG_LINE = re.compile(r"\] FLAG: --[\w-]+=")


def _unit_state(module, service):
    rc, out, _err = module.run_command(["systemctl", "show", "--property=ActiveState", "--value", service])
    return out.strip() if rc == 0 else "unknown"


def admin_credentials(data_dir):
    """k0s's admin client certificate and key, when both are readable; else None (ask anonymously)."""
    cert = os.path.join(data_dir, "pki", "admin.crt")
    key = os.path.join(data_dir, "pki", "admin.key")
    if os.access(cert, os.R_OK) and os.access(key, os.R_OK):
        return cert, key
    return None


def _readyz(port, credentials):
    # kube-apiserver serves a certificate of k0s's own CA here; only the status code is wanted.
    cert, key = credentials or (None, None)
    try:
        with open_url(
            "https://127.0.0.1:%d/readyz" % port, validate_certs=False, timeout=5, client_cert=cert, client_key=key
        ) as response:
            return response.status == 200
    except (URLError, HTTPException, OSError, ValueError):  # not answering, or not 2xx (HTTPError): not ready yet
        return False


def log_grew(path, before):
    """Whether the audit log holds events it did not hold before: a new file (another inode) that is not empty, or
    the same file, larger. kube-apiserver creates the file when it starts, before any event: an empty new file
    proves nothing (on a full disk it stays empty)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not before or not before.get("exists") or st.st_ino != before.get("inode"):
        return st.st_size > 0
    return st.st_size > int(before.get("size") or 0)


def _journal(module, service):
    """The lines the unit's current run logged: its InvocationID selects exactly the run after the restart."""
    rc, out, _err = module.run_command(["systemctl", "show", "--property=InvocationID", "--value", service])
    invocation = out.strip() if rc == 0 else ""
    match = ["_SYSTEMD_INVOCATION_ID=%s" % invocation] if invocation else ["-u", service]
    rc, out, _err = module.run_command(["journalctl", "--no-pager", "-o", "cat", *match])
    return out.splitlines() if rc == 0 else []


def respawns(lines):
    """How often k0s respawned kube-apiserver in these journal lines."""
    return sum(1 for line in lines if _RESPAWN.search(line))


def quoted(lines):
    """The lines worth quoting: without kube-apiserver's flag list, and ending at its last exit when it exited."""
    exits = [i for i, line in enumerate(lines) if _RESPAWN.search(line)]
    if exits:
        lines = lines[: exits[-1] + 1]
    kept = [line for line in lines if line.strip() and not _FLAG_LINE.search(line)]
    return kept[-_JOURNAL_LINES:]


def main():
    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "default": "k0scontroller"},
            "port": {"type": "int", "default": 6443},
            "timeout": {"type": "int", "default": 180},
            "data_dir": {"type": "path", "default": "/var/lib/k0s"},
            "log_path": {"type": "path"},
            "log_before": {"type": "dict", "default": {}},
            "log_timeout": {"type": "int", "default": 30},
            "respawn_limit": {"type": "int", "default": 3},
        },
        supports_check_mode=True,
    )
    params = module.params
    start = time.time()
    deadline = start + (0 if module.check_mode else params["timeout"])
    reason, state, seen = "", "unknown", 0
    while True:
        state = _unit_state(module, params["service"])
        if state == "failed":
            reason = "%s failed after the restart" % params["service"]
            break
        if params["respawn_limit"] > 0:
            seen = respawns(_journal(module, params["service"]))
            if seen >= params["respawn_limit"]:
                reason = "kube-apiserver exited %d times after the restart of %s (k0s respawns it)" % (
                    seen,
                    params["service"],
                )
                break
        if _readyz(params["port"], admin_credentials(params["data_dir"])):
            break
        if time.time() >= deadline:
            reason = "%s did not serve /readyz on port %d within %d s" % (
                params["service"],
                params["port"],
                params["timeout"],
            )
            break
        time.sleep(_POLL_SECONDS)
    if not reason and params["log_path"]:
        log_deadline = time.time() + (0 if module.check_mode else params["log_timeout"])
        while not log_grew(params["log_path"], params["log_before"]):
            if time.time() >= log_deadline:
                reason = "%s serves /readyz but %s did not grow within %d s" % (
                    params["service"],
                    params["log_path"],
                    params["log_timeout"],
                )
                break
            time.sleep(_POLL_SECONDS)
    module.exit_json(
        changed=False,
        ready=not reason,
        reason=reason,
        state=state,
        journal=quoted(_journal(module, params["service"])) if reason else [],
        respawns=seen,
        waited=round(time.time() - start, 1),
    )


if __name__ == "__main__":
    main()
