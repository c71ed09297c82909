"""Messages name the inventory variable a bad rule came from when the role passes one label per list."""

from __future__ import annotations

import pytest

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_merge import merge_rules

BASELINE = [{"name": "default-metadata", "level": "Metadata"}]
NAMES = ["k0s_audit_rules_prepend", "k0s_audit_rules_prepend__site", "k0s_audit_rules_prepend__team"]


def test_a_bad_rule_in_a_suffixed_variable_is_named_by_that_variable():
    lists = [[{"level": "None", "users": ["a"]}], [], [{"level": "None"}, {"level": "Loud"}]]
    with pytest.raises(AuditPolicyError) as raised:
        merge_rules(BASELINE, prepend=lists, source_names={"prepend": NAMES})
    assert 'k0s_audit_rules_prepend__team[1].level: "Loud" is not valid' in str(raised.value)
    assert "[2][1]" not in str(raised.value)


def test_the_first_list_is_named_by_the_main_variable():
    with pytest.raises(AuditPolicyError) as raised:
        merge_rules(BASELINE, prepend=[[{"level": "Loud"}]], source_names={"prepend": NAMES[:1]})
    assert str(raised.value).startswith('k0s_audit_rules_prepend[0].level: "Loud" is not valid')


def test_lists_without_a_label_of_their_own_fall_back_to_indexes():
    with pytest.raises(AuditPolicyError) as raised:
        merge_rules(BASELINE, prepend=[[], [{"level": "Loud"}]], source_names={"prepend": NAMES[:1]})
    assert "k0s_audit_rules_prepend[1][0].level" in str(raised.value)


def test_unknown_exclude_in_a_suffixed_variable():
    with pytest.raises(AuditPolicyError) as raised:
        merge_rules(BASELINE, exclude=[[], ["no-such-rule"]], source_names={"exclude": ["x", "x__site"]})
    assert "no-such-rule" in str(raised.value)
