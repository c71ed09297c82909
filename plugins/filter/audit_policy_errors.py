# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_policy_errors
short_description: Every problem in a Kubernetes audit policy, each naming its exact place
version_added: 0.1.0
author: k0rdent.audit maintainers
description:
  - Checks an C(audit.k8s.io/v1) Policy the way kube-apiserver loads it, and returns one message per problem, each
    starting with the exact place, for example C(rules[12].resources[0].group) or C(rules[3].namespace).
  - Reports what kube-apiserver rejects (it then does not start) - C(apiVersion) other than V(audit.k8s.io/v1),
    C(kind) other than V(Policy), no rules, a missing or unknown C(level), unknown C(omitStages), malformed
    C(nonResourceURLs), C(nonResourceURLs) together with C(resources) or C(namespaces), a group that is not a
    lowercase DNS subdomain, the group V(*) before Kubernetes 1.36, C(resourceNames) without C(resources).
  - Also reports what kube-apiserver only warns about but is a mistake. An unknown or misspelled field is ignored
    by the API server, so the rule matches more than intended; the message suggests the nearest valid name.
    Wrong types, such as a string where a list is expected, are reported too.
  - Needs the C(jsonschema) Python library on the controller.
requirements:
  - jsonschema >= 4.0.0 on the Ansible controller
seealso:
  - plugin: k0rdent.audit.merge_audit_rules
    plugin_type: filter
    description: Builds the rules of the policy.
  - plugin: k0rdent.audit.audit_level
    plugin_type: filter
    description: Tells which level and rule the policy gives a request.
  - plugin: k0rdent.audit.audit_policy_findings
    plugin_type: filter
    description: Reports shadowed rules and CIS 3.2.2 gaps.
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that uses it in its preflight.
options:
  _input:
    description: The policy, a mapping with C(apiVersion), C(kind) and C(rules).
    type: raw
    required: true
  kubernetes_version:
    description:
      - The target cluster's Kubernetes version, for example V(1.31) or V(v1.31.2). The group V(*) (any API group)
        is valid only for V(1.36) and later; when not set, V(*) is reported.
    type: str
"""

EXAMPLES = r"""
- name: Refuse an invalid audit policy before it reaches a host
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join('; ') }}"
  vars:
    _errors: "{{ audit_policy | k0rdent.audit.audit_policy_errors(kubernetes_version='1.31') }}"
"""

RETURN = r"""
_value:
  description:
    - >-
      One message per problem, for example C(rules[3].namespace: unknown field; did you mean "namespaces"?).
      Empty when the policy is valid.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError


def audit_policy_errors(_input, kubernetes_version=None):
    # Imported when called, not with the file: ansible-core imports every filter file of the collection in each
    # forked worker whose templates use any of its filters, and this import (jsonschema) is most of that cost.
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import policy_errors

    try:
        return policy_errors(_input, kubernetes_version=kubernetes_version)
    except AuditPolicyError as exc:
        raise AnsibleFilterError(f"audit_policy_errors: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"audit_policy_errors": audit_policy_errors}
