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
  - A missing directory of the policy file is made (with its missing parents, mode V(0755) whatever the umask, so
    that the account kube-apiserver runs as can traverse them); an existing one is left exactly as it is.
  - The log directory is made when missing (its missing parents V(0755) whatever the umask) and given
    O(log_dir_owner), O(log_dir_group) and O(log_dir_mode). Nothing in it is touched. When O(log_dir) is a symbolic
    link, the owner, group and mode go to the directory it points to, and the link stays as it is; a link to
    nothing, to something else than a directory, or into a loop is refused.
  - Every owner, group and mode is resolved, and everything on the way is checked (no file where a directory must
    be, the directories to write in writable, an owner only root can give asked by root), before anything is
    written, so that a refused run changes nothing on the host; check mode fails where the real run would.
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
    description: Owner of the policy file, a user name or a numeric uid.
    type: str
    default: root
  policy_group:
    description: Group of the policy file, a group name or a numeric gid.
    type: str
    default: root
  policy_mode:
    description:
      - Mode of the policy file, as octal digits in a string (V("0644")); a number is taken as the mode itself (an
        unquoted V(0644) in YAML is octal). Symbolic modes are refused.
    type: raw
    default: "0644"
  backup:
    description: Keep the previous policy beside it (C(PATH.PID.YYYY-MM-DD@HH:MM:SS~)) when it changes.
    type: bool
    default: false
  log_dir:
    description: The directory of the audit log. Left out, no directory is made.
    type: path
  log_dir_owner:
    description: Owner of O(log_dir), a user name or a numeric uid. Left out, the owner is left as it is.
    type: str
  log_dir_group:
    description: Group of O(log_dir), a group name or a numeric gid. Left out, the group is left as it is.
    type: str
  log_dir_mode:
    description: Mode of O(log_dir), as O(policy_mode) takes it.
    type: raw
    default: "0750"
  accounts_made_earlier:
    description:
      - Users and groups that an earlier task of the same run creates (the role's API server account on a fresh
        host). In check mode they do not exist yet; an owner or group named here is then predicted as a change
        instead of refused. Outside check mode every owner and group must exist.
    type: list
    elements: str
    default: []
    version_added: 0.3.0
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
  description:
    - Whether the log directory (the directory its symbolic link points to) was made or got other attributes (or
      would in check mode).
  returned: always
  type: bool
  sample: false
backup_file:
  description: The backup of the previous policy.
  returned: when the content changed, O(backup=true), and not in check mode
  type: str
  sample: /etc/k0s/audit-policy.yaml.4242.2026-12-01@12:00:00~
"""

import errno
import grp
import os
import pwd
import re
import stat

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

_PARENT_MODE = 0o755  # a directory this module makes on the way: anyone may traverse it, whatever the umask
_OCTAL_MODE = re.compile(r"0?[0-7]{3,4}\Z")


class _Refused(Exception):
    """The run cannot go as asked; the message is one sentence naming the option or the path."""


def _euid():
    return os.geteuid()


def _account_id(option, name, planned, lookup, kind, made, numeric):
    """The id ``name`` (a name or a numeric id) stands for in ``lookup`` (pwd or grp); None when left out.

    In check mode, an account an earlier task of the run makes (``planned``) does not exist yet: its name stands
    for its id then, which differs from every id on the host, so the change is predicted, never applied.
    """
    if name is None or name == "":
        return None
    if name.isdigit():
        return int(name)
    try:
        return lookup(name)[2]  # pw_uid, gr_gid
    except KeyError:
        if name in planned:
            return name
        raise _Refused(
            f"{option} is {name!r}, which is no {kind} on this host: create the {made} first, or give another {kind} "
            f"name or a numeric {numeric}."
        ) from None


def _user(option, name, planned=()):
    return _account_id(option, name, planned, pwd.getpwnam, "user", "account", "uid")


def _group(option, name, planned=()):
    return _account_id(option, name, planned, grp.getgrnam, "group", "group", "gid")


def _mode(option, value):
    """The mode an option gives: octal digits in a string, or a number (YAML reads an unquoted 0750 as octal)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        return value
    text = value if isinstance(value, str) else repr(value)
    if not _OCTAL_MODE.match(text):
        raise _Refused(
            f"{option} is {text!r}, not an octal mode such as 0750: give the mode as three or four octal digits."
        )
    return int(text, 8)


def _kind(mode):
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a directory"


def _missing_directories(path, option):
    """The directories to make for ``path`` (outermost first), after checking that nothing is in their way.

    Every existing component must be a directory (a symbolic link to one is fine) and the innermost existing one
    writable, so that making them cannot fail half-way.
    """
    missing = []
    current = os.path.abspath(path)
    while True:
        try:
            info = os.stat(current)
        except FileNotFoundError:
            if os.path.islink(current):
                raise _Refused(
                    f"{current} is a symbolic link to {os.path.realpath(current)}, which does not exist: make that "
                    f"directory or point the link at an existing one, or choose another {option}."
                ) from None
            missing.append(current)
            current = os.path.dirname(current)
            continue
        except NotADirectoryError:  # something on the way up is not a directory: find it
            missing.append(current)
            current = os.path.dirname(current)
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _Refused(
                    f"{current} leads into a loop of symbolic links: point it at a directory, or choose another "
                    f"{option}."
                ) from None
            raise _Refused(f"Cannot look at {current} (on the way to {option} {path}): {exc.strerror}.") from None
        if stat.S_ISDIR(info.st_mode):
            break
        if current == os.path.abspath(path):
            raise _Refused(
                f"{current} exists and is not a directory ({_kind(info.st_mode)}): move it away, or choose another "
                f"{option}."
            )
        raise _Refused(
            f"{current} is in the way of {path}: it is {_kind(info.st_mode)}, not a directory; move it away, or "
            f"choose another {option}."
        )
    if missing and not os.access(current, os.W_OK | os.X_OK):
        raise _Refused(f"Cannot make {missing[-1]}: {current} is not writable for this run (run it with become).")
    return list(reversed(missing))


def _log_dir_target(log_dir):
    """The directory ``log_dir`` names: itself, or the directory its symbolic link points to."""
    if not os.path.islink(log_dir):
        return log_dir
    try:
        info = os.stat(log_dir)
    except FileNotFoundError:
        raise _Refused(
            f"{log_dir} is a symbolic link to {os.path.realpath(log_dir)}, which does not exist: make that directory "
            "or point the link at the log directory, or set log_dir to the directory itself."
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Refused(
                f"{log_dir} leads into a loop of symbolic links: point it at the log directory, or set log_dir to the "
                "directory itself."
            ) from None
        raise _Refused(f"Cannot look at {log_dir} (log_dir): {exc.strerror}.") from None
    target = os.path.realpath(log_dir)
    if not stat.S_ISDIR(info.st_mode):
        raise _Refused(
            f"{log_dir} is a symbolic link to {target}, which is {_kind(info.st_mode)}, not a directory: point it at "
            "the log directory, or set log_dir to the directory itself."
        )
    return target


class _Want:
    """Owner, group and mode one path should have (None: leave as it is), and who asked (the options)."""

    def __init__(self, params, prefix, planned=()):
        self.options = (f"{prefix}_owner", f"{prefix}_group")
        self.names = (params[f"{prefix}_owner"], params[f"{prefix}_group"])
        self.uid = _user(self.options[0], self.names[0], planned)
        self.gid = _group(self.options[1], self.names[1], planned)
        self.mode = _mode(f"{prefix}_mode", params[f"{prefix}_mode"])

    def differences(self, info):
        """{attribute: (before, after)} for an existing path's ``info`` (None: a path about to be made)."""
        if info is None:
            uid, gid, mode = _euid(), os.getegid(), None
        else:
            uid, gid, mode = info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)
        found = {}
        if self.uid is not None and self.uid != uid:
            found["owner"] = (uid, self.uid)
        if self.gid is not None and self.gid != gid:
            found["group"] = (gid, self.gid)
        if self.mode != mode:
            found["mode"] = (None if mode is None else "0%03o" % mode, "0%03o" % self.mode)
        return found

    def check_permitted(self, path, info):
        """Refuse, before anything is written, an owner or group this run may not give."""
        euid = _euid()
        if euid == 0:
            return
        changes = self.differences(info)
        owner = euid if info is None else info.st_uid
        if "owner" in changes:
            raise _Refused(
                f"{self.options[0]} asks for {path} to be owned by {self.names[0]}, which only root can do: run the "
                "task with become."
            )
        if owner != euid and ("group" in changes or "mode" in changes):
            raise _Refused(f"{path} belongs to another user, so this run cannot change it: run the task with become.")
        if "group" in changes and self.gid not in (os.getegid(), *os.getgroups()):
            raise _Refused(
                f"{self.options[1]} asks for {path} to belong to the group {self.names[1]}, which this run's user is "
                "not in: run the task with become."
            )

    def apply(self, path):
        os.chown(path, -1 if self.uid is None else self.uid, -1 if self.gid is None else self.gid)
        os.chmod(path, self.mode)


def _diff(header, changes, made=False):
    before = {"path": header, "state": "absent"} if made else {"path": header}
    after = {"path": header, "state": "directory"} if made else {"path": header}
    for name, (old, new) in changes.items():
        if not made:
            before[name] = old
        after[name] = new
    text = f"{header} (file attributes)"
    return {"before": before, "after": after, "before_header": text, "after_header": text}


def _stat_or_none(path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def main():
    module = AnsibleModule(
        argument_spec={
            "policy_path": {"type": "path", "required": True},
            "policy_content": {"type": "str", "required": True},
            "policy_owner": {"type": "str", "default": "root"},
            "policy_group": {"type": "str", "default": "root"},
            "policy_mode": {"type": "raw", "default": "0644"},
            "backup": {"type": "bool", "default": False},
            "log_dir": {"type": "path"},
            "log_dir_owner": {"type": "str"},
            "log_dir_group": {"type": "str"},
            "log_dir_mode": {"type": "raw", "default": "0750"},
            "accounts_made_earlier": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    result = {"changed": False, "policy_changed": False, "policy_created": False, "log_dir_changed": False}
    try:
        plan = _plan(module.params, module.check_mode)
    except (_Refused, FileRefused) as exc:
        module.fail_json(msg=str(exc), **result)
    result["policy_created"] = not plan["found"].exists
    result["policy_changed"] = bool(plan["content_changed"] or plan["policy_attributes"] or plan["policy_dirs"])
    result["log_dir_changed"] = bool(plan["log_dirs"] or plan["log_dir_attributes"])
    result["changed"] = result["policy_changed"] or result["log_dir_changed"]
    if not module.check_mode:
        try:
            _carry_out(module, plan, result)
        except OSError as exc:
            module.fail_json(
                msg=f"Cannot finish writing {exc.filename or module.params['policy_path']}: {exc.strerror}.", **result
            )
    if module._diff and plan["diffs"]:
        result["diff"] = plan["diffs"]
    module.exit_json(**result)


def _plan(params, check_mode=False):
    """Everything the run will do, found and checked before anything is written (raises _Refused)."""
    planned = frozenset(params["accounts_made_earlier"]) if check_mode else frozenset()
    policy_want = _Want(params, "policy", planned)
    log_want = _Want(params, "log_dir", planned) if params["log_dir"] else None
    path = params["policy_path"]
    content = to_bytes(params["policy_content"])
    plan = {"content": content, "diffs": [], "log_dir": None, "log_dirs": [], "log_dir_attributes": {}}

    log_dir = params["log_dir"]
    log_diff = None
    if log_dir:
        target = _log_dir_target(log_dir)
        plan["log_dir"] = target
        plan["log_dirs"] = _missing_directories(target, "log_dir")
        info = None if plan["log_dirs"] else os.stat(target)
        log_want.check_permitted(target, info)
        changes = log_want.differences(info)
        plan["log_dir_attributes"] = changes if info is not None else {}
        if plan["log_dirs"] or changes:
            header = log_dir if target == log_dir else f"{log_dir} -> {target}"
            log_diff = _diff(header, changes, made=bool(plan["log_dirs"]))
    plan["log_want"] = log_want

    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        _missing_directories(os.path.dirname(os.path.abspath(path)), "policy_path")  # refuses what is in the way
    found = read_regular_file(path, what="audit policy file", option="policy_path")
    plan["found"] = found
    directory = os.path.dirname(found.real_path) or "."
    plan["policy_dirs"] = _missing_directories(directory, "policy_path")
    plan["content_changed"] = found.data != content
    if plan["content_changed"] and not plan["policy_dirs"] and not os.access(directory, os.W_OK | os.X_OK):
        raise _Refused(
            f"Cannot write {found.real_path}: its directory {directory} is not writable for this run "
            "(run it with become)."
        )
    policy_want.check_permitted(found.real_path, found.stat)
    plan["policy_attributes"] = policy_want.differences(found.stat) if found.exists else {}
    plan["policy_want"] = policy_want
    if plan["content_changed"]:
        plan["diffs"].append(
            {
                "before": "" if not found.exists else to_text(found.data, errors="surrogate_or_replace"),
                "after": to_text(content),
                "before_header": path,
                "after_header": path,
            }
        )
    if plan["policy_attributes"]:
        plan["diffs"].append(_diff(path, plan["policy_attributes"]))
    if log_diff:
        plan["diffs"].append(log_diff)
    return plan


def _make_directories(missing, last_want=None):
    """Make ``missing`` (outermost first): each 0755 whatever the umask, the last one private until ``last_want``
    has given it its owner and mode."""
    for index, directory in enumerate(missing):
        final = last_want is not None and index == len(missing) - 1
        os.mkdir(directory, 0o700)
        if final:
            last_want.apply(directory)
        else:
            os.chmod(directory, _PARENT_MODE)
        fsync_directory(os.path.dirname(directory))


def _carry_out(module, plan, result):
    if plan["log_dir"]:
        _make_directories(plan["log_dirs"], plan["log_want"])
        if plan["log_dir_attributes"]:
            plan["log_want"].apply(plan["log_dir"])
    found = plan["found"]
    real_path = found.real_path
    _make_directories(plan["policy_dirs"])
    if plan["content_changed"]:
        directory = os.path.dirname(real_path) or "."
        if module.params["backup"] and found.exists:
            try:
                result["backup_file"] = make_backup(real_path, found.data, found.stat)
            except (OSError, FileRefused) as exc:
                module.fail_json(msg=f"Cannot back up {real_path}, so it was left untouched: {exc}.", **result)
        staged = write_private_temp(directory, os.path.basename(real_path), plan["content"])
        try:
            os.chmod(staged, plan["policy_want"].mode)
            os.chown(staged, -1 if plan["policy_want"].uid is None else plan["policy_want"].uid,
                     -1 if plan["policy_want"].gid is None else plan["policy_want"].gid)  # fmt: skip
            module.atomic_move(staged, real_path)
        finally:
            remove_quietly(staged)
        fsync_directory(directory)
    if plan["policy_attributes"] or plan["content_changed"]:
        plan["policy_want"].apply(real_path)


if __name__ == "__main__":
    main()
