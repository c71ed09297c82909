# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The merge_audit_rules filter: a thin door into the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from audit_policy_helpers import seed_policy

from ansible_collections.k0rdent.audit.plugins.filter.merge_audit_rules import FilterModule

REPO = Path(__file__).resolve().parents[4]
merge_audit_rules = FilterModule().filters()["merge_audit_rules"]


@pytest.fixture(scope="module")
def baseline():
    return yaml.safe_load((REPO / "roles/k0s_audit/vars/main/baseline.yml").read_text())["_k0s_audit_baseline_rules"]


def test_registered_name():
    assert set(FilterModule().filters()) == {"merge_audit_rules"}


def test_baseline_alone_is_the_seed(baseline):
    seed = seed_policy()["rules"]
    assert merge_audit_rules(baseline) == seed


def test_role_call(baseline):
    merged = merge_audit_rules(
        baseline,
        prepend=[[{"name": "mine", "level": "None", "users": ["probe"]}]],
        append=[[], [{"level": "Request", "userGroups": ["auditors"]}]],
        exclude=[["drop-events"]],
        extra_api_groups=[["cert-manager.io"]],
        source_names={"prepend": "k0s_audit_rules_prepend", "append": "k0s_audit_rules_append"},
    )
    assert merged[0] == {"level": "None", "users": ["probe"]}
    assert merged[-2] == {"level": "Request", "userGroups": ["auditors"]}
    assert len(merged) == 16
    assert {"group": "cert-manager.io"} in merged[-3]["resources"]


def test_none_options_are_empty(baseline):
    assert merge_audit_rules(baseline, prepend=None, append=None, exclude=None, extra_api_groups=None) == (
        merge_audit_rules(baseline)
    )


def test_bad_input_raises_filter_error_naming_the_place(baseline):
    with pytest.raises(AnsibleFilterError) as info:
        merge_audit_rules(
            baseline,
            prepend=[{"level": "None"}, {"level": "None", "resources": [{"group": "Apps"}]}],
            source_names={"prepend": "k0s_audit_rules_prepend"},
        )
    assert info.value.message == (
        'merge_audit_rules: k0s_audit_rules_prepend[1].resources[0].group: "Apps" is not a lowercase DNS subdomain'
    )


def test_unknown_exclude_raises_filter_error(baseline):
    with pytest.raises(AnsibleFilterError, match=r'exclude\[0\]: "drop-everything" is not the name of a baseline rule'):
        merge_audit_rules(baseline, exclude=["drop-everything"])


def test_bad_kubernetes_version_raises_filter_error(baseline):
    with pytest.raises(AnsibleFilterError, match=r'kubernetes_version: "one" is not a Kubernetes version'):
        merge_audit_rules(baseline, kubernetes_version="one")


def test_star_group_with_kubernetes_version():
    rule = {"level": "None", "resources": [{"group": "*", "resources": ["events"]}]}
    assert merge_audit_rules([], prepend=[rule], kubernetes_version="v1.36.1") == [rule]


def test_keep_names_keeps_each_rules_name_first():
    from ansible_collections.k0rdent.audit.plugins.filter.merge_audit_rules import merge_audit_rules

    baseline = [
        {"name": "drop-events", "level": "None", "resources": [{"group": "", "resources": ["events"]}]},
        {"name": "default-metadata", "level": "Metadata"},
    ]
    named = merge_audit_rules(baseline, prepend=[{"level": "None", "users": ["u"]}], keep_names=True)
    assert [next(iter(rule)) for rule in named] == ["level", "name", "name"]
    assert [rule.get("name") for rule in named] == [None, "drop-events", "default-metadata"]
    assert [{k: v for k, v in rule.items() if k != "name"} for rule in named] == merge_audit_rules(
        baseline, prepend=[{"level": "None", "users": ["u"]}]
    )
