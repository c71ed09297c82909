"""Check mode must predict exactly the changes the real run makes (same tasks changed on the same hosts)."""

from __future__ import annotations


def _converge_runs(runs, mode):
    return [run for run in runs if run["playbook"] == "converge.yml" and run["mode"] == mode]


def test_check_mode_predicts_the_converge(playbook_runs):
    checks, real = _converge_runs(playbook_runs, "check"), _converge_runs(playbook_runs, "run")
    assert checks, "no check-mode run of converge.yml was recorded"
    assert real, "no converge run was recorded"
    predicted = sorted(map(tuple, checks[0]["changed"]))
    made = sorted(map(tuple, real[0]["changed"]))
    assert predicted, "check mode predicted no change on a host that needed one"
    assert predicted == made


def test_second_converge_changes_nothing(playbook_runs):
    real = _converge_runs(playbook_runs, "run")
    assert len(real) >= 2, "the idempotence run was not recorded"
    assert real[1]["changed"] == []
