# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""PRIVATE to the k0rdent.audit collection: the names in ``__all__`` may change without notice.

Responsible for: what every part of the audit-policy engine shares: its error type, the audit levels and stages of
audit.k8s.io/v1 (k8s.io/apiserver pkg/apis/audit/types.go), and the small helpers that copy input into plain data
and describe a value in a message.

May import: the Python standard library only. Modules carry this file to managed hosts.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Mapping

__all__ = (
    "AUDIT_LEVELS",
    "AUDIT_STAGES",
    "AuditPolicyError",
    "describe",
    "has_items",
    "plain_data",
    "quote",
)

# k8s.io/apiserver pkg/apis/audit/types.go: Level and Stage constants, in their order of detail and of time.
AUDIT_LEVELS: tuple[str, ...] = ("None", "Metadata", "Request", "RequestResponse")
AUDIT_STAGES: tuple[str, ...] = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")


class AuditPolicyError(ValueError):
    """Bad input to the engine; the message is meant for the person who wrote that input."""


def plain_data(value: t.Any) -> t.Any:
    """Copy ``value`` into builtin dicts, lists and strs, so tagged Ansible values and tuples are handled alike."""
    if isinstance(value, Mapping):
        return {(str(key) if isinstance(key, str) else key): plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def quote(value: t.Any) -> str:
    """``value`` as JSON for a message, cut to 80 characters."""
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(value: t.Any) -> str:
    """What ``value`` is, for a message saying what was expected instead ("the string ...", "a list")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "the boolean " + json.dumps(value)
    if isinstance(value, str):
        return "the string " + quote(value)
    if isinstance(value, (int, float)):
        return "the number " + repr(value)
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return "a " + type(value).__name__


def has_items(value: t.Any) -> bool:
    """Whether a rule field is set the way kube-apiserver tests it: a non-empty list (absent, null, [] are unset).

    k8s.io/apiserver pkg/audit/policy/checker.go tests ``len(rule.Users) > 0`` and so on.
    """
    return isinstance(value, list) and len(value) > 0
