# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Test-only callback: write, per playbook run, which tasks reported a change on which host.

The Molecule verifiers compare the check-mode run with the real run: check mode must predict exactly the changes
the real run makes. Files go to $MOLECULE_EPHEMERAL_DIRECTORY/changes/ as NNNN-check|run-PLAYBOOK.json.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: k0s_audit_changes
type: aggregate
short_description: Record changed tasks per host (tests only)
description: Writes the changed tasks of each playbook run to a JSON file for the Molecule verifiers.
requirements: [enable in configuration]
"""

import json
import os
import time

from ansible import context
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "k0s_audit_changes"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._playbook = "unknown"
        self._changed = []
        self._failed = []

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(playbook._file_name)

    def _name(self, result):
        task = result._task
        role = task._role.get_name() if task._role else ""
        return "%s : %s" % (role, task.get_name()) if role else task.get_name()

    def v2_runner_on_ok(self, result):
        if result._result.get("changed"):
            self._changed.append([result._host.get_name(), self._name(result)])

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._failed.append([result._host.get_name(), self._name(result)])

    def v2_playbook_on_stats(self, stats):
        directory = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
        if not directory:
            return
        out = os.path.join(directory, "changes")
        os.makedirs(out, exist_ok=True)
        mode = "check" if context.CLIARGS.get("check") else "run"
        name = "%.6f-%s-%s.json" % (time.time(), mode, self._playbook)
        with open(os.path.join(out, name), "w") as handle:
            json.dump(
                {"playbook": self._playbook, "mode": mode, "changed": self._changed, "failed": self._failed}, handle
            )
