# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_policy_findings
short_description: Dead rules and CIS Kubernetes Benchmark 3.2.2 gaps in a Kubernetes audit policy
version_added: 0.1.0
author: k0rdent.audit maintainers
description:
  - Reviews a valid C(audit.k8s.io/v1) Policy and returns advice, not errors.
  - Category V(shadowed), code V(shadowed-rule) - a rule that can never match because an earlier rule matches every
    request it could match (the first match wins). Only rules that are provably dead are reported.
  - Category V(cis) - a requirement of CIS Kubernetes Benchmark 3.2.2 that the policy does not meet, found by
    simulating requests from an ordinary user, a service account and a node. Codes V(cis-3.2.2-secrets),
    V(cis-3.2.2-configmaps), V(cis-3.2.2-tokenreviews) (logged above Metadata), V(cis-3.2.2-pods-exec),
    V(cis-3.2.2-pods-portforward), V(cis-3.2.2-pods-proxy), V(cis-3.2.2-services-proxy),
    V(cis-3.2.2-pod-changes), V(cis-3.2.2-deployment-changes) (not logged, or every stage omitted).
  - Category V(advice), code V(empty-resource-name) - C(resourceNames) holds V(""), which kube-apiserver accepts and
    matches only against requests without an object name (a create, or a list or watch without
    C(fieldSelector=metadata.name=...)).
requirements:
  - jsonschema >= 4.0.0 on the Ansible controller
seealso:
  - plugin: k0rdent.audit.merge_audit_rules
    plugin_type: filter
    description: Builds the rules of the policy.
  - plugin: k0rdent.audit.audit_policy_errors
    plugin_type: filter
    description: Validates the policy against the audit.k8s.io/v1 rules.
  - plugin: k0rdent.audit.audit_level
    plugin_type: filter
    description: Tells which level and rule the policy gives a request.
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that uses it in its preflight.
options:
  _input:
    description: The policy, a mapping with C(apiVersion), C(kind) and C(rules). It must be valid.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show advice on an audit policy
  ansible.builtin.debug:
    msg: "{{ audit_policy | k0rdent.audit.audit_policy_findings | map(attribute='message') | list }}"

- name: Require CIS 3.2.2 coverage
  ansible.builtin.assert:
    that: _cis | length == 0
  vars:
    _cis: "{{ audit_policy | k0rdent.audit.audit_policy_findings | selectattr('category', 'equalto', 'cis') | list }}"
"""

RETURN = r"""
_value:
  description: The findings, shadowed rules first (by rule index), then CIS gaps. Empty when there is nothing to say.
  type: list
  elements: dict
  contains:
    code:
      description: A stable identifier, V(shadowed-rule) or V(cis-3.2.2-...).
      type: str
    category:
      description: V(shadowed) or V(cis).
      type: str
    rule_index:
      description: The rule concerned (the dead rule, or the rule that decided the failing request); V(null) if none.
      type: int
    message:
      description: One sentence saying what is wrong and what to do.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError


def audit_policy_findings(_input):
    # Imported when called, for the reason given in audit_policy_errors.py.
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_findings import policy_findings

    try:
        return policy_findings(_input)
    except AuditPolicyError as exc:
        raise AnsibleFilterError(f"audit_policy_findings: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"audit_policy_findings": audit_policy_findings}
