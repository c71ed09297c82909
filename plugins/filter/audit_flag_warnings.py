# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_flag_warnings
short_description: Audit flags kube-apiserver accepts but has deprecated or ignores
version_added: 0.2.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - The companion of P(k0rdent.audit.audit_flag_errors#filter), with the same arguments.
  - Reports a deprecated flag kube-apiserver still registers (C(audit-webhook-batch-initial-backoff)), options of a
    backend that is off (no C(audit-log-path) or C(audit-webhook-config-file)), batch options when the backend's
    mode is not C(batch), and truncate sizes while truncation is not enabled.
seealso:
  - plugin: k0rdent.audit.audit_flag_errors
    plugin_type: filter
    description: What kube-apiserver would refuse.
  - plugin: k0rdent.audit.audit_flag_strings
    plugin_type: filter
    description: The flags spelled as k0s.yaml holds them.
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that uses it in its preflight.
options:
  _input:
    description: 'The flags of C(k0s_audit_extra_args) (or any C(spec.api.extraArgs) mapping), without leading dashes,
      for example C({"audit-log-maxage": "30"}).'
    type: dict
    required: true
  source_name:
    description: How to name the mapping in messages (C(SOURCE_NAME.FLAG)), for example the inventory variable.
    type: str
    default: extra_args
  owned_by:
    description:
      - Flag names mapped to the role variable that sets them. Such a flag in the input is reported (set the
        variable instead); the values in O(owned_values) are named after their variable.
    type: dict
    default: {}
  owned_values:
    description:
      - >-
        The values the role variables give the flags of O(owned_by), for example C({"audit-log-maxage": 30}).
        Checked like the input; together with the input they are the complete set of audit flags kube-apiserver
        gets, which its option validation judges as a whole (a backend's options only while it is on).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Show what kube-apiserver would accept but ignore
  ansible.builtin.debug:
    msg: "{{ _warnings }}"
  when: _warnings | length > 0
  vars:
    _warnings: "{{ k0s_audit_extra_args | k0rdent.audit.audit_flag_warnings(source_name='k0s_audit_extra_args') }}"
"""

RETURN = r"""
_value:
  description: One sentence per warning, each starting with C(SOURCE_NAME.FLAG). Empty when there is none.
  type: list
  elements: str
"""

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_flags import audit_flag_warnings


class FilterModule:
    def filters(self):
        return {"audit_flag_warnings": audit_flag_warnings}
