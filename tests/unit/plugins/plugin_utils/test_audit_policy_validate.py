# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""policy_errors: every validation rule of kube-apiserver, plus the mistakes it only warns about."""

from __future__ import annotations

import jsonschema
import pytest
from audit_policy_helpers import policy, seed_policy

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError, quote
from ansible_collections.k0rdent.audit.plugins.plugin_utils import _audit_policy_validate
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_schema import POLICY_SCHEMA, rule_schema
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import (
    compile_valid_policy,
    policy_errors,
)


def errors_of_rule(rule, **kwargs):
    return policy_errors(policy(rule), **kwargs)


def test_schemas_are_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(POLICY_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(rule_schema())


def test_seed_baseline_is_valid():
    seed = seed_policy()
    assert policy_errors(seed) == []


def test_minimal_policy_is_valid():
    assert policy_errors(policy({"level": "Metadata"})) == []


def test_all_fields_valid():
    full = policy(
        {
            "level": "RequestResponse",
            "users": ["jane"],
            "userGroups": ["devs"],
            "verbs": ["get"],
            "namespaces": ["default", ""],
            "resources": [
                {"group": "", "resources": ["pods", "pods/log"], "resourceNames": ["web-0"]},
                {"group": "apps"},
                {"resources": ["*"]},
            ],
            "omitStages": ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"],
            "omitManagedFields": True,
        },
        {"level": "None", "nonResourceURLs": ["*", "/healthz", "/api*", "/"]},
        metadata={"name": "x"},
        omitStages=["RequestReceived"],
        omitManagedFields=False,
    )
    assert policy_errors(full) == []


def test_null_lists_are_accepted_like_kube_apiserver():
    assert errors_of_rule({"level": "None", "users": None, "resources": [{"group": None, "resources": None}]}) == []


@pytest.mark.parametrize("value", [[], "x", 5, None, True])
def test_non_mapping_policy_gives_one_error(value):
    errors = policy_errors(value)
    assert len(errors) == 1
    assert errors[0].startswith("policy: must be a mapping with apiVersion, kind and rules, not ")


def test_non_mapping_policy_names_type():
    assert policy_errors("x") == ['policy: must be a mapping with apiVersion, kind and rules, not the string "x"']


def test_zero_rules_is_an_error():
    assert policy_errors(policy()) == [
        "rules: a policy needs at least one rule; kube-apiserver refuses to start without one"
    ]


def test_missing_top_level_fields():
    assert policy_errors({}) == [
        "apiVersion: required field is missing",
        "kind: required field is missing",
        "rules: required field is missing",
    ]


def test_rules_must_be_a_list():
    assert policy_errors({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": {"level": "None"}}) == [
        "rules: must be a list of mappings, not a mapping"
    ]


@pytest.mark.parametrize(
    ("api_version", "message"),
    [
        (
            "audit.k8s.io/v1beta1",
            'apiVersion: "audit.k8s.io/v1beta1" was removed in Kubernetes 1.24; use "audit.k8s.io/v1"',
        ),
        (
            "audit.k8s.io/v1alpha1",
            'apiVersion: "audit.k8s.io/v1alpha1" was removed in Kubernetes 1.24; use "audit.k8s.io/v1"',
        ),
        ("v1", 'apiVersion: "v1" is not supported; use "audit.k8s.io/v1"'),
        (1, "apiVersion: must be a string, not the number 1; use one of audit.k8s.io/v1"),
    ],
)
def test_api_version(api_version, message):
    assert policy_errors(policy({"level": "None"}, apiVersion=api_version)) == [message]


def test_kind():
    assert policy_errors(policy({"level": "None"}, kind="Polcy")) == ['kind: "Polcy" is not supported; use "Policy"']


def test_unknown_policy_field_suggests_nearest():
    assert policy_errors(policy({"level": "None"}, omitStage=["Panic"])) == [
        'omitStage: unknown field; did you mean "omitStages"?'
    ]


def test_unknown_policy_field_without_near_name_lists_fields():
    assert policy_errors(policy({"level": "None"}, spec={})) == [
        "spec: unknown field; valid fields are apiVersion, kind, metadata, rules, omitStages, omitManagedFields"
    ]


def test_misspelled_rule_field_suggests_nearest():
    errors = policy_errors(
        policy({"level": "None"}, {"level": "None"}, {"level": "None"}, {"level": "None", "namespace": ["x"]})
    )
    assert errors == ['rules[3].namespace: unknown field; did you mean "namespaces"?']


@pytest.mark.parametrize(
    ("field", "suggestion"),
    [
        ("user", "users"),
        ("groups", "userGroups"),
        ("verb", "verbs"),
        ("resource", "resources"),
        ("Level", "level"),
        ("nonResourceUrls", "nonResourceURLs"),
        ("omitstages", "omitStages"),
    ],
)
def test_rule_field_suggestions(field, suggestion):
    assert errors_of_rule({"level": "None", field: []}) == [
        f'rules[0].{field}: unknown field; did you mean "{suggestion}"?'
    ]


def test_misspelled_group_resources_field():
    assert errors_of_rule({"level": "None", "resources": [{"group": "apps", "resource": ["deployments"]}]}) == [
        'rules[0].resources[0].resource: unknown field; did you mean "resources"?'
    ]


def test_level_required():
    assert errors_of_rule({"verbs": ["get"]}) == [
        "rules[0].level: required field is missing; set one of None, Metadata, Request, RequestResponse"
    ]


@pytest.mark.parametrize("level", ["None", "Metadata", "Request", "RequestResponse"])
def test_valid_levels(level):
    assert errors_of_rule({"level": level}) == []


def test_level_wrong_case_suggests():
    assert errors_of_rule({"level": "metadata"}) == [
        'rules[0].level: "metadata" is not valid; use one of None, Metadata, Request, RequestResponse '
        '(did you mean "Metadata"?)'
    ]


def test_level_null_from_yaml():
    # YAML `level: null` (or an unquoted `~`) is not the level "None".
    assert errors_of_rule({"level": None}) == [
        "rules[0].level: must be a string, not null; use one of None, Metadata, Request, RequestResponse"
    ]


def test_omit_stages_values():
    assert errors_of_rule({"level": "None", "omitStages": ["RequestRecieved"]}) == [
        'rules[0].omitStages[0]: "RequestRecieved" is not valid; use one of RequestReceived, ResponseStarted, '
        'ResponseComplete, Panic (did you mean "RequestReceived"?)'
    ]
    assert policy_errors(policy({"level": "None"}, omitStages=["Nope"])) == [
        'omitStages[0]: "Nope" is not valid; use one of RequestReceived, ResponseStarted, ResponseComplete, Panic'
    ]


def test_string_where_list_expected():
    assert errors_of_rule({"level": "None", "users": "jane", "verbs": "get"}) == [
        'rules[0].users: must be a list of strings, not the string "jane"',
        'rules[0].verbs: must be a list of strings, not the string "get"',
    ]


def test_non_string_list_items():
    assert errors_of_rule({"level": "None", "userGroups": ["a", 1, True, None]}) == [
        "rules[0].userGroups[1]: must be a string, not the number 1",
        "rules[0].userGroups[2]: must be a string, not the boolean true",
        "rules[0].userGroups[3]: must be a string, not null",
    ]


def test_rule_must_be_mapping():
    assert policy_errors(policy("level: None")) == ['rules[0]: must be a mapping, not the string "level: None"']


def test_resources_entries_must_be_mappings():
    assert errors_of_rule({"level": "None", "resources": ["pods"]}) == [
        'rules[0].resources[0]: must be a mapping, not the string "pods"'
    ]


def test_omit_managed_fields_must_be_boolean():
    assert errors_of_rule({"level": "None", "omitManagedFields": "yes"}) == [
        'rules[0].omitManagedFields: must be true or false, not the string "yes"'
    ]


@pytest.mark.parametrize("url", ["*", "/", "/healthz", "/healthz*", "/api/v1*", "/a/b/c"])
def test_valid_non_resource_urls(url):
    assert errors_of_rule({"level": "None", "nonResourceURLs": [url]}) == []


def test_non_resource_url_must_start_with_slash():
    assert errors_of_rule({"level": "None", "nonResourceURLs": ["healthz"]}) == [
        'rules[0].nonResourceURLs[0]: "healthz" is not a valid non-resource URL; it must be "*" or a path starting '
        'with "/"'
    ]


def test_non_resource_url_empty_string():
    assert errors_of_rule({"level": "None", "nonResourceURLs": ["/ok", ""]}) == [
        'rules[0].nonResourceURLs[1]: "" is not a valid non-resource URL; it must be "*" or a path starting with "/"'
    ]


@pytest.mark.parametrize("url", ["/a*b", "/*/x", "/**", "**"])
def test_non_resource_url_inner_star(url):
    errors = errors_of_rule({"level": "None", "nonResourceURLs": [url]})
    assert f'rules[0].nonResourceURLs[0]: "{url}": "*" may only be the last character of a non-resource URL' in errors


def test_non_resource_url_both_problems():
    assert errors_of_rule({"level": "None", "nonResourceURLs": ["a*b"]}) == [
        'rules[0].nonResourceURLs[0]: "a*b" is not a valid non-resource URL; it must be "*" or a path starting '
        'with "/"',
        'rules[0].nonResourceURLs[0]: "a*b": "*" may only be the last character of a non-resource URL',
    ]


@pytest.mark.parametrize(
    ("extra", "which"),
    [
        ({"resources": [{"group": ""}]}, "resources"),
        ({"namespaces": ["default"]}, "namespaces"),
        ({"resources": [{"group": ""}], "namespaces": ["a"]}, "resources and namespaces"),
    ],
)
def test_non_resource_urls_with_resources_or_namespaces(extra, which):
    assert errors_of_rule({"level": "None", "nonResourceURLs": ["/x"], **extra}) == [
        f"rules[0].nonResourceURLs: a rule cannot have both nonResourceURLs and {which}; split it into two rules"
    ]


def test_non_resource_urls_with_empty_resources_is_fine():
    # kube-apiserver tests len(...) > 0, so empty lists do not count.
    assert errors_of_rule({"level": "None", "nonResourceURLs": ["/x"], "resources": [], "namespaces": []}) == []


@pytest.mark.parametrize("group", ["", "apps", "cert-manager.io", "a.b-c.d", "x" * 63 + ".io", "k0s.k0sproject.io"])
def test_valid_groups(group):
    assert errors_of_rule({"level": "None", "resources": [{"group": group}]}) == []


@pytest.mark.parametrize(
    "group",
    [
        "Apps",
        "apps/v1",
        "-apps",
        "apps-",
        "a..b",
        "a_b",
        ".apps",
        "apps.",
        "a" * 254,
        # Go's regexp "$" does not accept a trailing newline (Python's re "$" does).
        "example.com\n",
        "\napps",
        "apps\n\n",
        "apps ",
    ],
)
def test_invalid_groups(group):
    rules = [{"level": "None"}] * 12 + [{"level": "None", "resources": [{"group": group}]}]
    assert policy_errors(policy(*rules)) == [
        f"rules[12].resources[0].group: {quote(group)} is not a lowercase DNS subdomain"
    ]


def test_documented_example_message():
    rules = [{"level": "None"}] * 12 + [{"level": "None", "resources": [{"group": "Apps"}]}]
    assert policy_errors(policy(*rules)) == ['rules[12].resources[0].group: "Apps" is not a lowercase DNS subdomain']


def test_star_group_needs_1_36_by_default():
    assert errors_of_rule({"level": "None", "resources": [{"group": "*"}]}) == [
        'rules[0].resources[0].group: "*" (any API group) needs Kubernetes 1.36 or later; set the kubernetes_version '
        "option to your cluster's version if it is 1.36 or later, or list the groups"
    ]


@pytest.mark.parametrize("version", ["1.35", "v1.35.9", "1.24", "v1.30.0-rc.1"])
def test_star_group_refused_before_1_36(version):
    assert len(errors_of_rule({"level": "None", "resources": [{"group": "*"}]}, kubernetes_version=version)) == 1


@pytest.mark.parametrize("version", ["1.36", "v1.36.0", "1.36.2+k0s.0", "v1.40", "2.0", " 1.36 "])
def test_star_group_accepted_from_1_36(version):
    assert errors_of_rule({"level": "None", "resources": [{"group": "*"}]}, kubernetes_version=version) == []


@pytest.mark.parametrize(
    "version", ["abc", "1", "v1", "1.x", "", "latest", "1.36\nx", "\uff11.\uff13\uff16", "1.3\u0666"]
)
def test_bad_kubernetes_version_string(version):
    with pytest.raises(AuditPolicyError, match=r'^kubernetes_version: ".*" is not a Kubernetes version such as "1.31"'):
        policy_errors(policy({"level": "None"}), kubernetes_version=version)


def test_kubernetes_version_as_yaml_number():
    with pytest.raises(AuditPolicyError, match=r"^kubernetes_version: 1.3 is a number, not a version string; quote it"):
        policy_errors(policy({"level": "None"}), kubernetes_version=1.30)


def test_kubernetes_version_other_type():
    with pytest.raises(AuditPolicyError, match=r"^kubernetes_version: must be a version string .* not a list\.$"):
        policy_errors(policy({"level": "None"}), kubernetes_version=["1.31"])


def test_resource_names_need_resources():
    assert errors_of_rule({"level": "None", "resources": [{"group": "", "resourceNames": ["x"]}]}) == [
        "rules[0].resources[0].resourceNames: needs a non-empty resources list next to it; kube-apiserver rejects "
        "resourceNames alone"
    ]
    assert errors_of_rule({"level": "None", "resources": [{"resources": [], "resourceNames": ["x"]}]}) != []


def test_empty_resource_name_is_valid():
    # validation.go only requires resources beside resourceNames; "" matches requests without a name (checker.go).
    assert errors_of_rule({"level": "None", "resources": [{"resources": ["pods"], "resourceNames": ["a", ""]}]}) == []
    assert errors_of_rule({"level": "None", "resources": [{"resources": ["pods"], "resourceNames": [""]}]}) == []


def test_users_groups_verbs_are_not_validated():
    assert errors_of_rule({"level": "None", "users": ["*", "", "Jane Doe"], "verbs": ["GET", "*"]}) == []


def test_many_problems_all_reported_in_document_order():
    bad = policy(
        {"level": "metadata", "namespace": ["x"], "users": "alice"},
        {"lvl": "None"},
        5,
        apiVersion="audit.k8s.io/v1beta1",
    )
    assert policy_errors(bad) == [
        'apiVersion: "audit.k8s.io/v1beta1" was removed in Kubernetes 1.24; use "audit.k8s.io/v1"',
        'rules[0].level: "metadata" is not valid; use one of None, Metadata, Request, RequestResponse '
        '(did you mean "Metadata"?)',
        'rules[0].namespace: unknown field; did you mean "namespaces"?',
        'rules[0].users: must be a list of strings, not the string "alice"',
        "rules[1].level: required field is missing; set one of None, Metadata, Request, RequestResponse",
        'rules[1].lvl: unknown field; did you mean "level"?',
        "rules[2]: must be a mapping, not the number 5",
    ]


def test_tuples_and_mapping_subclasses_are_accepted():
    from collections import OrderedDict

    assert policy_errors(OrderedDict(policy(OrderedDict(level="None", verbs=("get",))))) == []


def test_missing_jsonschema_is_one_sentence(monkeypatch):
    monkeypatch.setattr(_audit_policy_validate, "HAS_JSONSCHEMA", False)
    monkeypatch.setattr(_audit_policy_validate, "_VALIDATORS", {})
    with pytest.raises(AuditPolicyError) as info:
        policy_errors(policy({"level": "None"}))
    assert str(info.value) == (
        "The jsonschema Python library is required to validate audit policies; install it on the Ansible controller "
        "(for example with pip install jsonschema)."
    )


def test_input_is_not_modified():
    rule = {"level": "None", "users": ("a",)}
    pol = policy(rule)
    policy_errors(pol)
    assert rule == {"level": "None", "users": ("a",)}


def test_compile_valid_policy_reports_every_problem_before_compiling():
    with pytest.raises(AuditPolicyError) as info:
        compile_valid_policy(policy({"level": "Loud"}, {"level": "None", "namespace": ["x"]}))
    assert str(info.value) == (
        'The audit policy is not valid: rules[0].level: "Loud" is not valid; use one of None, Metadata, Request, '
        'RequestResponse; rules[1].namespace: unknown field; did you mean "namespaces"?'
    )


def test_compile_valid_policy_refuses_a_non_mapping():
    with pytest.raises(
        AuditPolicyError, match=r"^policy: must be a mapping with apiVersion, kind and rules, not a list"
    ):
        compile_valid_policy([])
