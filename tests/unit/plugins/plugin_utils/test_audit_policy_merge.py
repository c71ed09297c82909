# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""merge_rules and the baseline data of the k0s_audit role."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from audit_policy_helpers import FIXTURES, seed_policy

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_merge import merge_rules
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import policy_errors

REPO = Path(__file__).resolve().parents[4]
BASELINE_FILE = REPO / "roles" / "k0s_audit" / "vars" / "main" / "baseline.yml"
BASELINE_NAMES = [
    "drop-kube-proxy-watches",
    "drop-node-reads-of-nodes",
    "drop-controller-endpoint-reads",
    "drop-apiserver-namespace-reads",
    "drop-leader-election-leases",
    "drop-hpa-metrics-reads",
    "drop-read-only-urls",
    "drop-events",
    "kubelet-status-updates",
    "node-status-updates",
    "namespace-controller-deletecollection",
    "sensitive-resources-metadata",
    "known-api-groups-read",
    "known-api-groups-default",
    "default-metadata",
]


@pytest.fixture
def baseline():
    return yaml.safe_load(BASELINE_FILE.read_text())["_k0s_audit_baseline_rules"]


@pytest.fixture(scope="module")
def seed_rules():
    return seed_policy()["rules"]


def rule(name=None, level="None", **fields):
    result = {"level": level, **fields}
    if name is not None:
        result = {"name": name, **result}
    return result


SMALL = [
    rule("a", users=["a"]),
    rule("b", verbs=["get"]),
    rule("catch-all", level="Metadata"),
]


# ---------------------------------------------------------------------------------------------------------------
# The baseline data


def test_baseline_file_holds_only_the_baseline_variable():
    assert list(yaml.safe_load(BASELINE_FILE.read_text())) == ["_k0s_audit_baseline_rules"]


def test_baseline_names_are_stable_kebab_case_and_unique(baseline):
    names = [item["name"] for item in baseline]
    assert names == BASELINE_NAMES
    assert all(name == name.lower() and " " not in name and "_" not in name for name in names)


def test_known_api_groups_markers(baseline):
    marked = [item["name"] for item in baseline if item.get("known_api_groups") is True]
    assert marked == ["known-api-groups-read", "known-api-groups-default"]


def test_baseline_renders_exactly_the_seed_rule_by_rule(baseline, seed_rules):
    merged = merge_rules(baseline)
    assert len(merged) == len(seed_rules) == 15
    for index, (ours, theirs) in enumerate(zip(merged, seed_rules)):
        assert ours == theirs, f"rules[{index}] differs from the seed"
        assert list(ours) == list(theirs), f"rules[{index}] key order differs from the seed"


def test_baseline_keeps_the_seed_comments():
    text = BASELINE_FILE.read_text()
    seed_text = (FIXTURES / "seed_baseline_policy.yaml").read_text()
    seed_comments = {line.split("#", 1)[1].strip() for line in seed_text.splitlines() if "#" in line}
    for comment in seed_comments:
        assert comment in text


def test_baseline_policy_is_valid(baseline):
    assert policy_errors({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": merge_rules(baseline)}) == []


def test_merge_does_not_modify_its_inputs(baseline):
    before = copy.deepcopy(baseline)
    prepend = [rule("p", users=["x"])]
    merge_rules(baseline, prepend=prepend, extra_api_groups=["cert-manager.io"], exclude=["drop-events"])
    assert baseline == before
    assert prepend == [rule("p", users=["x"])]


# ---------------------------------------------------------------------------------------------------------------
# Order


def test_order_prepend_baseline_append_catch_all():
    merged = merge_rules(SMALL, prepend=[rule("p", users=["p"])], append=[rule("q", users=["q"])])
    assert merged == [
        rule(users=["p"]),
        rule(users=["a"]),
        rule(verbs=["get"]),
        rule(users=["q"]),
        rule(level="Metadata"),
    ]


def test_several_trailing_catch_alls_stay_last():
    base = [rule("a", users=["a"]), rule("c1", level="Metadata", omitStages=["Panic"]), rule("c2", level="Request")]
    merged = merge_rules(base, append=[rule(users=["q"])])
    assert merged == [rule(users=["a"]), rule(users=["q"]), _strip(base[1]), _strip(base[2])]


def _strip(item):
    return {key: value for key, value in item.items() if key not in ("name", "known_api_groups")}


def test_catch_all_in_the_middle_is_not_moved():
    base = [rule("c", level="Metadata"), rule("a", users=["a"])]
    assert merge_rules(base, append=[rule(users=["q"])]) == [
        rule(level="Metadata"),
        rule(users=["a"]),
        rule(users=["q"]),
    ]


def test_without_trailing_catch_all_append_goes_last():
    merged = merge_rules(SMALL[:2], append=[rule(users=["q"])])
    assert merged[-1] == rule(users=["q"])


def test_rule_with_empty_selectors_is_a_catch_all():
    base = [rule("a", users=["a"]), rule("c", level="Metadata", users=[], verbs=None, omitStages=["Panic"])]
    assert merge_rules(base, append=[rule(users=["q"])])[-1]["level"] == "Metadata"


def test_excluding_the_catch_all_puts_append_last():
    merged = merge_rules(SMALL, append=[rule(users=["q"])], exclude=["catch-all"])
    assert merged == [rule(users=["a"]), rule(verbs=["get"]), rule(users=["q"])]


def test_baseline_append_lands_before_default_metadata(baseline):
    merged = merge_rules(baseline, append=[rule("mine", level="Request", users=["jane"])])
    assert merged[-2] == rule(level="Request", users=["jane"])
    assert merged[-1] == {"level": "Metadata", "omitStages": ["RequestReceived"]}


def test_list_of_lists_is_flattened_in_order():
    merged = merge_rules(
        [],
        prepend=[[rule(users=["1"])], [rule(users=["2"]), rule(users=["3"])]],
        append=[rule(users=["4"]), [rule(users=["5"])]],
    )
    assert [item["users"][0] for item in merged] == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("empty", [None, [], (), [[]], [[], []]])
def test_empty_additions(empty):
    assert merge_rules(SMALL, prepend=empty, append=empty, exclude=empty, extra_api_groups=empty) == [
        _strip(item) for item in SMALL
    ]


def test_key_order_is_kept():
    merged = merge_rules([{"verbs": ["get"], "name": "x", "level": "None", "users": ["u"]}])
    assert list(merged[0]) == ["verbs", "level", "users"]


def test_name_and_marker_stripped_from_additions():
    merged = merge_rules([], prepend=[{"name": "p", "known_api_groups": False, "level": "None"}])
    assert merged == [{"level": "None"}]


# ---------------------------------------------------------------------------------------------------------------
# exclude


def test_exclude_by_name(baseline):
    merged = merge_rules(baseline, exclude=["drop-events", "drop-read-only-urls"])
    assert len(merged) == 13
    assert {"level": "None", "resources": [{"group": "", "resources": ["events"]}]} not in merged


def test_exclude_list_of_lists(baseline):
    assert len(merge_rules(baseline, exclude=[["drop-events"], ["drop-events", "default-metadata"]])) == 13


def test_exclude_unknown_name_lists_known_names():
    with pytest.raises(AuditPolicyError) as info:
        merge_rules(SMALL, exclude=["b", "nope"])
    assert str(info.value) == 'exclude[1]: "nope" is not the name of a baseline rule; known names: a, b, catch-all'


def test_exclude_label_from_source_names():
    with pytest.raises(AuditPolicyError) as info:
        merge_rules(SMALL, exclude=[["a"], ["zz"]], source_names={"exclude": "k0s_audit_rules_exclude"})
    assert str(info.value).startswith('k0s_audit_rules_exclude[1][0]: "zz" is not the name of a baseline rule')


def test_exclude_non_string():
    with pytest.raises(
        AuditPolicyError, match=r"^exclude\[0\]: must be a baseline rule name \(a string\), not a mapping$"
    ):
        merge_rules(SMALL, exclude=[{"name": "a"}])


def test_excluding_everything_is_an_error():
    with pytest.raises(AuditPolicyError, match=r"^exclude: excluding every baseline rule and adding none"):
        merge_rules(SMALL, exclude=["a", "b", "catch-all"])


def test_empty_baseline_with_additions_only():
    assert merge_rules([], append=[rule(level="Metadata")]) == [rule(level="Metadata")]


def test_duplicate_baseline_names():
    with pytest.raises(AuditPolicyError) as info:
        merge_rules([rule("a"), rule("a", users=["x"])])
    assert str(info.value) == 'baseline[1].name: "a" is also the name of baseline[0]'


# ---------------------------------------------------------------------------------------------------------------
# extra_api_groups


def test_extra_api_groups_added_to_marked_rules_only(baseline):
    merged = merge_rules(baseline, extra_api_groups=["cert-manager.io", "apps", "cert-manager.io"])
    read, default = merged[12], merged[13]
    for item in (read, default):
        groups = [entry["group"] for entry in item["resources"]]
        assert groups[-1] == "cert-manager.io"
        assert groups.count("cert-manager.io") == 1
        assert groups.count("apps") == 1
        assert len(groups) == 36
    assert all(
        entry.get("group") != "cert-manager.io"
        for item in merged[:12] + merged[14:]
        for entry in item.get("resources", [])
    )


def test_extra_api_groups_list_of_lists_order():
    base = [rule("k", resources=[{"group": "apps"}], known_api_groups=True)]
    merged = merge_rules(base, extra_api_groups=[["b.io"], ["a.io"]])
    assert merged == [rule(resources=[{"group": "apps"}, {"group": "b.io"}, {"group": "a.io"}])]


def test_extra_api_groups_skip_group_present_with_resources():
    base = [rule("k", resources=[{"group": "apps", "resources": ["deployments"]}], known_api_groups=True)]
    assert merge_rules(base, extra_api_groups=["apps"]) == [
        rule(resources=[{"group": "apps", "resources": ["deployments"]}])
    ]


@pytest.mark.parametrize("group", ["Cert-Manager.io", "", "*", "apps/v1", "-x"])
def test_extra_api_groups_must_be_dns_subdomains(group):
    with pytest.raises(AuditPolicyError) as info:
        merge_rules(SMALL, extra_api_groups=[group], source_names={"extra_api_groups": "k0s_audit_extra_api_groups"})
    assert str(info.value).endswith("is not a lowercase DNS subdomain")
    assert str(info.value).startswith("k0s_audit_extra_api_groups[0]: ")


def test_extra_api_groups_non_string():
    with pytest.raises(
        AuditPolicyError, match=r"^extra_api_groups\[0\]: must be an API group name \(a string\), not the number 1$"
    ):
        merge_rules(SMALL, extra_api_groups=[1])


def test_known_api_groups_marker_needs_resources():
    with pytest.raises(AuditPolicyError) as info:
        merge_rules([rule("k", known_api_groups=True)])
    assert (
        str(info.value) == "baseline[0].known_api_groups: marks a rule that has no resources list to add API groups to"
    )


def test_known_api_groups_marker_must_be_boolean():
    with pytest.raises(
        AuditPolicyError, match=r'^baseline\[0\]\.known_api_groups: must be true or false, not the string "yes"$'
    ):
        merge_rules([rule("k", known_api_groups="yes", resources=[{"group": "apps"}])])


# ---------------------------------------------------------------------------------------------------------------
# Duplicates


def test_exact_duplicates_removed_first_kept():
    merged = merge_rules(SMALL, prepend=[rule(verbs=["get"])], append=[rule("again", users=["a"])])
    assert merged == [rule(verbs=["get"]), rule(users=["a"]), rule(level="Metadata")]


def test_near_duplicates_are_kept():
    merged = merge_rules(
        [], prepend=[rule(verbs=["get"]), rule(verbs=["get"], level="Metadata"), rule(verbs=["get", "list"])]
    )
    assert len(merged) == 3


def test_duplicate_detection_ignores_key_order():
    merged = merge_rules([], prepend=[{"level": "None", "verbs": ["get"]}, {"verbs": ["get"], "level": "None"}])
    assert merged == [{"level": "None", "verbs": ["get"]}]


# ---------------------------------------------------------------------------------------------------------------
# Validation of inputs


def test_documented_error_message():
    with pytest.raises(AuditPolicyError) as info:
        merge_rules([], prepend=[rule(), rule(resources=[{"group": "Apps"}])])
    assert str(info.value) == 'prepend[1].resources[0].group: "Apps" is not a lowercase DNS subdomain'


def test_all_errors_reported_with_labels(baseline):
    with pytest.raises(AuditPolicyError) as info:
        merge_rules(
            baseline,
            prepend=[rule("p", namespace=["x"])],
            append=[[rule(level="Loud")]],
            exclude=["nope"],
            extra_api_groups=["Bad"],
            source_names={
                "prepend": "k0s_audit_rules_prepend",
                "append": "k0s_audit_rules_append",
                "exclude": "k0s_audit_rules_exclude",
                "extra_api_groups": "k0s_audit_extra_api_groups",
            },
        )
    message = str(info.value)
    expected_starts = [
        'k0s_audit_rules_prepend[0].namespace: unknown field; did you mean "namespaces"?; ',
        'k0s_audit_rules_append[0][0].level: "Loud" is not valid; use one of None, Metadata, Request, '
        "RequestResponse; ",
        'k0s_audit_rules_exclude[0]: "nope" is not the name of a baseline rule; known names: drop-kube-proxy-watches, ',
        'default-metadata; k0s_audit_extra_api_groups[0]: "Bad" is not a lowercase DNS subdomain',
    ]
    position = 0
    for part in expected_starts:
        found = message.find(part, position)
        assert found >= position, part
        position = found + len(part)
    assert message.endswith('"Bad" is not a lowercase DNS subdomain')


def test_baseline_errors_use_baseline_label():
    with pytest.raises(AuditPolicyError, match=r"^_k0s_audit_baseline_rules\[0\]\.users: must be a list of strings"):
        merge_rules([rule("x", users="jane")], source_names={"baseline": "_k0s_audit_baseline_rules"})


def test_rule_must_be_mapping():
    with pytest.raises(AuditPolicyError) as info:
        merge_rules([], append=["level: None"])
    assert str(info.value) == 'append[0]: must be a mapping (one audit policy rule), not the string "level: None"'


@pytest.mark.parametrize("value", ["drop-events", {"level": "None"}, 5])
def test_inputs_must_be_lists(value):
    with pytest.raises(AuditPolicyError, match=r"^prepend: must be a list \(or a list of lists\), not "):
        merge_rules([], prepend=value)


def test_name_must_be_a_non_empty_string():
    with pytest.raises(AuditPolicyError, match=r"^prepend\[0\]\.name: must be a non-empty string, not the number 3$"):
        merge_rules([], prepend=[{"name": 3, "level": "None"}])


def test_star_group_needs_kubernetes_version():
    star = rule(resources=[{"group": "*", "resources": ["pods"]}])
    with pytest.raises(
        AuditPolicyError, match=r'^prepend\[0\]\.resources\[0\]\.group: "\*" \(any API group\) needs Kubernetes 1\.36'
    ):
        merge_rules([], prepend=[star])
    assert merge_rules([], prepend=[star], kubernetes_version="1.36") == [star]


def test_source_names_must_be_mapping():
    with pytest.raises(AuditPolicyError, match=r"^source_names: must be a mapping, not a list\.$"):
        merge_rules([], append=[rule()], source_names=["x"])
