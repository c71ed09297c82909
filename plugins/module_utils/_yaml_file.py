# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""Safe reading and writing of one small YAML file, shared by ``k0s_config`` and ``k0sctl_config``.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

- :func:`read_regular_file` reads only a regular file (a FIFO or a device never blocks the run: the file is opened
  with ``O_NONBLOCK`` and checked with ``fstat`` before a byte is read), follows a symbolic link only to a regular
  file, and refuses a file bigger than :data:`MAX_FILE_SIZE`.
- :func:`exclusive_lock` serialises read-modify-write between runs with ``flock`` on a lock file beside the
  target, which it removes again; a run that waits longer than the timeout fails with one sentence.
- :func:`write_private_temp` writes content to a new ``0600`` file (``O_EXCL``) in the target's directory and
  fsyncs it, so that a rename can put it in place atomically.
- :func:`make_backup` makes the backup that way and gives it the original's owner and mode only once its content
  is complete, so that no other user can read it early and no truncated backup is ever left under a backup name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from typing import Iterator

__all__ = [
    "LOCK_SUFFIX",
    "LOCK_TIMEOUT",
    "MAX_FILE_SIZE",
    "FileRefused",
    "ReadFile",
    "exclusive_lock",
    "fsync_directory",
    "lock_path_for",
    "make_backup",
    "read_regular_file",
    "remove_quietly",
    "write_private_temp",
]

MAX_FILE_SIZE = 1 << 20  # 1 MiB: a k0s.yaml or k0sctl.yaml is a few kilobytes; anything bigger is not one
LOCK_TIMEOUT = 10.0  # seconds a run waits for another run on the same file
LOCK_SUFFIX = ".k0rdent-audit.lock"
_POLL = 0.05

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(ValueError):
    """The file cannot be read or written safely; the message is one sentence a person can act on."""


class ReadFile:
    """What :func:`read_regular_file` found: ``data`` and ``stat`` are None when the file does not exist."""

    __slots__ = ("data", "path", "real_path", "stat")

    def __init__(self, path: str, real_path: str, data: bytes | None, info: os.stat_result | None) -> None:
        self.path = path
        self.real_path = real_path
        self.data = data
        self.stat = info

    @property
    def exists(self) -> bool:
        return self.data is not None


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _loop(path: str, what: str, option: str) -> FileRefused:
    return FileRefused(
        f"{path} leads into a loop of symbolic links (each points on to the next and none to a file): "
        f"point the link at the {what} itself, or set {option} to the file."
    )


def read_regular_file(
    path: str, max_size: int = MAX_FILE_SIZE, what: str = "configuration file", option: str = "path"
) -> ReadFile:
    """Read ``path`` (following a symbolic link to a regular file) without ever blocking on a FIFO or device.

    A loop of symbolic links, in the file's name or in a directory on its way, is refused, naming ``path``.
    ``what`` and ``option`` (the module option that gave the path) name them in messages.
    """
    real_path = path
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _loop(path, what, option) from exc
    if os.path.islink(path):
        real_path = os.path.realpath(path)
        if not os.path.lexists(real_path):
            raise FileRefused(
                f"{path} is a symbolic link to {real_path}, which does not exist: "
                f"point the link at the file or set {option} to the file itself."
            )
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real_path, flags)
    except FileNotFoundError:
        return ReadFile(path, real_path, None, None)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            if os.path.islink(real_path) and os.path.realpath(real_path) != real_path:
                raise FileRefused(
                    f"{real_path} was replaced by a symbolic link while it was being read: run again."
                ) from exc
            raise _loop(path, what, option) from exc
        raise FileRefused(f"Cannot read {real_path}: {exc.strerror}.") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"{real_path} is a directory: set {option} to the {what} inside it.")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{real_path} is {_kind(info.st_mode)}, not a regular file: set {option} to the {what}.")
        if info.st_size > max_size:
            raise FileRefused(
                f"{real_path} is {info.st_size} bytes, more than the {max_size} bytes a configuration file may have "
                "here: check that path names the right file."
            )
        chunks = []
        size = 0
        while size <= max_size:
            chunk = os.read(fd, max_size + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_size:
            raise FileRefused(
                f"{real_path} grew beyond {max_size} bytes while it was being read: check that path names the right "
                "file."
            )
        return ReadFile(path, real_path, b"".join(chunks), info)
    finally:
        os.close(fd)


def lock_path_for(real_path: str) -> str:
    directory, name = os.path.split(real_path)
    return os.path.join(directory, f".{name}{LOCK_SUFFIX}")


def _same_file(left: os.stat_result, right: os.stat_result) -> bool:
    return (left.st_dev, left.st_ino) == (right.st_dev, right.st_ino)


@contextlib.contextmanager
def exclusive_lock(real_path: str, owner: str, timeout: float | None = None) -> Iterator[str]:
    """Hold an exclusive ``flock`` on ``.NAME.k0rdent-audit.lock`` beside ``real_path``; yield the lock's path.

    The lock file is removed before the lock is released. A run that was waiting on it then holds a lock on a file
    that no longer has a name; it notices (the name is gone or names another inode) and locks the new file, so
    two runs never both believe they hold the lock. A lock dies with its process, so a killed run leaves at most
    an unlocked lock file behind, which the next run reuses. ``owner`` names the module in the timeout message.
    """
    lock_path = lock_path_for(real_path)
    limit = LOCK_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + limit
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            fd = os.open(lock_path, flags, 0o600)
        except OSError as exc:
            raise FileRefused(f"Cannot create the lock file {lock_path}: {exc.strerror}.") from exc
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise FileRefused(
                            f"Another run of {owner} holds the lock {lock_path} on {real_path} and did not finish "
                            f"within {limit:g} seconds: let it finish, then run again."
                        ) from None
                    time.sleep(_POLL)
            try:
                current = os.stat(lock_path, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            if current is not None and _same_file(current, os.fstat(fd)):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the previous holder removed the file we locked: lock the new one
    try:
        yield lock_path
    finally:
        remove_quietly(lock_path)
        os.close(fd)  # releases the lock


def fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def remove_quietly(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def write_private_temp(directory: str, name: str, data: bytes) -> str:
    """Write ``data`` to a new ``0600`` file (``O_EXCL``) in ``directory``, fsync it, return its path."""
    fd, tmp = tempfile.mkstemp(dir=directory or ".", prefix=f".{name}.", suffix=".k0rdent-audit.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        remove_quietly(tmp)
        raise
    return tmp


def make_backup(real_path: str, data: bytes, info: os.stat_result) -> str:
    """Back ``data`` (the bytes just read from ``real_path``) up beside it; return the backup's path.

    The name follows ansible-core's ``AnsibleModule.backup_local`` (``PATH.PID.YYYY-MM-DD@HH:MM:SS~``). The content
    goes to a private temporary file first, is fsynced, then gets the original's owner and mode, and only then is
    linked to the backup name, which never exists half-written and is never overwritten.
    """
    directory, name = os.path.split(real_path)
    tmp = write_private_temp(directory, name, data)
    try:
        if os.geteuid() == 0 or (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
            with contextlib.suppress(PermissionError):
                os.chown(tmp, info.st_uid, info.st_gid)
        os.chmod(tmp, stat.S_IMODE(info.st_mode))
        stamp = time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime())
        backup = f"{real_path}.{os.getpid()}.{stamp}~"
        for attempt in range(100):
            candidate = backup if attempt == 0 else f"{real_path}.{os.getpid()}.{stamp}.{attempt}~"
            try:
                os.link(tmp, candidate)  # fails when the name exists: an older backup is never replaced
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                if os.path.lexists(candidate):
                    continue
                os.rename(tmp, candidate)  # no hard links on this file system
                tmp = None
            backup = candidate
            break
        else:
            raise FileRefused(f"Cannot find a free backup name beside {real_path}: remove old backups.")
    finally:
        remove_quietly(tmp)
    fsync_directory(directory)
    return backup
