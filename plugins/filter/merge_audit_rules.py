# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: merge_audit_rules
short_description: Merge a named baseline of audit policy rules with your own rules
version_added: 0.1.0
author: k0rdent.audit maintainers
description:
  - Builds the C(rules) list of an C(audit.k8s.io/v1) Policy from a baseline rule list (each rule with a stable
    C(name)) and your additions, and validates every input rule the way kube-apiserver would.
  - "Output order: O(prepend), the baseline rules not named in O(exclude) up to (not including) the baseline's
    trailing catch-all rules, O(append), then those catch-all rules. A catch-all rule has none of C(users),
    C(userGroups), C(verbs), C(resources), C(namespaces), C(nonResourceURLs). Without a trailing catch-all,
    O(append) goes last. The first matching rule wins, so this order lets appended rules still match."
  - O(prepend), O(append), O(exclude) and O(extra_api_groups) each take a flat list, a list of lists (joined in the
    order given, so pass several variables sorted by name for a deterministic result) or V(null).
  - The C(name) and C(known_api_groups) keys are removed from the output; otherwise rules keep their keys and key
    order. Exact duplicates are dropped, the first one kept.
  - >-
    Fails with one message listing every problem, each naming the input and list index, for example
    C(prepend[1].resources[0].group: "Apps" is not a lowercase DNS subdomain).
requirements:
  - jsonschema >= 4.0.0 on the Ansible controller
seealso:
  - plugin: k0rdent.audit.audit_policy_errors
    plugin_type: filter
    description: Validates the policy against the audit.k8s.io/v1 rules.
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
    description:
      - The baseline rules. A rule may carry C(name) (used by O(exclude)) and C(known_api_groups=true) (where
        O(extra_api_groups) are added). May be empty.
    type: list
    elements: dict
    required: true
  prepend:
    description: Rules tried before every baseline rule; a rule may carry a C(name) for readability.
    type: raw
  append:
    description: Rules tried after the baseline's specific rules and before its trailing catch-all rules.
    type: raw
  exclude:
    description: Names of baseline rules to leave out. An unknown name is an error that lists the known names.
    type: raw
  extra_api_groups:
    description:
      - >-
        API group names (lowercase DNS subdomains such as V(cert-manager.io)) added as C({group: NAME}) to every
        baseline rule marked C(known_api_groups=true), unless that rule lists the group already.
    type: raw
  source_names:
    description:
      - Labels used in messages instead of V(baseline), V(prepend), V(append), V(exclude) and V(extra_api_groups),
        for example the variable names the values came from.
    type: dict
  kubernetes_version:
    description:
      - The target cluster's Kubernetes version, for example V(1.31) or V(v1.31.2). The group V(*) is accepted only
        for V(1.36) and later; when not set, V(*) is refused.
    type: str
  keep_names:
    description:
      - Keep each rule's C(name) (as its first key) in the output, so it can be written as a comment above the rule.
      - kube-apiserver does not know C(name); remove it from the rules before they become a policy.
    type: bool
    default: false
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Build the rules of an audit policy from the k0rdent baseline
  ansible.builtin.set_fact:
    audit_rules: >-
      {{ baseline_rules | k0rdent.audit.merge_audit_rules(
           prepend=[{'name': 'drop-health-probes', 'level': 'None', 'users': ['system:probe']}],
           exclude=['drop-events'],
           extra_api_groups=['cert-manager.io'],
           source_names={'prepend': 'my_prepend_rules'}) }}

- name: Join several variables, sorted by name, into one list of appended rules
  ansible.builtin.set_fact:
    audit_rules: >-
      {{ baseline_rules | k0rdent.audit.merge_audit_rules(
           append=query('ansible.builtin.varnames', '^audit_rules_append_.+') | sort
                  | map('extract', vars) | list) }}
"""

RETURN = r"""
_value:
  description: The merged rules, ready to be the C(rules) of an C(audit.k8s.io/v1) Policy.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError


def merge_audit_rules(
    _input,
    prepend=None,
    append=None,
    exclude=None,
    extra_api_groups=None,
    source_names=None,
    kubernetes_version=None,
    keep_names=False,
):
    # Imported when called, for the reason given in audit_policy_errors.py.
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_merge import merge_rules

    try:
        return merge_rules(
            _input,
            prepend=prepend,
            append=append,
            exclude=exclude,
            extra_api_groups=extra_api_groups,
            source_names=source_names,
            kubernetes_version=kubernetes_version,
            keep_names=keep_names,
        )
    except AuditPolicyError as exc:
        raise AnsibleFilterError(f"merge_audit_rules: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"merge_audit_rules": merge_audit_rules}
