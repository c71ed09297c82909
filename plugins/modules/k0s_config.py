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
author:
  - k0rdent.audit contributors (@k0rdent)
options:
  path:
    description:
      - The k0s configuration file to edit. A symbolic link is followed.
      - When it does not exist it is created, from the output of C(k0s config create) when a C(k0s) binary is on
        the E(PATH), otherwise from a minimal C(ClusterConfig) (C(metadata.name=k0s)) that k0s completes with its
        defaults. A new file gets mode V(0600) unless O(mode) is given.
      - Its directory must exist; the module does not create it.
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
      - The values of secret-looking keys under C(spec.storage) (names containing C(password), C(secret), C(token),
        C(key) or C(dataSource), any case) and the passwords of C(scheme://user:password@) URLs are shown as
        C(********) in the diff, never in clear. The file itself keeps them.
  platform:
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
notes:
  - The backup (O(backup=true)) is made only when the file changes and not in check mode; it has the owner and
    mode of the original, so it is never more readable than the file it copies.
  - Other flags already in the file whose values are unquoted numbers or booleans are kept as they are, with a
    warning, because k0s will refuse the file until they are quoted.
  - The new content is validated before it replaces the file; a failing validation leaves the file untouched.
seealso:
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
extra_args:
  description:
    - All of C(spec.api.extraArgs) after the change, including the flags this task did not name.
    - Values are as they are in the file; they are all strings unless the file holds hand-written unquoted ones.
  returned: always
  type: dict
  sample: {"audit-log-maxage": "30", "audit-log-path": "/var/log/k0s/audit/audit.log"}
previous_extra_args:
  description: C(spec.api.extraArgs) before the change (empty when the file was created).
  returned: always
  type: dict
  sample: {}
kube_apiserver_user:
  description:
    - C(spec.installConfig.users.kubeAPIserverUser), or V(kube-apiserver) when the file does not set it.
    - Current k0s runs the API server as V(kube-apiserver) whatever this says (k0s issue 4265).
  returned: always
  type: str
  sample: kube-apiserver
api_port:
  description: C(spec.api.port), or V(6443) when the file does not set it.
  returned: always
  type: int
  sample: 6443
backup_file:
  description: Name of the backup file that was made.
  returned: changed and O(backup=true) and not in check mode
  type: str
  sample: /etc/k0s/k0s.yaml.4242.2026-08-01@12:00:00~
diff:
  description:
    - The change, when run with C(--diff); secret values are shown as C(********).
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

import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config import (
    HAS_YAML,
    MINIMAL_CLUSTER_CONFIG,
    YAML_IMPORT_ERROR,
    K0sConfigError,
    mask_secrets,
    normalize_extra_args,
    normalize_flag_names,
    patch_k0s_config,
)

NEW_FILE_UMASK = 0o077  # a new k0s.yaml is 0600 from its first moment, until `mode` says otherwise


def read_current(module, path, k0s):
    """Return (text, created): the file's content, or what a new file starts from."""
    if os.path.isdir(path):
        module.fail_json(msg=f"{path} is a directory: set path to the k0s configuration file inside it.")
    if os.path.exists(path):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            module.fail_json(msg=f"Cannot read {path}: {to_native(exc)}.")
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError as exc:
            module.fail_json(msg=f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): fix it by hand.")
    directory = os.path.dirname(path) or "."
    # In check mode a missing directory is what a run that first creates it would meet (the k0s_audit role does).
    if not os.path.isdir(directory) and not module.check_mode:
        module.fail_json(msg=f"The directory {directory} of {path} does not exist: create it first (the role does).")
    if not k0s:
        return MINIMAL_CLUSTER_CONFIG, True
    rc, out, err = module.run_command([k0s, "config", "create"])
    if rc != 0:
        module.fail_json(msg=f"{k0s} config create failed (rc {rc}): {(err or out).strip()}", rc=rc)
    return out, True


def validate_content(module, validate, path, content):
    """Run the validation command on a temporary copy of content; fail with its output if it refuses it."""
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir, prefix="k0s.yaml.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(to_bytes(content))
    if validate:
        rc, out, err = module.run_command(validate % tmp)
        if rc != 0:
            output = (err or out).strip()
            module.fail_json(
                msg=f"The validation command {validate!r} refused the new content of {path} (rc {rc}), "
                f"so {path} was left untouched: {output}",
                rc=rc,
                stdout=out,
                stderr=err,
            )
    return tmp


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

    params = module.params
    path = os.path.realpath(params["path"]) if os.path.islink(params["path"]) else params["path"]
    try:
        set_args = normalize_extra_args(params["extra_args"])
        remove_args = normalize_flag_names(params["remove_extra_args"], set_args)
    except K0sConfigError as exc:
        module.fail_json(msg=str(exc))

    k0s = module.get_bin_path("k0s")
    validate = params["validate"]
    if validate is None:
        validate = f"{k0s} config validate --config %s" if k0s else ""
    if validate and "%s" not in validate:
        module.fail_json(msg=f"validate must contain %s, where the temporary file goes: {validate!r}.")

    text, created = read_current(module, path, k0s)
    source = "the output of k0s config create" if created and k0s else path
    try:
        result = patch_k0s_config(text, set_args, remove_args, source=source)
    except K0sConfigError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.warnings:
        module.warn(warning)

    changed = result.changed or created
    content = result.text
    backup_file = None
    diff = {"before": "", "after": "", "before_header": path, "after_header": path}
    if changed and module._diff:
        diff["before"] = "" if created else mask_secrets(text)
        diff["after"] = mask_secrets(content)

    if changed:
        tmp = validate_content(module, validate, path, content)
        if not module.check_mode:
            if params["backup"] and not created:
                backup_file = module.backup_local(path)
                os.chmod(backup_file, stat.S_IMODE(os.stat(path).st_mode))
            # atomic_move gives a new file 0666 & ~umask; `mode`, if given, is applied just after
            old_umask = os.umask(NEW_FILE_UMASK) if created else None
            try:
                module.atomic_move(tmp, path, unsafe_writes=params["unsafe_writes"])
            finally:
                if old_umask is not None:
                    os.umask(old_umask)
        if result.comments_dropped:
            kept = f"the backup {backup_file} keeps them" if backup_file else "set backup: true to keep a copy"
            module.warn(
                f"ruamel.yaml cannot be imported on this host, so the comments in {path} were dropped when it was "
                f"re-written ({kept}; install ruamel.yaml on the host to keep comments)."
            )

    attributes_diff = {}
    if os.path.exists(path):
        file_args = module.load_file_common_arguments(params, path=path)
        changed = module.set_fs_attributes_if_different(file_args, changed, diff=attributes_diff)

    output = dict(
        changed=changed,
        created=created,
        extra_args=result.extra_args,
        previous_extra_args={} if created else result.previous_extra_args,
        kube_apiserver_user=result.kube_apiserver_user,
        api_port=result.api_port,
    )
    if backup_file:
        output["backup_file"] = backup_file
    if module._diff:
        if attributes_diff:
            attributes_diff["before_header"] = attributes_diff["after_header"] = f"{path} (file attributes)"
            output["diff"] = [diff, attributes_diff]
        else:
            output["diff"] = diff
    module.exit_json(**output)


if __name__ == "__main__":
    main()
