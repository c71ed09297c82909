#!/usr/bin/python
# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: k0s_audit_files
short_description: Write the audit policy file and make the audit log directory, in one round trip
version_added: 0.3.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Puts the rendered audit policy in place and makes the directory kube-apiserver writes its audit log to, with
    the owner, group and mode each needs, in one module run instead of a template task (which costs three round
    trips) and two file tasks. The P(k0rdent.audit.k0s_audit#role) role renders the policy on the Ansible
    controller and passes it as O(policy_content).
  - The policy is written only when its bytes differ. It goes to a private (V(0600)) temporary file in the same
    directory, is fsynced and renamed over the file; a symbolic link is followed to a regular file and stays a link.
    Anything else at O(policy_path) (a directory, a named pipe, a device) is refused and left as it is.
  - A missing directory of the policy file is made (with its missing parents, mode V(0755)); an existing one is left
    exactly as it is.
  - The log directory is made when missing (its missing parents V(0755)) and given O(log_dir_owner),
    O(log_dir_group) and O(log_dir_mode). Nothing in it is touched.
options:
  policy_path:
    description: The audit policy file (C(--audit-policy-file)).
    type: path
    required: true
  policy_content:
    description: The whole content of the policy file.
    type: str
    required: true
  policy_owner:
    description: Owner of the policy file.
    type: str
    default: root
  policy_group:
    description: Group of the policy file.
    type: str
    default: root
  policy_mode:
    description: Mode of the policy file, in octal.
    type: str
    default: "0644"
  backup:
    description: Keep the previous policy beside it (C(PATH.PID.YYYY-MM-DD@HH:MM:SS~)) when it changes.
    type: bool
    default: false
  log_dir:
    description: The directory of the audit log. Left out, no directory is made.
    type: path
  log_dir_owner:
    description: Owner of O(log_dir).
    type: str
  log_dir_group:
    description: Group of O(log_dir).
    type: str
  log_dir_mode:
    description: Mode of O(log_dir), in octal.
    type: str
    default: "0750"
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The policy's content before and after, and the attributes of the file and the directory that change.
  platform:
    platforms: posix
notes:
  - The backup is made only when the content changes and not in check mode, privately first and linked to its name
    only once complete, as M(k0rdent.audit.k0s_config) makes its own.
seealso:
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role that renders the policy and runs this module.
  - module: k0rdent.audit.k0s_config
    description: Points kube-apiserver at the policy and the log, in k0s.yaml.
  - module: k0rdent.audit.k0s_host_info
    description: Reads whether these paths are already as wanted, so the role runs this module only when not.
"""

EXAMPLES = r"""
- name: Put the audit policy in place and make the log directory
  k0rdent.audit.k0s_audit_files:
    policy_path: /etc/k0s/audit-policy.yaml
    policy_content: "{{ lookup('ansible.builtin.file', 'audit-policy.yaml') }}"
    backup: true
    log_dir: /var/log/k0s
    log_dir_owner: kube-apiserver
    log_dir_group: kube-apiserver
"""

RETURN = r"""
policy_changed:
  description: Whether the policy file's content changed (or would in check mode).
  returned: always
  type: bool
  sample: true
policy_created:
  description: Whether the policy file did not exist before.
  returned: always
  type: bool
  sample: false
log_dir_changed:
  description: Whether the log directory was made or got other attributes (or would in check mode).
  returned: always
  type: bool
  sample: false
backup_file:
  description: The backup of the previous policy.
  returned: when the content changed, O(backup=true), and not in check mode
  type: str
  sample: /etc/k0s/audit-policy.yaml.4242.2026-12-01@12:00:00~
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.k0rdent.audit.plugins.module_utils._yaml_file import (
    FileRefused,
    fsync_directory,
    make_backup,
    read_regular_file,
    remove_quietly,
    write_private_temp,
)

_PARENT_MODE = 0o755


def _ensure_directory(module, path, result):
    """Make ``path`` with its missing parents unless it exists; True when it was (or would be) made."""
    if os.path.isdir(path):
        return False
    if os.path.lexists(path):
        module.fail_json(msg=f"{path} exists and is not a directory: move it away, or choose another path.", **result)
    if not module.check_mode:
        try:
            os.makedirs(path, mode=_PARENT_MODE)
        except OSError as exc:
            module.fail_json(msg=f"Cannot make the directory {path}: {exc.strerror}.", **result)
    return True


def _attributes(module, path, owner, group, mode, changed, diff_list, header):
    diff = {}
    args = module.load_file_common_arguments({"path": path, "owner": owner, "group": group, "mode": mode})
    changed = module.set_fs_attributes_if_different(args, changed, diff=diff)
    if diff:
        diff["before_header"] = diff["after_header"] = f"{header} (file attributes)"
        diff_list.append(diff)
    return changed


def main():
    module = AnsibleModule(
        argument_spec={
            "policy_path": {"type": "path", "required": True},
            "policy_content": {"type": "str", "required": True},
            "policy_owner": {"type": "str", "default": "root"},
            "policy_group": {"type": "str", "default": "root"},
            "policy_mode": {"type": "str", "default": "0644"},
            "backup": {"type": "bool", "default": False},
            "log_dir": {"type": "path"},
            "log_dir_owner": {"type": "str"},
            "log_dir_group": {"type": "str"},
            "log_dir_mode": {"type": "str", "default": "0750"},
        },
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False, "policy_changed": False, "policy_created": False, "log_dir_changed": False}
    diffs = []
    path = params["policy_path"]
    content = to_bytes(params["policy_content"])

    try:
        found = read_regular_file(path, what="audit policy file")
    except FileRefused as exc:
        module.fail_json(msg=str(exc), **result)
    real_path = found.real_path
    log_dir = params["log_dir"]
    # The log directory first: a file in its place is refused before the policy is written.
    log_dir_made = _ensure_directory(module, log_dir, result) if log_dir else False
    directory_made = _ensure_directory(module, os.path.dirname(real_path) or ".", result)
    result["policy_created"] = not found.exists
    result["policy_changed"] = found.data != content
    if result["policy_changed"]:
        diffs.append(
            {
                "before": "" if not found.exists else to_text(found.data, errors="surrogate_or_replace"),
                "after": to_text(content),
                "before_header": path,
                "after_header": path,
            }
        )
        if not module.check_mode:
            directory = os.path.dirname(real_path) or "."
            if params["backup"] and found.exists:
                try:
                    result["backup_file"] = make_backup(real_path, found.data, found.stat)
                except (OSError, FileRefused) as exc:
                    module.fail_json(msg=f"Cannot back up {real_path}, so it was left untouched: {exc}.", **result)
            try:
                staged = write_private_temp(directory, os.path.basename(real_path), content)
            except OSError as exc:
                module.fail_json(msg=f"Cannot write beside {real_path}, so it was left untouched: {exc.strerror}.")
            try:
                module.atomic_move(staged, real_path)
            finally:
                remove_quietly(staged)
            fsync_directory(directory)
    policy_attrs_changed = False
    if os.path.exists(real_path):
        policy_attrs_changed = _attributes(
            module, real_path, params["policy_owner"], params["policy_group"], params["policy_mode"], False, diffs, path
        )
    result["policy_changed"] = result["policy_changed"] or policy_attrs_changed or directory_made

    if log_dir:
        changed = log_dir_made
        if os.path.isdir(log_dir):
            changed = _attributes(
                module, log_dir, params["log_dir_owner"], params["log_dir_group"], params["log_dir_mode"], log_dir_made,
                diffs, log_dir,
            )  # fmt: skip
        result["log_dir_changed"] = changed

    result["changed"] = result["policy_changed"] or result["log_dir_changed"]
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
