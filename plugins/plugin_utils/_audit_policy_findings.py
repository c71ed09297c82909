# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""PRIVATE to the k0rdent.audit collection: the names in ``__all__`` may change without notice.

Responsible for: reviewing a valid policy (:func:`policy_findings`): rules that can never match because an earlier
rule matches every request they could (first match wins, k8s.io/apiserver pkg/audit/policy/checker.go), the
requirements of CIS Kubernetes Benchmark 3.2.2 a policy does not meet, and advice.

May import: ``_audit_policy_validate``, ``plugins/module_utils/_audit_policy_match``,
``plugins/module_utils/_audit_policy_common`` and the Python standard library. Controller only.
"""

from __future__ import annotations

import heapq
import itertools
import math
import typing as t
from collections.abc import Mapping

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_match import (
    RULE_ANY,
    RULE_NON_RESOURCE,
    RULE_RESOURCE,
    CompiledPolicy,
    CompiledRule,
    GroupResources,
)
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import (
    cached_compile,
    collector_paused,
)

__all__ = ("policy_findings",)

# A request emits these stages (besides Panic); long-running ones (watch, proxy, exec, ...) also ResponseStarted
# (k8s.io/apiserver pkg/endpoints/filters/audit.go).
_SHORT_STAGES = frozenset(("RequestReceived", "ResponseComplete"))
_LONG_STAGES = frozenset(("RequestReceived", "ResponseStarted", "ResponseComplete"))


def _covers_selector(earlier: frozenset[str] | None, later: frozenset[str] | None) -> bool:
    return earlier is None or (later is not None and later <= earlier)


def _covers_pattern(patterns: frozenset[str], pattern: str) -> bool:
    if "*" in patterns or pattern in patterns:
        return True
    if pattern == "*" or pattern.startswith("*/") or pattern.endswith("/*"):
        return False
    resource, _sep, subresource = pattern.partition("/")
    if resource + "/*" in patterns:
        return True
    return bool(subresource) and "*/" + subresource in patterns


def _covers_entry(earlier: GroupResources, later: GroupResources, pattern: str | None) -> bool:
    """Whether ``earlier`` matches every request ``later`` matches (restricted to one of its patterns)."""
    if earlier.group != "*" and earlier.group != later.group:
        return False
    if earlier.patterns is None:
        return True
    if pattern is None:
        return False  # ``later`` matches every resource of its group; only a pattern-less or "*" entry covers that
    if earlier.names is not None and (later.names is None or not later.names <= earlier.names):
        return False
    return _covers_pattern(earlier.patterns, pattern)


def _covers_resources(earlier: CompiledRule, later: CompiledRule) -> bool:
    if not earlier.resources:
        return True
    if not later.resources:
        return False
    for entry in later.resources:
        if entry.patterns is None:
            star_entry = GroupResources({"group": entry.group, "resources": ["*"]})
            if not any(_covers_entry(other, star_entry, "*") for other in earlier.resources):
                return False
            continue
        for pattern in entry.patterns:
            if not any(_covers_entry(other, entry, pattern) for other in earlier.resources):
                return False
    return True


def _covers_url(urls: t.Iterable[str], url: str) -> bool:
    for spec in urls:
        if spec == "*" or spec == url:
            return True
        if spec.endswith("*") and url != "*" and url.rstrip("*").startswith(spec.rstrip("*")):
            return True
    return False


def _shadows(earlier: CompiledRule, later: CompiledRule) -> bool:
    """Conservative: True only if every request ``later`` could match is matched by ``earlier``."""
    if not (
        _covers_selector(earlier.users, later.users)
        and _covers_selector(earlier.user_groups, later.user_groups)
        and _covers_selector(earlier.verbs, later.verbs)
    ):
        return False
    if earlier.kind == RULE_ANY:
        return True
    if earlier.kind != later.kind:
        return False
    if earlier.kind == RULE_NON_RESOURCE:
        return all(_covers_url(earlier.url_exact, url) for url in later.url_exact)
    return _covers_selector(earlier.namespaces, later.namespaces) and _covers_resources(earlier, later)


# --------------------------------------------------------------------------------------------------------------
# An index of the rules seen so far, so that finding what shadows a rule does not compare it with every earlier one.
#
# A rule is filed under one key per combination of its "tokens" along each dimension below, None standing for
# "any value"; a later rule looks up, per dimension, None and the one token every rule covering it must carry
# (the rule that covers a later rule with users [a, b] lists a and b, or no users at all). The keys found hold a
# superset of the rules that can shadow it, in rule order; _shadows then decides, as a pairwise comparison would.

# Above this many keys a rule goes on a short list that every lookup scans instead (a rule with ten verbs on
# twenty resources in five namespaces would need 1,000 keys).
_INDEX_LIMIT = 256
_KIND_TOKEN = {RULE_RESOURCE: "R", RULE_NON_RESOURCE: "N"}


def _selector_tokens(values: frozenset[str] | None) -> list[str | None]:
    return [None] if values is None else sorted(values)


def _selector_lookup(values: frozenset[str] | None) -> list[str | None]:
    return [None] if values is None else [None, min(values)]


def _resource_part(pattern: str) -> str | None:
    """The resource a pattern is about, None for the patterns of any resource ("*", "*/subresource")."""
    return None if pattern == "*" or pattern.startswith("*/") else pattern.partition("/")[0]


def _index_tokens(rule: CompiledRule) -> list[list[t.Any]]:
    """Per dimension, the tokens ``rule`` is filed under when it is the earlier rule."""
    kind = [_KIND_TOKEN.get(rule.kind)]
    who = [_selector_tokens(rule.users), _selector_tokens(rule.user_groups), _selector_tokens(rule.verbs)]
    namespaces: list[t.Any] = [None]
    group_resources: set[t.Any] = {None}
    names: set[t.Any] = {None}
    urls: set[t.Any] = {None}
    if rule.kind == RULE_RESOURCE:
        namespaces = _selector_tokens(rule.namespaces)
        if rule.resources:
            group_resources, names = set(), set()
            for entry in rule.resources:
                group = None if entry.group == "*" else entry.group
                if entry.patterns is None:
                    group_resources.add((group, None))
                    names.add(None)
                    continue
                group_resources.update((group, _resource_part(pattern)) for pattern in entry.patterns)
                names.update([None] if entry.names is None else entry.names)
    elif rule.kind == RULE_NON_RESOURCE:
        urls = set()
        for url in rule.url_exact:
            if url == "*":
                urls.add(None)
            elif url.endswith("*"):
                urls.add(("prefix", url.rstrip("*")))
            else:
                urls.add(("exact", url))
    return [kind, *who, namespaces, *(sorted(tokens, key=repr) for tokens in (group_resources, names, urls))]


def _lookup_tokens(rule: CompiledRule) -> list[list[t.Any]]:
    """Per dimension, None and the token that every rule covering ``rule`` (the later rule) is filed under."""
    kind = [None] if rule.kind == RULE_ANY else [None, _KIND_TOKEN[rule.kind]]
    who = [_selector_lookup(rule.users), _selector_lookup(rule.user_groups), _selector_lookup(rule.verbs)]
    namespaces: list[t.Any] = [None]
    group_resources: list[t.Any] = [None]
    names: list[t.Any] = [None]
    urls: list[t.Any] = [None]
    if rule.kind == RULE_RESOURCE:
        namespaces = _selector_lookup(rule.namespaces)
        if rule.resources:
            entry = rule.resources[0]
            groups = [None] if entry.group == "*" else [entry.group, None]
            # The later entry's first pattern: "*", "*/x" or no patterns are covered only by an entry of any resource.
            part = None if entry.patterns is None else _resource_part(min(entry.patterns))
            parts = [None] if part is None else [part, None]
            group_resources = [None, *((group, resource) for group in groups for resource in parts)]
            if entry.patterns is not None and entry.names is not None:
                names = [None, min(entry.names)]
    elif rule.kind == RULE_NON_RESOURCE:
        url = min(rule.url_exact)
        if url != "*":
            stem = url.rstrip("*")
            urls = [None, ("exact", url), *(("prefix", stem[:length]) for length in range(len(stem) + 1))]
    return [kind, *who, namespaces, group_resources, names, urls]


class _ShadowIndex:
    """The rules seen so far, filed so that :meth:`candidates` finds every one that may shadow a later rule."""

    def __init__(self) -> None:
        self.root: dict[t.Any, t.Any] = {}
        self.broad: list[int] = []

    def add(self, rule: CompiledRule) -> None:
        dimensions = _index_tokens(rule)
        if math.prod(len(tokens) for tokens in dimensions) > _INDEX_LIMIT:
            self.broad.append(rule.index)
            return
        for key in itertools.product(*dimensions):
            node = self.root
            for token in key[:-1]:
                node = node.setdefault(token, {})
            node.setdefault(key[-1], []).append(rule.index)

    def candidates(self, rule: CompiledRule) -> t.Iterator[int]:
        """Indexes, ascending and without repeats, of a superset of the indexed rules that may shadow ``rule``."""
        # Level by level, without a recursive closure: one would be a reference cycle per rule, left for the
        # garbage collector (10,000 rules made 200,000 objects of such garbage).
        nodes: list[t.Any] = [self.root]
        for tokens in _lookup_tokens(rule):
            nodes = [child for node in nodes for child in map(node.get, tokens) if child is not None]
            if not nodes:
                break
        previous = -1
        for index in heapq.merge(self.broad, *nodes):
            if index != previous:
                previous = index
                yield index


def _shadowed_pairs(rules: tuple[CompiledRule, ...]) -> list[tuple[int, int]]:
    """``(i, j)`` for each rule j that can never match, i the first earlier rule that matches all it could."""
    pairs = []
    index = _ShadowIndex()
    for later in rules:
        for earlier in index.candidates(later):
            if _shadows(rules[earlier], later):
                pairs.append((earlier, later.index))
                break
        index.add(later)
    return pairs


_CIS_USERS: tuple[tuple[str, dict[str, t.Any]], ...] = (
    ("an ordinary user", {"username": "jane", "groups": ["developers", "system:authenticated"]}),
    (
        "a service account",
        {
            "username": "system:serviceaccount:default:app",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
        },
    ),
    ("a node", {"username": "system:node:worker-1", "groups": ["system:nodes", "system:authenticated"]}),
)
_READ_WRITE_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
_CHANGE_VERBS = ("create", "update", "patch", "delete")
_COLLECTION_VERBS = ("list", "watch", "create", "deletecollection")
# (code, what, group, resource, subresource, namespace, verbs, check); check "metadata-at-most" or "logged".
_CIS_CHECKS: tuple[tuple[str, str, str, str, str, str, tuple[str, ...], str], ...] = (
    ("cis-3.2.2-secrets", "Secrets", "", "secrets", "", "default", _READ_WRITE_VERBS, "metadata-at-most"),
    ("cis-3.2.2-configmaps", "ConfigMaps", "", "configmaps", "", "default", _READ_WRITE_VERBS, "metadata-at-most"),
    (
        "cis-3.2.2-tokenreviews",
        "TokenReviews",
        "authentication.k8s.io",
        "tokenreviews",
        "",
        "",
        ("create",),
        "metadata-at-most",
    ),
    ("cis-3.2.2-pods-exec", "pods/exec", "", "pods", "exec", "default", ("create", "get"), "logged"),
    (
        "cis-3.2.2-pods-portforward",
        "pods/portforward",
        "",
        "pods",
        "portforward",
        "default",
        ("create", "get"),
        "logged",
    ),
    ("cis-3.2.2-pods-proxy", "pods/proxy", "", "pods", "proxy", "default", ("get", "create"), "logged"),
    ("cis-3.2.2-services-proxy", "services/proxy", "", "services", "proxy", "default", ("get", "create"), "logged"),
    ("cis-3.2.2-pod-changes", "Pod changes", "", "pods", "", "default", _CHANGE_VERBS, "logged"),
    (
        "cis-3.2.2-deployment-changes",
        "Deployment changes",
        "apps",
        "deployments",
        "",
        "default",
        _CHANGE_VERBS,
        "logged",
    ),
)


def _cis_findings(compiled: CompiledPolicy) -> list[dict[str, t.Any]]:
    findings = []
    for code, what, group, resource, subresource, namespace, verbs, check in _CIS_CHECKS:
        stages = _LONG_STAGES if subresource else _SHORT_STAGES
        failure = None
        for who, user in _CIS_USERS:
            for verb in verbs:
                name = "" if verb in _COLLECTION_VERBS and not subresource else "example"
                ref = {
                    "apiGroup": group,
                    "apiVersion": "v1",
                    "resource": resource,
                    "namespace": namespace,
                    "name": name,
                }
                if subresource:
                    ref["subresource"] = subresource
                outcome = compiled.evaluate({"user": user, "verb": verb, "objectRef": ref})
                decided = f"rules[{outcome['rule_index']}]" if outcome["rule_index"] is not None else "no rule"
                if check == "metadata-at-most":
                    if outcome["level"] in ("Request", "RequestResponse"):
                        failure = (
                            outcome["rule_index"],
                            f"{what} must be logged at Metadata level at most (their bodies are sensitive), but "
                            f"{verb} {resource} by {who} is logged at {outcome['level']} by {decided}",
                        )
                elif outcome["level"] == "None" or stages <= set(outcome["omit_stages"]):
                    reason = "level None" if outcome["level"] == "None" else "every stage such a request emits omitted"
                    if outcome["rule_index"] is None:
                        reason = "no rule matches"
                    failure = (
                        outcome["rule_index"],
                        f"{what} must be logged, but {verb} by {who} is not ({reason}; decided by {decided})",
                    )
                if failure:
                    break
            if failure:
                break
        if failure:
            findings.append(
                {"code": code, "category": "cis", "rule_index": failure[0], "message": "CIS 3.2.2: " + failure[1] + "."}
            )
    return findings


def policy_findings(policy: Mapping) -> list[dict[str, t.Any]]:
    """Review a valid policy; return ``{"code", "category", "rule_index", "message"}`` dicts, empty if all is well.

    ``shadowed`` (code ``shadowed-rule``): a rule that can never match because an earlier rule matches every
    request it could match (first match wins). The test is conservative, so only provably dead rules are reported:
    each of the earlier rule's users, userGroups, verbs and namespaces is empty or a superset of the later rule's
    (which must then be non-empty); every group/resource pattern/resourceNames of the later rule is covered by one
    entry of the earlier rule; non-resource URLs are covered by an exact, prefix (``/x*``) or ``*`` entry; a rule
    with none of resources, namespaces, nonResourceURLs covers both kinds of request.

    ``cis`` (CIS Kubernetes Benchmark 3.2.2), one finding per requirement NOT met, found by evaluating synthetic
    requests in namespace ``default`` (TokenReviews cluster-scoped) from three representative users: an ordinary
    user, a service account and a member of ``system:nodes``. Secrets and ConfigMaps (all verbs) and TokenReviews
    (create) must be at ``None`` or ``Metadata``; pods/exec, pods/portforward, pods/proxy and services/proxy
    (get and create, which emit RequestReceived, ResponseStarted, ResponseComplete) and create/update/patch/delete
    of core pods and apps deployments (which emit RequestReceived and ResponseComplete) must be logged: a level
    other than None and not every emitted stage omitted. Other users (for example system components a policy
    deliberately silences) are not checked.

    Raises :class:`AuditPolicyError` when the policy is not valid.
    """
    with collector_paused():
        return _review(cached_compile(policy))


def _review(compiled: CompiledPolicy) -> list[dict[str, t.Any]]:
    findings: list[dict[str, t.Any]] = []
    for i, j in _shadowed_pairs(compiled.rules):
        findings.append(
            {
                "code": "shadowed-rule",
                "category": "shadowed",
                "rule_index": j,
                "message": f"rules[{j}] can never match: rules[{i}] matches every request it could "
                f"(first match wins); move it before rules[{i}] or narrow rules[{i}].",
            }
        )
    findings.extend(_empty_name_findings(compiled))
    findings.extend(_cis_findings(compiled))
    return findings


def _empty_name_findings(compiled: CompiledPolicy) -> list[dict[str, t.Any]]:
    """``resourceNames`` holding ``""``: valid, but it matches only requests without a name (checker.go)."""
    findings: list[dict[str, t.Any]] = []
    for rule in compiled.rules:
        for position, entry in enumerate(rule.resources):
            if entry.names is not None and "" in entry.names:
                findings.append(
                    {
                        "code": "empty-resource-name",
                        "category": "advice",
                        "rule_index": rule.index,
                        "message": f'rules[{rule.index}].resources[{position}].resourceNames has "", which matches '
                        "only requests without an object name (a create, or a list or watch without "
                        "fieldSelector=metadata.name); "
                        "name the objects, or drop resourceNames to match every object.",
                    }
                )
    return findings
