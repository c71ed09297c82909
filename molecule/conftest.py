"""Shared fixtures for the Molecule verifiers (pytest-testinfra).

Molecule runs pytest with the scenario's inventory; these fixtures add what the checks compare against: the
k0rdent baseline policy as the seed manual prints it, the real ``k0s config validate`` (of the k0s that
scripts/build-k0s.sh builds, run locally on the text, not on a test host), the changes recorded per playbook run,
and a way to run the collection's playbooks again from a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "k0s"))

from real_k0s import validate  # noqa: E402


@pytest.fixture(scope="session")
def seed_policy():
    return yaml.safe_load((REPO / "tests" / "unit" / "fixtures" / "seed_baseline_policy.yaml").read_text())


@pytest.fixture(scope="session")
def strict_k0s():
    """``strict_k0s(text)``: the text parsed once the real k0s accepted it; real_k0s.K0sConfigRefused otherwise."""
    return validate


@pytest.fixture(scope="session")
def playbook_runs():
    """The changes recorded by the k0s_audit_changes callback, one entry per playbook run, oldest first, since the
    hosts were last created (an interrupted earlier test of the scenario leaves its runs in the same directory)."""
    directory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "changes"
    runs = []
    for path in sorted(directory.glob("*.json"), key=lambda p: float(p.name.split("-", 1)[0])):
        runs.append(json.loads(path.read_text()))
    created = [i for i, run in enumerate(runs) if run["playbook"] == "create.yml"]
    return runs[created[-1] :] if created else runs


def run_playbook(playbook: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a playbook of the collection against the scenario's hosts, as an operator would."""
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook, *args]
    env = dict(os.environ)
    env.setdefault("ANSIBLE_FORCE_COLOR", "false")
    env["ANSIBLE_NOCOLOR"] = "true"
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if check and result.returncode != 0:
        raise AssertionError("%s failed:\n%s\n%s" % (" ".join(command), result.stdout[-6000:], result.stderr[-3000:]))
    return result


@pytest.fixture(scope="session")
def playbook():
    return run_playbook


def read_yaml(host, path: str):
    return yaml.safe_load(host.file(path).content_string)
