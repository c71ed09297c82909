# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What a host's files allow and hold: whether an account can traverse and write directories, as the kernel decides
(mode bits and POSIX ACLs), what is at a path, what else a log directory holds, free space.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

Used by ``k0s_host_info``: kube-apiserver must traverse every parent of the audit policy file and of the audit log
directory, and create files in that directory, as the account it really runs as (k0s gives it group root and no
supplementary groups).
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import stat
import struct

__all__ = [
    "ACL_ENTRY",
    "access",
    "account",
    "acl_user_perms",
    "can_traverse",
    "disk",
    "foreign_files",
    "log_file_error",
    "name_of",
    "parents",
    "stat_path",
    "untraversable",
    "unwritable",
]

# POSIX ACL xattr layout (linux/posix_acl_xattr.h): a 4-byte version, then 8-byte entries (tag, perm, id).
_ACL_USER = 0x02
_ACL_MASK = 0x10
ACL_ENTRY = struct.Struct("<HHI")


def account(name):
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


def name_of(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def acl_user_perms(path, uid):
    """The permission bits a named-user ACL entry gives uid on path (masked), or None when there is none."""
    try:
        raw = os.getxattr(path, "system.posix_acl_access")
    except (OSError, AttributeError):
        return None
    perms, mask = None, 7
    for offset in range(4, len(raw) - ACL_ENTRY.size + 1, ACL_ENTRY.size):
        tag, perm, ident = ACL_ENTRY.unpack_from(raw, offset)
        if tag == _ACL_USER and ident == uid:
            perms = perm
        elif tag == _ACL_MASK:
            mask = perm
    return None if perms is None else perms & mask


def access(st, path, uid, gids, want):
    """Whether uid with groups gids has every bit of want (4 r, 2 w, 1 x) on a file, as the kernel decides."""
    if uid == 0:
        return True
    if uid is not None and st.st_uid == uid:
        return (st.st_mode >> 6) & want == want
    if uid is not None:
        named = acl_user_perms(path, uid)
        if named is not None:
            return named & want == want
    if st.st_gid in gids:
        return (st.st_mode >> 3) & want == want
    return st.st_mode & want == want


def can_traverse(st, uid, gids, path=""):
    return access(st, path, uid, gids, 1)


def parents(path):
    parents = []
    current = os.path.dirname(os.path.abspath(path))
    while True:
        parents.append(current)
        if current == "/":
            break
        current = os.path.dirname(current)
    return reversed(parents)


def untraversable(paths, uid, gids):
    seen, found = set(), []
    for path in paths:
        for parent in parents(path):
            if parent in seen:
                continue
            seen.add(parent)
            try:
                st = os.stat(parent)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and not can_traverse(st, uid, gids, parent):
                found.append(
                    {
                        "path": parent,
                        "mode": "%04o" % stat.S_IMODE(st.st_mode),
                        "owner": name_of(pwd.getpwuid, st.st_uid),
                        "group": name_of(grp.getgrgid, st.st_gid),
                    }
                )
    return found


def unwritable(dirs, uid, gids):
    found = []
    for path in dirs:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or not access(st, path, uid, gids, 3):
            found.append(path)
    return found


def foreign_files(dirs, paths):
    """Entries of each directory that are neither one of paths nor a rotated copy of it.

    kube-apiserver's log rotation (lumberjack, used by k8s.io/apiserver pkg/server/options/audit.go) names backups
    NAME-TIMESTAMP.EXT, optionally gzipped.
    """
    result = {}
    for directory in dirs:
        logs = [os.path.basename(p) for p in paths if os.path.dirname(p) == directory]
        patterns = []
        for name in logs:
            stem, ext = os.path.splitext(name)
            rotated = r"(?:-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})?"
            patterns.append(re.compile(re.escape(stem) + rotated + re.escape(ext) + r"(?:\.gz)?\Z"))
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        result[directory] = [e for e in entries if not any(p.match(e) for p in patterns)]
    return result


def log_file_error(path, uid, gids, user):
    """Why kube-apiserver, running as user (uid, with groups gids), could not append to the audit log file that is
    already at path; empty when it can, or when nothing is there yet (it creates the file).

    kube-apiserver opens the live log for appending (lumberjack) and exits when it cannot: a file an API server that
    once ran as root left behind (root's, 0600) keeps it from starting. A FIFO there would block it.
    """
    try:
        st = os.stat(path)
    except OSError:
        return ""
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, socket or device)"
        return (
            "%s is %s, and kube-apiserver appends its audit log to a regular file: k0s_audit_log_path names it;"
            " remove it or choose another path." % (path, kind)
        )
    if access(st, path, uid, gids, 2):
        return ""
    return (
        "%s is owned by %s:%s with mode %04o, which kube-apiserver, running as %s (group root), cannot write, so it"
        " would not start: k0s_audit_log_path names an old file; move it out of the way, or give it to %s"
        " (chown %s %s)."
        % (
            path,
            name_of(pwd.getpwuid, st.st_uid),
            name_of(grp.getgrgid, st.st_gid),
            stat.S_IMODE(st.st_mode),
            user,
            user,
            user,
            path,
        )
    )


def stat_path(path):
    """What the path leads to, as the role compares it with what it wants: a symbolic link is followed, as
    kube-apiserver and the role's writes follow it (a link that leads nowhere does not exist)."""
    try:
        st = os.stat(path)
    except OSError:
        return {"exists": False}
    checksum = None
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha1()  # the checksum Ansible's file modules report
        # O_NONBLOCK: a FIFO put in place of the file after the stat is not waited on; fstat checks it again.
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            fd = -1  # replaced or removed meanwhile: no checksum
        if fd >= 0:
            with os.fdopen(fd, "rb") as handle:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    for block in iter(lambda: handle.read(65536), b""):
                        digest.update(block)
                    checksum = digest.hexdigest()
    return {
        "exists": True,
        "isdir": stat.S_ISDIR(st.st_mode),
        "owner": name_of(pwd.getpwuid, st.st_uid),
        "group": name_of(grp.getgrgid, st.st_gid),
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "checksum": checksum,
    }


def disk(path):
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
