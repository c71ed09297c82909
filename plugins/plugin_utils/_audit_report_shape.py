# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The shape of a k0rdent.audit.k0s_audit_report report, as the audit_report_html filter reads it.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

:func:`report_problem` names the first field of a report the page cannot be drawn from (a list where a mapping
belongs, text or an infinite number where a count belongs), so that the filter says so in one sentence instead of
failing on it halfway through the page. Fields the page does not read are not checked; missing optional fields are
drawn as ``-``.
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Mapping

__all__ = ["report_problem"]

_COUNT = "count"  # a finite number, 0 or more, not true or false
_OPTIONAL_COUNT = "count or null"
_TEXT = "text or null"
_NAME = "name"  # text or a number: what a top list's row is about

_TOP = {"rule": _NAME, "events": _COUNT, "bytes": _COUNT}
_SHAPE: dict[str, t.Any] = {
    "events": _COUNT,
    "bytes": _OPTIONAL_COUNT,
    "span_seconds": _OPTIONAL_COUNT,
    "events_per_hour": _OPTIONAL_COUNT,
    "mib_per_hour": _OPTIONAL_COUNT,
    "first_event": _TEXT,
    "last_event": _TEXT,
    "files": [None],
    "warnings": [_TEXT],
    "skipped": {"total": _OPTIONAL_COUNT},
    "settings": {"log_path": _TEXT, "policy_source": _TEXT, "sources": {"*": _TEXT}},
    "retention": {
        "hours_held": _OPTIONAL_COUNT,
        "maxage_hours": _OPTIONAL_COUNT,
        "decided_by": _TEXT,
        "warning": _TEXT,
        "maxsize": _OPTIONAL_COUNT,
        "effective_maxsize": _OPTIONAL_COUNT,
        "maxbackup": _OPTIONAL_COUNT,
        "maxage": _OPTIONAL_COUNT,
    },
    "hours": [{"hour!": _TEXT, "events!": _COUNT, "bytes!": _COUNT}],
    "clock_outliers": [{"hour!": _TEXT, "events!": _COUNT, "bytes!": _COUNT}],
    "skipped_files": [{"path!": _TEXT, "reason!": _TEXT}],
    "top_rules": [{"rule": _NAME, "events": _COUNT, "bytes": _COUNT}],
    "top_users": [{"user": _NAME, "events": _COUNT, "bytes": _COUNT}],
    "top_verbs": [{"verb": _NAME, "events": _COUNT, "bytes": _COUNT}],
    "top_resources": [{"resource": _NAME, "events": _COUNT, "bytes": _COUNT}],
    "projection": {
        "events": _OPTIONAL_COUNT,
        "bytes": _OPTIONAL_COUNT,
        "mib_per_hour": _OPTIONAL_COUNT,
        "dropped_events": _OPTIONAL_COUNT,
        "estimated_events": _OPTIONAL_COUNT,
        "by_rule": [_TOP],
        "dropped": [{"rule!": _NAME, "dropped_by!": _NAME, "events!": _COUNT, "bytes!": _COUNT}],
        "changes": [
            {
                "rule!": _NAME,
                "candidate_rule!": _NAME,
                "from_level!": _NAME,
                "to_level!": _NAME,
                "events!": _COUNT,
                "projected_bytes!": _COUNT,
            }
        ],
    },
}


def _kind(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _scalar(value: t.Any, shape: str) -> str | None:
    """Why ``value`` is not of ``shape``, or None."""
    if shape == _TEXT:
        return None if value is None or isinstance(value, str) else f"{_kind(value)}, not text"
    if shape == _NAME:
        ok = isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))
        return None if ok or value is None else f"{_kind(value)}, not a name"
    if value is None and shape == _OPTIONAL_COUNT:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{_kind(value)}, not a number"
    if not math.isfinite(value) or value < 0:
        return f"{value}, not a finite number of 0 or more"
    return None


def _check(value: t.Any, shape: t.Any, where: str) -> tuple[str, str] | None:
    if shape is None:
        return None
    if isinstance(shape, str):
        why = _scalar(value, shape)
        return (where, why) if why else None
    if value is None:
        return None  # an optional part left out
    if isinstance(shape, list):
        if not isinstance(value, (list, tuple)):
            return where, f"{_kind(value)}, not a list"
        for index, item in enumerate(value):
            found = _check_item(item, shape[0], f"{where}[{index}]")
            if found:
                return found
        return None
    return _check_item(value, shape, where)


def _check_item(value: t.Any, shape: t.Any, where: str) -> tuple[str, str] | None:
    if not isinstance(shape, dict):
        return _check(value, shape, where)
    if not isinstance(value, Mapping):
        return where, f"{_kind(value)}, not a mapping"
    for key, inner in shape.items():
        if key == "*":
            for name, item in value.items():
                found = _check(item, inner, f"{where}.{name}")
                if found:
                    return found
            continue
        name = key.rstrip("!")
        if key.endswith("!") and name not in value:
            return where, f"it has no {name}"
        found = _check(value.get(name), inner, f"{where}.{name}" if where else name)
        if found:
            return found
    return None


def report_problem(report: t.Any) -> tuple[str, str] | None:
    """``(where, why)`` of the first field of ``report`` the page cannot be drawn from, else None."""
    return _check_item(report, _SHAPE, "")
