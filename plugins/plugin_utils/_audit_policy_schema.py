# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""PRIVATE to the k0rdent.audit collection: the names in ``__all__`` may change without notice.

Responsible for: the JSON Schema (Draft 2020-12) of the STRUCTURE of an audit.k8s.io/v1 Policy: which fields exist
(k8s.io/apiserver pkg/apis/audit/v1/types.go), their types, which are required and which values an enum field
takes. Rules the schema cannot express well (group names, non-resource URL syntax, field combinations, Kubernetes
versions) live in ``_audit_policy_validate.py``.

Optional lists and booleans accept ``null`` because kube-apiserver decodes ``users:`` with no value as an empty
list; list items must be strings.

May import: ``plugins/module_utils/_audit_policy_common`` and the Python standard library. Controller only.
"""

from __future__ import annotations

import copy
import typing as t

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AUDIT_LEVELS, AUDIT_STAGES

__all__ = ("POLICY_SCHEMA", "rule_schema")

_STRING_LIST: dict[str, t.Any] = {"type": ["array", "null"], "items": {"type": "string"}}

POLICY_SCHEMA: dict[str, t.Any] = {
    "title": "audit.k8s.io/v1 Policy",
    "type": "object",
    "required": ["apiVersion", "kind", "rules"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"type": "string", "enum": ["audit.k8s.io/v1"]},
        "kind": {"type": "string", "enum": ["Policy"]},
        "metadata": {"type": ["object", "null"]},
        "rules": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/rule"}},
        "omitStages": {"$ref": "#/$defs/stages"},
        "omitManagedFields": {"type": ["boolean", "null"]},
    },
    "$defs": {
        "stages": {"type": ["array", "null"], "items": {"type": "string", "enum": list(AUDIT_STAGES)}},
        "rule": {
            "type": "object",
            "required": ["level"],
            "additionalProperties": False,
            "properties": {
                "level": {"type": "string", "enum": list(AUDIT_LEVELS)},
                "users": _STRING_LIST,
                "userGroups": _STRING_LIST,
                "verbs": _STRING_LIST,
                "resources": {"type": ["array", "null"], "items": {"$ref": "#/$defs/groupResources"}},
                "namespaces": _STRING_LIST,
                "nonResourceURLs": _STRING_LIST,
                "omitStages": {"$ref": "#/$defs/stages"},
                "omitManagedFields": {"type": ["boolean", "null"]},
            },
        },
        "groupResources": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "group": {"type": ["string", "null"]},
                "resources": _STRING_LIST,
                "resourceNames": _STRING_LIST,
            },
        },
    },
}


def rule_schema() -> dict[str, t.Any]:
    """Return a schema that validates a single policy rule, sharing the policy schema's definitions."""
    return {"$ref": "#/$defs/rule", "$defs": copy.deepcopy(POLICY_SCHEMA["$defs"])}
