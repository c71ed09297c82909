"""Fixtures of the module tests: a module's ``main()`` run in-process, as Ansible would run it on a host.

``run_main(module.main, check=..., diff=..., **args)`` gives the module's JSON result. Each test module binds it to
its module in a ``run`` fixture of its own.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run_main(tmp_path, capsys):
    """Run a module's ``main`` with ``args`` (check and diff mode as asked, its tmpdir under tmp_path/module-tmp)."""
    module_tmp = tmp_path / "module-tmp"

    def run(main, check: bool = False, diff: bool = False, **args) -> dict:
        module_tmp.mkdir(exist_ok=True)
        args.update(_ansible_check_mode=check, _ansible_diff=diff, _ansible_tmpdir=str(module_tmp))
        ansible_warnings._global_warnings.clear()  # they are process-wide; each run here is a process of its own
        with patch_module_args(args), pytest.raises(SystemExit):
            main()
        return json.loads(capsys.readouterr().out)

    return run
