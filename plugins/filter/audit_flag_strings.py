# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_flag_strings
short_description: kube-apiserver flags spelled as k0s.yaml and the API server's command line spell them
version_added: 0.2.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Turns every value of a mapping of flags into the string kube-apiserver receives (C(--KEY=VALUE)). Numbers as
    digits, booleans in Go's lower case (V(true), V(false)), strings as they are.
  - This is what C(spec.api.extraArgs) must hold (k0s decodes it as C(map[string]string)), what the
    M(k0rdent.audit.k0s_config) module writes, and what a running API server shows on its command line, so the
    role compares the live server's flags with it.
options:
  _input:
    description: The flags, without leading dashes.
    type: dict
    required: true
seealso:
  - plugin: k0rdent.audit.audit_flag_errors
    plugin_type: filter
    description: Checks the flags before they are turned into strings.
  - module: k0rdent.audit.k0s_config
    description: Writes these strings into C(spec.api.extraArgs) of k0s.yaml.
  - module: k0rdent.audit.k0sctl_config
    description: Writes them into C(spec.k0s.config.spec.api.extraArgs) of k0sctl.yaml.
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that compares them with the live API server's command line.
"""

EXAMPLES = r"""
- name: Show the flags as k0s.yaml holds them
  ansible.builtin.debug:
    msg: "{{ {'audit-log-maxage': 30, 'audit-log-compress': true} | k0rdent.audit.audit_flag_strings }}"
    # {"audit-log-maxage": "30", "audit-log-compress": "true"}
"""

RETURN = r"""
_value:
  description: The same keys, every value a string.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_flags import flag_value_to_string


def audit_flag_strings(flags):
    if not isinstance(flags, dict):
        raise AnsibleFilterError(
            "audit_flag_strings expects a mapping of flag names to values, not %s" % type(flags).__name__
        )
    return {str(name): flag_value_to_string(value) for name, value in flags.items()}


class FilterModule:
    def filters(self):
        return {"audit_flag_strings": audit_flag_strings}
