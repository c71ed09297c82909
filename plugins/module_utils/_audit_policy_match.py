# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""PRIVATE to the k0rdent.audit collection: the names in ``__all__`` may change without notice.

Responsible for: matching requests against an audit.k8s.io/v1 policy the way kube-apiserver does
(k8s.io/apiserver pkg/audit/policy/checker.go, first matching rule wins) with the request attributes kube-apiserver
derives from a request (pkg/endpoints/request/requestinfo.go): :func:`compile_policy` and
:meth:`CompiledPolicy.evaluate`. The compiled rules (:class:`CompiledRule`, :class:`GroupResources`) are also what
the controller's findings reason about.

It checks only the shape it reads (types, levels, stages) and names the first problem; full validation, with
jsonschema, is the controller's (``plugins/plugin_utils/_audit_policy_validate.py``), so that modules can carry
this file to hosts that have no jsonschema.

May import: ``_audit_policy_common`` and the Python standard library.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from urllib.parse import unquote

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import (
    AUDIT_LEVELS,
    AUDIT_STAGES,
    AuditPolicyError,
    describe,
    quote,
)

__all__ = (
    "RULE_ANY",
    "RULE_NON_RESOURCE",
    "RULE_RESOURCE",
    "CompiledPolicy",
    "CompiledRule",
    "GroupResources",
    "compile_policy",
)

# What kind of request a rule can match: any (none of resources, namespaces, nonResourceURLs), only resource
# requests, only non-resource requests (checker.go ruleMatchesRequest / ruleMatchesResource / ruleMatchesNonResource).
RULE_ANY, RULE_RESOURCE, RULE_NON_RESOURCE = 0, 1, 2
_STRING_LIST_FIELDS = ("users", "userGroups", "verbs", "namespaces", "nonResourceURLs")
_FULL_CHECK = "the k0rdent.audit.audit_policy_errors filter lists every problem of a policy"
# Request shapes each cache of a compiled policy holds (a busy cluster's log shows a few hundred).
_CACHE_LIMIT = 4096
# Distinct requests (user, groups, verb, object or path) whose decision a compiled policy remembers.
_RESULT_LIMIT = 16384
# A resource request's key: user name, groups, verb, API group, resource, subresource, namespace, name; a
# non-resource request's key is user name, groups, verb, request URI.
_RESOURCE_KEY_LENGTH = 8
# The user name and groups of a request key without a user (unlike any value an event can hold).
_NO_USER = object()
if t.TYPE_CHECKING:  # annotations only: hosts may run a Python older than builtin generics at run time
    # (users, userGroups, namespaces, object names required or None, the rule) of a rule a request can meet.
    _Selector = t.Optional[t.FrozenSet[str]]
    _Candidate = tuple[_Selector, _Selector, _Selector, _Selector, "CompiledRule"]


class GroupResources:
    """One ``resources[]`` entry, pre-split into sets so matching does no string parsing."""

    __slots__ = ("any_parent_subs", "any_resource", "exact", "group", "names", "patterns", "with_subresources")

    def __init__(self, entry: Mapping) -> None:
        self.group: str = str(entry.get("group") or "")
        patterns = [str(pattern) for pattern in entry.get("resources") or ()]
        names = [str(name) for name in entry.get("resourceNames") or ()]
        self.patterns: frozenset[str] | None = frozenset(patterns) if patterns else None
        self.names: frozenset[str] | None = frozenset(names) if names and patterns else None
        self.any_resource = "*" in patterns
        self.exact = frozenset(patterns)
        self.any_parent_subs = frozenset(p[2:] for p in patterns if p.startswith("*/"))
        self.with_subresources = frozenset(p[:-2] for p in patterns if p.endswith("/*"))

    def matches_resource(self, resource: str, subresource: str, combined: str) -> bool:
        """checker.go ruleMatchesResource: "*", "resource", "resource/subresource", "resource/*", "*/subresource".

        The object name is tested apart, against :attr:`names` (None: any name; an entry without resources
        matches every resource of its group whatever its resourceNames, which validation refuses anyway).
        """
        return (
            self.patterns is None
            or self.any_resource
            or combined in self.exact
            or (bool(subresource) and subresource in self.any_parent_subs)
            or resource in self.with_subresources
        )


class CompiledRule:
    """A policy rule compiled for matching (sets, pre-split patterns) and for reasoning (shadowing)."""

    __slots__ = (
        "any_group",
        "by_group",
        "index",
        "kind",
        "level",
        "namespaces",
        "omit_stages",
        "resources",
        "url_any",
        "url_exact",
        "url_prefixes",
        "user_groups",
        "users",
        "verbs",
    )

    def __init__(self, index: int, rule: Mapping, policy_omit: frozenset[str]) -> None:
        def selector(key: str) -> frozenset[str] | None:
            values = rule.get(key) or ()
            return frozenset(map(str, values)) if values else None

        self.index = index
        self.level: str = str(rule["level"])
        self.omit_stages: tuple[str, ...] = tuple(
            sorted(policy_omit | frozenset(map(str, rule.get("omitStages") or ())))
        )
        self.users = selector("users")
        self.user_groups = selector("userGroups")
        self.verbs = selector("verbs")
        self.namespaces = selector("namespaces")
        self.resources = [GroupResources(entry) for entry in rule.get("resources") or []]
        urls = [str(url) for url in rule.get("nonResourceURLs") or ()]
        if self.namespaces is not None or self.resources:
            self.kind = RULE_RESOURCE
        elif urls:
            self.kind = RULE_NON_RESOURCE
        else:
            self.kind = RULE_ANY
        self.by_group: dict[str, list[GroupResources]] = {}
        self.any_group: list[GroupResources] = []
        for entry in self.resources:
            if entry.group == "*":
                self.any_group.append(entry)
            else:
                self.by_group.setdefault(entry.group, []).append(entry)
        self.url_any = "*" in urls
        self.url_exact = frozenset(urls)
        self.url_prefixes = tuple(sorted({url.rstrip("*") for url in urls if url.endswith("*") and url != "*"}))


def _string_list_problem(value: t.Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, (list, tuple)):
        return f"must be a list of strings, not {describe(value)}"
    for item in value:
        if not isinstance(item, str):
            return f"must be a list of strings, but holds {describe(item)}"
    return ""


def _stages_problem(value: t.Any) -> str:
    problem = _string_list_problem(value)
    if problem or value is None:
        return problem
    for stage in value:
        if stage not in AUDIT_STAGES:
            return f"{quote(stage)} is not a stage; use {', '.join(AUDIT_STAGES)}"
    return ""


def _rule_shape_problem(rule: t.Any) -> tuple[str, str]:
    """``(place within the rule, problem)`` for the first field the matcher could not read, or ``("", "")``."""
    if not isinstance(rule, Mapping):
        return "", f"must be a mapping (one audit policy rule), not {describe(rule)}"
    level = rule.get("level")
    if level not in AUDIT_LEVELS:
        return ".level", f"must be one of {', '.join(AUDIT_LEVELS)}, not {describe(level)}"
    for key in _STRING_LIST_FIELDS:
        problem = _string_list_problem(rule.get(key))
        if problem:
            return "." + key, problem
    problem = _stages_problem(rule.get("omitStages"))
    if problem:
        return ".omitStages", problem
    entries = rule.get("resources")
    if entries is None:
        return "", ""
    if not isinstance(entries, (list, tuple)):
        return ".resources", f"must be a list of mappings, not {describe(entries)}"
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            return f".resources[{position}]", f"must be a mapping, not {describe(entry)}"
        group = entry.get("group")
        if group is not None and not isinstance(group, str):
            return f".resources[{position}].group", f"must be a string, not {describe(group)}"
        for key in ("resources", "resourceNames"):
            problem = _string_list_problem(entry.get(key))
            if problem:
                return f".resources[{position}].{key}", problem
    return "", ""


def _shape_problem(policy: Mapping) -> str:
    """The first part of ``policy`` the matcher could not read, as ``place: problem``, or ``""``."""
    if policy.get("apiVersion") != "audit.k8s.io/v1":
        return f'apiVersion: must be "audit.k8s.io/v1", not {describe(policy.get("apiVersion"))}'
    if policy.get("kind") != "Policy":
        return f'kind: must be "Policy", not {describe(policy.get("kind"))}'
    problem = _stages_problem(policy.get("omitStages"))
    if problem:
        return "omitStages: " + problem
    rules = policy.get("rules")
    if not isinstance(rules, (list, tuple)) or not rules:
        # k8s.io/apiserver pkg/apis/audit/validation/validation.go: a policy without rules is refused.
        return f"rules: must be a non-empty list of rules, not {describe(rules)}"
    for index, rule in enumerate(rules):
        place, problem = _rule_shape_problem(rule)
        if problem:
            return f"rules[{index}]{place}: {problem}"
    return ""


class CompiledPolicy:
    """A policy prepared for fast, repeated :meth:`evaluate` calls.

    The rules a request can meet are found once per request "shape" and cached: per verb, API group, resource and
    subresource for a resource request, per verb and path for a non-resource request. Each candidate then only
    needs the user, namespace and object name tested. The caches hold at most ``_CACHE_LIMIT`` shapes each and
    start afresh when full. The decision for a whole request (every field a rule can look at, all of them text)
    is remembered too, for at most ``_RESULT_LIMIT`` distinct requests, so that a repeated request costs one
    lookup.
    """

    __slots__ = (
        "_by_object",
        "_by_path",
        "_by_resource",
        "_path_index",
        "_resource_index",
        "_results",
        "omit_stages",
        "rules",
    )

    def __init__(self, policy: Mapping) -> None:
        """Compile ``policy``; raises :class:`AuditPolicyError` naming the first field the matcher cannot read."""
        if not isinstance(policy, Mapping):
            raise AuditPolicyError(
                f"policy: must be a mapping with apiVersion, kind and rules, not {describe(policy)}."
            )
        problem = _shape_problem(policy)
        if problem:
            raise AuditPolicyError(f"The audit policy is not valid: {problem} ({_FULL_CHECK}).")
        policy_omit = frozenset(map(str, policy.get("omitStages") or ()))
        self.omit_stages: tuple[str, ...] = tuple(sorted(policy_omit))
        self.rules: tuple[CompiledRule, ...] = tuple(
            CompiledRule(index, rule, policy_omit) for index, rule in enumerate(policy["rules"])
        )
        self._by_resource: dict[tuple[str, str, str, str], tuple[_Candidate, ...]] = {}
        self._by_path: dict[tuple[str, str], tuple[_Candidate, ...]] = {}
        # Per API group, resource and subresource (any verb): what _by_resource's shapes are filtered from.
        self._by_object: dict[tuple[str, str, str], tuple[tuple[frozenset[str] | None, _Candidate], ...]] = {}
        self._results: dict[tuple, tuple[str, int | None, tuple[str, ...]]] = {}
        # Built on first use: which rules can meet a request of an API group and resource, or of a path.
        self._resource_index: _ResourceIndex | None = None
        self._path_index: _PathIndex | None = None

    def _resource_candidates(
        self, verb: str, api_group: str, resource: str, subresource: str
    ) -> tuple[_Candidate, ...]:
        """The rules a resource request of this shape can meet, with the object names each then requires."""
        shape = (api_group, resource, subresource)
        found = self._by_object.get(shape)
        if found is None:
            found = _remember(self._by_object, shape, self._object_candidates(*shape), _CACHE_LIMIT)
        return tuple(candidate for verbs, candidate in found if verbs is None or verb in verbs)

    def _object_candidates(
        self, api_group: str, resource: str, subresource: str
    ) -> tuple[tuple[frozenset[str] | None, _Candidate], ...]:
        """``(verbs required or None, candidate)`` for each rule a request of any verb on this object can meet."""
        combined = resource + "/" + subresource if subresource else resource
        if self._resource_index is None:
            self._resource_index = _ResourceIndex(self.rules)
        found = []
        for rule in self._resource_index.rules_for(self.rules, api_group, resource):
            names: frozenset[str] | None = None
            if rule.resources:
                entries = [
                    entry
                    for entry in (*rule.by_group.get(api_group, ()), *rule.any_group)
                    if entry.matches_resource(resource, subresource, combined)
                ]
                if not entries:
                    continue
                if all(entry.names is not None for entry in entries):
                    names = frozenset().union(*(entry.names for entry in entries))
            found.append((rule.verbs, (rule.users, rule.user_groups, rule.namespaces, names, rule)))
        return tuple(found)

    def _path_candidates(self, verb: str, path: str) -> tuple[_Candidate, ...]:
        """The rules a non-resource request of this verb and path can meet."""
        if self._path_index is None:
            self._path_index = _PathIndex(self.rules)
        found = []
        for rule in self._path_index.rules_for(self.rules, path):
            if rule.verbs is not None and verb not in rule.verbs:
                continue
            if rule.kind == RULE_NON_RESOURCE and not (
                rule.url_any or path in rule.url_exact or any(path.startswith(prefix) for prefix in rule.url_prefixes)
            ):
                continue
            found.append((rule.users, rule.user_groups, None, None, rule))
        return tuple(found)

    def evaluate(self, event: Mapping) -> dict[str, t.Any]:
        """Return ``{"level", "rule_index", "omit_stages"}`` for an audit.k8s.io/v1 Event-shaped mapping.

        The first matching rule decides. Without a match the level is ``"None"`` (as in kube-apiserver), the
        rule_index None and omit_stages the policy's. A request with an ``objectRef`` mapping is a resource
        request; any other is a non-resource request whose path is ``requestURI`` without its query string,
        percent-decoded. A missing ``user`` means an unauthenticated request: rules with users or userGroups do
        not match it. Optional fields may be missing; this never raises on a mapping. Each call returns a new
        dict with a new list, which the caller may change.
        """
        # dict first: dicts (what JSON and YAML give) skip the slower Mapping check.
        if not isinstance(event, (dict, Mapping)):
            raise AuditPolicyError(
                f"event: must be a mapping shaped like an audit.k8s.io/v1 Event, not {describe(event)}."
            )
        # The request key holds every field a rule can look at, as the event gives them (normalised only when
        # the key is new): user name, groups, verb, then the object reference's API group, resource,
        # subresource, namespace and name, or the request URI.
        user = event.get("user")
        if isinstance(user, (dict, Mapping)):
            username = user.get("username")
            groups = user.get("groups")
            if isinstance(groups, list):
                groups = tuple(groups)
        else:
            username = groups = _NO_USER
        ref = event.get("objectRef")
        if isinstance(ref, (dict, Mapping)):
            key: tuple = (
                username,
                groups,
                event.get("verb"),
                ref.get("apiGroup"),
                ref.get("resource"),
                ref.get("subresource"),
                ref.get("namespace"),
                ref.get("name"),
            )
        else:
            key = (username, groups, event.get("verb"), event.get("requestURI"))
        results = self._results
        try:
            level, index, omit = results[key]
        except KeyError:
            level, index, omit = decision = self._decide(key)
            if _storable(key):
                _remember(results, key, decision, _RESULT_LIMIT)
        except TypeError:  # a field holds an unhashable value (a list or mapping where text belongs)
            level, index, omit = self._decide(key)
        return {"level": level, "rule_index": index, "omit_stages": [*omit]}

    def _decide(self, key: tuple) -> tuple[str, int | None, tuple[str, ...]]:
        """``(level, rule index or None, omitted stages)`` for a request key built by :meth:`evaluate`."""
        if key[1] is _NO_USER:  # an unauthenticated request: no user name, no groups
            username: str | None = None
            groups: frozenset[str] | None = None
        else:
            username = _text(key[0])
            raw_groups = key[1]
            groups = frozenset(map(_text, raw_groups)) if isinstance(raw_groups, (list, tuple)) else frozenset()
        verb = _text(key[2])
        if len(key) == _RESOURCE_KEY_LENGTH:
            api_group, resource, subresource, namespace, name = map(_text, key[3:])
            if not namespace and _addresses_own_namespace(api_group, resource, subresource, verb, name):
                namespace = name
            shape = (verb, api_group, resource, subresource)
            candidates = self._by_resource.get(shape)
            if candidates is None:
                candidates = _remember(self._by_resource, shape, self._resource_candidates(*shape), _CACHE_LIMIT)
        else:
            namespace = name = ""
            path = _text(key[3]).split("?", 1)[0]
            if "%" in path:
                path = unquote(path)
            candidates = self._by_path.get((verb, path))
            if candidates is None:
                candidates = _remember(self._by_path, (verb, path), self._path_candidates(verb, path), _CACHE_LIMIT)

        for users, user_groups, namespaces, names, rule in candidates:
            if users is not None and (username is None or username not in users):
                continue
            if user_groups is not None and (groups is None or user_groups.isdisjoint(groups)):
                continue
            if namespaces is not None and namespace not in namespaces:
                continue
            if names is not None and name not in names:
                continue
            return rule.level, rule.index, rule.omit_stages
        return "None", None, self.omit_stages


def _storable(key: tuple) -> bool:
    """Whether a request key may be remembered: only text (or absent fields), whose equality means the same request.

    Other values are decided afresh each time: ``1 == True`` and ``1 == 1.0`` but their text differs.
    """
    for part in key:
        if part is None or part is _NO_USER or isinstance(part, str):
            continue
        if isinstance(part, tuple) and all(isinstance(item, str) for item in part):
            continue
        return False
    return True


def _resource_part(pattern: str) -> str | None:
    """The resource a ``resources[].resources`` pattern names: None for "*" and "*/subresource" (any resource)."""
    return None if pattern == "*" or pattern.startswith("*/") else pattern.partition("/")[0]


class _ResourceIndex:
    """The rules that can meet resource requests, filed by API group and resource (a superset, never a miss).

    A pattern can match a request only if it names the request's resource before any "/" (checker.go
    ruleMatchesResource: "resource", "resource/subresource", "resource/*") or any resource ("*", "*/subresource",
    or an entry without resources); rules without resources (namespaces alone, or nothing) meet every one.
    """

    __slots__ = ("filed", "unscoped")

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        self.filed: dict[tuple[str, str | None], list[int]] = {}
        self.unscoped: list[int] = []
        for position, rule in enumerate(rules):
            if rule.kind == RULE_NON_RESOURCE:
                continue
            if not rule.resources:
                self.unscoped.append(position)
                continue
            keys = set()
            for entry in rule.resources:
                if entry.patterns is None:
                    keys.add((entry.group, None))
                else:
                    keys.update((entry.group, _resource_part(pattern)) for pattern in entry.patterns)
            for key in keys:
                self.filed.setdefault(key, []).append(position)

    def rules_for(self, rules: tuple[CompiledRule, ...], api_group: str, resource: str) -> list[CompiledRule]:
        """In policy order, every rule that may meet a request of ``api_group`` and ``resource``."""
        part = resource.partition("/")[0]
        found = [self.unscoped]
        for key in ((api_group, part), (api_group, None), ("*", part), ("*", None)):
            positions = self.filed.get(key)
            if positions:
                found.append(positions)
        if len(found) > 1:
            return [rules[position] for position in sorted(set().union(*found))]
        return [rules[position] for position in self.unscoped]


class _PathIndex:
    """The rules that can meet non-resource requests, filed by URL (a superset, never a miss).

    checker.go ruleMatchesNonResource: a URL matches the path it equals, "*" every path, "prefix*" the paths that
    start with prefix; rules without nonResourceURLs, namespaces or resources meet every request.
    """

    __slots__ = ("exact", "prefix_lengths", "prefixes", "unscoped")

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        self.unscoped: list[int] = []
        self.exact: dict[str, list[int]] = {}
        self.prefixes: dict[str, list[int]] = {}
        for position, rule in enumerate(rules):
            if rule.kind == RULE_RESOURCE:
                continue
            if rule.kind == RULE_ANY or rule.url_any:
                self.unscoped.append(position)
                continue
            for url in rule.url_exact:
                self.exact.setdefault(url, []).append(position)
            for prefix in rule.url_prefixes:
                self.prefixes.setdefault(prefix, []).append(position)
        self.prefix_lengths = sorted({len(prefix) for prefix in self.prefixes})

    def rules_for(self, rules: tuple[CompiledRule, ...], path: str) -> list[CompiledRule]:
        """In policy order, every rule that may meet a request of ``path``."""
        found = [self.unscoped]
        positions = self.exact.get(path)
        if positions:
            found.append(positions)
        for length in self.prefix_lengths:
            if length > len(path):
                break
            positions = self.prefixes.get(path[:length])
            if positions:
                found.append(positions)
        if len(found) > 1:
            return [rules[position] for position in sorted(set().union(*found))]
        return [rules[position] for position in self.unscoped]


# k8s.io/apiserver pkg/endpoints/request/requestinfo.go: only a path /api/v1/namespaces/X[/status|/finalize] sets
# the namespace of a Namespace request (to X); of the verbs such a path gives, get, update, patch and delete are the
# ones an event of a Namespace with a name has (create is a POST to the collection; list/watch/deletecollection get
# a name only from fieldSelector=metadata.name=X, and keep namespace "").
_OWN_PATH_VERBS = frozenset(("get", "update", "patch", "delete"))
_NAMESPACE_SUBRESOURCES = frozenset(("", "status", "finalize"))


def _remember(cache: dict, key: t.Any, value: t.Any, limit: int) -> t.Any:
    """Keep ``value`` under ``key`` in ``cache``, which starts afresh when it holds ``limit`` entries; return it."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def _addresses_own_namespace(api_group: str, resource: str, subresource: str, verb: str, name: str) -> bool:
    """Whether a Namespace request without an explicit namespace had the namespace ``name`` in kube-apiserver."""
    return (
        api_group == ""
        and resource == "namespaces"
        and bool(name)
        and verb in _OWN_PATH_VERBS
        and subresource in _NAMESPACE_SUBRESOURCES
    )


def _text(value: t.Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def compile_policy(policy: t.Any) -> CompiledPolicy:
    """Compile ``policy`` for :meth:`CompiledPolicy.evaluate`; raises :class:`AuditPolicyError`.

    Only the shape the matcher reads is checked; validate a policy fully on the controller first (the
    ``audit_policy_errors`` filter). The group ``"*"`` matches any group (kube-apiserver 1.36+ semantics).
    """
    return CompiledPolicy(policy)
