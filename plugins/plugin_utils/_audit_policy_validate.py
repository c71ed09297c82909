# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""PRIVATE to the k0rdent.audit collection: the names in ``__all__`` may change without notice.

Responsible for: validating an audit.k8s.io/v1 Policy the way kube-apiserver does when it loads one
(k8s.io/apiserver pkg/apis/audit/validation/validation.go), plus the mistakes it only warns about (unknown fields,
wrong types): :func:`policy_errors`; and compiling a policy on the controller only after that full validation,
cached by content, for the filters and the findings (:func:`compile_valid_policy`, :func:`evaluate`).

Structure (field names, types, required fields, enums) is checked with JSON Schema (``_audit_policy_schema``); the
rules a schema cannot express well are checked in Python here. Error messages name the exact place with list
indexes, for example ``rules[12].resources[0].group: "Apps" is not a lowercase DNS subdomain``.

May import: ``_audit_policy_schema``, ``plugins/module_utils/_audit_policy_common`` and ``_audit_policy_match``,
jsonschema and the Python standard library. Controller only (jsonschema is a controller dependency).
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import json
import marshal
import re
import typing as t
from collections.abc import Mapping

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import (
    AUDIT_LEVELS,
    AuditPolicyError,
    describe,
    has_items,
    plain_data,
    quote,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_match import CompiledPolicy
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_schema import POLICY_SCHEMA, rule_schema

try:
    import jsonschema
except ImportError:  # pragma: no cover - exercised by the missing-library unit test through HAS_JSONSCHEMA
    HAS_JSONSCHEMA = False
else:
    HAS_JSONSCHEMA = True

__all__ = (
    "HAS_JSONSCHEMA",
    "Problem",
    "cached_compile",
    "collector_paused",
    "compile_valid_policy",
    "evaluate",
    "group_problem",
    "policy_errors",
    "render_problems",
    "rule_problems",
    "star_group_allowed",
)

# kube-apiserver accepts the group "*" (any API group) from this version on; older servers refuse to start.
_STAR_GROUP_SINCE = (1, 36)
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

ProblemPath = tuple[str | int, ...]
Problem = tuple[ProblemPath, str]


# --------------------------------------------------------------------------------------------------------------
# Small helpers


def _render_path(prefix: str, path: t.Iterable[str | int]) -> str:
    text = prefix
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = text + "." + str(part) if text else str(part)
    return text or "policy"


def render_problems(prefix: str, problems: list[Problem]) -> list[str]:
    """``place: text`` for each problem, in document order; ``prefix`` is the place the paths are relative to."""
    return [f"{_render_path(prefix, path)}: {text}" for path, text in sorted(problems, key=_sort_key)]


def _sort_key(problem: Problem) -> tuple[tuple[int, t.Any], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in problem[0])


def _suggest(word: t.Any, choices: t.Sequence[str]) -> str:
    if not isinstance(word, str):
        return ""
    for choice in choices:
        if choice.lower() == word.lower():
            return choice
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else ""


def star_group_allowed(kubernetes_version: t.Any) -> bool:
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
            f"not {describe(kubernetes_version)}."
        )
    match = _KUBERNETES_VERSION.fullmatch(kubernetes_version.strip())
    if not match:
        raise AuditPolicyError(
            f'kubernetes_version: {quote(kubernetes_version)} is not a Kubernetes version such as "1.31" or "v1.31.2".'
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


def _schema_problems(kind: str, instance: t.Any) -> list[Problem]:
    fast_check, validator = _validator(kind)
    if fast_check(instance):
        return []
    problems: list[Problem] = []
    wrong_type: set[ProblemPath] = set()
    errors = list(validator.iter_errors(instance))
    for error in errors:
        if error.validator == "type":
            wrong_type.add(tuple(error.absolute_path))
    for error in errors:
        path: ProblemPath = tuple(error.absolute_path)
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
            text = f"must be {_expected(error.schema)}, not {describe(error.instance)}"
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


def _enum_text(path: ProblemPath, value: t.Any, allowed: t.Sequence[str]) -> str:
    if path == ("apiVersion",):
        if value in _REMOVED_API_VERSIONS:
            return f'{quote(value)} was removed in Kubernetes 1.24; use "audit.k8s.io/v1"'
        return f'{quote(value)} is not supported; use "audit.k8s.io/v1"'
    if path == ("kind",):
        return f'{quote(value)} is not supported; use "Policy"'
    text = f"{quote(value)} is not valid; use one of {', '.join(allowed)}"
    suggestion = _suggest(value, allowed)
    if suggestion:
        text += f' (did you mean "{suggestion}"?)'
    return text


def _url_problems(url: str) -> list[str]:
    if url == "*":
        return []
    problems = []
    if not url.startswith("/"):
        problems.append(f'{quote(url)} is not a valid non-resource URL; it must be "*" or a path starting with "/"')
    if url and "*" in url[:-1]:
        problems.append(f'{quote(url)}: "*" may only be the last character of a non-resource URL')
    return problems


def group_problem(group: str, star_group_ok: bool) -> str:
    if group == "*":
        if star_group_ok:
            return ""
        return (
            '"*" (any API group) needs Kubernetes 1.36 or later; set the kubernetes_version option to your '
            "cluster's version if it is 1.36 or later, or list the groups"
        )
    if len(group) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(group):
        return f"{quote(group)} is not a lowercase DNS subdomain"
    return ""


def _rule_semantic_problems(rule: t.Any, star_group_ok: bool) -> list[Problem]:
    """Rules kube-apiserver enforces (or silently gets wrong) that the schema cannot express."""
    if not isinstance(rule, dict):
        return []
    problems: list[Problem] = []
    resources = rule.get("resources")
    urls = rule.get("nonResourceURLs")
    if has_items(urls):
        both = [key for key in ("resources", "namespaces") if has_items(rule.get(key))]
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
                text = group_problem(group, star_group_ok)
                if text:
                    problems.append((("resources", index, "group"), text))
            names = entry.get("resourceNames")
            if has_items(names) and not has_items(entry.get("resources")):
                problems.append(
                    (
                        ("resources", index, "resourceNames"),
                        "needs a non-empty resources list next to it; kube-apiserver rejects resourceNames alone",
                    )
                )
            # resourceNames: [""] is valid (validation.go only requires resources beside resourceNames) and matches
            # requests without a name (checker.go hasString); policy_findings points it out.
    return problems


def rule_problems(rule: t.Any, star_group_ok: bool) -> list[Problem]:
    """Every problem of one policy rule (schema and semantics), with paths relative to the rule."""
    return _schema_problems("rule", rule) + _rule_semantic_problems(rule, star_group_ok)


def _policy_problems(policy: t.Any, star_group_ok: bool) -> list[str]:
    """Every problem of ``policy``, already copied with :func:`plain_data`."""
    if not isinstance(policy, dict):
        return [f"policy: must be a mapping with apiVersion, kind and rules, not {describe(policy)}"]
    problems = _schema_problems("policy", policy)
    rules = policy.get("rules")
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            problems.extend(
                (("rules", index, *path), text) for path, text in _rule_semantic_problems(rule, star_group_ok)
            )
    return render_problems("", problems)


def policy_errors(policy: t.Any, kubernetes_version: str | None = None) -> list[str]:
    """Return every problem in an audit.k8s.io/v1 Policy, each naming its place; an empty list means valid.

    Reports what kube-apiserver rejects (it would not start) and what it only warns about but is a mistake:
    unknown fields (kube-apiserver ignores them, so the rule matches more than intended) and wrong types.

    ``kubernetes_version`` (``"1.31"``, ``"v1.31.2"``) is the target cluster's version; the group ``"*"`` is
    accepted only when it is 1.36 or later. Raises :class:`AuditPolicyError` for a malformed version string or
    when jsonschema is not installed.
    """
    star_group_ok = star_group_allowed(kubernetes_version)
    return _policy_problems(plain_data(policy), star_group_ok)


# --------------------------------------------------------------------------------------------------------------
# Compiling on the controller: full validation first, then the matcher; cached by content


@contextlib.contextmanager
def collector_paused() -> t.Iterator[None]:
    """Hold off Python's cyclic garbage collector while a policy is validated, compiled or reviewed.

    That work makes tens of thousands of objects that stay alive (the compiled rules, their sets, the indexes);
    each full collection the allocations trigger walks all of them, and everything else the controller holds,
    which made a 10,000-rule review about twice as slow. Nothing it makes is a cycle that needs collecting
    soon; the collector runs again as usual afterwards. Left as it was when the caller had it off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def compile_valid_policy(policy: t.Any) -> CompiledPolicy:
    """Validate ``policy`` fully, then compile it for :meth:`CompiledPolicy.evaluate`; raises :class:`AuditPolicyError`.

    The group ``"*"`` is accepted here (kube-apiserver 1.36+ semantics): a server that loads such a policy
    matches it as any group; use :func:`policy_errors` with ``kubernetes_version`` to check a target version.
    """
    if not isinstance(policy, Mapping):
        raise AuditPolicyError(f"policy: must be a mapping with apiVersion, kind and rules, not {describe(policy)}.")
    with collector_paused():
        policy = plain_data(policy)
        problems = _policy_problems(policy, star_group_ok=True)
        if problems:
            raise AuditPolicyError("The audit policy is not valid: " + "; ".join(problems))
        return CompiledPolicy(policy)


_CACHE: dict[bytes | str, CompiledPolicy] = {}
_CACHE_SIZE = 16


def cached_compile(policy: t.Any) -> CompiledPolicy:
    """:func:`compile_valid_policy` once per content: Jinja hands a filter a new object per call."""
    if not isinstance(policy, Mapping):
        raise AuditPolicyError(f"policy: must be a mapping with apiVersion, kind and rules, not {describe(policy)}.")
    try:
        # marshal is ten times faster than json for plain data; version 2 writes no back-references, so equal
        # content gives equal bytes. It refuses subclasses (Ansible's tagged values): json covers those.
        key: bytes | str = marshal.dumps(policy, 2)
    except ValueError:
        try:
            key = json.dumps(policy, default=repr)
        except (TypeError, ValueError):  # keys that are not strings, or a reference cycle: no cache key
            return compile_valid_policy(policy)
    compiled = _CACHE.get(key)
    if compiled is None:
        compiled = compile_valid_policy(policy)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compiled
    return compiled


def evaluate(policy: Mapping, event: Mapping) -> dict[str, t.Any]:
    """Return the audit level, deciding rule and omitted stages for ``event`` (see :meth:`CompiledPolicy.evaluate`).

    Compiled policies are cached by content, so calling this in a loop with the same policy is cheap.
    """
    return cached_compile(policy).evaluate(event)
