# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""PRIVATE to the k0rdent.audit collection: the names in ``__all__`` may change without notice.

Responsible for: merging a named baseline rule list with a user's additions, exclusions and extra API groups into
the rules of one audit policy (:func:`merge_rules`), validating every input rule on the way.

May import: ``_audit_policy_validate``, ``plugins/module_utils/_audit_policy_common`` and the Python standard
library. Controller only.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Mapping

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import (
    AuditPolicyError,
    describe,
    has_items,
    plain_data,
    quote,
)
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import (
    Problem,
    group_problem,
    render_problems,
    rule_problems,
    star_group_allowed,
)

__all__ = ("merge_rules",)

# Keys a baseline or user rule may carry for merging only; they never reach the policy.
_MERGE_ONLY_KEYS = ("name", "known_api_groups")
_SELECTOR_KEYS = ("users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs")


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
        problems.append(f"{label}: must be a list (or a list of lists), not {describe(value)}")
        return []
    items: list[tuple[str, t.Any]] = []
    for index, item in enumerate(value):
        if isinstance(item, (list, tuple)):
            inner = inner_labels[index] if index < len(inner_labels) else f"{label}[{index}]"
            items.extend((f"{inner}[{position}]", plain_data(sub)) for position, sub in enumerate(item))
        else:
            items.append((f"{label}[{index}]", plain_data(item)))
    return items


def _merge_rule_problems(place: str, rule: t.Any, star_group_ok: bool) -> list[str]:
    if not isinstance(rule, dict):
        return [f"{place}: must be a mapping (one audit policy rule), not {describe(rule)}"]
    problems: list[Problem] = []
    name = rule.get("name")
    if "name" in rule and (not isinstance(name, str) or not name):
        problems.append((("name",), f"must be a non-empty string, not {describe(name)}"))
    marker = rule.get("known_api_groups")
    if "known_api_groups" in rule:
        if not isinstance(marker, bool):
            problems.append((("known_api_groups",), f"must be true or false, not {describe(marker)}"))
        elif marker and not has_items(rule.get("resources")):
            problems.append((("known_api_groups",), "marks a rule that has no resources list to add API groups to"))
    problems.extend(rule_problems(_strip(rule), star_group_ok))
    return render_problems(place, problems)


def _strip(rule: Mapping) -> dict[str, t.Any]:
    """Drop the merge-only keys; a shallow copy, as merge_rules works on its own plain copies of the inputs."""
    return {key: value for key, value in rule.items() if key not in _MERGE_ONLY_KEYS}


def _is_catch_all(rule: Mapping) -> bool:
    return not any(has_items(rule.get(key)) for key in _SELECTOR_KEYS)


def merge_rules(
    baseline: t.Any,
    prepend: t.Any = (),
    append: t.Any = (),
    exclude: t.Any = (),
    extra_api_groups: t.Any = (),
    source_names: Mapping[str, str] | None = None,
    kubernetes_version: str | None = None,
    keep_names: bool = False,
) -> list[dict[str, t.Any]]:
    """Merge a named baseline rule list with a user's additions into the rules of one audit policy.

    Output order: ``prepend``, the baseline rules not in ``exclude`` up to (not including) the baseline's trailing
    catch-all rules, ``append``, then those trailing catch-all rules. A catch-all rule has none of users,
    userGroups, verbs, resources, namespaces, nonResourceURLs; without a trailing catch-all, ``append`` goes last.

    Each of ``prepend``, ``append``, ``exclude``, ``extra_api_groups`` (and ``baseline``) is a flat list, a list
    of lists (concatenated in the order given; the role passes its variables sorted by name) or None.

    ``exclude`` names baseline rules (their ``name`` key) to drop. ``extra_api_groups`` are API group names added
    as ``{group: NAME}`` to every baseline rule marked ``known_api_groups: true`` that does not list them yet.
    The ``name`` and ``known_api_groups`` keys are removed from the output (with ``keep_names``, a rule's ``name``
    stays, as its first key, so the caller can write it as a comment); rules otherwise keep their key order.
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
            raise AuditPolicyError(f"source_names: must be a mapping, not {describe(source_names)}.")
        labels.update(
            (str(key), list(value) if isinstance(value, (list, tuple)) else str(value))
            for key, value in source_names.items()
        )
    star_group_ok = star_group_allowed(kubernetes_version)
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
            problems.append(f"{place}: must be a baseline rule name (a string), not {describe(name)}")
        elif name not in known_names:
            problems.append(
                f"{place}: {quote(name)} is not the name of a baseline rule; "
                f"known names: {', '.join(known_names) or '(none)'}"
            )
        else:
            excluded.add(name)

    extra_groups: list[str] = []
    for place, group in inputs["extra_api_groups"]:
        if not isinstance(group, str):
            problems.append(f"{place}: must be an API group name (a string), not {describe(group)}")
        elif group in ("", "*") or group_problem(group, False):
            problems.append(f"{place}: {quote(group)} is not a lowercase DNS subdomain")
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
        kept.append((rule.get("name"), stripped))
    split = len(kept)
    while split > 0 and _is_catch_all(kept[split - 1][1]):
        split -= 1

    ordered = (
        [(rule.get("name"), _strip(rule)) for _place, rule in inputs["prepend"]]
        + kept[:split]
        + [(rule.get("name"), _strip(rule)) for _place, rule in inputs["append"]]
        + kept[split:]
    )
    merged: list[dict[str, t.Any]] = []
    seen: set[str] = set()
    for name, rule in ordered:
        fingerprint = json.dumps(rule, sort_keys=True)
        if fingerprint not in seen:
            seen.add(fingerprint)
            merged.append({"name": name, **rule} if keep_names and name else rule)
    if not merged:
        raise AuditPolicyError(
            f"{_first_label(labels['exclude'])}: excluding every baseline rule and adding none leaves a policy"
            " with no rules, which kube-apiserver refuses to load."
        )
    return merged
