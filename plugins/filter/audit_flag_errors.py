# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_flag_errors
short_description: Problems with kube-apiserver audit flags before they reach k0s.yaml
version_added: 0.1.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Checks a mapping of kube-apiserver flags as they would be written to C(spec.api.extraArgs) of k0s.yaml.
  - An C(audit-*) name that kube-apiserver does not know is reported with the nearest valid name, since the API
    server refuses to start on an unknown flag. Values are checked against each flag's type (integers, booleans,
    durations, fixed choices such as C(audit-log-format)).
  - Flags that do not start with C(audit) are passed over.
options:
  _input:
    description: 'The flags, without leading dashes, for example C({"audit-log-maxage": 30}).'
    type: dict
    required: true
  source_name:
    description: How to name the mapping in messages, for example the inventory variable it came from.
    type: str
    default: extra_args
"""

EXAMPLES = r"""
- name: Refuse a misspelled flag
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join('; ') }}"
  vars:
    _errors: "{{ {'audit-log-maxag': 7} | k0rdent.audit.audit_flag_errors(source_name='k0s_audit_extra_args') }}"
"""

RETURN = r"""
_value:
  description:
    - One sentence per problem, each starting with C(SOURCE_NAME.FLAG). Empty when every flag is valid.
  type: list
  elements: str
"""

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_flags import audit_flag_errors


class FilterModule:
    def filters(self):
        return {"audit_flag_errors": audit_flag_errors}
