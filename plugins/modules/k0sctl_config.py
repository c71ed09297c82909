#!/usr/bin/python
# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: k0sctl_config
short_description: Set or remove kube-apiserver flags in spec.k0s.config of a k0sctl.yaml
version_added: 0.2.0
description:
  - Edits C(spec.k0s.config.spec.api.extraArgs) of a k0sctl C(Cluster) file (the operator's C(k0sctl.yaml)),
    for example to turn kube-apiserver audit logging on or off on clusters that k0sctl manages.
  - On every C(k0sctl apply), k0sctl rebuilds C(/etc/k0s/k0s.yaml) on each controller from C(spec.k0s.config) and
    restarts k0s when it changed, so a flag set only on the hosts (with M(k0rdent.audit.k0s_config)) is reverted by
    the next apply unless the k0sctl.yaml carries it too. This module puts it there.
  - The file usually lives on the Ansible controller; run the task with C(delegate_to=localhost) (and
    C(run_once=true)).
  - Everything else in the file is kept byte for byte, including comments, key order, the hosts, their C(files)
    and C(hooks). When the Python library C(ruamel.yaml) cannot be imported, the file is re-written with PyYAML,
    its comments are lost and the module warns about it.
  - Every value this module writes is a double-quoted YAML string, as k0s expects (V(7) becomes V("7")).
  - The file is refused, and left untouched, when it is not valid YAML, holds more than one document, is not a
    C(k0sctl.k0sproject.io/v1beta1) C(Cluster) (a k0s C(ClusterConfig) is named as such), when C(spec.k0s.config)
    names another C(apiVersion) or C(kind) than a k0s C(ClusterConfig), or when a mapping on the way to
    C(extraArgs) is something else.
  - Missing C(spec.k0s), C(spec.k0s.config), C(spec), C(api) and C(extraArgs) are created. No C(apiVersion) or
    C(kind) is added to a new C(spec.k0s.config), because k0sctl adds both itself when it writes the k0s.yaml
    (k0sctl C(phase/configure_k0s.go), C(configFor)); the module adds only what it was asked to set.
  - When the flags removed were the last thing in a C(spec.k0s.config) the module created, the now empty mappings
    are deleted again, because k0sctl treats any non-empty C(spec.k0s.config) as the whole configuration.
  - Only a regular file of at most 1 MiB is read, a symbolic link is followed (and stays a link), a loop of
    symbolic links, aliases that expand to far more data than the file holds and mappings or lists nested more
    than 100 levels deep (also through aliases) are refused, and two runs on the same file are serialised by an
    exclusive lock beside it.
  - Each line keeps its own line break (LF, CRLF or CR, also mixed in one file); a new line gets the break of the
    line before it.
author:
  - k0rdent.audit contributors (@k0rdent)
options:
  path:
    description:
      - The k0sctl configuration file to edit. It must exist. A symbolic link is followed.
    type: path
    required: true
  extra_args:
    description:
      - kube-apiserver flags to set in C(spec.k0s.config.spec.api.extraArgs), flag name without the leading
        dashes as key.
      - Values may be strings, numbers or booleans; they are written as YAML strings (booleans in lower case, as
        Go spells them). A null, list or mapping value is refused.
      - Flags of the file that are not named here are kept.
    type: dict
    default: {}
  remove_extra_args:
    description:
      - Names of flags to delete from C(spec.k0s.config.spec.api.extraArgs). Names that are not there are ignored.
      - A name may not be in O(extra_args) too.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
  - ansible.builtin.backup
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Secrets are shown as C(********) in the diff, in the returned values, in warnings and in error messages,
        never in clear; the file itself keeps them. The rule errs toward masking. Hidden are every value below a
        host's connection settings (C(spec.hosts[].ssh), C(winRM), C(openSSH), C(localhost) and any other key that
        is not one of k0sctl's host settings such as C(role), C(files) or C(hooks)), below
        C(spec.k0s.config.spec.storage) and below each helm repository but its C(name) and C(url); every value
        below a key whose name contains C(pass), C(pwd), C(secret), C(token), C(key), C(credential), C(auth) or
        C(datasource) in any case (so also C(keyPath) and C(token-auth-file)); numbers and booleans as well as
        strings; values holding a PEM block; the user information of URLs; and the value after such a key in
        a comment.
  platform:
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
notes:
  - The backup (O(backup=true)) is made only when the file changes and not in check mode, privately, and gets the
    owner and mode of the original only once it is complete.
  - Run C(k0sctl apply) afterwards to roll the change out; k0sctl restarts k0s on each controller whose k0s.yaml
    changed.
seealso:
  - module: k0rdent.audit.k0s_host_info
    description: Reads which config file the controller reads, and the account kube-apiserver runs as.
  - module: k0rdent.audit.k0s_controller_ready
    description: Waits for the controller after the restart that makes the flags take effect.
  - plugin: k0rdent.audit.audit_flag_strings
    plugin_type: filter
    description: The values as this module writes them.
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that runs this module.
  - module: k0rdent.audit.k0s_config
    description: The same flags in the k0s.yaml of one controller.
  - name: k0sctl configuration
    description: The k0sctl.yaml reference.
    link: https://docs.k0sproject.io/stable/k0sctl-install/
"""

EXAMPLES = r"""
- name: Carry the audit flags in k0sctl.yaml, so that k0sctl apply keeps them
  k0rdent.audit.k0sctl_config:
    path: "{{ playbook_dir }}/k0sctl.yaml"
    extra_args:
      audit-policy-file: /etc/k0s/audit-policy.yaml
      audit-log-path: /var/log/k0s/audit/audit.log
      audit-log-maxage: 30
    backup: true
  delegate_to: localhost
  run_once: true

- name: Remove them again
  k0rdent.audit.k0sctl_config:
    path: "{{ playbook_dir }}/k0sctl.yaml"
    remove_extra_args:
      - audit-policy-file
      - audit-log-path
      - audit-log-maxage
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
changed:
  description: Whether the content of the file (or its owner, group or mode) changed, or would in check mode.
  returned: always
  type: bool
  sample: true
path:
  description: The path as given.
  returned: always
  type: str
  sample: /home/ops/cluster/k0sctl.yaml
real_path:
  description: The file that is read and written, the target of O(path) when it is a symbolic link.
  returned: always
  type: str
  sample: /home/ops/cluster/k0sctl.yaml
created_sections:
  description:
    - The mapping on the way to C(extraArgs) that did not exist (or was empty) and was created, such as
      V(spec.k0s.config); empty when it was there. When V(spec.k0s.config) is listed the module also warns that
      k0sctl now builds every k0s.yaml from it instead of from the leader's existing one.
  returned: always
  type: list
  elements: str
  sample: ["spec.k0s.config"]
extra_args:
  description: All of C(spec.k0s.config.spec.api.extraArgs) after the change, secrets masked.
  returned: always
  type: dict
  sample: {"audit-log-maxage": "30", "audit-log-path": "/var/log/k0s/audit/audit.log"}
previous_extra_args:
  description: C(spec.k0s.config.spec.api.extraArgs) before the change, secrets masked.
  returned: always
  type: dict
  sample: {}
raw_args:
  description: C(spec.k0s.config.spec.api.rawArgs), appended to kube-apiserver's command line unchecked, masked.
  returned: always
  type: list
  elements: str
  sample: []
audit_raw_args:
  description: The entries of RV(raw_args) that set an C(--audit-*) flag; they override extraArgs.
  returned: always
  type: list
  elements: str
  sample: []
created:
  description: Always V(false); a missing k0sctl.yaml is refused.
  returned: always
  type: bool
  sample: false
removed:
  description: Always V(false); the file is never deleted.
  returned: always
  type: bool
  sample: false
backup_file:
  description: Name of the backup file that was made.
  returned: changed and O(backup=true) and not in check mode
  type: str
  sample: /home/ops/cluster/k0sctl.yaml.4242.2026-08-01@12:00:00~
diff:
  description:
    - The change, when run with C(--diff); secret values are shown as C(********).
    - A dictionary with C(before), C(after), C(before_header) and C(after_header); a list of two such dictionaries
      (content, then file attributes) when owner, group or mode change as well.
  returned: in diff mode
  type: raw
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.k0rdent.audit.plugins.module_utils._config_edit import run_edit
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config import HAS_YAML, K0SCTL, YAML_IMPORT_ERROR


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            extra_args=dict(type="dict", default={}),
            remove_extra_args=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    run_edit(
        module,
        K0SCTL,
        "k0rdent.audit.k0sctl_config",
        facts=lambda result: dict(created_sections=result.created_sections if result.changed else []),
    )


if __name__ == "__main__":
    main()
