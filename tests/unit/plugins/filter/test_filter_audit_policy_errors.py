# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The audit_policy_errors filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from audit_policy_helpers import policy

from ansible_collections.k0rdent.audit.plugins.filter.audit_policy_errors import FilterModule
from ansible_collections.k0rdent.audit.plugins.plugin_utils import _audit_policy_validate

audit_policy_errors = FilterModule().filters()["audit_policy_errors"]


def test_registered_name():
    assert set(FilterModule().filters()) == {"audit_policy_errors"}


def test_valid_policy():
    assert audit_policy_errors(policy({"level": "Metadata"})) == []


def test_errors_are_returned_not_raised():
    assert audit_policy_errors(policy({"level": "None", "namespace": ["x"]})) == [
        'rules[0].namespace: unknown field; did you mean "namespaces"?'
    ]


def test_non_mapping_policy():
    assert audit_policy_errors(None) == ["policy: must be a mapping with apiVersion, kind and rules, not null"]


def test_kubernetes_version_option():
    star = policy({"level": "None", "resources": [{"group": "*"}]})
    assert len(audit_policy_errors(star)) == 1
    assert len(audit_policy_errors(star, kubernetes_version="1.35")) == 1
    assert audit_policy_errors(star, kubernetes_version="1.36") == []


def test_bad_kubernetes_version_raises():
    with pytest.raises(AnsibleFilterError) as info:
        audit_policy_errors(policy({"level": "None"}), kubernetes_version="1.3x")
    assert info.value.message == (
        'audit_policy_errors: kubernetes_version: "1.3x" is not a Kubernetes version such as "1.31" or "v1.31.2".'
    )


def test_missing_jsonschema_raises_one_sentence(monkeypatch):
    monkeypatch.setattr(_audit_policy_validate, "HAS_JSONSCHEMA", False)
    monkeypatch.setattr(_audit_policy_validate, "_VALIDATORS", {})
    with pytest.raises(AnsibleFilterError) as info:
        audit_policy_errors(policy({"level": "None"}))
    assert info.value.message == (
        "audit_policy_errors: The jsonschema Python library is required to validate audit policies; install it on "
        "the Ansible controller (for example with pip install jsonschema)."
    )
