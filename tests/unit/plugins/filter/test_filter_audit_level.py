# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The audit_level filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.k0rdent.audit.plugins.filter.audit_level import FilterModule
from ansible_collections.k0rdent.audit.plugins.plugin_utils import _audit_policy_validate

audit_level = FilterModule().filters()["audit_level"]
POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["Panic"],
    "rules": [
        {"level": "None", "nonResourceURLs": ["/healthz*"]},
        {"level": "Metadata", "resources": [{"resources": ["secrets"]}], "omitStages": ["RequestReceived"]},
    ],
}


def test_registered_name():
    assert set(FilterModule().filters()) == {"audit_level"}


def test_resource_event():
    event = {"user": {"username": "jane"}, "verb": "get", "objectRef": {"resource": "secrets", "namespace": "a"}}
    assert audit_level(POLICY, event) == {
        "level": "Metadata",
        "rule_index": 1,
        "omit_stages": ["Panic", "RequestReceived"],
    }


def test_non_resource_event_and_no_match():
    assert audit_level(POLICY, {"verb": "get", "requestURI": "/healthz?verbose"})["rule_index"] == 0
    assert audit_level(POLICY, {"verb": "get", "requestURI": "/metrics"}) == {
        "level": "None",
        "rule_index": None,
        "omit_stages": ["Panic"],
    }


def test_compiled_policy_is_cached_by_content(monkeypatch):
    _audit_policy_validate._CACHE.clear()
    calls = []
    real = _audit_policy_validate.compile_valid_policy
    monkeypatch.setattr(_audit_policy_validate, "compile_valid_policy", lambda policy: calls.append(1) or real(policy))
    for _unused in range(5):
        audit_level(dict(POLICY), {"verb": "get", "requestURI": "/metrics"})
    assert len(calls) == 1
    changed = dict(POLICY, omitStages=[])
    assert audit_level(changed, {"verb": "get", "requestURI": "/metrics"})["omit_stages"] == []
    assert len(calls) == 2


def test_cache_is_bounded():
    _audit_policy_validate._CACHE.clear()
    for index in range(_audit_policy_validate._CACHE_SIZE + 5):
        audit_level({**POLICY, "metadata": {"name": str(index)}}, {})
    assert len(_audit_policy_validate._CACHE) == _audit_policy_validate._CACHE_SIZE


def test_invalid_policy_raises_filter_error():
    with pytest.raises(AnsibleFilterError) as info:
        audit_level({**POLICY, "rules": [{"level": "Everything"}]}, {})
    assert info.value.message.startswith(
        'audit_level: The audit policy is not valid: rules[0].level: "Everything" is not valid; use one of '
    )


def test_non_mapping_event_raises_filter_error():
    with pytest.raises(AnsibleFilterError, match=r"^audit_level: event: must be a mapping shaped like an audit"):
        audit_level(POLICY, "GET /healthz")


def test_cache_works_for_mapping_subclasses_too():
    from collections import OrderedDict

    _audit_policy_validate._CACHE.clear()
    tagged = OrderedDict(POLICY)
    for _unused in range(3):
        assert audit_level(tagged, {"verb": "get", "requestURI": "/metrics"})["rule_index"] is None
    assert len(_audit_policy_validate._CACHE) == 1


def test_uncacheable_policy_still_evaluates():
    _audit_policy_validate._CACHE.clear()
    from collections import OrderedDict

    # A mapping subclass (no marshal) with a key json cannot write.
    odd = OrderedDict(POLICY, metadata={("not", "a", "string"): 1})
    assert audit_level(odd, {"verb": "get", "requestURI": "/healthz"})["rule_index"] == 0
    assert len(_audit_policy_validate._CACHE) == 0
