# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Property-based tests: round trips, no exceptions, agreement with a literal port of kube-apiserver's checker."""

from __future__ import annotations

import copy
from urllib.parse import quote

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_match import (
    RULE_NON_RESOURCE,
    RULE_RESOURCE,
    compile_policy,
)
from ansible_collections.k0rdent.audit.plugins.plugin_utils import _audit_policy_findings, _audit_policy_validate
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_findings import policy_findings
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_merge import merge_rules
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import evaluate, policy_errors

SETTINGS = settings(max_examples=150, deadline=None)

USERS = ["jane", "bob", "system:node:n1", ""]
USER_GROUPS = ["devs", "system:nodes", "system:authenticated"]
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
NAMESPACES = ["", "default", "kube-system", "team-a"]
API_GROUPS = ["", "apps", "batch"]
RESOURCES = ["pods", "deployments", "namespaces", "secrets"]
SUBRESOURCES = ["", "log", "status", "exec", "finalize"]
NAMES = ["", "a", "b", "team-a"]
PATTERNS = [
    "*",
    "pods",
    "pods/log",
    "pods/*",
    "*/status",
    "*/exec",
    "deployments",
    "namespaces",
    "secrets",
    "*/*",
    "namespaces/*",
]
URLS = ["/", "/healthz", "/healthz/etcd", "/version", "/metrics", "/api"]
URL_SPECS = ["*", "/", "/healthz*", "/healthz", "/version", "/h*", "/metrics"]
LEVELS = ["None", "Metadata", "Request", "RequestResponse"]
STAGES = ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]

# Any text but surrogates and control or line-break characters (PyYAML itself does not round-trip NEL, U+0085).
text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12)
url_path = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="*"), max_size=10
)
dns_label = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True)
dns_subdomain = st.lists(dns_label, min_size=1, max_size=3).map(".".join)


def maybe(strategy):
    return st.one_of(st.nothing(), strategy)


@st.composite
def rules(draw, words=None, groups=None, patterns=None, url_specs=None, names_pool=None):
    """A valid policy rule; with the small vocabulary by default so that random events hit it."""
    if words is None:
        words = {"users": USERS, "userGroups": USER_GROUPS, "verbs": VERBS, "namespaces": NAMESPACES}
    groups = st.sampled_from([*API_GROUPS, "*"]) if groups is None else groups
    patterns = st.sampled_from(PATTERNS) if patterns is None else patterns
    url_specs = st.sampled_from(URL_SPECS) if url_specs is None else url_specs
    # "" is a valid resource name: it matches requests without a name (checker.go hasString).
    names_pool = st.sampled_from(NAMES) if names_pool is None else names_pool
    rule = {"level": draw(st.sampled_from(LEVELS))}
    for key, pool in words.items():
        if draw(st.booleans()):
            rule[key] = draw(st.lists(pool if not isinstance(pool, list) else st.sampled_from(pool), max_size=3))
    kind = draw(st.sampled_from(["any", "resource", "url"]))
    if kind == "url":
        rule.pop("namespaces", None)
        rule["nonResourceURLs"] = draw(st.lists(url_specs, min_size=1, max_size=3))
    elif kind == "resource":
        entries = []
        for _unused in range(draw(st.integers(0, 3))):
            entry = {}
            if draw(st.booleans()):
                entry["group"] = draw(groups)
            if draw(st.booleans()):
                entry["resources"] = draw(st.lists(patterns, min_size=1, max_size=3))
                if draw(st.booleans()):
                    entry["resourceNames"] = draw(st.lists(names_pool, min_size=1, max_size=2))
            entries.append(entry)
        rule["resources"] = entries
    if draw(st.booleans()):
        rule["omitStages"] = draw(st.lists(st.sampled_from(STAGES), max_size=3, unique=True))
    if draw(st.booleans()):
        rule["omitManagedFields"] = draw(st.booleans())
    return rule


def policies(rule_strategy=None):
    return st.builds(
        lambda rs, omit: {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rs, "omitStages": omit},
        st.lists(rules() if rule_strategy is None else rule_strategy, min_size=1, max_size=8),
        st.lists(st.sampled_from(STAGES), max_size=2, unique=True),
    )


@st.composite
def events(draw):
    event = {"verb": draw(st.sampled_from(VERBS))}
    if draw(st.integers(0, 9)):
        event["user"] = {
            "username": draw(st.sampled_from(USERS)),
            "groups": draw(st.lists(st.sampled_from(USER_GROUPS), max_size=3)),
        }
    if draw(st.booleans()):
        ref = {
            "apiGroup": draw(st.sampled_from(API_GROUPS)),
            "resource": draw(st.sampled_from(RESOURCES)),
            "namespace": draw(st.sampled_from(NAMESPACES)),
            "name": draw(st.sampled_from(NAMES)),
        }
        subresource = draw(st.sampled_from(SUBRESOURCES))
        if subresource:
            ref["subresource"] = subresource
        for key in list(ref):
            if not draw(st.integers(0, 5)):
                del ref[key]
        event["objectRef"] = ref
    else:
        event["requestURI"] = draw(st.sampled_from(URLS)) + draw(st.sampled_from(["", "?timeout=32s", "/x"]))
    return event


# A literal port of k8s.io/apiserver pkg/audit/policy/checker.go ruleMatches (plus the 1.36 "*" group), kept
# deliberately naive so the compiled matcher can be checked against it.
def reference_matches(rule, event):
    user = event.get("user")
    username = (user or {}).get("username") or ""
    user_groups = (user or {}).get("groups") or []
    if rule.get("users") and (user is None or username not in rule["users"]):
        return False
    if rule.get("userGroups") and (user is None or not any(g in rule["userGroups"] for g in user_groups)):
        return False
    if rule.get("verbs") and (event.get("verb") or "") not in rule["verbs"]:
        return False
    ref = event.get("objectRef")
    if rule.get("namespaces") or rule.get("resources"):
        if ref is None:
            return False
        namespace = ref.get("namespace") or ""
        # requestinfo.go: only a Namespace's own path (get/update/patch/delete, status/finalize) is in itself.
        if (
            not namespace
            and not ref.get("apiGroup")
            and ref.get("resource") == "namespaces"
            and ref.get("name")
            and event.get("verb") in ("get", "update", "patch", "delete")
            and (ref.get("subresource") or "") in ("", "status", "finalize")
        ):
            namespace = ref["name"]
        if rule.get("namespaces") and namespace not in rule["namespaces"]:
            return False
        if not rule.get("resources"):
            return True
        group, resource = ref.get("apiGroup") or "", ref.get("resource") or ""
        subresource, name = ref.get("subresource") or "", ref.get("name") or ""
        combined = resource + "/" + subresource if subresource else resource
        for gr in rule["resources"]:
            if (gr.get("group") or "") == group or gr.get("group") == "*":
                if not gr.get("resources"):
                    return True
                for res in gr["resources"]:
                    if not gr.get("resourceNames") or name in gr["resourceNames"]:
                        if res == combined or res == "*":
                            return True
                        if subresource and res.startswith("*/") and subresource == res[2:]:
                            return True
                        if res.endswith("/*") and resource == res[:-2]:
                            return True
        return False
    if rule.get("nonResourceURLs"):
        if ref is not None:
            return False
        path = (event.get("requestURI") or "").split("?")[0]
        for spec in rule["nonResourceURLs"]:
            if spec == "*" or spec == path or (spec.endswith("*") and path.startswith(spec.rstrip("*"))):
                return True
        return False
    return True


@SETTINGS
@given(policies(), st.lists(events(), min_size=1, max_size=10))
def test_compiled_matcher_agrees_with_reference(policy, sample):
    compiled = compile_policy(policy)
    # Twice and as copies: the second time each decision comes from the compiled policy's result cache.
    for event in sample + sample + copy.deepcopy(sample):
        expected = next((i for i, rule in enumerate(policy["rules"]) if reference_matches(rule, event)), None)
        result = compiled.evaluate(event)
        assert result["rule_index"] == expected
        if expected is None:
            assert result["level"] == "None"
            assert result["omit_stages"] == sorted(policy["omitStages"])
        else:
            rule = policy["rules"][expected]
            assert result["level"] == rule["level"]
            assert result["omit_stages"] == sorted(set(policy["omitStages"]) | set(rule.get("omitStages", [])))


@SETTINGS
@given(policies(), st.lists(events(), min_size=1, max_size=10))
def test_shadowed_rules_never_decide(policy, sample):
    shadowed = {f["rule_index"] for f in policy_findings(policy) if f["category"] == "shadowed"}
    compiled = compile_policy(policy)
    for event in sample:
        assert compiled.evaluate(event)["rule_index"] not in shadowed
        for index in shadowed:
            # Stronger: whenever a shadowed rule would match, an earlier rule matches too.
            if reference_matches(policy["rules"][index], event):
                assert any(reference_matches(rule, event) for rule in policy["rules"][:index])


# Random well-formed events, including odd strings and missing parts, never make evaluate raise.
odd_events = st.fixed_dictionaries(
    {},
    optional={
        "user": st.fixed_dictionaries({}, optional={"username": text, "groups": st.lists(text, max_size=3)}),
        "verb": text,
        "requestURI": st.one_of(text, text.map(lambda s: "/" + quote(s))),
        "objectRef": st.fixed_dictionaries(
            {},
            optional={key: text for key in ("apiGroup", "apiVersion", "resource", "subresource", "namespace", "name")},
        ),
        "stage": st.sampled_from(STAGES),
    },
)


@SETTINGS
@given(policies(), st.lists(odd_events, min_size=1, max_size=10))
def test_audit_level_never_raises(policy, sample):
    for event in sample:
        result = evaluate(policy, event)
        assert set(result) == {"level", "rule_index", "omit_stages"}
        assert result["level"] in LEVELS
        assert result["rule_index"] is None or 0 <= result["rule_index"] < len(policy["rules"])


# Wide vocabulary for the round trip: any text in users/verbs/..., real DNS subdomains, any names.
wide_rules = rules(
    words={"users": text, "userGroups": text, "verbs": text, "namespaces": text},
    groups=st.one_of(st.just(""), dns_subdomain),
    patterns=st.one_of(st.sampled_from(PATTERNS), text),
    url_specs=st.one_of(st.just("*"), st.builds(lambda p, star: "/" + p + star, url_path, st.sampled_from(["", "*"]))),
    names_pool=text.filter(bool),
)


@st.composite
def named(draw, rule_strategy):
    return [{"name": f"rule-{i}", **rule} for i, rule in enumerate(draw(st.lists(rule_strategy, max_size=6)))]


@SETTINGS
@given(
    named(wide_rules),
    st.lists(wide_rules, max_size=4),
    st.lists(wide_rules, max_size=4),
    st.lists(dns_subdomain, max_size=3),
)
def test_merge_render_parse_round_trip(baseline, prepend, append, extra_groups):
    if baseline:
        baseline[-1] = {**baseline[-1], "known_api_groups": bool(baseline[-1].get("resources"))}
    if not (baseline or prepend or append):
        return
    merged = merge_rules(baseline, prepend=prepend, append=append, extra_api_groups=extra_groups)
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": merged}
    assert policy_errors(policy) == []
    rendered = yaml.safe_dump(policy, sort_keys=False, allow_unicode=True, width=1000)
    parsed = yaml.safe_load(rendered)
    assert parsed == policy
    assert policy_errors(parsed) == []
    # Merging is a pure function of its inputs: merging the parsed result again changes nothing.
    assert merge_rules(parsed["rules"]) == merged
    # Nothing is lost but exact duplicates and the merge-only keys.
    stripped = [{k: v for k, v in r.items() if k not in ("name", "known_api_groups")} for r in prepend + append]
    assert all(rule in merged for rule in stripped)


# The fast structure test and jsonschema must agree on every document, valid or not.
RULE_KEYS = ["level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages"]
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([*LEVELS, *STAGES, "x", ""]))
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from([*RULE_KEYS, "group", "resourceNames", "namespace", "rules"]), children, max_size=4
        ),
    ),
    max_leaves=12,
)


@st.composite
def mutated_rules(draw):
    rule = draw(rules())
    if draw(st.booleans()):
        rule[draw(st.sampled_from([*RULE_KEYS, "omitManagedFields", "namespace", "group"]))] = draw(json_value)
    return rule


@SETTINGS
@given(st.one_of(json_value, mutated_rules(), policies(mutated_rules())))
def test_fast_structure_check_agrees_with_jsonschema(document):
    for kind in ("rule", "policy"):
        fast_check, validator = _audit_policy_validate._validator(kind)
        assert fast_check(document) is validator.is_valid(document)


def test_fast_check_refuses_keywords_it_does_not_know():
    with pytest.raises(NotImplementedError, match="pattern"):
        _audit_policy_validate._fast_check({"type": "string", "pattern": "^a"}, {})


@SETTINGS
@given(st.one_of(json_value, policies(mutated_rules())), st.lists(events(), max_size=3))
def test_the_host_matcher_reads_whatever_full_validation_accepts(document, sample):
    """What the controller validates, the host compiles; what the host compiles, it evaluates without failing."""
    try:
        compiled = compile_policy(document)
    except AuditPolicyError:
        assert not isinstance(document, dict) or policy_errors(document, kubernetes_version="1.36") != []
        return
    for event in sample:
        assert compiled.evaluate(event)["level"] in ("None", "Metadata", "Request", "RequestResponse")


def pairwise_shadowed(rules):
    """The reference the index must agree with: every earlier rule compared with every later one."""
    pairs = []
    for later in rules:
        earlier = next((rule for rule in rules[: later.index] if _audit_policy_findings._shadows(rule, later)), None)
        if earlier is not None:
            pairs.append((earlier.index, later.index))
    return pairs


@SETTINGS
@given(st.lists(rules(), min_size=1, max_size=40))
def test_indexed_shadow_analysis_agrees_with_comparing_every_pair(rule_list):
    # The small vocabulary makes rules overlap often: most drawn lists have shadowed rules.
    compiled = compile_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rule_list})
    assert _audit_policy_findings._shadowed_pairs(compiled.rules) == pairwise_shadowed(compiled.rules)


class _EveryRule:
    """Stands in for the compiled policy's rule indexes: every rule of the right kind, as before there were any."""

    def __init__(self, skip_kind):
        self.skip_kind = skip_kind

    def rules_for(self, rules, *_request):
        return [rule for rule in rules if rule.kind != self.skip_kind]


ODD_RESOURCES = ["pods", "pods/log", "a/b", "", "*", "namespaces"]
ODD_PATHS = ["", "/", "/healthz", "/healthz/etcd", "/h", "/version*", "/metricsx", "*", "/a/b"]


@SETTINGS
@given(
    policies(rules(url_specs=st.sampled_from([*URL_SPECS, "**", "/version*", "/metrics*", "/a/b"]))),
    st.lists(
        st.tuples(
            st.sampled_from(VERBS),
            st.sampled_from([*API_GROUPS, "*"]),
            st.sampled_from(ODD_RESOURCES),
            st.sampled_from(SUBRESOURCES),
            st.sampled_from(ODD_PATHS),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_rule_indexes_find_what_walking_every_rule_finds(policy, requests):
    indexed = compile_policy(policy)
    walked = compile_policy(policy)
    walked._resource_index = _EveryRule(RULE_NON_RESOURCE)
    walked._path_index = _EveryRule(RULE_RESOURCE)

    def found(candidates):
        return [(*selectors, rule.index) for *selectors, rule in candidates]

    for verb, group, resource, subresource, path in requests:
        shape = (verb, group, resource, subresource)
        assert found(indexed._resource_candidates(*shape)) == found(walked._resource_candidates(*shape))
        assert found(indexed._path_candidates(verb, path)) == found(walked._path_candidates(verb, path))
