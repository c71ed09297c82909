# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What the policy-engine tests share: a policy built from rules, and the fixtures directory."""

from __future__ import annotations

import typing as t
from pathlib import Path

import yaml

__all__ = ("FIXTURES", "policy", "seed_policy")

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def policy(*rules: t.Any, **fields: t.Any) -> dict[str, t.Any]:
    """An audit.k8s.io/v1 Policy with ``rules`` in order and any other top-level ``fields``."""
    return {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules), **fields}


def seed_policy() -> dict[str, t.Any]:
    """The seed baseline policy of tests/unit/fixtures, parsed afresh (callers may change it)."""
    return yaml.safe_load((FIXTURES / "seed_baseline_policy.yaml").read_text())
