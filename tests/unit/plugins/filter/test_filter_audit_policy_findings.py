# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The audit_policy_findings filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from audit_policy_helpers import seed_policy

from ansible_collections.k0rdent.audit.plugins.filter.audit_policy_findings import FilterModule

audit_policy_findings = FilterModule().filters()["audit_policy_findings"]


def test_registered_name():
    assert set(FilterModule().filters()) == {"audit_policy_findings"}


def test_seed_baseline_has_no_findings():
    assert audit_policy_findings(seed_policy()) == []


def test_findings():
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "rules": [{"level": "RequestResponse"}, {"level": "Metadata", "resources": [{"resources": ["secrets"]}]}],
    }
    findings = audit_policy_findings(policy)
    assert [(f["category"], f["code"], f["rule_index"]) for f in findings] == [
        ("shadowed", "shadowed-rule", 1),
        ("cis", "cis-3.2.2-secrets", 0),
        ("cis", "cis-3.2.2-configmaps", 0),
        ("cis", "cis-3.2.2-tokenreviews", 0),
    ]


def test_invalid_policy_raises_filter_error():
    with pytest.raises(AnsibleFilterError, match=r"^audit_policy_findings: The audit policy is not valid: rules: "):
        audit_policy_findings({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": []})
