#!/usr/bin/python
# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: k0s_host_info
short_description: What a k0s controller needs before audit logging is turned on, read in one round trip
version_added: 0.1.0
author: k0rdent.audit maintainers (@k0rdent)
description:
  - Reads, without changing anything, the facts the P(k0rdent.audit.k0s_audit#role) role checks before it
    touches a host, in one round trip instead of a dozen small tasks.
  - Whether the API server's user exists and which groups it has.
  - Every existing parent directory of the given paths that this user cannot traverse (no search permission by
    owner, group or other bits; POSIX ACLs are not evaluated). kube-apiserver running as this user must traverse
    every parent of the audit policy file and of the audit log directory, or it does not start.
  - The free space of the file system that will hold the audit log.
  - Whether the k0s controller's systemd unit exists and is active.
options:
  user:
    description:
      - The account kube-apiserver runs as. When it does not exist yet, the checks use the permissions a new
        system account of that name would have (the C(other) bits).
    type: str
    required: true
  paths:
    description:
      - Files or directories whose parent directories the user must be able to traverse.
    type: list
    elements: path
    default: []
  disk_path:
    description:
      - A path on the file system whose free space is reported; it need not exist yet (its nearest existing
        ancestor is measured).
    type: path
  service:
    description: The systemd unit of the k0s controller.
    type: str
    default: k0scontroller
  stat_paths:
    description:
      - Paths whose owner, group, mode and (for regular files) SHA-1 checksum are returned in RV(stats), so the
        caller can skip a task whose target is already as wanted.
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The module reads only. It is safe in check mode and returns the same facts there.
"""

EXAMPLES = r"""
- name: Read what the audit preflight needs
  k0rdent.audit.k0s_host_info:
    user: kube-apiserver
    paths:
      - /etc/k0s/audit-policy.yaml
      - /var/log/k0s/audit.log
    disk_path: /var/log/k0s
  register: host_info

- name: Show the directories kube-apiserver cannot enter
  ansible.builtin.debug:
    msg: "{{ host_info.untraversable | map(attribute='path') | list }}"
"""

RETURN = r"""
user:
  description: The API server's account.
  returned: always
  type: dict
  contains:
    name:
      description: The account name.
      type: str
      sample: kube-apiserver
    exists:
      description: Whether the account exists on the host.
      type: bool
      sample: true
    uid:
      description: Its user id, null when it does not exist.
      type: int
      sample: 998
    group:
      description: The name of its primary group, null when it does not exist.
      type: str
      sample: kube-apiserver
    groups:
      description: Names of every group it belongs to.
      type: list
      elements: str
      sample: [kube-apiserver]
untraversable:
  description: Existing parent directories of O(paths) the user cannot traverse, nearest to the root first.
  returned: always
  type: list
  elements: dict
  sample: [{path: /etc/k0s, mode: "0750", owner: root, group: root}]
disk:
  description: Space on the file system of O(disk_path); empty when O(disk_path) is not given.
  returned: always
  type: dict
  contains:
    path:
      description: The nearest existing ancestor of O(disk_path) that was measured.
      type: str
      sample: /var/log
    free_mb:
      description: Megabytes available to unprivileged users.
      type: int
      sample: 20480
    total_mb:
      description: Size of the file system in megabytes.
      type: int
      sample: 51200
stats:
  description: For each of O(stat_paths), what is there now.
  returned: always
  type: dict
  sample:
    /var/log/k0s: {exists: true, isdir: true, owner: root, group: root, mode: "0750", checksum: null}
service:
  description: The state of the controller's systemd unit.
  returned: always
  type: dict
  contains:
    name:
      description: The unit name.
      type: str
      sample: k0scontroller
    exists:
      description: Whether systemd knows the unit.
      type: bool
      sample: true
    active:
      description: Whether the unit is active (running).
      type: bool
      sample: true
"""

import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def _account(name):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {"name": name, "exists": False, "uid": None, "group": None, "groups": []}, None, set()
    gids = {entry.pw_gid}
    gids.update(group.gr_gid for group in grp.getgrall() if name in group.gr_mem)
    names = []
    for gid in sorted(gids):
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.append(str(gid))
    primary = names[sorted(gids).index(entry.pw_gid)]
    return {"name": name, "exists": True, "uid": entry.pw_uid, "group": primary, "groups": names}, entry.pw_uid, gids


def _name_of(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def _can_traverse(st, uid, gids):
    if uid == 0:
        return True
    if uid is not None and st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in gids:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _parents(path):
    parents = []
    current = os.path.dirname(os.path.abspath(path))
    while True:
        parents.append(current)
        if current == "/":
            break
        current = os.path.dirname(current)
    return reversed(parents)


def _untraversable(paths, uid, gids):
    seen, found = set(), []
    for path in paths:
        for parent in _parents(path):
            if parent in seen:
                continue
            seen.add(parent)
            try:
                st = os.stat(parent)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and not _can_traverse(st, uid, gids):
                found.append(
                    {
                        "path": parent,
                        "mode": "%04o" % stat.S_IMODE(st.st_mode),
                        "owner": _name_of(pwd.getpwuid, st.st_uid),
                        "group": _name_of(grp.getgrgid, st.st_gid),
                    }
                )
    return found


def _stat(path):
    try:
        st = os.lstat(path)
    except OSError:
        return {"exists": False}
    checksum = None
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha1()  # the checksum Ansible's file modules report
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        checksum = digest.hexdigest()
    return {
        "exists": True,
        "isdir": stat.S_ISDIR(st.st_mode),
        "islnk": stat.S_ISLNK(st.st_mode),
        "owner": _name_of(pwd.getpwuid, st.st_uid),
        "group": _name_of(grp.getgrgid, st.st_gid),
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "checksum": checksum,
    }


def _disk(path):
    if not path:
        return {}
    current = os.path.abspath(path)
    while not os.path.exists(current):
        current = os.path.dirname(current)
    fs = os.statvfs(current)
    return {
        "path": current,
        "free_mb": fs.f_bavail * fs.f_frsize // (1024 * 1024),
        "total_mb": fs.f_blocks * fs.f_frsize // (1024 * 1024),
    }


def _service(module, name):
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return {"name": name, "exists": False, "active": False}
    rc, out, _err = module.run_command([systemctl, "show", "--property=LoadState,ActiveState", name])
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    exists = rc == 0 and props.get("LoadState") not in (None, "not-found")
    return {"name": name, "exists": exists, "active": exists and props.get("ActiveState") in ("active", "reloading")}


def main():
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "required": True},
            "paths": {"type": "list", "elements": "path", "default": []},
            "disk_path": {"type": "path"},
            "service": {"type": "str", "default": "k0scontroller"},
            "stat_paths": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    user, uid, gids = _account(module.params["user"])
    module.exit_json(
        changed=False,
        user=user,
        untraversable=_untraversable(module.params["paths"], uid, gids),
        disk=_disk(module.params["disk_path"]),
        service=_service(module, module.params["service"]),
        stats={path: _stat(path) for path in module.params["stat_paths"]},
    )


if __name__ == "__main__":
    main()
