#!/usr/bin/python
# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: k0s_config
short_description: Set or remove kube-apiserver flags in spec.api.extraArgs of a k0s.yaml
version_added: 0.1.0
description:
  - Edits C(spec.api.extraArgs) of a k0s C(ClusterConfig) file (by default C(/etc/k0s/k0s.yaml) on a controller),
    for example to turn kube-apiserver audit logging on or off.
  - Everything else in the file is kept, including the other flags and the key order. When the Python library
    C(ruamel.yaml) can be imported on the host, comments and the quoting of the untouched parts are kept too;
    otherwise the file is re-written with PyYAML, its comments are lost and the module warns about it.
  - k0s reads C(extraArgs) as a map of strings and refuses an unquoted number or boolean there, so every value
    this module writes is a double-quoted string (V(7) becomes V("7"), V(true) becomes V("true")).
  - The module decides whether something changes by comparing the parsed content before and after, not the text,
    and writes nothing when the content is already right.
  - The file is refused, and left untouched, when it is not valid YAML, holds more than one document, is not a
    C(k0s.k0sproject.io/v1beta1) C(ClusterConfig) (a k0sctl C(Cluster) file is named as such), or when C(spec),
    C(spec.api) or C(spec.api.extraArgs) is not a mapping.
  - k0s reads C(spec.api) only when C(k0scontroller) starts; restarting it is up to the caller.
  - Only a regular file is read (a named pipe or device is refused without blocking), a symbolic link is followed
    only to a regular file and the link itself stays, and a file bigger than 1 MiB is refused. YAML aliases that
    expand to far more data than the file holds are refused, with the same bound k0s's YAML library applies.
  - Two runs on the same file never lose an update; the read-modify-write happens under an exclusive lock
    (C(flock) on C(.NAME.k0rdent-audit.lock) beside the file, removed afterwards); a run that cannot get it within
    10 seconds fails and changes nothing.
  - CRLF line breaks, comments (also with tabs), anchors and aliases elsewhere in the file are kept. When no
    ruamel.yaml rendering reproduces the file faithfully, PyYAML re-writes it with a warning.
author:
  - k0rdent.audit contributors (@k0rdent)
options:
  path:
    description:
      - The k0s configuration file to edit. A symbolic link is followed.
      - When it does not exist and O(extra_args) sets a flag, it is created as a minimal C(ClusterConfig) made of
        a first comment line saying this collection created it, C(apiVersion), C(kind), C(metadata.name=k0s) and
        C(spec.api.extraArgs), nothing else. k0s merges the file over its defaults, so every other setting stays
        k0s's default. The output of C(k0s config create) is never used, because it says C(storage.type=etcd) and pins
        C(spec.api.address), which would move a C(--single) (kine) controller to a new, empty etcd.
      - A new file gets mode V(0600) unless O(mode) is given. Its directory must exist; the module does not
        create it.
      - A file this collection created that holds nothing but that skeleton once O(remove_extra_args) has removed
        its last flag is deleted (RV(removed)), so that k0s runs on its defaults again as before.
    type: path
    default: /etc/k0s/k0s.yaml
  extra_args:
    description:
      - kube-apiserver flags to set in C(spec.api.extraArgs), flag name without the leading dashes as key.
      - Values may be strings, numbers or booleans; they are written as YAML strings (booleans in lower case, as
        Go spells them). A null, list or mapping value is refused.
      - Flags of the file that are not named here are kept.
    type: dict
    default: {}
  remove_extra_args:
    description:
      - Names of flags to delete from C(spec.api.extraArgs). Names that are not there are ignored.
      - A name may not be in O(extra_args) too.
      - When nothing is left, the empty C(extraArgs) key is removed as well.
      - When the file does not exist, nothing is created for a removal.
    type: list
    elements: str
    default: []
  validate:
    description:
      - The validation command to run on a temporary copy of the new content before it replaces the file.
      - The temporary file path is passed in through C(%s), which must be present. The command is run without a
        shell, so shell features such as expansion and pipes do not work.
      - When not set and a C(k0s) binary is on the E(PATH), C(k0s config validate --config %s) is run; when not set
        and there is no C(k0s) binary, nothing is run. Set it to an empty string to skip validation.
      - In check mode the command runs too, so that check mode fails where a real run would.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
  - ansible.builtin.backup
  - ansible.builtin.files
  - ansible.builtin.validate
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Secrets are shown as C(********) in the diff, in the returned values, in warnings and in error messages,
        never in clear; the file itself keeps them. A secret is every value below a key anywhere in the file
        whose name has one of the words password, passwd, pass, passphrase, secret, token, credential or key, or is
        C(dataSource) (Helm repository passwords, keepalived C(authPass), kine's data source; a name ending in
        C(File) or C(Dir) such as C(clientKeyFile) names a file and is shown), every value holding a PEM block
        (C(-----BEGIN)), and the user information of every URL (C(scheme://user:********@host), whatever
        characters the password holds; a user-only URL hides the user).
  platform:
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
notes:
  - The backup (O(backup=true)) is made only when the file changes and not in check mode. It is written to a
    private (V(0600)) temporary file beside the original, synced to disk, then given the owner and mode of the
    original and only then linked to its backup name, so it is never more readable than the file it copies, and no
    half-written backup is ever left under a backup name.
  - Other flags already in the file whose values are unquoted numbers or booleans are kept as they are, with a
    warning, because k0s will refuse the file until they are quoted.
  - The new content is validated before it replaces the file; a failing validation leaves the file untouched.
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
  - module: k0rdent.audit.k0sctl_config
    description: The same flags in the C(spec.k0s.config) of a k0sctl.yaml, which k0sctl writes to every controller.
  - name: k0s configuration options
    description: The C(ClusterConfig) reference of k0s.
    link: https://docs.k0sproject.io/stable/configuration/
"""

EXAMPLES = r"""
- name: Enable kube-apiserver audit logging
  k0rdent.audit.k0s_config:
    path: /etc/k0s/k0s.yaml
    extra_args:
      audit-policy-file: /etc/k0s/audit-policy.yaml
      audit-log-path: /var/log/k0s/audit/audit.log
      audit-log-maxage: 30
      audit-log-maxbackup: 10
      audit-log-maxsize: 100
    backup: true
  register: k0s_config_result
  notify: Restart k0scontroller

- name: Disable kube-apiserver audit logging
  k0rdent.audit.k0s_config:
    remove_extra_args:
      - audit-policy-file
      - audit-log-path
      - audit-log-maxage
      - audit-log-maxbackup
      - audit-log-maxsize

- name: Edit a k0s.yaml kept elsewhere, without validation, and set its owner and mode
  k0rdent.audit.k0s_config:
    path: /srv/k0s/k0s.yaml
    extra_args:
      audit-log-format: json
    validate: ''
    owner: root
    group: root
    mode: '0600'
"""

RETURN = r"""
changed:
  description: Whether the content of the file (or its owner, group or mode) changed, or would in check mode.
  returned: always
  type: bool
  sample: true
created:
  description: Whether the file did not exist and was created (or would be in check mode).
  returned: always
  type: bool
  sample: false
removed:
  description: Whether the file was a skeleton this collection created and was deleted (or would be in check mode).
  returned: always
  type: bool
  sample: false
path:
  description: The path as given.
  returned: always
  type: str
  sample: /etc/k0s/k0s.yaml
real_path:
  description: The file that is read and written, the target of O(path) when it is a symbolic link.
  returned: always
  type: str
  sample: /etc/k0s/k0s.yaml
extra_args:
  description:
    - All of C(spec.api.extraArgs) after the change, including the flags this task did not name.
    - Values are as they are in the file; they are all strings unless the file holds hand-written unquoted ones.
    - Secrets are masked (see the diff mode attribute).
  returned: always
  type: dict
  sample: {"audit-log-maxage": "30", "audit-log-path": "/var/log/k0s/audit/audit.log"}
previous_extra_args:
  description:
    - C(spec.api.extraArgs) before the change (empty when the file was created), secrets masked.
    - Lets the caller see flags it is about to take over, for example audit flags an operator set by hand.
  returned: always
  type: dict
  sample: {}
raw_args:
  description: C(spec.api.rawArgs), the arguments k0s appends to kube-apiserver's command line unchecked, masked.
  returned: always
  type: list
  elements: str
  sample: ["--audit-log-maxage=90"]
audit_raw_args:
  description:
    - The entries of RV(raw_args) that set an C(--audit-*) flag (with the following entry when it holds the value).
    - k0s appends rawArgs after the flags built from extraArgs, so these override what extraArgs says.
  returned: always
  type: list
  elements: str
  sample: ["--audit-log-maxage=90"]
backup_file:
  description: Name of the backup file that was made.
  returned: changed and O(backup=true) and not in check mode
  type: str
  sample: /etc/k0s/k0s.yaml.4242.2026-08-01@12:00:00~
diff:
  description:
    - The change, when run with C(--diff); secret values are shown as C(********). A deleted file has an empty
      C(after).
    - A dictionary with C(before), C(after), C(before_header) and C(after_header); a list of two such dictionaries
      (content, then file attributes) when owner, group or mode change as well.
  returned: in diff mode
  type: raw
  sample:
    before: "apiVersion: k0s.k0sproject.io/v1beta1\n..."
    after: "apiVersion: k0s.k0sproject.io/v1beta1\n..."
    before_header: /etc/k0s/k0s.yaml
    after_header: /etc/k0s/k0s.yaml
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.k0rdent.audit.plugins.module_utils._config_edit import k0s_validate_command, run_edit
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config import (
    HAS_YAML,
    K0S_CONFIG,
    MINIMAL_CLUSTER_CONFIG,
    YAML_IMPORT_ERROR,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/k0s/k0s.yaml"),
            extra_args=dict(type="dict", default={}),
            remove_extra_args=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=False),
            validate=dict(type="str"),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)

    validate = module.params["validate"]
    if validate is None:
        validate = k0s_validate_command(module)
    if validate and "%s" not in validate:
        module.fail_json(msg=f"validate must contain %s, where the temporary file goes: {validate!r}.")

    run_edit(
        module,
        K0S_CONFIG,
        "k0rdent.audit.k0s_config",
        new_file=lambda: MINIMAL_CLUSTER_CONFIG,
        validate=validate,
    )


if __name__ == "__main__":
    main()
