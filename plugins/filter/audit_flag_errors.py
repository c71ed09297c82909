# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_flag_errors
short_description: Why kube-apiserver would refuse audit flags, before they reach k0s.yaml
version_added: 0.1.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Checks kube-apiserver audit flags as they would be written to C(spec.api.extraArgs) of k0s.yaml, the way
    kube-apiserver reads them (k8s.io/apiserver C(pkg/server/options/audit.go) and pflag).
  - Names are kube-apiserver's, case-sensitive, with C(_) read as C(-) like kube-apiserver does, so
    C(audit_log_maxage) is the same flag as C(audit-log-maxage) (both given is an error). An unknown C(audit*) name
    is reported with the nearest valid name.
  - Values are parsed as Go does, without trimming spaces (integers as C(strconv.ParseInt(s, 0, 64)), so C(0x10) is
    16 and C(1e3) is refused; booleans as C(strconv.ParseBool); durations as C(time.ParseDuration); the throttle QPS
    as a 32-bit float), then judged by kube-apiserver's option validation (negative retention, batch and truncate
    sizes, modes, formats, versions). Modes, formats and versions are compared exactly, as kube-apiserver compares
    them, so C("batch ") with a trailing space or C(Batch) is refused, with the exact word as the fix.
  - Our rules beyond kube-apiserver's, since a value that breaks them almost never means what it says; the policy,
    log and webhook config paths must be absolute (kube-apiserver would resolve a relative one in its working
    directory, the k0s data directory; C(-), standard output, is accepted for the log) and not empty; no value may
    hold a NUL byte, which no command-line argument can carry.
  - Flags that do not start with C(audit) are passed over. Warnings (deprecated or ignored flags) come from
    P(k0rdent.audit.audit_flag_warnings#filter).
seealso:
  - plugin: k0rdent.audit.audit_flag_warnings
    plugin_type: filter
    description: What kube-apiserver accepts but has deprecated or ignores.
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
- name: Refuse a misspelled flag and a flag a role variable owns
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
  vars:
    _errors: >-
      {{ k0s_audit_extra_args | k0rdent.audit.audit_flag_errors(source_name='k0s_audit_extra_args',
           owned_by={'audit-log-maxage': 'k0s_audit_log_maxage'}, owned_values={'audit-log-maxage': 30}) }}
"""

RETURN = r"""
_value:
  description:
    - One sentence per problem, each starting with C(SOURCE_NAME.FLAG), or with the role variable of O(owned_by)
      the value came from (a relative C(audit-log-path) of O(owned_values) is named C(k0s_audit_log_path) when
      that variable sets it), and saying the fix. Empty when kube-apiserver would accept every flag.
    - A value with surrounding spaces or control characters is shown quoted.
  type: list
  elements: str
"""

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_flags import audit_flag_errors


class FilterModule:
    def filters(self):
        return {"audit_flag_errors": audit_flag_errors}
