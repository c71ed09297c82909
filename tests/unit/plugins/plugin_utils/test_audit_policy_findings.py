# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""policy_findings: provably shadowed rules and CIS Kubernetes Benchmark 3.2.2 coverage."""

from __future__ import annotations

import gc

import pytest
from audit_policy_helpers import policy, seed_policy

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError
from ansible_collections.k0rdent.audit.plugins.plugin_utils import _audit_policy_findings
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_findings import policy_findings

CIS_LOGGED = [
    "cis-3.2.2-pods-exec",
    "cis-3.2.2-pods-portforward",
    "cis-3.2.2-pods-proxy",
    "cis-3.2.2-services-proxy",
    "cis-3.2.2-pod-changes",
    "cis-3.2.2-deployment-changes",
]
CIS_METADATA = ["cis-3.2.2-secrets", "cis-3.2.2-configmaps", "cis-3.2.2-tokenreviews"]


def shadowed(*rules):
    """Indexes of the rules reported as shadowed."""
    found = [f for f in policy_findings(policy(*rules)) if f["category"] == "shadowed"]
    return [f["rule_index"] for f in found]


def cis_codes(*rules, **fields):
    return [f["code"] for f in policy_findings(policy(*rules, **fields)) if f["category"] == "cis"]


# ---------------------------------------------------------------------------------------------------------------
# The seed baseline


def test_seed_baseline_has_no_findings():
    seed = seed_policy()
    assert policy_findings(seed) == []


def test_findings_need_a_valid_policy():
    with pytest.raises(AuditPolicyError, match=r"^The audit policy is not valid: rules\[0\]\.level: required"):
        policy_findings(policy({"verbs": ["get"]}))


# ---------------------------------------------------------------------------------------------------------------
# Shadowing


def test_shadowed_message_and_shape():
    findings = policy_findings(
        policy({"level": "Metadata", "verbs": ["get"]}, {"level": "Metadata"}, {"level": "None", "verbs": ["get"]})
    )
    assert findings[0] == {
        "code": "shadowed-rule",
        "category": "shadowed",
        "rule_index": 2,
        "message": "rules[2] can never match: rules[0] matches every request it could (first match wins); move it "
        "before rules[0] or narrow rules[0].",
    }


def test_catch_all_shadows_everything_after_it():
    assert shadowed(
        {"level": "Metadata"}, {"level": "None", "users": ["a"]}, {"level": "None", "nonResourceURLs": ["/x"]}
    ) == [1, 2]


def test_only_the_first_shadowing_rule_is_named():
    findings = policy_findings(policy({"level": "None"}, {"level": "Metadata"}, {"level": "Request"}))
    messages = [f["message"] for f in findings if f["category"] == "shadowed"]
    assert messages[0].startswith("rules[1] can never match: rules[0] ")
    assert messages[1].startswith("rules[2] can never match: rules[0] ")


@pytest.mark.parametrize("field", ["users", "userGroups", "verbs", "namespaces"])
def test_selector_superset_shadows(field):
    assert shadowed({"level": "None", field: ["a", "b"]}, {"level": "Request", field: ["a"]}) == [1]


@pytest.mark.parametrize("field", ["users", "userGroups", "verbs", "namespaces"])
def test_selector_subset_does_not_shadow(field):
    assert shadowed({"level": "None", field: ["a"]}, {"level": "Request", field: ["a", "b"]}) == []


@pytest.mark.parametrize("field", ["users", "userGroups", "verbs", "namespaces"])
def test_empty_later_selector_is_only_covered_by_empty(field):
    assert shadowed({"level": "None", field: ["a"]}, {"level": "Request"}) == []
    assert shadowed({"level": "None"}, {"level": "Request", field: ["a"]}) == [1]


def test_user_groups_any_of_semantics():
    # Later matches users in group a; earlier matches users in a or b: covered.
    assert shadowed({"level": "None", "userGroups": ["a", "b"]}, {"level": "Request", "userGroups": ["a"]}) == [1]
    # Users and groups are different things: a users rule does not cover a group rule.
    assert shadowed({"level": "None", "users": ["a"]}, {"level": "Request", "userGroups": ["a"]}) == []


def test_all_selectors_must_cover():
    earlier = {"level": "None", "users": ["a"], "verbs": ["get"]}
    assert shadowed(earlier, {"level": "Request", "users": ["a"], "verbs": ["get"]}) == [1]
    assert shadowed(earlier, {"level": "Request", "users": ["a"], "verbs": ["list"]}) == []
    assert shadowed(earlier, {"level": "Request", "users": ["a"]}) == []


@pytest.mark.parametrize(
    ("earlier", "later", "expected"),
    [
        ({"group": "apps"}, {"group": "apps", "resources": ["deployments"]}, True),
        ({"group": "apps"}, {"group": "apps"}, True),
        ({"group": "apps"}, {"group": ""}, False),
        ({"group": "apps", "resources": ["*"]}, {"group": "apps"}, True),
        ({"group": "apps", "resources": ["deployments"]}, {"group": "apps"}, False),
        ({"group": "*"}, {"group": "apps", "resources": ["deployments"]}, True),
        ({"group": "*", "resources": ["pods"]}, {"group": "", "resources": ["pods"]}, True),
        ({"group": "", "resources": ["pods"]}, {"group": "*", "resources": ["pods"]}, False),
        ({"resources": ["pods"]}, {"resources": ["pods"], "resourceNames": ["a"]}, True),
        ({"resources": ["pods"], "resourceNames": ["a"]}, {"resources": ["pods"]}, False),
        ({"resources": ["pods"], "resourceNames": ["a", "b"]}, {"resources": ["pods"], "resourceNames": ["a"]}, True),
        ({"resources": ["pods"], "resourceNames": ["a"]}, {"resources": ["pods"], "resourceNames": ["a", "b"]}, False),
        ({"resources": ["pods"]}, {"resources": ["pods/log"]}, False),
        ({"resources": ["pods/*"]}, {"resources": ["pods", "pods/log", "pods/*"]}, True),
        ({"resources": ["*/status"]}, {"resources": ["pods/status", "nodes/status"]}, True),
        ({"resources": ["*/status"]}, {"resources": ["pods/*"]}, False),
        ({"resources": ["pods/log"]}, {"resources": ["*/log"]}, False),
        ({"resources": ["*"]}, {"resources": ["*", "pods/log", "*/x"]}, True),
        ({"resources": ["pods", "services"]}, {"resources": ["services", "pods"]}, True),
        ({"resources": ["pods"]}, {"resources": ["pods", "services"]}, False),
        ({"resources": ["pods/*"]}, {"resources": ["*"]}, False),
    ],
)
def test_resource_coverage(earlier, later, expected):
    rules = ({"level": "None", "resources": [earlier]}, {"level": "Request", "resources": [later]})
    assert shadowed(*rules) == ([1] if expected else [])


def test_every_later_entry_must_be_covered_possibly_by_different_entries():
    earlier = {"level": "None", "resources": [{"group": ""}, {"group": "apps", "resources": ["deployments"]}]}
    later_ok = {
        "level": "Request",
        "resources": [{"group": "", "resources": ["pods"]}, {"group": "apps", "resources": ["deployments"]}],
    }
    later_not = {"level": "Request", "resources": [{"group": "", "resources": ["pods"]}, {"group": "batch"}]}
    assert shadowed(earlier, later_ok) == [1]
    assert shadowed(earlier, later_not) == []


def test_rule_without_resources_covers_resource_rules_with_matching_namespaces():
    assert shadowed(
        {"level": "None", "namespaces": ["a"]},
        {"level": "Request", "namespaces": ["a"], "resources": [{"group": "apps"}]},
    ) == [1]
    assert (
        shadowed({"level": "None", "resources": [{"group": "apps"}]}, {"level": "Request", "namespaces": ["a"]}) == []
    )


def test_kinds():
    resource_rule = {"level": "None", "resources": [{"group": "*"}]}
    url_rule = {"level": "None", "nonResourceURLs": ["*"]}
    assert shadowed(resource_rule, {"level": "Request"}) == []
    assert shadowed(url_rule, {"level": "Request"}) == []
    assert shadowed(resource_rule, {"level": "Request", "nonResourceURLs": ["/x"]}) == []
    assert shadowed(url_rule, {"level": "Request", "resources": [{"group": ""}]}) == []
    assert shadowed(
        {"level": "None", "verbs": ["get"]}, {"level": "Request", "verbs": ["get"], "nonResourceURLs": ["/x"]}
    ) == [1]


@pytest.mark.parametrize(
    ("earlier", "later", "expected"),
    [
        (["*"], ["/x", "/y*", "*"], True),
        (["/healthz*"], ["/healthz", "/healthz/etcd", "/healthz*", "/healthz/*"], True),
        (["/healthz"], ["/healthz*"], False),
        (["/healthz"], ["/healthz"], True),
        (["/healthz/*"], ["/healthz"], False),
        (["/a*", "/b"], ["/b", "/a/x"], True),
        (["/a*"], ["*"], False),
        (["/a*"], ["/b"], False),
    ],
)
def test_url_coverage(earlier, later, expected):
    rules = ({"level": "None", "nonResourceURLs": earlier}, {"level": "Request", "nonResourceURLs": later})
    assert shadowed(*rules) == ([1] if expected else [])


def test_seed_like_rules_are_not_shadowed():
    rules = (
        {
            "level": "None",
            "verbs": ["get", "update"],
            "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}],
        },
        {"level": "Request", "verbs": ["get", "list", "watch"], "resources": [{"group": "coordination.k8s.io"}]},
        {"level": "RequestResponse", "resources": [{"group": "coordination.k8s.io"}]},
        {"level": "Metadata"},
    )
    assert shadowed(*rules) == []


# ---------------------------------------------------------------------------------------------------------------
# CIS 3.2.2


def test_everything_at_request_response_logs_secrets_too_much():
    findings = [f for f in policy_findings(policy({"level": "RequestResponse"})) if f["category"] == "cis"]
    assert [f["code"] for f in findings] == CIS_METADATA
    assert findings[0] == {
        "code": "cis-3.2.2-secrets",
        "category": "cis",
        "rule_index": 0,
        "message": "CIS 3.2.2: Secrets must be logged at Metadata level at most (their bodies are sensitive), but get "
        "secrets by an ordinary user is logged at RequestResponse by rules[0].",
    }


def test_request_level_is_above_metadata():
    assert cis_codes({"level": "Request", "resources": [{"resources": ["configmaps"]}]}, {"level": "Metadata"}) == [
        "cis-3.2.2-configmaps"
    ]


def test_level_none_everywhere_misses_the_logging_checks():
    findings = [f for f in policy_findings(policy({"level": "None"})) if f["category"] == "cis"]
    assert [f["code"] for f in findings] == CIS_LOGGED
    assert findings[0]["message"] == (
        "CIS 3.2.2: pods/exec must be logged, but create by an ordinary user is not (level None; decided by rules[0])."
    )
    assert findings[0]["rule_index"] == 0


def test_no_matching_rule():
    findings = policy_findings(policy({"level": "Metadata", "nonResourceURLs": ["*"]}))
    assert [f["code"] for f in findings] == CIS_LOGGED
    assert findings[-1]["rule_index"] is None
    assert findings[-1]["message"] == (
        "CIS 3.2.2: Deployment changes must be logged, but create by an ordinary user is not (no rule matches; "
        "decided by no rule)."
    )


def test_omitting_every_emitted_stage_counts_as_not_logged():
    all_long = ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    codes = cis_codes(
        {"level": "Metadata", "resources": [{"resources": ["pods/exec"]}], "omitStages": all_long},
        {"level": "Metadata"},
    )
    assert codes == ["cis-3.2.2-pods-exec"]
    message = policy_findings(policy({"level": "Metadata", "omitStages": all_long}))[0]["message"]
    assert "every stage such a request emits omitted" in message


def test_long_running_requests_still_emit_response_started():
    short = ["RequestReceived", "ResponseComplete"]
    codes = cis_codes({"level": "Metadata", "omitStages": short})
    assert codes == ["cis-3.2.2-pod-changes", "cis-3.2.2-deployment-changes"]


def test_policy_level_omit_stages_count():
    codes = cis_codes({"level": "Metadata"}, omitStages=["RequestReceived", "ResponseComplete", "ResponseStarted"])
    assert codes == CIS_LOGGED


def test_node_only_gap_is_found():
    rules = (
        {"level": "None", "userGroups": ["system:nodes"], "verbs": ["create"], "resources": [{"resources": ["pods"]}]},
        {"level": "Metadata"},
    )
    findings = [f for f in policy_findings(policy(*rules)) if f["category"] == "cis"]
    assert [f["code"] for f in findings] == ["cis-3.2.2-pod-changes"]
    assert findings[0]["message"] == (
        "CIS 3.2.2: Pod changes must be logged, but create by a node is not (level None; decided by rules[0])."
    )


def test_service_account_gap_is_found():
    rules = (
        {
            "level": "None",
            "userGroups": ["system:serviceaccounts"],
            "resources": [{"group": "apps", "resources": ["deployments"]}],
        },
        {"level": "Metadata"},
    )
    assert cis_codes(*rules) == ["cis-3.2.2-deployment-changes"]


def test_tokenreviews_are_cluster_scoped_create():
    rules = (
        {"level": "RequestResponse", "namespaces": [""], "resources": [{"group": "authentication.k8s.io"}]},
        {"level": "Metadata"},
    )
    assert cis_codes(*rules) == ["cis-3.2.2-tokenreviews"]


# ---------------------------------------------------------------------------------------------------------------
# resourceNames: [""] is valid (the API server accepts it) but worth a word


def test_empty_resource_name_is_advice():
    rule = {
        "level": "Metadata",
        "resources": [{"resources": ["pods"]}, {"resources": ["pods"], "resourceNames": ["a", ""]}],
    }
    found = [f for f in policy_findings(policy({"level": "None"}, rule)) if f["category"] == "advice"]
    assert found == [
        {
            "code": "empty-resource-name",
            "category": "advice",
            "rule_index": 1,
            "message": 'rules[1].resources[1].resourceNames has "", which matches only requests without an object '
            "name (a create, or a list or watch without fieldSelector=metadata.name); name the objects, or drop "
            "resourceNames to match every object.",
        }
    ]


def test_named_resources_are_no_advice():
    rule = {"level": "Metadata", "resources": [{"resources": ["pods"], "resourceNames": ["a"]}]}
    assert [f for f in policy_findings(policy(rule)) if f["category"] == "advice"] == []


# ---------------------------------------------------------------------------------------------------------------
# The index behind the shadowed-rule analysis (issue 15): the same answers as comparing every pair


def test_the_first_earlier_rule_that_covers_is_named():
    everyone = {"level": "None"}
    found = [
        f
        for f in policy_findings(
            policy({"level": "None", "users": ["a"]}, everyone, everyone, {"level": "Metadata", "users": ["b"]})
        )
        if f["category"] == "shadowed"
    ]
    assert [(f["rule_index"], f["message"].split(":")[1].split()[0]) for f in found] == [
        (2, "rules[1]"),
        (3, "rules[1]"),
    ]


def test_a_rule_too_broad_to_index_still_shadows():
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
    resources = [f"kind{number}" for number in range(40)]  # 8 verbs x 40 resources: more keys than the index files
    broad = {"level": "None", "verbs": verbs, "resources": [{"group": "", "resources": resources}]}
    assert len(verbs) * len(resources) > _audit_policy_findings._INDEX_LIMIT
    narrow = {"level": "Metadata", "verbs": ["get"], "resources": [{"group": "", "resources": ["kind7"]}]}
    other = {"level": "Metadata", "verbs": ["get"], "resources": [{"group": "", "resources": ["kind99"]}]}
    assert shadowed(broad, narrow, other) == [1]


def test_url_prefixes_are_found_at_any_length():
    assert shadowed(
        {"level": "None", "nonResourceURLs": ["/apis/custom-1*"]},
        {"level": "None", "nonResourceURLs": ["/apis/custom-10*"]},
        {"level": "None", "nonResourceURLs": ["/apis/custom-100", "/apis/custom-1/x"]},
        {"level": "None", "nonResourceURLs": ["/apis/custom-2"]},
        {"level": "None", "nonResourceURLs": ["*"]},
        {"level": "None", "nonResourceURLs": ["/anything"]},
    ) == [1, 2, 5]


def test_many_rules_after_a_catch_all_are_all_shadowed_by_it():
    per_user = [{"level": "None", "users": [f"user-{number}"]} for number in range(3000)]
    rules = [*per_user[:1500], {"level": "Metadata"}, *per_user[1500:]]
    found = [f for f in policy_findings(policy(*rules)) if f["category"] == "shadowed"]
    assert [f["rule_index"] for f in found] == list(range(1501, 3001))
    assert {f["message"].split(":")[1].split()[0] for f in found} == {"rules[1500]"}


def test_group_resource_and_names_keys_find_the_covering_entry():
    assert shadowed(
        {"level": "None", "resources": [{"group": "apps", "resources": ["deployments/*"]}]},
        {"level": "None", "resources": [{"group": "*", "resources": ["*/status"]}]},
        {"level": "None", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["a", "b"]}]},
        {"level": "None", "resources": [{"group": "apps", "resources": ["deployments/scale"]}]},
        {"level": "None", "resources": [{"group": "batch", "resources": ["jobs/status"]}]},
        {"level": "None", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["b"]}]},
        {"level": "None", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["c"]}]},
        {"level": "None", "resources": [{"group": "", "resources": ["configmaps"]}]},
    ) == [3, 4, 5]


# ---------------------------------------------------------------------------------------------------------------
# The garbage collector is held off during a review (issue 15), and left as it was


@pytest.fixture
def collector_on():
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was_enabled else gc.disable)()


def test_the_collector_is_off_during_a_review_and_on_again_after(collector_on, monkeypatch):
    seen = []
    review = _audit_policy_findings._review
    monkeypatch.setattr(
        _audit_policy_findings, "_review", lambda compiled: seen.append(gc.isenabled()) or review(compiled)
    )
    assert shadowed({"level": "Metadata"}, {"level": "None", "users": ["x"]}) == [1]
    assert seen == [False]
    assert gc.isenabled()


def test_the_collector_is_on_again_after_an_invalid_policy(collector_on):
    with pytest.raises(AuditPolicyError):
        policy_findings(policy({"level": "Loud"}))
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off(collector_on):
    gc.disable()
    assert shadowed({"level": "Metadata"}, {"level": "None", "users": ["x"]}) == [1]
    assert not gc.isenabled()


def test_a_review_leaves_no_garbage_cycles(collector_on):
    # A reference cycle per rule (a recursive closure did that) would cost a large policy a long collection.
    rules = [{"level": "Metadata", "resources": [{"resources": ["secrets"]}]}, {"level": "None", "users": ["x"]}]
    rules += [{"level": "Request", "users": [f"u{i}"], "resources": [{"resources": ["secrets"]}]} for i in range(50)]
    rules += [{"level": "None", "nonResourceURLs": [f"/p{i}/*"]} for i in range(50)]
    gc.collect()
    gc.disable()
    found = policy_findings(policy(*rules))
    assert len([f for f in found if f["category"] == "shadowed"]) == 50
    assert gc.collect() == 0
