# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The files of one audit log: the live log and the backups lumberjack left beside it, read line by line.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

kube-apiserver's log backend is lumberjack (k8s.io/apiserver pkg/server/options/audit.go, ``getWriter``), which
names a backup ``<stem>-<UTC time as 2006-01-02T15-04-05.000><ext>`` and, with compression, appends ``.gz``
(gopkg.in/natefinch/lumberjack.v2 lumberjack.go, ``backupName``, ``oldLogFiles``, ``compressLogFile``). Only
regular files of that rotation set in the log's directory are read: a symbolic link is never followed (it is named
as skipped), nor is a FIFO or device opened for a blocking read.

A file holds at most what lumberjack writes before it rotates, ``maxsize`` megabytes (``max()``, 100 when
``maxsize`` is 0): a compressed backup is inflated to that much at most and flagged when it holds more.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import stat
import typing as t
import zlib
from datetime import datetime

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report_events import MIB, ReportError

__all__ = [
    "DEFAULT_MAXSIZE",
    "MAX_LINE",
    "NOT_FOLLOWED",
    "FileState",
    "find_log_files",
    "max_bytes",
    "open_log_file",
    "read_lines",
    "why_not_opened",
]

# A line longer than this is skipped (and counted) instead of being held in memory whole.
MAX_LINE = 64 * MIB
# lumberjack.go: defaultMaxSize, in megabytes of 1024 * 1024 bytes (``megabyte``), used when MaxSize is 0.
DEFAULT_MAXSIZE = 100
# lumberjack.go: backupTimeFormat "2006-01-02T15-04-05.000", compressSuffix ".gz".
_BACKUP_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}"
NOT_FOLLOWED = "a symbolic link, not followed: only the log's own files are read"
_NOT_REGULAR = "not a regular file, not opened"


class _NotRegular(OSError):
    pass


def max_bytes(maxsize: int | None) -> int:
    """The bytes lumberjack writes to one file at most for ``--audit-log-maxsize`` (lumberjack.go, ``max``)."""
    size = maxsize if maxsize and maxsize > 0 else DEFAULT_MAXSIZE
    return min(size, 2**63 - 1) * MIB


def _rotated_at(stamp: str) -> str | None:
    """The rotation time a backup name gives, as RFC 3339, or None when it is not a time (lumberjack's
    ``timeFromName`` ignores such a file too)."""
    try:
        datetime.strptime(stamp, "%Y-%m-%dT%H-%M-%S.%f")
    except ValueError:
        return None
    day, clock = stamp.split("T")
    return f"{day}T{clock[:8].replace('-', ':')}{clock[8:]}Z"


def _unreadable(path: str, exc: OSError, what: str = "") -> ReportError:
    return ReportError(
        f"log_path: {what}{path} cannot be {'listed' if what else 'read'} ({exc.strerror or exc}); run the report"
        " as root (become: true) or give its account read access."
    )


def find_log_files(log_path: str, skipped: list | None = None) -> list[dict[str, t.Any]]:
    """The live log and its lumberjack backups, oldest first: ``{path, compressed, rotated_at, disk_bytes}``.

    Backups sort by the time in their name (as lumberjack's ``oldLogFiles`` does); the live file comes last. A
    backup that exists both plain and as ``.gz`` is being compressed right now: only the plain one is read. A file
    of the set that is a symbolic link or not a regular file is appended to ``skipped`` as ``{path, reason}``.
    """
    skipped = [] if skipped is None else skipped
    directory, name = os.path.split(log_path)
    stem, ext = os.path.splitext(name)
    pattern = re.compile(re.escape(stem) + "-(" + _BACKUP_TIME + ")" + re.escape(ext) + r"(\.gz)?\Z")
    try:
        names = os.listdir(directory or ".")
    except FileNotFoundError:
        names = []
    except NotADirectoryError as exc:
        raise ReportError(f"log_path: the directory of {log_path} is not a directory.") from exc
    except OSError as exc:
        raise _unreadable(directory or ".", exc, "the directory ") from exc
    backups: dict[str, dict[str, t.Any]] = {}
    for entry in sorted(names):
        match = pattern.match(entry)
        if not match:
            continue
        stamp, compressed = match.group(1), bool(match.group(2))
        rotated_at = _rotated_at(stamp)
        if rotated_at is None:
            continue
        path = os.path.join(directory, entry)
        info = _lstat(path, skipped)
        if info is None:
            continue
        if stamp in backups and not backups[stamp]["compressed"]:
            continue  # the plain file wins while lumberjack writes its .gz
        backups[stamp] = {"path": path, "compressed": compressed, "rotated_at": rotated_at, "disk_bytes": info}
    files = [backups[stamp] for stamp in sorted(backups)]
    try:
        live = os.lstat(log_path)
    except FileNotFoundError:
        return files
    except OSError as exc:
        raise _unreadable(log_path, exc) from exc
    if stat.S_ISDIR(live.st_mode):
        raise ReportError(f"log_path: {log_path} is a directory; give the audit log file (--audit-log-path).")
    info = _lstat(log_path, skipped, live)
    if info is not None:
        files.append({"path": log_path, "compressed": False, "rotated_at": None, "disk_bytes": info})
    return files


def _lstat(path: str, skipped: list, info: os.stat_result | None = None) -> int | None:
    """The size of a regular file, else None with the path added to ``skipped`` (or nothing when it is gone)."""
    try:
        info = info or os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if stat.S_ISREG(info.st_mode):
        return info.st_size
    skipped.append({"path": path, "reason": NOT_FOLLOWED if stat.S_ISLNK(info.st_mode) else _NOT_REGULAR})
    return None


def open_log_file(path: str) -> t.BinaryIO:
    """``path`` opened for reading if it is a regular file: a symbolic link fails (ELOOP) instead of being
    followed, a FIFO or device is refused without blocking (:func:`why_not_opened` says why)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    handle = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise _NotRegular(errno.EINVAL, _NOT_REGULAR)
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def why_not_opened(exc: OSError) -> str:
    """A phrase for an error of :func:`open_log_file`."""
    if isinstance(exc, _NotRegular):
        return _NOT_REGULAR
    if exc.errno == errno.ELOOP:
        return NOT_FOLLOWED
    return f"could not be read ({exc.strerror or exc})"


class FileState:
    """What reading one file found: ``damaged`` (a gzip stream that ends early or is not gzip), ``over_limit`` (a
    compressed backup holding more than lumberjack writes to one file) and ``note``, a sentence."""

    __slots__ = ("damaged", "note", "over_limit")

    def __init__(self) -> None:
        self.damaged = self.over_limit = False
        self.note = ""


def read_lines(handle: t.BinaryIO, compressed: bool, limit: int, state: FileState) -> t.Iterator[tuple[bytes, str]]:
    """Yield ``(line, kind)`` of one open file without reading it whole: kind ``complete``, ``partial`` (a last
    line without a newline) or ``oversized`` (a line longer than MAX_LINE, given as empty bytes; it is skipped).
    A compressed file is inflated to ``limit`` bytes at most. What went wrong is noted in ``state``."""
    stream: t.Any = gzip.GzipFile(fileobj=handle, mode="rb") if compressed else handle
    left = limit if compressed else None
    try:
        while True:
            size = MAX_LINE if left is None else min(MAX_LINE, left)
            if size <= 0:
                if stream.read(1):
                    state.over_limit = True
                    state.note = (
                        f"it holds more than lumberjack writes to one file ({limit // MIB} MiB): read up to there"
                    )
                return
            line = stream.readline(size)
            if left is not None:
                left -= len(line)
            if not line:
                return
            if line.endswith(b"\n"):
                yield line, "complete"
                continue
            if len(line) < size:
                yield line, "partial"  # end of file without a newline
                return
            if size < MAX_LINE:  # the limit cut this line: the check above notes it
                yield line, "partial"
                continue
            while line and not line.endswith(b"\n"):  # skip the rest of the over-long line
                size = MAX_LINE if left is None else min(MAX_LINE, left)
                if size <= 0:
                    break
                line = stream.readline(size)
                if left is not None:
                    left -= len(line)
            yield b"", "oversized"
    except (EOFError, OSError, zlib.error) as exc:
        state.damaged = True
        state.note = f"it ends early or is damaged ({exc.__class__.__name__}: {exc}): read up to there"
