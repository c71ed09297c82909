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
  - Each must be a name the kernel can hold, written as it is meant. A NUL byte or another control character,
    whitespace at either end (a YAML C(|) block keeps its line break), a name of more than 255 bytes (C(NAME_MAX))
    or a path of 4096 bytes or more (C(PATH_MAX)) is refused.
  - They must differ from each other and from the k0s config file, or one write would destroy the other file.
  - The policy file may not lie inside the log file's directory. The API server's account can write there, so it
    could rewrite its own audit policy.
  - Each refusal ends with the fixed path, one that passes these checks (the path as meant when it can be read,
    else the role's default).
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
  description:
    - One sentence per problem, naming the variable and ending with the fixed path. Empty when the paths are fine.
    - A value with invisible characters is shown quoted, with escapes.
  type: list
  elements: str
"""

import json
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


# The kernel's limits (linux/limits.h): a name of at most NAME_MAX bytes, a path of at most PATH_MAX bytes with its
# terminating NUL, so 4095 bytes of text.
NAME_MAX = 255
PATH_MAX = 4096

_DEFAULT_LOG = "/var/log/k0s/audit.log"
_POLICY_NAME = "audit-policy.yaml"


def _show(path):
    """The path as a message shows it: as written, or quoted with escapes when it holds invisible characters."""
    if any((c.isspace() and c != " ") or ord(c) < 32 or ord(c) == 127 for c in path) or path != path.strip():
        return json.dumps(path, ensure_ascii=False)
    return path


def _shape_error(name, path, fixed):
    """Why ``path`` cannot be the file ``name`` names, whatever the other paths are; None when it can.

    ``fixed(path)`` gives the corrected path the advice names; it is only called for a path that is refused.
    """
    if not isinstance(path, str) or not path:
        return "%s must be an absolute path of a file, not %r: give one, such as %s" % (name, path, fixed(""))
    if "\0" in path:
        return "%s is %s, which contains a NUL byte, which no file name can hold: write it as %s" % (
            name,
            _show(path),
            fixed(path),
        )
    if path != path.rstrip():
        what = (
            "a line break (a YAML | block keeps it; use a plain scalar)"
            if path.rstrip(" \t") != path.rstrip()
            else ("whitespace")
        )
        return "%s is %s, which ends with %s: write it as %s" % (name, _show(path), what, fixed(path))
    if path != path.lstrip():
        return "%s is %s, which starts with whitespace: write it as %s" % (name, _show(path), fixed(path))
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "%s is %s, which contains a control character: write it as %s" % (name, _show(path), fixed(path))
    encoded = path.encode("utf-8", "surrogatepass")
    if len(encoded) >= PATH_MAX:
        return (
            "%s is %d bytes long, more than the kernel allows for a path (PATH_MAX, %d bytes with the terminating"
            " NUL): write it as %s" % (name, len(encoded), PATH_MAX, fixed(path))
        )
    for part in path.split("/"):
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > NAME_MAX:
            return (
                "%s has a name of %d bytes (%s...), more than the %d bytes the kernel allows for one name (NAME_MAX):"
                " write it as %s" % (name, size, part[:40], NAME_MAX, fixed(path))
            )
    if not path.startswith("/"):
        return "%s is %s, a relative path, which kube-apiserver would resolve in the k0s data directory: %s" % (
            name,
            path,
            "give an absolute path, such as %s" % fixed(path),
        )
    if path.endswith("/") or posixpath.basename(path) in ("", ".", ".."):
        return "%s is %s, a directory: give the path of a file in it, for example %s" % (name, path, fixed(path))
    normal = posixpath.normpath(path)
    if normal != path or path.startswith("//"):
        return "%s is %s, which is not a normalised path: write it as %s" % (name, path, fixed(path))
    return None


def _check(policy_path, log_path, config_path, data_dir, fixed):
    """Every problem as (variable, sentence); ``fixed(variable, path)`` gives the corrected path the advice names."""
    found = []
    policy_error = _shape_error("k0s_audit_policy_path", policy_path, lambda p: fixed("k0s_audit_policy_path", p))
    log_error = (
        None
        if log_path == "-"
        else _shape_error("k0s_audit_log_path", log_path, lambda p: fixed("k0s_audit_log_path", p))
    )
    found.extend(e for e in (("k0s_audit_policy_path", policy_error), ("k0s_audit_log_path", log_error)) if e[1])
    if found:
        return found
    if policy_path == config_path:
        found.append(
            (
                "k0s_audit_policy_path",
                "k0s_audit_policy_path is %s, the k0s config file itself: writing the policy there would replace"
                " k0s.yaml; choose another file, such as %s"
                % (policy_path, fixed("k0s_audit_policy_path", policy_path)),
            )
        )
    if log_path == "-":
        return found
    log_dir = posixpath.dirname(log_path)
    if log_path == policy_path:
        found.append(
            (
                "both",
                "k0s_audit_log_path and k0s_audit_policy_path are both %s: give each its own file" % log_path,
            )
        )
    if log_path == config_path:
        found.append(
            (
                "k0s_audit_log_path",
                "k0s_audit_log_path is %s, the k0s config file itself: choose a file in a directory of its own, such as"
                " %s" % (log_path, fixed("k0s_audit_log_path", log_path)),
            )
        )
    reserved = {
        posixpath.dirname(config_path): "the directory of the k0s config file",
        posixpath.normpath(data_dir or "/var/lib/k0s"): "the k0s data directory",
    }
    if log_dir in SYSTEM_DIRS or log_dir in reserved:
        what = "a system directory" if log_dir in SYSTEM_DIRS else reserved[log_dir]
        found.append(
            (
                "k0s_audit_log_path",
                "k0s_audit_log_path is %s, whose directory %s is %s that the role would make owned by the API server's"
                " account with mode 0750: put the log in a directory of its own, such as %s"
                % (log_path, log_dir, what, fixed("k0s_audit_log_path", log_path)),
            )
        )
    if not found and policy_path.startswith(log_dir.rstrip("/") + "/"):
        found.append(
            (
                "k0s_audit_policy_path",
                "k0s_audit_policy_path is %s, inside %s, the directory of k0s_audit_log_path: the API server's account"
                " can write there, so it could rewrite its own audit policy; keep the policy out of the log directory,"
                " such as %s" % (policy_path, log_dir, fixed("k0s_audit_policy_path", policy_path)),
            )
        )
    return found


def _candidates(name, path, config_path):
    """Corrected paths for ``path``, the likeliest first: the same path cleaned up, then the role's defaults."""
    log = name == "k0s_audit_log_path"
    default_name = "audit.log" if log else _POLICY_NAME
    cleaned = "".join(c for c in (path if isinstance(path, str) else "") if ord(c) >= 32 and ord(c) != 127).strip()
    found = []
    if cleaned and all(len(p.encode("utf-8", "surrogatepass")) <= NAME_MAX for p in cleaned.split("/")):
        absolute = "/" + posixpath.normpath("/" + cleaned).lstrip("/")
        if cleaned.endswith("/") or posixpath.basename(cleaned) in ("", ".", ".."):
            absolute = posixpath.join(absolute, default_name)
        found.append(absolute)
        base = posixpath.basename(absolute)
    else:
        base = default_name
    if log:
        found += ["/var/log/k0s/" + base, _DEFAULT_LOG, "/var/log/k0s-audit/audit.log"]
    else:
        found += [posixpath.join(posixpath.dirname(config_path or "/etc/k0s/k0s.yaml"), _POLICY_NAME)]
        found += ["/etc/k0s/" + _POLICY_NAME, "/etc/k0s-audit/" + _POLICY_NAME]
    return found


def audit_path_errors(policy_path, log_path, config_path, data_dir="/var/lib/k0s"):
    config_path = config_path if isinstance(config_path, str) else ""

    def fixed(name, path):
        # The first candidate that, put in place of the refused path, draws no error about that variable.
        candidates = _candidates(name, path, config_path)
        for candidate in candidates:
            policy, log = (candidate, log_path) if name == "k0s_audit_policy_path" else (policy_path, candidate)
            if not any(
                var in (name, "both") for var, _message in _check(policy, log, config_path, data_dir, _no_advice)
            ):
                return candidate
        return candidates[-1]

    return [message for _name, message in _check(policy_path, log_path, config_path, data_dir, fixed)]


def _no_advice(_name, _path):
    return ""


class FilterModule:
    def filters(self):
        return {"audit_path_errors": audit_path_errors}
