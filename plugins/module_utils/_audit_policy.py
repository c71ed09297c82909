# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The audit.k8s.io/v1 policy engine: merge, validate, simulate and review audit policies.

This is the one place that knows how kube-apiserver loads, validates and applies an audit policy
(``k8s.io/apiserver`` ``pkg/audit/policy`` and ``pkg/apis/audit/validation``). The filter plugins and the
``k0s_audit`` role are thin doors into it. It runs on the controller only; it sits in ``module_utils`` so that one
tested core serves every plugin.

Structure (field names, types, required fields, enums) is checked with JSON Schema (``_audit_policy_schema``); the
rules a schema cannot express well are checked in Python below. Error messages name the exact place with list
indexes, for example ``rules[12].resources[0].group: "Apps" is not a lowercase DNS subdomain``.
"""

from __future__ import annotations

import difflib
import json
import marshal
import re
import typing as t
from collections.abc import Mapping
from urllib.parse import unquote

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_schema import (
    AUDIT_LEVELS,
    POLICY_SCHEMA,
    rule_schema,
)

try:
    import jsonschema
except ImportError:  # pragma: no cover - exercised by the missing-library unit test through HAS_JSONSCHEMA
    HAS_JSONSCHEMA = False
else:
    HAS_JSONSCHEMA = True

__all__ = (
    "HAS_JSONSCHEMA",
    "AuditPolicyError",
    "CompiledPolicy",
    "compile_policy",
    "evaluate",
    "merge_rules",
    "policy_errors",
    "policy_findings",
)


class AuditPolicyError(ValueError):
    """Bad input to the engine; the message is meant for the person who wrote that input."""


# kube-apiserver accepts the group "*" (any API group) from this version on; older servers refuse to start.
_STAR_GROUP_SINCE = (1, 36)
_MERGE_ONLY_KEYS = ("name", "known_api_groups")
_SELECTOR_KEYS = ("users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs")
# k8s.io/apimachinery pkg/util/validation/validation.go IsDNS1123Subdomain (used by NameIsDNSSubdomain in
# k8s.io/apiserver pkg/apis/audit/validation/validation.go): Go's regexp "$" is the end of the text, so the pattern
# is used with fullmatch (Python's "$" would also accept a trailing newline, e.g. "example.com\n").
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# Our own option syntax: ASCII digits only (Python's \d takes any Unicode digit), used with fullmatch.
_KUBERNETES_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?(?:[-+][0-9A-Za-z.+-]*)?")
_REMOVED_API_VERSIONS = ("audit.k8s.io/v1alpha1", "audit.k8s.io/v1beta1")
_MISSING_JSONSCHEMA = (
    "The jsonschema Python library is required to validate audit policies; install it on the Ansible controller "
    "(for example with pip install jsonschema)."
)

_Path = t.Tuple[t.Union[str, int], ...]
_Problem = t.Tuple[_Path, str]


# --------------------------------------------------------------------------------------------------------------
# Small helpers


def _plain(value: t.Any) -> t.Any:
    """Copy ``value`` into builtin dicts, lists and strs, so tagged Ansible values and tuples validate alike."""
    if isinstance(value, Mapping):
        return {(str(key) if isinstance(key, str) else key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def _quote(value: t.Any) -> str:
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "the boolean " + json.dumps(value)
    if isinstance(value, str):
        return "the string " + _quote(value)
    if isinstance(value, (int, float)):
        return "the number " + repr(value)
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return "a " + type(value).__name__


def _render_path(prefix: str, path: t.Iterable[t.Union[str, int]]) -> str:
    text = prefix
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = text + "." + str(part) if text else str(part)
    return text or "policy"


def _sort_key(problem: _Problem) -> tuple[tuple[int, t.Any], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in problem[0])


def _suggest(word: t.Any, choices: t.Sequence[str]) -> str:
    if not isinstance(word, str):
        return ""
    for choice in choices:
        if choice.lower() == word.lower():
            return choice
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else ""


def _has_items(value: t.Any) -> bool:
    """Whether a rule field is set the way kube-apiserver tests it: a non-empty list (absent, null, [] are unset)."""
    return isinstance(value, list) and len(value) > 0


def _star_group_allowed(kubernetes_version: t.Any) -> bool:
    if kubernetes_version is None:
        return False
    if isinstance(kubernetes_version, bool) or not isinstance(kubernetes_version, str):
        if isinstance(kubernetes_version, (int, float)) and not isinstance(kubernetes_version, bool):
            raise AuditPolicyError(
                f"kubernetes_version: {kubernetes_version!r} is a number, not a version string; quote it in YAML "
                '(for example "1.30", because 1.30 unquoted is the number 1.3).'
            )
        raise AuditPolicyError(
            'kubernetes_version: must be a version string such as "1.31" or "v1.31.2", '
            f"not {_describe(kubernetes_version)}."
        )
    match = _KUBERNETES_VERSION.fullmatch(kubernetes_version.strip())
    if not match:
        raise AuditPolicyError(
            f'kubernetes_version: {_quote(kubernetes_version)} is not a Kubernetes version such as "1.31" or "v1.31.2".'
        )
    return (int(match.group(1)), int(match.group(2))) >= _STAR_GROUP_SINCE


# --------------------------------------------------------------------------------------------------------------
# Validation


_VALIDATORS: dict[str, t.Any] = {}
_JSON_TYPES: dict[str, type] = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
_FAST_KEYWORDS = frozenset(
    ("title", "type", "enum", "properties", "additionalProperties", "required", "items", "minItems", "$ref", "$defs")
)


def _fast_check(schema: Mapping, defs: Mapping) -> t.Callable[[t.Any], bool]:
    """Compile ``schema`` into a yes/no structure test for plain data (dict, list, str, bool, None).

    jsonschema costs about 0.1 ms per rule, too slow for a policy of hundreds of rules validated on every run; this
    test, derived from the same schema, takes microseconds. Only when it says no does jsonschema run, to produce
    the messages. It knows just the keywords the schema uses and refuses any other, so the two cannot drift apart
    silently (a unit test also checks that both agree on random documents).
    """
    unknown = set(schema) - _FAST_KEYWORDS
    if unknown:
        raise NotImplementedError("schema keywords not supported by the fast check: " + ", ".join(sorted(unknown)))
    if "$ref" in schema:
        return _fast_check(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    checks: list[t.Callable[[t.Any], bool]] = []
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        types = tuple(_JSON_TYPES[name] for name in names)
        checks.append(lambda value: isinstance(value, types))
    if "enum" in schema:
        allowed = list(schema["enum"])
        checks.append(lambda value: value in allowed)
    if "required" in schema:
        required = tuple(schema["required"])
        checks.append(lambda value: not isinstance(value, dict) or all(key in value for key in required))
    if "properties" in schema:
        properties = {key: _fast_check(sub, defs) for key, sub in schema["properties"].items()}
        closed = schema.get("additionalProperties", True) is False

        def check_properties(value: t.Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                check = properties.get(key)
                if check is None:
                    if closed:
                        return False
                elif not check(item):
                    return False
            return True

        checks.append(check_properties)
    if "items" in schema:
        item_check = _fast_check(schema["items"], defs)
        checks.append(lambda value: not isinstance(value, list) or all(item_check(item) for item in value))
    if "minItems" in schema:
        minimum = schema["minItems"]
        checks.append(lambda value: not isinstance(value, list) or len(value) >= minimum)
    return lambda value: all(check(value) for check in checks)


def _validator(kind: str) -> t.Any:
    """Return ``(fast_check, jsonschema_validator)`` for ``"policy"`` or ``"rule"``."""
    if not HAS_JSONSCHEMA:
        raise AuditPolicyError(_MISSING_JSONSCHEMA)
    validator = _VALIDATORS.get(kind)
    if validator is None:
        schema = POLICY_SCHEMA if kind == "policy" else rule_schema()
        validator = (_fast_check(schema, schema["$defs"]), jsonschema.Draft202012Validator(schema))
        _VALIDATORS[kind] = validator
    return validator


def _expected(schema: Mapping) -> str:
    types = schema.get("type")
    types = [types] if isinstance(types, str) else [name for name in (types or ()) if name != "null"]
    if "array" in types:
        items = schema.get("items") or {}
        if items.get("type") == "string":
            return "a list of strings"
        return "a list of mappings"
    if "object" in types:
        return "a mapping"
    if "boolean" in types:
        return "true or false"
    if "string" in types:
        return "a string"
    return " or ".join(types)


def _schema_problems(kind: str, instance: t.Any) -> list[_Problem]:
    fast_check, validator = _validator(kind)
    if fast_check(instance):
        return []
    problems: list[_Problem] = []
    wrong_type: set[_Path] = set()
    errors = list(validator.iter_errors(instance))
    for error in errors:
        if error.validator == "type":
            wrong_type.add(tuple(error.absolute_path))
    for error in errors:
        path: _Path = tuple(error.absolute_path)
        keyword = error.validator
        if keyword == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            for key in error.instance:
                if key in allowed:
                    continue
                text = "unknown field"
                suggestion = _suggest(key, allowed)
                if suggestion:
                    text += f'; did you mean "{suggestion}"?'
                else:
                    text += "; valid fields are " + ", ".join(allowed)
                problems.append(((*path, key), text))
        elif keyword == "required":
            for key in error.validator_value:
                if key in error.instance:
                    continue
                if key == "level":
                    text = "required field is missing; set one of " + ", ".join(AUDIT_LEVELS)
                else:
                    text = "required field is missing"
                problems.append(((*path, key), text))
        elif keyword == "type":
            text = f"must be {_expected(error.schema)}, not {_describe(error.instance)}"
            if "enum" in error.schema:
                text += "; use one of " + ", ".join(error.schema["enum"])
            problems.append((path, text))
        elif keyword == "enum":
            if path in wrong_type:
                continue
            problems.append((path, _enum_text(path, error.instance, error.validator_value)))
        elif keyword == "minItems" and path == ("rules",):
            problems.append((path, "a policy needs at least one rule; kube-apiserver refuses to start without one"))
        else:  # pragma: no cover - the schema uses no other keywords
            problems.append((path, error.message))
    # jsonschema reports each missing required field as its own error, all carrying the whole required list.
    return list(dict.fromkeys(problems))


def _enum_text(path: _Path, value: t.Any, allowed: t.Sequence[str]) -> str:
    if path == ("apiVersion",):
        if value in _REMOVED_API_VERSIONS:
            return f'{_quote(value)} was removed in Kubernetes 1.24; use "audit.k8s.io/v1"'
        return f'{_quote(value)} is not supported; use "audit.k8s.io/v1"'
    if path == ("kind",):
        return f'{_quote(value)} is not supported; use "Policy"'
    text = f"{_quote(value)} is not valid; use one of {', '.join(allowed)}"
    suggestion = _suggest(value, allowed)
    if suggestion:
        text += f' (did you mean "{suggestion}"?)'
    return text


def _url_problems(url: str) -> list[str]:
    if url == "*":
        return []
    problems = []
    if not url.startswith("/"):
        problems.append(f'{_quote(url)} is not a valid non-resource URL; it must be "*" or a path starting with "/"')
    if url and "*" in url[:-1]:
        problems.append(f'{_quote(url)}: "*" may only be the last character of a non-resource URL')
    return problems


def _group_problem(group: str, star_group_ok: bool) -> str:
    if group == "*":
        if star_group_ok:
            return ""
        return (
            '"*" (any API group) needs Kubernetes 1.36 or later; set the kubernetes_version option to your '
            "cluster's version if it is 1.36 or later, or list the groups"
        )
    if len(group) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(group):
        return f"{_quote(group)} is not a lowercase DNS subdomain"
    return ""


def _rule_semantic_problems(rule: t.Any, star_group_ok: bool) -> list[_Problem]:
    """Rules kube-apiserver enforces (or silently gets wrong) that the schema cannot express."""
    if not isinstance(rule, dict):
        return []
    problems: list[_Problem] = []
    resources = rule.get("resources")
    urls = rule.get("nonResourceURLs")
    if _has_items(urls):
        both = [key for key in ("resources", "namespaces") if _has_items(rule.get(key))]
        if both:
            problems.append(
                (
                    ("nonResourceURLs",),
                    f"a rule cannot have both nonResourceURLs and {' and '.join(both)}; split it into two rules",
                )
            )
        for index, url in enumerate(urls):
            if isinstance(url, str):
                problems.extend((("nonResourceURLs", index), text) for text in _url_problems(url))
    if isinstance(resources, list):
        for index, entry in enumerate(resources):
            if not isinstance(entry, dict):
                continue
            group = entry.get("group")
            if isinstance(group, str) and group:
                text = _group_problem(group, star_group_ok)
                if text:
                    problems.append((("resources", index, "group"), text))
            names = entry.get("resourceNames")
            if _has_items(names) and not _has_items(entry.get("resources")):
                problems.append(
                    (
                        ("resources", index, "resourceNames"),
                        "needs a non-empty resources list next to it; kube-apiserver rejects resourceNames alone",
                    )
                )
            # resourceNames: [""] is valid (validation.go only requires resources beside resourceNames) and matches
            # requests without a name (checker.go hasString); policy_findings points it out.
    return problems


def _rule_problems(rule: t.Any, star_group_ok: bool) -> list[_Problem]:
    return _schema_problems("rule", rule) + _rule_semantic_problems(rule, star_group_ok)


def _policy_problems(policy: t.Any, star_group_ok: bool) -> list[str]:
    if not isinstance(policy, Mapping):
        return [f"policy: must be a mapping with apiVersion, kind and rules, not {_describe(policy)}"]
    policy = _plain(policy)
    problems = _schema_problems("policy", policy)
    rules = policy.get("rules")
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            problems.extend(
                (("rules", index, *path), text) for path, text in _rule_semantic_problems(rule, star_group_ok)
            )
    problems.sort(key=_sort_key)
    return [f"{_render_path('', path)}: {text}" for path, text in problems]


def policy_errors(policy: t.Any, kubernetes_version: t.Optional[str] = None) -> list[str]:
    """Return every problem in an audit.k8s.io/v1 Policy, each naming its place; an empty list means valid.

    Reports what kube-apiserver rejects (it would not start) and what it only warns about but is a mistake:
    unknown fields (kube-apiserver ignores them, so the rule matches more than intended) and wrong types.

    ``kubernetes_version`` (``"1.31"``, ``"v1.31.2"``) is the target cluster's version; the group ``"*"`` is
    accepted only when it is 1.36 or later. Raises :class:`AuditPolicyError` for a malformed version string or
    when jsonschema is not installed.
    """
    return _policy_problems(policy, _star_group_allowed(kubernetes_version))


# --------------------------------------------------------------------------------------------------------------
# Merging


def _first_label(label: t.Any) -> str:
    return str(label[0]) if isinstance(label, (list, tuple)) and label else str(label)


def _flatten(value: t.Any, label: t.Any, problems: list[str]) -> list[tuple[str, t.Any]]:
    """Return ``(place, plain copy of item)`` pairs of a flat list or a list of lists, in the order given.

    ``label`` is a string, or for a list of lists one label per inner list (the variable each came from).
    """
    inner_labels = [str(name) for name in label] if isinstance(label, (list, tuple)) else []
    label = inner_labels[0] if inner_labels else str(label)
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
        problems.append(f"{label}: must be a list (or a list of lists), not {_describe(value)}")
        return []
    items: list[tuple[str, t.Any]] = []
    for index, item in enumerate(value):
        if isinstance(item, (list, tuple)):
            inner = inner_labels[index] if index < len(inner_labels) else f"{label}[{index}]"
            items.extend((f"{inner}[{position}]", _plain(sub)) for position, sub in enumerate(item))
        else:
            items.append((f"{label}[{index}]", _plain(item)))
    return items


def _merge_rule_problems(place: str, rule: t.Any, star_group_ok: bool) -> list[str]:
    if not isinstance(rule, dict):
        return [f"{place}: must be a mapping (one audit policy rule), not {_describe(rule)}"]
    problems: list[_Problem] = []
    name = rule.get("name")
    if "name" in rule and (not isinstance(name, str) or not name):
        problems.append((("name",), f"must be a non-empty string, not {_describe(name)}"))
    marker = rule.get("known_api_groups")
    if "known_api_groups" in rule:
        if not isinstance(marker, bool):
            problems.append((("known_api_groups",), f"must be true or false, not {_describe(marker)}"))
        elif marker and not _has_items(rule.get("resources")):
            problems.append((("known_api_groups",), "marks a rule that has no resources list to add API groups to"))
    problems.extend(_rule_problems(_strip(rule), star_group_ok))
    problems.sort(key=_sort_key)
    return [f"{_render_path(place, path)}: {text}" for path, text in problems]


def _strip(rule: Mapping) -> dict[str, t.Any]:
    """Drop the merge-only keys; a shallow copy, as merge_rules works on its own plain copies of the inputs."""
    return {key: value for key, value in rule.items() if key not in _MERGE_ONLY_KEYS}


def _is_catch_all(rule: Mapping) -> bool:
    return not any(_has_items(rule.get(key)) for key in _SELECTOR_KEYS)


def merge_rules(
    baseline: t.Any,
    prepend: t.Any = (),
    append: t.Any = (),
    exclude: t.Any = (),
    extra_api_groups: t.Any = (),
    source_names: t.Optional[Mapping[str, str]] = None,
    kubernetes_version: t.Optional[str] = None,
) -> list[dict[str, t.Any]]:
    """Merge a named baseline rule list with a user's additions into the rules of one audit policy.

    Output order: ``prepend``, the baseline rules not in ``exclude`` up to (not including) the baseline's trailing
    catch-all rules, ``append``, then those trailing catch-all rules. A catch-all rule has none of users,
    userGroups, verbs, resources, namespaces, nonResourceURLs; without a trailing catch-all, ``append`` goes last.

    Each of ``prepend``, ``append``, ``exclude``, ``extra_api_groups`` (and ``baseline``) is a flat list, a list
    of lists (concatenated in the order given; the role passes its variables sorted by name) or None.

    ``exclude`` names baseline rules (their ``name`` key) to drop. ``extra_api_groups`` are API group names added
    as ``{group: NAME}`` to every baseline rule marked ``known_api_groups: true`` that does not list them yet.
    The ``name`` and ``known_api_groups`` keys are removed from the output; rules otherwise keep their key order.
    Exact duplicates are dropped, the first kept.

    Every input rule is validated like :func:`policy_errors` validates a policy rule; ``kubernetes_version`` has
    the same meaning. ``source_names`` maps ``baseline``, ``prepend``, ``append``, ``exclude`` and
    ``extra_api_groups`` to the labels used in messages (for example the role's variable names); for an input given
    as a list of lists the label may be a list with one label per inner list. All problems are
    reported at once in one :class:`AuditPolicyError`, joined by ``"; "``.
    """
    labels = {key: key for key in ("baseline", "prepend", "append", "exclude", "extra_api_groups")}
    if source_names is not None:
        if not isinstance(source_names, Mapping):
            raise AuditPolicyError(f"source_names: must be a mapping, not {_describe(source_names)}.")
        labels.update(
            (str(key), list(value) if isinstance(value, (list, tuple)) else str(value))
            for key, value in source_names.items()
        )
    star_group_ok = _star_group_allowed(kubernetes_version)
    problems: list[str] = []

    given = {
        "baseline": baseline,
        "prepend": prepend,
        "append": append,
        "exclude": exclude,
        "extra_api_groups": extra_api_groups,
    }
    inputs = {key: _flatten(value, labels[key], problems) for key, value in given.items()}
    for key in ("baseline", "prepend", "append"):
        for place, rule in inputs[key]:
            problems.extend(_merge_rule_problems(place, rule, star_group_ok))

    known_names: dict[str, str] = {}
    for place, rule in inputs["baseline"]:
        name = rule.get("name") if isinstance(rule, dict) else None
        if isinstance(name, str) and name:
            if name in known_names:
                problems.append(f'{place}.name: "{name}" is also the name of {known_names[name]}')
            else:
                known_names[name] = place

    excluded: set[str] = set()
    for place, name in inputs["exclude"]:
        if not isinstance(name, str):
            problems.append(f"{place}: must be a baseline rule name (a string), not {_describe(name)}")
        elif name not in known_names:
            problems.append(
                f"{place}: {_quote(name)} is not the name of a baseline rule; "
                f"known names: {', '.join(known_names) or '(none)'}"
            )
        else:
            excluded.add(name)

    extra_groups: list[str] = []
    for place, group in inputs["extra_api_groups"]:
        if not isinstance(group, str):
            problems.append(f"{place}: must be an API group name (a string), not {_describe(group)}")
        elif group in ("", "*") or _group_problem(group, False):
            problems.append(f"{place}: {_quote(group)} is not a lowercase DNS subdomain")
        elif group not in extra_groups:
            extra_groups.append(str(group))

    if problems:
        raise AuditPolicyError("; ".join(problems))

    kept = []
    for _place, rule in inputs["baseline"]:
        if rule.get("name") in excluded:
            continue
        stripped = _strip(rule)
        if rule.get("known_api_groups") is True and extra_groups:
            present = {(entry.get("group") or "") for entry in stripped["resources"]}
            stripped["resources"].extend({"group": group} for group in extra_groups if group not in present)
        kept.append(stripped)
    split = len(kept)
    while split > 0 and _is_catch_all(kept[split - 1]):
        split -= 1

    ordered = (
        [_strip(rule) for _place, rule in inputs["prepend"]]
        + kept[:split]
        + [_strip(rule) for _place, rule in inputs["append"]]
        + kept[split:]
    )
    merged: list[dict[str, t.Any]] = []
    seen: set[str] = set()
    for rule in ordered:
        fingerprint = json.dumps(rule, sort_keys=True)
        if fingerprint not in seen:
            seen.add(fingerprint)
            merged.append(rule)
    if not merged:
        raise AuditPolicyError(
            f"{_first_label(labels['exclude'])}: excluding every baseline rule and adding none leaves a policy"
            " with no rules, which kube-apiserver refuses to load."
        )
    return merged


# --------------------------------------------------------------------------------------------------------------
# Matching

_ANY, _RESOURCE, _NON_RESOURCE = 0, 1, 2
# A request emits these stages (besides Panic); long-running ones (watch, proxy, exec, ...) also ResponseStarted.
_SHORT_STAGES = frozenset(("RequestReceived", "ResponseComplete"))
_LONG_STAGES = frozenset(("RequestReceived", "ResponseStarted", "ResponseComplete"))


class _GroupResources:
    """One ``resources[]`` entry, pre-split into sets so matching does no string parsing."""

    __slots__ = ("any_parent_subs", "any_resource", "exact", "group", "names", "patterns", "with_subresources")

    def __init__(self, entry: Mapping) -> None:
        self.group: str = entry.get("group") or ""
        patterns = entry.get("resources") or []
        names = entry.get("resourceNames") or []
        self.patterns: t.Optional[frozenset[str]] = frozenset(patterns) if patterns else None
        self.names: t.Optional[frozenset[str]] = frozenset(names) if names else None
        self.any_resource = "*" in patterns
        self.exact = frozenset(patterns)
        self.any_parent_subs = frozenset(p[2:] for p in patterns if p.startswith("*/"))
        self.with_subresources = frozenset(p[:-2] for p in patterns if p.endswith("/*"))

    def matches(self, resource: str, subresource: str, combined: str, name: str) -> bool:
        if self.patterns is None:
            return True
        if self.names is not None and name not in self.names:
            return False
        return (
            self.any_resource
            or combined in self.exact
            or (bool(subresource) and subresource in self.any_parent_subs)
            or resource in self.with_subresources
        )


class _Rule:
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
        def selector(key: str) -> t.Optional[frozenset[str]]:
            values = rule.get(key) or []
            return frozenset(values) if values else None

        self.index = index
        self.level: str = rule["level"]
        self.omit_stages: tuple[str, ...] = tuple(sorted(policy_omit | frozenset(rule.get("omitStages") or ())))
        self.users = selector("users")
        self.user_groups = selector("userGroups")
        self.verbs = selector("verbs")
        self.namespaces = selector("namespaces")
        self.resources = [_GroupResources(entry) for entry in rule.get("resources") or []]
        urls = rule.get("nonResourceURLs") or []
        if self.namespaces is not None or self.resources:
            self.kind = _RESOURCE
        elif urls:
            self.kind = _NON_RESOURCE
        else:
            self.kind = _ANY
        self.by_group: dict[str, list[_GroupResources]] = {}
        self.any_group: list[_GroupResources] = []
        for entry in self.resources:
            if entry.group == "*":
                self.any_group.append(entry)
            else:
                self.by_group.setdefault(entry.group, []).append(entry)
        self.url_any = "*" in urls
        self.url_exact = frozenset(urls)
        self.url_prefixes = tuple(sorted({url.rstrip("*") for url in urls if url.endswith("*") and url != "*"}))

    def result(self) -> dict[str, t.Any]:
        return {"level": self.level, "rule_index": self.index, "omit_stages": list(self.omit_stages)}


class CompiledPolicy:
    """A validated policy prepared for fast, repeated :meth:`evaluate` calls."""

    __slots__ = ("omit_stages", "rules")

    def __init__(self, policy: Mapping) -> None:
        policy = _plain(policy)
        problems = _policy_problems(policy, star_group_ok=True)
        if problems:
            raise AuditPolicyError("The audit policy is not valid: " + "; ".join(problems))
        policy_omit = frozenset(policy.get("omitStages") or ())
        self.omit_stages: tuple[str, ...] = tuple(sorted(policy_omit))
        self.rules: tuple[_Rule, ...] = tuple(_Rule(i, rule, policy_omit) for i, rule in enumerate(policy["rules"]))

    def evaluate(self, event: Mapping) -> dict[str, t.Any]:
        """Return ``{"level", "rule_index", "omit_stages"}`` for an audit.k8s.io/v1 Event-shaped mapping.

        The first matching rule decides. Without a match the level is ``"None"`` (as in kube-apiserver), the
        rule_index None and omit_stages the policy's. A request with an ``objectRef`` mapping is a resource
        request; any other is a non-resource request whose path is ``requestURI`` without its query string,
        percent-decoded. A missing ``user`` means an unauthenticated request: rules with users or userGroups do
        not match it. Optional fields may be missing; this never raises on a mapping.
        """
        if not isinstance(event, Mapping):
            raise AuditPolicyError(
                f"event: must be a mapping shaped like an audit.k8s.io/v1 Event, not {_describe(event)}."
            )
        user = event.get("user")
        if isinstance(user, Mapping):
            username: t.Optional[str] = _text(user.get("username"))
            raw_groups = user.get("groups")
            groups: t.Optional[frozenset[str]] = (
                frozenset(_text(group) for group in raw_groups)
                if isinstance(raw_groups, (list, tuple))
                else frozenset()
            )
        else:
            username = None
            groups = None
        verb = _text(event.get("verb"))
        ref = event.get("objectRef")
        is_resource = isinstance(ref, Mapping)
        if is_resource:
            api_group = _text(ref.get("apiGroup"))
            resource = _text(ref.get("resource"))
            subresource = _text(ref.get("subresource"))
            namespace = _text(ref.get("namespace"))
            name = _text(ref.get("name"))
            if not namespace and _addresses_own_namespace(api_group, resource, subresource, verb, name):
                namespace = name
            combined = resource + "/" + subresource if subresource else resource
            path = ""
        else:
            api_group = resource = subresource = namespace = name = combined = ""
            path = _text(event.get("requestURI")).split("?", 1)[0]
            if "%" in path:
                path = unquote(path)

        for rule in self.rules:
            if rule.users is not None and (username is None or username not in rule.users):
                continue
            if rule.user_groups is not None and (groups is None or rule.user_groups.isdisjoint(groups)):
                continue
            if rule.verbs is not None and verb not in rule.verbs:
                continue
            kind = rule.kind
            if kind == _ANY:
                return rule.result()
            if kind == _RESOURCE:
                if not is_resource:
                    continue
                if rule.namespaces is not None and namespace not in rule.namespaces:
                    continue
                if not rule.resources:
                    return rule.result()
                for entry in rule.by_group.get(api_group, ()):
                    if entry.matches(resource, subresource, combined, name):
                        return rule.result()
                for entry in rule.any_group:
                    if entry.matches(resource, subresource, combined, name):
                        return rule.result()
                continue
            if is_resource:
                continue
            if rule.url_any or path in rule.url_exact:
                return rule.result()
            for prefix in rule.url_prefixes:
                if path.startswith(prefix):
                    return rule.result()
        return {"level": "None", "rule_index": None, "omit_stages": list(self.omit_stages)}


# k8s.io/apiserver pkg/endpoints/request/requestinfo.go: only a path /api/v1/namespaces/X[/status|/finalize] sets
# the namespace of a Namespace request (to X); of the verbs such a path gives, get, update, patch and delete are the
# ones an event of a Namespace with a name has (create is a POST to the collection; list/watch/deletecollection get
# a name only from fieldSelector=metadata.name=X, and keep namespace "").
_OWN_PATH_VERBS = frozenset(("get", "update", "patch", "delete"))
_NAMESPACE_SUBRESOURCES = frozenset(("", "status", "finalize"))


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


def compile_policy(policy: Mapping) -> CompiledPolicy:
    """Validate ``policy`` and compile it for :meth:`CompiledPolicy.evaluate`; raises :class:`AuditPolicyError`.

    The group ``"*"`` is accepted here (kube-apiserver 1.36+ semantics): a server that loads such a policy
    matches it as any group; use :func:`policy_errors` with ``kubernetes_version`` to check a target version.
    """
    if not isinstance(policy, Mapping):
        raise AuditPolicyError(f"policy: must be a mapping with apiVersion, kind and rules, not {_describe(policy)}.")
    return CompiledPolicy(policy)


_CACHE: dict[t.Union[bytes, str], CompiledPolicy] = {}
_CACHE_SIZE = 16


def _cached_compile(policy: Mapping) -> CompiledPolicy:
    """Compile ``policy`` once per content; Jinja hands a filter a new object per call, so key on the content."""
    if not isinstance(policy, Mapping):
        raise AuditPolicyError(f"policy: must be a mapping with apiVersion, kind and rules, not {_describe(policy)}.")
    try:
        # marshal is ten times faster than json for plain data; version 2 writes no back-references, so equal
        # content gives equal bytes. It refuses subclasses (Ansible's tagged values): json covers those.
        key: t.Union[bytes, str] = marshal.dumps(policy, 2)
    except ValueError:
        try:
            key = json.dumps(policy, default=repr)
        except (TypeError, ValueError):  # keys that are not strings, or a reference cycle: no cache key
            return compile_policy(policy)
    compiled = _CACHE.get(key)
    if compiled is None:
        compiled = compile_policy(policy)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compiled
    return compiled


def evaluate(policy: Mapping, event: Mapping) -> dict[str, t.Any]:
    """Return the audit level, deciding rule and omitted stages for ``event`` (see :meth:`CompiledPolicy.evaluate`).

    Compiled policies are cached by content, so calling this in a loop with the same policy is cheap.
    """
    return _cached_compile(policy).evaluate(event)


# --------------------------------------------------------------------------------------------------------------
# Findings: shadowed rules and CIS Kubernetes Benchmark 3.2.2


def _covers_selector(earlier: t.Optional[frozenset[str]], later: t.Optional[frozenset[str]]) -> bool:
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


def _covers_entry(earlier: _GroupResources, later: _GroupResources, pattern: t.Optional[str]) -> bool:
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


def _covers_resources(earlier: _Rule, later: _Rule) -> bool:
    if not earlier.resources:
        return True
    if not later.resources:
        return False
    for entry in later.resources:
        if entry.patterns is None:
            star_entry = _GroupResources({"group": entry.group, "resources": ["*"]})
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


def _shadows(earlier: _Rule, later: _Rule) -> bool:
    """Conservative: True only if every request ``later`` could match is matched by ``earlier``."""
    if not (
        _covers_selector(earlier.users, later.users)
        and _covers_selector(earlier.user_groups, later.user_groups)
        and _covers_selector(earlier.verbs, later.verbs)
    ):
        return False
    if earlier.kind == _ANY:
        return True
    if earlier.kind != later.kind:
        return False
    if earlier.kind == _NON_RESOURCE:
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
    compiled = _cached_compile(policy)
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
    for index, rule in enumerate(_plain(policy).get("rules") or []):
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
