# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_path_errors
short_description: Problems with the audit policy and log paths before the role creates or re-owns anything
version_added: 0.2.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Checks the paths the P(k0rdent.audit.k0s_audit#role) role writes, before any of them is touched.
  - Both must be absolute, normalised paths of a file (not V(/), not ending in C(/)). kube-apiserver runs in the
    k0s data directory, so a relative path would land there.
  - They must differ from each other and from the k0s config file, or one write would destroy the other file.
  - The log file's directory is created or re-owned for the API server's account, so it may not be a system
    directory (V(/var/log), V(/etc), V(/var/lib), ...), the k0s config directory, or the k0s data directory.
  - A log path of V(-) (standard output) has no directory and is not judged.
options:
  _input:
    description: The audit policy file, C(k0s_audit_policy_path).
    type: str
    required: true
  log_path:
    description: The audit log file, C(k0s_audit_log_path).
    type: str
    required: true
  config_path:
    description: The k0s config file the controller reads.
    type: str
    required: true
  data_dir:
    description: The k0s data directory (C(--data-dir)).
    type: str
    default: /var/lib/k0s
seealso:
  - ref: ansible_collections.k0rdent.audit.k0s_audit_role
    description: The role whose preflight refuses these paths before any change.
  - module: k0rdent.audit.k0s_host_info
    description: Checks that the API server's account can traverse every parent of these paths.
  - plugin: k0rdent.audit.audit_flag_errors
    plugin_type: filter
    description: Checks the audit flags that carry these paths.
"""

EXAMPLES = r"""
- name: Refuse a log path whose directory is /var/log
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join('; ') }}"
  vars:
    _errors: >-
      {{ '/etc/k0s/audit-policy.yaml' | k0rdent.audit.audit_path_errors('/var/log/audit.log', '/etc/k0s/k0s.yaml') }}
    # ["k0s_audit_log_path is /var/log/audit.log, whose directory /var/log is a system directory that the role
    #   would make owned by the API server's account with mode 0750: put the log in a directory of its own,
    #   such as /var/log/k0s/audit.log"]

- name: The role's defaults pass
  ansible.builtin.debug:
    msg: "{{ '/etc/k0s/audit-policy.yaml' | k0rdent.audit.audit_path_errors(log, '/etc/k0s/k0s.yaml') }}"
    # []
  vars:
    log: /var/log/k0s/audit.log
"""

RETURN = r"""
_value:
  description: One sentence per problem, naming the variable and the fix. Empty when the paths are fine.
  type: list
  elements: str
"""

import posixpath

# Directories the role must never create-or-re-own as the audit log directory: re-owning them to the API server's
# account 0750 locks every other user and service out of them.
SYSTEM_DIRS = frozenset(
    (
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib64",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/local",
        "/var",
        "/var/cache",
        "/var/lib",
        "/var/log",
        "/var/spool",
        "/var/tmp",
    )
)


def _shape_error(name, path):
    if not isinstance(path, str) or not path:
        return "%s must be an absolute path of a file, not %r" % (name, path)
    if not path.startswith("/"):
        return "%s is %s, a relative path, which kube-apiserver would resolve in the k0s data directory: %s" % (
            name,
            path,
            "give an absolute path",
        )
    if path.endswith("/") or posixpath.basename(path) in ("", ".", ".."):
        return "%s is %s, a directory: give the path of a file in it, for example %s" % (
            name,
            path,
            posixpath.join(path, "audit.log" if "log" in name else "audit-policy.yaml"),
        )
    normal = posixpath.normpath(path)
    if normal != path or path.startswith("//"):
        return "%s is %s, which is not a normalised path: write it as %s" % (name, path, normal)
    return None


def audit_path_errors(policy_path, log_path, config_path, data_dir="/var/lib/k0s"):
    errors = []
    policy_error = _shape_error("k0s_audit_policy_path", policy_path)
    log_error = None if log_path == "-" else _shape_error("k0s_audit_log_path", log_path)
    errors.extend(e for e in (policy_error, log_error) if e)
    if errors:
        return errors
    if policy_path == config_path:
        errors.append(
            "k0s_audit_policy_path is %s, the k0s config file itself: writing the policy there would replace k0s.yaml;"
            " choose another file, such as /etc/k0s/audit-policy.yaml" % policy_path
        )
    if log_path == "-":
        return errors
    if log_path == policy_path:
        errors.append("k0s_audit_log_path and k0s_audit_policy_path are both %s: give each its own file" % log_path)
    if log_path == config_path:
        errors.append(
            "k0s_audit_log_path is %s, the k0s config file itself: choose a file in a directory of its own, such as"
            " /var/log/k0s/audit.log" % log_path
        )
    log_dir = posixpath.dirname(log_path)
    reserved = {
        posixpath.dirname(config_path): "the directory of the k0s config file",
        posixpath.normpath(data_dir or "/var/lib/k0s"): "the k0s data directory",
    }
    if log_dir in SYSTEM_DIRS or log_dir in reserved:
        what = "a system directory" if log_dir in SYSTEM_DIRS else reserved[log_dir]
        errors.append(
            "k0s_audit_log_path is %s, whose directory %s is %s that the role would make owned by the API server's"
            " account with mode 0750: put the log in a directory of its own, such as /var/log/k0s/audit.log"
            % (log_path, log_dir, what)
        )
    return errors


class FilterModule:
    def filters(self):
        return {"audit_path_errors": audit_path_errors}
