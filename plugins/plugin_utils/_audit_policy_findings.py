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

import typing as t
from collections.abc import Mapping

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import plain_data
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_match import (
    RULE_ANY,
    RULE_NON_RESOURCE,
    CompiledPolicy,
    CompiledRule,
    GroupResources,
)
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import cached_compile

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
    compiled = cached_compile(policy)
    findings: list[dict[str, t.Any]] = []
    rules = compiled.rules
    for later in rules:
        for earlier in rules[: later.index]:
            if _shadows(earlier, later):
                i, j = earlier.index, later.index
                findings.append(
                    {
                        "code": "shadowed-rule",
                        "category": "shadowed",
                        "rule_index": j,
                        "message": f"rules[{j}] can never match: rules[{i}] matches every request it could "
                        f"(first match wins); move it before rules[{i}] or narrow rules[{i}].",
                    }
                )
                break
    findings.extend(_empty_name_findings(policy))
    findings.extend(_cis_findings(compiled))
    return findings


def _empty_name_findings(policy: Mapping) -> list[dict[str, t.Any]]:
    """``resourceNames`` holding ``""``: valid, but it matches only requests without a name (checker.go)."""
    findings: list[dict[str, t.Any]] = []
    for index, rule in enumerate(plain_data(policy).get("rules") or []):
        for position, entry in enumerate(rule.get("resources") or []):
            names = entry.get("resourceNames") or []
            if "" in names:
                findings.append(
                    {
                        "code": "empty-resource-name",
                        "category": "advice",
                        "rule_index": index,
                        "message": f'rules[{index}].resources[{position}].resourceNames has "", which matches only '
                        "requests without an object name (a create, or a list or watch without "
                        "fieldSelector=metadata.name); "
                        "name the objects, or drop resourceNames to match every object.",
                    }
                )
    return findings
