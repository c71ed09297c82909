# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_level
short_description: The audit level a Kubernetes audit policy gives one request
version_added: 0.1.0
author: k0rdent.audit maintainers
description:
  - Simulates kube-apiserver's audit policy for one request, given as an C(audit.k8s.io/v1) Event (for example a
    line of an audit log). The first matching rule decides; without a match the level is V(None).
  - A request with an C(objectRef) is a resource request (C(apiGroup), C(resource), C(subresource), C(namespace),
    C(name)); any other is a non-resource request matched on C(requestURI) without its query string.
  - An event of a Namespace (core C(namespaces)) without C(objectRef.namespace) is in the namespace of its own name
    only for C(get), C(update), C(patch) and C(delete), of the object or its C(status) or C(finalize) subresource,
    as kube-apiserver's request parsing gives it; a C(list) or C(watch) naming it by C(fieldSelector) is not.
  - The policy is validated and compiled once and cached by content, so calling this in a loop is cheap.
positional: event
requirements:
  - jsonschema >= 4.0.0 on the Ansible controller
seealso:
  - plugin: k0rdent.audit.merge_audit_rules
    plugin_type: filter
    description: Builds the rules of the policy.
  - plugin: k0rdent.audit.audit_policy_errors
    plugin_type: filter
    description: Validates the policy against the audit.k8s.io/v1 rules.
  - plugin: k0rdent.audit.audit_policy_findings
    plugin_type: filter
    description: Reports shadowed rules and CIS 3.2.2 gaps.
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that uses it in its preflight.
options:
  _input:
    description: The policy, a mapping with C(apiVersion), C(kind) and C(rules). It must be valid.
    type: dict
    required: true
  event:
    description:
      - The request as an audit event, with C(user.username), C(user.groups), C(verb) and either C(objectRef) or
        C(requestURI). Missing optional fields are treated as empty.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check that reading a Secret is logged at Metadata level
  ansible.builtin.assert:
    that: (audit_policy | k0rdent.audit.audit_level(_event)).level == 'Metadata'
  vars:
    _event:
      user: {username: jane, groups: [system:authenticated]}
      verb: get
      objectRef: {resource: secrets, namespace: default, name: db-password}

- name: Which rule decides each request of a recorded audit log
  ansible.builtin.debug:
    msg: "{{ audit_policy | k0rdent.audit.audit_level(item) }}"
  loop: "{{ lookup('ansible.builtin.file', 'audit.log').splitlines() | map('from_json') | list }}"
"""

RETURN = r"""
_value:
  description: What the policy does with the request.
  type: dict
  contains:
    level:
      description: The audit level, one of V(None), V(Metadata), V(Request), V(RequestResponse).
      type: str
    rule_index:
      description: Index in C(rules) of the rule that decided, V(null) when no rule matches.
      type: int
    omit_stages:
      description: The stages not logged, sorted; the policy's and the matching rule's C(omitStages) together.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError


def audit_level(_input, event):
    # Imported when called, for the reason given in audit_policy_errors.py.
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import evaluate

    try:
        return evaluate(_input, event)
    except AuditPolicyError as exc:
        raise AnsibleFilterError(f"audit_level: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"audit_level": audit_level}
