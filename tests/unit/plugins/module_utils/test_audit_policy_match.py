# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""evaluate / compile_policy: every matching corner of kube-apiserver's policy checker, matches and non-matches."""

from __future__ import annotations

import copy
from types import MappingProxyType

import pytest
from audit_policy_helpers import policy, seed_policy

from ansible_collections.k0rdent.audit.plugins.module_utils import _audit_policy_match
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_match import CompiledPolicy, compile_policy

JANE = {"username": "jane", "groups": ["devs", "system:authenticated"]}


def evaluate(policy, event):
    return compile_policy(policy).evaluate(event)


def resource_event(resource, verb="get", group="", subresource="", namespace="default", name="", user="jane"):
    user = JANE if user == "jane" else user
    ref = {"apiGroup": group, "apiVersion": "v1", "resource": resource, "namespace": namespace, "name": name}
    if subresource:
        ref["subresource"] = subresource
    event = {"verb": verb, "objectRef": ref}
    if user is not None:
        event["user"] = user
    return event


def url_event(uri, verb="get", user="jane"):
    user = JANE if user == "jane" else user
    event = {"verb": verb, "requestURI": uri}
    if user is not None:
        event["user"] = user
    return event


def matches(rule, event):
    """Whether ``rule`` (alone in a policy) matches ``event``."""
    return evaluate(policy(rule), event)["rule_index"] == 0


# ---------------------------------------------------------------------------------------------------------------
# Result shape, first match, stages


def test_first_match_wins():
    pol = policy({"level": "Request", "verbs": ["get"]}, {"level": "Metadata"})
    assert evaluate(pol, resource_event("pods")) == {"level": "Request", "rule_index": 0, "omit_stages": []}
    assert evaluate(pol, resource_event("pods", verb="list")) == {
        "level": "Metadata",
        "rule_index": 1,
        "omit_stages": [],
    }


def test_no_match_gives_level_none_and_policy_stages():
    pol = policy({"level": "Metadata", "verbs": ["delete"]}, omitStages=["ResponseStarted", "RequestReceived"])
    assert evaluate(pol, resource_event("pods")) == {
        "level": "None",
        "rule_index": None,
        "omit_stages": ["RequestReceived", "ResponseStarted"],
    }


def test_omit_stages_union_sorted():
    pol = policy(
        {"level": "Metadata", "omitStages": ["ResponseStarted", "RequestReceived"]},
        omitStages=["RequestReceived", "Panic"],
    )
    assert evaluate(pol, resource_event("pods"))["omit_stages"] == ["Panic", "RequestReceived", "ResponseStarted"]


def test_rule_level_none_is_a_match():
    assert evaluate(policy({"level": "None"}), resource_event("pods")) == {
        "level": "None",
        "rule_index": 0,
        "omit_stages": [],
    }


def test_result_is_a_fresh_dict():
    compiled = compile_policy(policy({"level": "Metadata", "omitStages": ["Panic"]}))
    first = compiled.evaluate(resource_event("pods"))
    first["omit_stages"].append("x")
    assert compiled.evaluate(resource_event("pods"))["omit_stages"] == ["Panic"]


# ---------------------------------------------------------------------------------------------------------------
# users, userGroups, verbs


def test_users_exact():
    rule = {"level": "None", "users": ["jane"]}
    assert matches(rule, resource_event("pods"))
    assert not matches(rule, resource_event("pods", user={"username": "Jane", "groups": []}))
    assert not matches(rule, resource_event("pods", user={"username": "jan", "groups": []}))


def test_users_no_wildcards():
    assert not matches({"level": "None", "users": ["*"]}, resource_event("pods"))
    assert not matches({"level": "None", "users": ["system:*"]}, resource_event("pods", user={"username": "system:x"}))


def test_user_groups_any_of_the_requests_groups():
    rule = {"level": "None", "userGroups": ["system:authenticated", "admins"]}
    assert matches(rule, resource_event("pods"))
    assert not matches(rule, resource_event("pods", user={"username": "jane", "groups": ["devs"]}))
    assert not matches(rule, resource_event("pods", user={"username": "jane"}))


def test_missing_user_never_matches_users_or_groups():
    assert not matches({"level": "None", "users": [""]}, resource_event("pods", user=None))
    assert not matches({"level": "None", "userGroups": ["system:unauthenticated"]}, resource_event("pods", user=None))
    assert matches({"level": "None"}, resource_event("pods", user=None))


def test_verbs_exact():
    rule = {"level": "None", "verbs": ["get", "watch"]}
    assert matches(rule, resource_event("pods", verb="watch"))
    assert not matches(rule, resource_event("pods", verb="list"))
    assert not matches(rule, resource_event("pods", verb="GET"))
    assert not matches({"level": "None", "verbs": ["*"]}, resource_event("pods"))


@pytest.mark.parametrize("empty", [[], None])
def test_empty_selectors_match_everything(empty):
    rule = {"level": "None", "users": empty, "userGroups": empty, "verbs": empty, "namespaces": empty}
    assert matches(rule, resource_event("pods"))
    assert matches(rule, url_event("/healthz"))


# ---------------------------------------------------------------------------------------------------------------
# Resource vs non-resource rules


def test_catch_all_matches_both_kinds():
    assert matches({"level": "None"}, resource_event("pods"))
    assert matches({"level": "None"}, url_event("/metrics"))


def test_resource_rule_never_matches_non_resource_request():
    assert not matches({"level": "None", "resources": [{"group": "*"}]}, url_event("/api/v1/pods"))
    assert not matches({"level": "None", "resources": [{"resources": ["*"]}]}, url_event("/apis"))


def test_namespaces_rule_only_matches_resource_requests():
    assert not matches({"level": "None", "namespaces": [""]}, url_event("/healthz"))
    assert matches({"level": "None", "namespaces": [""]}, resource_event("nodes", namespace=""))


def test_non_resource_rule_never_matches_resource_request():
    assert not matches({"level": "None", "nonResourceURLs": ["*"]}, resource_event("pods"))


# ---------------------------------------------------------------------------------------------------------------
# namespaces


def test_namespaces_exact():
    rule = {"level": "None", "namespaces": ["kube-system"]}
    assert matches(rule, resource_event("pods", namespace="kube-system"))
    assert not matches(rule, resource_event("pods", namespace="kube-public"))
    assert not matches(rule, resource_event("nodes", namespace=""))
    assert not matches({"level": "None", "namespaces": ["*"]}, resource_event("pods"))


def test_cluster_scoped_objects_have_empty_namespace():
    rule = {"level": "None", "namespaces": [""]}
    assert matches(rule, resource_event("nodes", namespace="", name="n1"))
    assert not matches(rule, resource_event("pods", namespace="default"))


def test_namespace_object_namespace_is_its_name():
    rule = {"level": "None", "namespaces": ["team-a"]}
    assert matches(rule, resource_event("namespaces", namespace="", name="team-a"))
    assert matches(rule, resource_event("namespaces", namespace="", name="team-a", subresource="status"))
    assert not matches(rule, resource_event("namespaces", namespace="", name="team-b"))
    # A list of namespaces has no name: it is cluster-scoped.
    assert not matches(rule, resource_event("namespaces", verb="list", namespace=""))
    assert matches({"level": "None", "namespaces": [""]}, resource_event("namespaces", verb="list", namespace=""))
    # The name of another cluster-scoped object is not a namespace.
    assert not matches({"level": "None", "namespaces": ["n1"]}, resource_event("nodes", namespace="", name="n1"))


@pytest.mark.parametrize("verb", ["get", "update", "patch", "delete"])
@pytest.mark.parametrize("subresource", ["", "status", "finalize"])
def test_a_namespace_addressed_by_its_own_path_is_in_itself(verb, subresource):
    # requestinfo.go: /api/v1/namespaces/X[/status|/finalize] sets the namespace to X.
    event = resource_event("namespaces", verb=verb, namespace="", name="team-a", subresource=subresource)
    assert matches({"level": "None", "namespaces": ["team-a"]}, event)
    assert not matches({"level": "None", "namespaces": [""]}, event)


@pytest.mark.parametrize("verb", ["list", "watch", "deletecollection", "create"])
def test_a_namespace_named_by_field_selector_is_cluster_scoped(verb):
    # requestinfo.go: a list or watch with fieldSelector=metadata.name=X gets the name X but no namespace.
    event = resource_event("namespaces", verb=verb, namespace="", name="team-a")
    assert not matches({"level": "None", "namespaces": ["team-a"]}, event)
    assert matches({"level": "None", "namespaces": [""]}, event)
    assert matches({"level": "None", "resources": [{"resources": ["namespaces"], "resourceNames": ["team-a"]}]}, event)


def test_only_core_namespaces_and_their_own_subresources_take_the_name():
    rule = {"level": "None", "namespaces": ["team-a"]}
    assert not matches(rule, resource_event("namespaces", group="example.com", namespace="", name="team-a"))
    assert not matches(rule, resource_event("namespaces", namespace="", name="team-a", subresource="other"))


def test_an_unnamed_request_matches_an_empty_resource_name():
    rule = {"level": "None", "resources": [{"resources": ["pods"], "resourceNames": [""]}]}
    assert matches(rule, resource_event("pods", verb="list"))
    assert matches(rule, resource_event("pods", verb="create"))
    assert not matches(rule, resource_event("pods", verb="get", name="web-0"))
    assert not matches(rule, resource_event("pods", verb="list", name="web-0"))


def test_namespace_object_with_namespace_set_keeps_it():
    rule = {"level": "None", "namespaces": ["team-a"]}
    assert matches(rule, resource_event("namespaces", namespace="team-a", name="team-a"))


def test_namespaces_and_resources_both_required():
    rule = {"level": "None", "namespaces": ["default"], "resources": [{"resources": ["pods"]}]}
    assert matches(rule, resource_event("pods"))
    assert not matches(rule, resource_event("pods", namespace="other"))
    assert not matches(rule, resource_event("services"))


# ---------------------------------------------------------------------------------------------------------------
# groups


def test_omitted_group_is_core_only():
    rule = {"level": "None", "resources": [{"resources": ["pods"]}]}
    assert matches(rule, resource_event("pods"))
    assert not matches(rule, resource_event("pods", group="metrics.k8s.io"))


def test_null_group_is_core():
    assert matches({"level": "None", "resources": [{"group": None}]}, resource_event("pods"))


def test_group_exact():
    rule = {"level": "None", "resources": [{"group": "apps"}]}
    assert matches(rule, resource_event("deployments", group="apps"))
    assert not matches(rule, resource_event("deployments", group="apps.example.com"))
    assert not matches(rule, resource_event("pods"))


def test_star_group_matches_any_group():
    rule = {"level": "None", "resources": [{"group": "*", "resources": ["pods"]}]}
    assert matches(rule, resource_event("pods"))
    assert matches(rule, resource_event("pods", group="metrics.k8s.io"))
    assert not matches(rule, resource_event("nodes", group="metrics.k8s.io"))


def test_group_without_resources_matches_every_resource_and_subresource():
    rule = {"level": "None", "resources": [{"group": "apps"}]}
    assert matches(rule, resource_event("deployments", group="apps", subresource="scale", name="d"))
    assert matches(
        {"level": "None", "resources": [{"group": "apps", "resources": []}]}, resource_event("x", group="apps")
    )


def test_missing_object_ref_fields_are_core_and_empty():
    assert matches({"level": "None", "resources": [{"group": ""}]}, {"verb": "get", "objectRef": {}})
    assert matches({"level": "None", "namespaces": [""]}, {"objectRef": {"resource": "nodes"}})


# ---------------------------------------------------------------------------------------------------------------
# resource patterns


@pytest.mark.parametrize(
    ("pattern", "resource", "subresource", "expected"),
    [
        ("*", "pods", "", True),
        ("*", "pods", "log", True),
        ("pods", "pods", "", True),
        ("pods", "pods", "log", False),
        ("pods", "services", "", False),
        ("pods/log", "pods", "log", True),
        ("pods/log", "pods", "", False),
        ("pods/log", "pods", "exec", False),
        ("pods/log", "nodes", "log", False),
        ("*/status", "pods", "status", True),
        ("*/status", "nodes", "status", True),
        ("*/status", "pods", "", False),
        ("*/status", "pods", "log", False),
        ("pods/*", "pods", "", True),
        ("pods/*", "pods", "log", True),
        ("pods/*", "pods", "exec", True),
        ("pods/*", "services", "proxy", False),
        ("pods/*", "podsx", "", False),
        ("*/*", "pods", "log", False),
        ("po*", "pods", "", False),
        ("Pods", "pods", "", False),
    ],
)
def test_resource_patterns(pattern, resource, subresource, expected):
    rule = {"level": "None", "resources": [{"group": "", "resources": [pattern]}]}
    assert matches(rule, resource_event(resource, subresource=subresource, name="x")) is expected


def test_several_entries_any_matches():
    rule = {
        "level": "None",
        "resources": [{"group": "", "resources": ["pods"]}, {"group": "apps", "resources": ["deployments"]}],
    }
    assert matches(rule, resource_event("deployments", group="apps"))
    assert not matches(rule, resource_event("deployments"))
    assert not matches(rule, resource_event("pods", group="apps"))


# ---------------------------------------------------------------------------------------------------------------
# resourceNames


def test_resource_names_compare_with_object_name():
    rule = {"level": "None", "resources": [{"resources": ["configmaps"], "resourceNames": ["kube-root-ca.crt"]}]}
    assert matches(rule, resource_event("configmaps", name="kube-root-ca.crt"))
    assert not matches(rule, resource_event("configmaps", name="other"))


@pytest.mark.parametrize("verb", ["list", "watch", "create", "deletecollection"])
def test_resource_names_never_match_an_empty_name(verb):
    rule = {"level": "None", "resources": [{"resources": ["configmaps"], "resourceNames": ["cm"]}]}
    assert not matches(rule, resource_event("configmaps", verb=verb, name=""))
    assert not matches(rule, {"verb": verb, "user": JANE, "objectRef": {"resource": "configmaps"}})


def test_list_with_field_selector_name_matches_resource_names():
    # kube-apiserver fills in the name from fieldSelector=metadata.name=cm; the event then carries it.
    rule = {"level": "None", "resources": [{"resources": ["configmaps"], "resourceNames": ["cm"]}]}
    assert matches(rule, resource_event("configmaps", verb="list", name="cm"))
    assert matches(rule, resource_event("configmaps", verb="watch", name="cm"))


def test_post_to_subresource_carries_the_name():
    rule = {"level": "None", "resources": [{"resources": ["pods/eviction"], "resourceNames": ["web-0"]}]}
    assert matches(rule, resource_event("pods", verb="create", subresource="eviction", name="web-0"))
    assert not matches(rule, resource_event("pods", verb="create", subresource="eviction", name="web-1"))


def test_resource_names_apply_to_every_pattern_of_the_entry():
    rule = {"level": "None", "resources": [{"resources": ["pods/*", "*/status"], "resourceNames": ["a"]}]}
    assert matches(rule, resource_event("pods", subresource="log", name="a"))
    assert matches(rule, resource_event("nodes", subresource="status", name="a"))
    assert not matches(rule, resource_event("pods", subresource="log", name="b"))


# ---------------------------------------------------------------------------------------------------------------
# nonResourceURLs


@pytest.mark.parametrize(
    ("spec", "uri", "expected"),
    [
        ("*", "/anything/at/all", True),
        ("*", "/", True),
        ("/healthz", "/healthz", True),
        ("/healthz", "/healthz/etcd", False),
        ("/healthz", "/healthzx", False),
        ("/healthz*", "/healthz", True),
        ("/healthz*", "/healthz/etcd", True),
        ("/healthz*", "/healthzzz", True),
        ("/healthz*", "/health", False),
        ("/healthz/*", "/healthz", False),
        ("/healthz/*", "/healthz/ping", True),
        ("/", "/", True),
        ("/", "/version", False),
        ("/*", "/version", True),
        ("/version", "/version?timeout=32s", True),
        ("/version", "/Version", False),
        ("/logs/a b", "/logs/a%20b", True),
    ],
)
def test_non_resource_urls(spec, uri, expected):
    assert matches({"level": "None", "nonResourceURLs": [spec]}, url_event(uri)) is expected


def test_non_resource_verb_is_lowercase_method():
    rule = {"level": "None", "verbs": ["get"], "nonResourceURLs": ["/version"]}
    assert matches(rule, url_event("/version", verb="get"))
    assert not matches(rule, url_event("/version", verb="head"))
    assert not matches(rule, url_event("/version", verb="post"))


def test_missing_request_uri_is_empty_path():
    assert not matches({"level": "None", "nonResourceURLs": ["/"]}, {"verb": "get"})
    assert matches({"level": "None", "nonResourceURLs": ["*"]}, {"verb": "get"})


# ---------------------------------------------------------------------------------------------------------------
# Robustness


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"user": {}},
        {"user": None, "objectRef": None},
        {"user": {"username": None, "groups": None}},
        {"user": {"groups": "not-a-list"}},
        {"objectRef": {"apiGroup": None, "resource": None, "subresource": None, "namespace": None, "name": None}},
        {"verb": None, "requestURI": None},
        {"stage": "ResponseComplete", "auditID": "x", "annotations": {}},
        {"user": "jane", "objectRef": "pods"},
    ],
)
def test_never_raises_on_sparse_events(event):
    result = evaluate(policy({"level": "None", "users": ["x"]}, {"level": "Metadata"}), event)
    assert result["level"] == "Metadata"


def test_event_must_be_a_mapping():
    with pytest.raises(AuditPolicyError, match=r"^event: must be a mapping shaped like an audit.k8s.io/v1 Event, not"):
        evaluate(policy({"level": "None"}), ["not", "an", "event"])


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            policy({"level": "Loud"}),
            'rules[0].level: must be one of None, Metadata, Request, RequestResponse, not the string "Loud"',
        ),
        (
            {**policy({"level": "None"}), "apiVersion": "audit.k8s.io/v1beta1"},
            'apiVersion: must be "audit.k8s.io/v1", not the string "audit.k8s.io/v1beta1"',
        ),
        (
            {**policy({"level": "None"}), "kind": "ClusterAuditPolicy"},
            'kind: must be "Policy", not the string "ClusterAuditPolicy"',
        ),
        (policy(), "rules: must be a non-empty list of rules, not a list"),
        ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy"}, "rules: must be a non-empty list of rules, not null"),
        (policy({"level": "None"}, omitStages=["Done"]), 'omitStages: "Done" is not a stage; use RequestReceived'),
        (
            policy({"level": "None"}, "not a rule"),
            "rules[1]: must be a mapping (one audit policy rule), not the string",
        ),
        (policy({"level": "None", "verbs": "get"}), 'rules[0].verbs: must be a list of strings, not the string "get"'),
        (
            policy({"level": "None", "users": ["a", 1]}),
            "rules[0].users: must be a list of strings, but holds the number 1",
        ),
        (policy({"level": "None", "omitStages": "Panic"}), "rules[0].omitStages: must be a list of strings"),
        (
            policy({"level": "None", "resources": {"group": ""}}),
            "rules[0].resources: must be a list of mappings, not a mapping",
        ),
        (
            policy({"level": "None", "resources": ["pods"]}),
            'rules[0].resources[0]: must be a mapping, not the string "pods"',
        ),
        (
            policy({"level": "None", "resources": [{"group": 1}]}),
            "rules[0].resources[0].group: must be a string, not the number 1",
        ),
        (
            policy({"level": "None", "resources": [{"resources": "pods"}]}),
            "rules[0].resources[0].resources: must be a list of strings",
        ),
        (
            policy({"level": "None", "resources": [{"resources": ["pods"], "resourceNames": [None]}]}),
            "rules[0].resources[0].resourceNames: must be a list of strings, but holds null",
        ),
    ],
)
def test_compile_names_the_first_field_the_matcher_cannot_read(document, problem):
    with pytest.raises(AuditPolicyError) as info:
        compile_policy(document)
    message = str(info.value)
    assert message.startswith("The audit policy is not valid: " + problem), message
    assert message.endswith("(the k0rdent.audit.audit_policy_errors filter lists every problem of a policy).")


def test_compile_checks_only_what_the_matcher_reads():
    # Unknown fields are the controller's concern (audit_policy_errors); the matcher reads past them.
    compiled = compile_policy(policy({"level": "Metadata", "namespace": ["x"]}, metadata={"name": "p"}))
    assert compiled.evaluate({"verb": "get"})["rule_index"] == 0


def test_compile_rejects_non_mapping():
    with pytest.raises(AuditPolicyError, match=r"^policy: must be a mapping"):
        compile_policy([])


def test_compile_accepts_star_group():
    assert isinstance(compile_policy(policy({"level": "None", "resources": [{"group": "*"}]})), CompiledPolicy)


def test_evaluate_sees_a_changed_policy():
    pol = policy({"level": "Metadata"})
    assert evaluate(pol, {})["level"] == "Metadata"
    pol["rules"][0]["level"] = "Request"
    assert evaluate(pol, {})["level"] == "Request"


# ---------------------------------------------------------------------------------------------------------------
# The seed baseline


@pytest.fixture(scope="module")
def seed():
    return compile_policy(seed_policy())


@pytest.mark.parametrize(
    ("event", "level", "index"),
    [
        (resource_event("endpoints", verb="watch", user={"username": "system:kube-proxy"}), "None", 0),
        (resource_event("endpoints", verb="list", user={"username": "system:kube-proxy"}), "Metadata", 14),
        (
            resource_event(
                "nodes", namespace="", name="n", user={"username": "system:node:n", "groups": ["system:nodes"]}
            ),
            "None",
            1,
        ),
        (
            resource_event("leases", verb="update", group="coordination.k8s.io", namespace="kube-system", name="l"),
            "None",
            4,
        ),
        (resource_event("leases", verb="delete", group="coordination.k8s.io", name="l"), "RequestResponse", 13),
        (url_event("/healthz/etcd"), "None", 6),
        (url_event("/version"), "None", 6),
        (url_event("/metrics"), "Metadata", 14),
        (resource_event("events", verb="create"), "None", 7),
        (resource_event("events", verb="create", group="events.k8s.io"), "Metadata", 14),
        (resource_event("secrets", name="s"), "Metadata", 11),
        (resource_event("tokenreviews", verb="create", group="authentication.k8s.io", namespace=""), "Metadata", 11),
        (resource_event("deployments", verb="list", group="apps"), "Request", 12),
        (resource_event("deployments", verb="patch", group="apps", name="d"), "RequestResponse", 13),
        (resource_event("clusterdeployments", verb="create", group="k0rdent.mirantis.com"), "RequestResponse", 13),
        (resource_event("pods", verb="create"), "Metadata", 14),
        (
            resource_event(
                "namespaces", verb="get", namespace="", name="kube-system", user={"username": "system:apiserver"}
            ),
            "None",
            3,
        ),
    ],
)
def test_seed_baseline_decisions(seed, event, level, index):
    result = seed.evaluate(event)
    assert (result["level"], result["rule_index"]) == (level, index)


# ---------------------------------------------------------------------------------------------------------------
# The per-request-shape candidate caches of CompiledPolicy (issue 15)


def test_a_full_shape_cache_starts_afresh_and_answers_the_same(monkeypatch):
    monkeypatch.setattr(_audit_policy_match, "_CACHE_LIMIT", 2)
    rules = [
        {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["pods"]}]},
        {"level": "None", "nonResourceURLs": ["/healthz*"]},
        {"level": "Metadata"},
    ]
    compiled = compile_policy(policy(*rules))
    sample = [resource_event(resource, verb) for resource in ("pods", "secrets", "nodes") for verb in ("get", "list")]
    sample += [url_event(uri) for uri in ("/healthz", "/healthz/etcd", "/version")]
    expected = [compile_policy(policy(*rules)).evaluate(event) for event in sample]
    assert [compiled.evaluate(event) for event in sample * 2] == expected * 2
    assert len(compiled._by_resource) <= 2 and len(compiled._by_path) <= 2 and len(compiled._by_object) <= 2


def test_names_of_every_entry_that_matches_the_resource_count():
    rule = {
        "level": "Request",
        "resources": [
            {"resources": ["pods"], "resourceNames": ["a"]},
            {"resources": ["pods/*"], "resourceNames": ["b"]},
        ],
    }
    assert [matches(rule, resource_event("pods", name=name)) for name in ("a", "b", "c")] == [True, True, False]
    rule["resources"].append({"resources": ["*"]})
    assert matches(rule, resource_event("pods", name="c"))


# ---------------------------------------------------------------------------------------------------------------
# The per-request result cache of CompiledPolicy (issue 15)

CACHE_RULES = [
    {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
    {"level": "Request", "userGroups": ["system:nodes"], "resources": [{"resources": ["nodes", "pods/status"]}]},
    {"level": "RequestResponse", "namespaces": ["kube-system"], "omitStages": ["RequestReceived"]},
    {"level": "Metadata", "resources": [{"resources": ["configmaps"], "resourceNames": ["a"]}]},
    {"level": "None", "nonResourceURLs": ["/healthz*"]},
    {"level": "Request", "users": [""]},
    {"level": "Metadata", "omitStages": ["Panic"]},
]


def cache_sample():
    """Requests that differ in one field each, so that a key missing any field gives a wrong answer."""
    node = {"username": "system:node:n1", "groups": ["system:nodes"]}
    proxy = {"username": "system:kube-proxy"}
    sample = []
    for user in (JANE, node, proxy, {}, None):
        for verb in ("get", "watch"):
            sample += [
                resource_event("nodes", verb, namespace="", user=user),
                resource_event("pods", verb, subresource="status", user=user),
                resource_event("pods", verb, subresource="log", user=user),
                resource_event("pods", verb, namespace="kube-system", user=user),
                resource_event("namespaces", verb, namespace="", name="kube-system", user=user),
                resource_event("configmaps", verb, name="a", user=user),
                resource_event("configmaps", verb, name="b", user=user),
                resource_event("configmaps", verb, group="apps", name="a", user=user),
                url_event("/healthz?x=1", verb, user=user),
                url_event("/version", verb, user=user),
            ]
    return sample


def uncached(rules, event):
    """The decision of a policy compiled afresh, so that nothing another request left in a cache can change it."""
    return compile_policy(policy(*rules)).evaluate(event)


def test_repeated_requests_answer_what_a_fresh_policy_answers():
    compiled = compile_policy(policy(*CACHE_RULES))
    sample = cache_sample()
    expected = [uncached(CACHE_RULES, event) for event in sample]
    assert len({(item["level"], item["rule_index"]) for item in expected}) >= 6
    assert [compiled.evaluate(event) for event in sample] == expected
    # The second pass comes from the cache; equal requests in new objects too.
    assert [compiled.evaluate(event) for event in sample] == expected
    assert [compiled.evaluate(copy.deepcopy(event)) for event in sample] == expected
    assert len(compiled._results) == len(sample)


def test_a_full_result_cache_starts_afresh_and_answers_the_same(monkeypatch):
    monkeypatch.setattr(_audit_policy_match, "_RESULT_LIMIT", 3)
    compiled = compile_policy(policy(*CACHE_RULES))
    sample = cache_sample()
    expected = [uncached(CACHE_RULES, event) for event in sample]
    assert [compiled.evaluate(event) for event in sample * 2] == expected * 2
    assert 1 <= len(compiled._results) <= 3


def test_a_cached_result_is_a_fresh_dict_each_time():
    compiled = compile_policy(policy(*CACHE_RULES))
    event = resource_event("pods", namespace="kube-system")
    first = compiled.evaluate(event)
    first["omit_stages"].append("x")
    first["level"] = "None"
    second = compiled.evaluate(event)
    assert second == {"level": "RequestResponse", "rule_index": 2, "omit_stages": ["RequestReceived"]}
    assert second is not compiled.evaluate(event)
    unmatched = compile_policy(policy({"level": "None", "verbs": ["x"]}, omitStages=["Panic"]))
    unmatched.evaluate(event)["omit_stages"].clear()
    assert unmatched.evaluate(event)["omit_stages"] == ["Panic"]


@pytest.mark.parametrize("order", [1, -1])
def test_values_equal_to_each_other_but_not_as_text_are_told_apart(order):
    # 1 == True == 1.0, but a user named by the number 1 is "1" (its text), not "True" or "1.0".
    compiled = compile_policy(policy({"level": "Request", "users": ["1"]}, {"level": "Metadata"}))
    cases = [("1", "Request"), (1, "Request"), (True, "Metadata"), (1.0, "Metadata")][::order]
    for name, level in cases * 2:
        assert compiled.evaluate({"user": {"username": name}, "verb": "get"})["level"] == level, name
    assert list(compiled._results) == [("1", None, "get", None)]


def test_unhashable_fields_are_decided_without_the_cache():
    compiled = compile_policy(policy({"level": "Request", "userGroups": ["['x']"]}, {"level": "Metadata"}))
    event = {"user": {"username": "jane", "groups": [["x"]]}, "verb": ["get"], "objectRef": {"resource": {}}}
    assert [compiled.evaluate(event)["level"] for _unused in range(2)] == ["Request", "Request"]
    assert compiled._results == {}


def test_a_missing_user_and_an_empty_user_are_different_requests():
    compiled = compile_policy(policy({"level": "Request", "users": [""]}, {"level": "Metadata"}))
    for _unused in range(2):
        assert compiled.evaluate(url_event("/x", user={}))["level"] == "Request"
        assert compiled.evaluate(url_event("/x", user=None))["level"] == "Metadata"
        assert compiled.evaluate(url_event("/x", user={"username": None, "groups": None}))["level"] == "Request"


def test_groups_as_a_list_a_tuple_or_something_else():
    compiled = compile_policy(policy({"level": "Request", "userGroups": ["devs"]}, {"level": "Metadata"}))
    for groups, level in ((["devs"], "Request"), (("devs",), "Request"), ("devs", "Metadata"), (None, "Metadata")):
        for _unused in range(2):
            assert compiled.evaluate(url_event("/x", user={"username": "j", "groups": groups}))["level"] == level


def test_other_mappings_than_dict_are_read_the_same():
    compiled = compile_policy(policy(*CACHE_RULES))
    sample = cache_sample()
    expected = [uncached(CACHE_RULES, event) for event in sample]

    def frozen(value):
        return (
            MappingProxyType({key: frozen(item) for key, item in value.items()}) if isinstance(value, dict) else value
        )

    assert [compiled.evaluate(frozen(event)) for event in sample * 2] == expected * 2


def test_a_resource_request_and_a_path_request_never_share_a_result():
    compiled = compile_policy(policy({"level": "Request", "resources": [{"group": "*"}]}, {"level": "Metadata"}))
    for _unused in range(2):
        assert compiled.evaluate({"verb": "get", "objectRef": {}})["level"] == "Request"
        assert compiled.evaluate({"verb": "get"})["level"] == "Metadata"
        assert compiled.evaluate({"verb": "get", "objectRef": "pods"})["level"] == "Metadata"


# ---------------------------------------------------------------------------------------------------------------
# The rule indexes of CompiledPolicy (issue 15): which rules a request's group and resource, or path, can meet

INDEX_RULES = [
    {"level": "Request", "resources": [{"group": "*", "resources": ["*"]}], "users": ["star-star"]},
    {"level": "Request", "resources": [{"group": "*"}], "users": ["star-any"]},
    {"level": "Request", "resources": [{"group": "*", "resources": ["*/status"]}], "users": ["star-sub"]},
    {"level": "Request", "resources": [{"group": "*", "resources": ["pods"]}], "users": ["star-pods"]},
    {"level": "Request", "resources": [{"group": "apps"}], "users": ["apps-any"]},
    {"level": "Request", "resources": [{"group": "apps", "resources": ["*"]}], "users": ["apps-star"]},
    {"level": "Request", "resources": [{"resources": ["a/b"]}], "users": ["slash"]},
    {"level": "Request", "resources": [{"resources": ["pods/*"]}], "users": ["pods-subs"]},
    {"level": "Request", "namespaces": ["team-a"], "users": ["namespace-only"]},
    {"level": "Request", "users": ["anything"]},
    {"level": "Request", "nonResourceURLs": ["**"], "users": ["url-empty-prefix"]},
    {"level": "Request", "nonResourceURLs": ["*"], "users": ["url-any"]},
    {"level": "Request", "nonResourceURLs": ["/healthz*", "/version"], "users": ["url-prefix"]},
    {"level": "Request", "nonResourceURLs": ["/version*"], "users": ["url-literal-star"]},
    {"level": "Metadata"},
]


@pytest.mark.parametrize(
    ("user", "event"),
    [
        ("star-star", resource_event("anything", group="x.io")),
        ("star-any", resource_event("anything", group="x.io", subresource="y")),
        ("star-sub", resource_event("nodes", group="x.io", subresource="status")),
        ("star-pods", resource_event("pods", group="x.io")),
        ("apps-any", resource_event("deployments", group="apps", subresource="scale")),
        ("apps-star", resource_event("deployments", group="apps")),
        ("slash", resource_event("a/b")),
        ("slash", resource_event("a", subresource="b")),
        ("pods-subs", resource_event("pods", subresource="log")),
        ("namespace-only", resource_event("secrets", namespace="team-a")),
        ("anything", resource_event("secrets")),
        ("anything", url_event("/x")),
        ("url-empty-prefix", url_event("")),
        ("url-any", url_event("/x")),
        ("url-prefix", url_event("/healthz")),
        ("url-prefix", url_event("/healthz/etcd?verbose")),
        ("url-prefix", url_event("/version")),
        ("url-literal-star", url_event("/version*")),
        ("url-literal-star", url_event("/versionx")),
    ],
)
def test_the_rule_indexes_find_every_kind_of_rule(user, event):
    event["user"] = {"username": user}
    compiled = compile_policy(policy(*INDEX_RULES))
    expected = next(index for index, rule in enumerate(INDEX_RULES) if rule.get("users") == [user])
    assert compiled.evaluate(event)["rule_index"] == expected
    # ... and the same event of another user falls through to the catch-all.
    event["user"] = {"username": "nobody"}
    assert compiled.evaluate(event)["rule_index"] == len(INDEX_RULES) - 1


def test_the_rule_indexes_leave_out_rules_of_other_groups_resources_and_paths():
    compiled = compile_policy(policy(*INDEX_RULES))
    met = [candidate[-1].index for candidate in compiled._resource_candidates("get", "", "secrets", "")]
    assert met == [0, 1, 8, 9, 14]
    met = [candidate[-1].index for candidate in compiled._path_candidates("get", "/metrics")]
    assert met == [9, 10, 11, 14]
