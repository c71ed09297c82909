# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The command line a systemd service runs, read as systemd reads it; used by ``k0s_host_info``.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

systemd (src/core/load-fragment.c ``config_parse_exec``, src/basic/extract-word.c, src/basic/env-file.c,
src/basic/env-util.c ``replace_env_argv``; man systemd.service, systemd.exec, systemd.unit):

- the unit file, then its drop-ins (``NAME.d/*.conf`` and ``service.d/*.conf`` of every unit directory, applied in
  the order of their file names, a name in a directory of higher precedence masking the same name further down); an
  empty ``ExecStart=``, ``Environment=`` or ``EnvironmentFile=`` resets what came before;
- specifiers (``%%``, ``%n``, ``%N``, ``%p``, ``%i``, ``%I``) are resolved on the whole line, then it is split into
  words with quotes and C escapes; the prefixes ``@-:+!|`` come first; ``@`` makes the second word ``argv[0]``;
- ``${NAME}`` is replaced anywhere in a word, ``$NAME`` as a word of its own by its value split at whitespace,
  ``$$`` is a dollar sign; the values come from ``Environment=`` and then ``EnvironmentFile=`` (``-PATH``: optional).

Whatever cannot be resolved so (an unset variable, an unbalanced quote, a specifier not listed, several commands,
a unit changed since systemd loaded it) raises :class:`UnitRefused` with one sentence. No value of a variable ever
appears in a message: an environment file may hold secrets. Every file is read without blocking (``O_NONBLOCK``,
regular files only), so a FIFO in place of one is refused instead of hanging the run.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import Any

__all__ = [
    "UNIT_DIRS",
    "NotRegular",
    "UnitRefused",
    "exec_start",
    "read_regular",
    "read_text",
    "split_words",
    "systemctl_show",
    "unit_from_files",
]

# The unit search path of the system manager, highest precedence first (man systemd.unit, "Unit File Load Path").
UNIT_DIRS = (
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
)
SHOW_PROPERTIES = "LoadState,ActiveState,FragmentPath,DropInPaths,ExecStart,MainPID,NeedDaemonReload"
MAX_FILE = 1 << 20  # a unit or environment file is a few hundred bytes

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "s": " "}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PREFIXES = "@-:+!|"


class UnitRefused(ValueError):
    """The unit's command line cannot be known for sure; the message is one sentence naming the unit and the fix."""


class NotRegular(OSError):
    """A path names something other than a regular file; the message says what it is."""


def read_regular(path: str, limit: int = MAX_FILE) -> bytes | None:
    """The first ``limit`` bytes of the regular file at ``path`` (links followed), None when nothing is there.

    Opened with ``O_NONBLOCK`` and checked with ``fstat`` before a byte is read, so a FIFO or a device is never
    read: :class:`NotRegular` names what it is. Other errors are raised as the ``OSError`` they are.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise NotRegular(errno.EISDIR, "%s is a directory, not a regular file" % path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise NotRegular(errno.EINVAL, "%s is %s, not a regular file" % (path, kind))
        chunks, size = [], 0
        while size < limit:
            chunk = os.read(fd, limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path, what, limit):
    """(text or None when nothing is there, error sentence): never blocks on a FIFO or a device."""
    try:
        data = read_regular(path, limit + 1)
    except NotRegular as exc:
        return None, "%s: %s." % (exc.strerror, what)
    except OSError as exc:
        return None, "Cannot read %s: %s." % (path, exc.strerror)
    return (None if data is None else data.decode("utf-8", errors="replace")), ""


def systemctl_show(module: Any, name: str) -> tuple[dict[str, str], str]:
    """``systemctl show`` of the unit as a dict, and a warning (empty when systemctl answered)."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return {}, (
            "systemctl was not found, so the state of %s is unknown: it was read from its unit files, and no running"
            " controller is assumed." % name
        )
    rc, out, err = module.run_command([systemctl, "show", "--property=" + SHOW_PROPERTIES, name])
    if rc != 0:
        reason = (err or out).strip().splitlines()[0][:200] if (err or out).strip() else "no output"
        return {}, (
            "systemctl show %s failed (rc %d: %s), so its state is unknown: it was read from its unit files, and no"
            " running controller is assumed." % (name, rc, reason)
        )
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line), ""


def _unit_file_name(name: str) -> str:
    return name if "." in name else name + ".service"


def unit_from_files(name: str, unit_dirs: tuple[str, ...] | None = None) -> dict[str, str]:
    """What ``systemctl show`` would say of the unit's files, found in the unit directories without systemd."""
    unit = _unit_file_name(name)
    dirs = UNIT_DIRS if unit_dirs is None else unit_dirs
    fragment = next((os.path.join(d, unit) for d in dirs if os.path.lexists(os.path.join(d, unit))), "")
    if not fragment:
        return {"LoadState": "not-found"}
    if os.path.realpath(fragment) == "/dev/null":
        return {"LoadState": "masked"}
    kind = unit.rsplit(".", 1)[1]
    chosen: dict[str, str] = {}
    for directory in dirs:
        for drop_in_dir in (os.path.join(directory, kind + ".d"), os.path.join(directory, unit + ".d")):
            try:
                names = os.listdir(drop_in_dir)
            except OSError:
                continue
            for entry in names:
                if entry.endswith(".conf") and entry not in chosen:
                    chosen[entry] = os.path.join(drop_in_dir, entry)
    return {
        "LoadState": "loaded",
        "FragmentPath": fragment,
        "DropInPaths": " ".join(chosen[entry] for entry in sorted(chosen)),
    }


def split_words(text: str, unescape: bool = True, separators: list[int] | None = None) -> list[str]:
    """Words as systemd's ``extract_first_word`` makes them: EXTRACT_UNQUOTE, and with ``unescape`` EXTRACT_CUNESCAPE
    (an unbalanced quote raises ValueError), else EXTRACT_RELAX (a backslash keeps the next character as it is, an
    unbalanced quote ends at the end of the text), as a variable's value is split. The indexes of bare ``;`` words
    (command separators, unlike a quoted or escaped one) are appended to ``separators``."""
    words: list[str] = []
    i, length = 0, len(text)
    while True:
        while i < length and text[i] in " \t\n\r":
            i += 1
        if i >= length:
            return words
        word: list[str] = []
        quote = ""
        plain = True
        while i < length:
            char = text[i]
            if not quote and char in " \t\n\r":
                break
            if char == "\\":
                plain = False
                decoded, i = _unescape(text, i + 1, unescape)
                word.append(decoded)
                continue
            if quote and char == quote:
                quote = ""
            elif not quote and char in "'\"":
                quote, plain = char, False
            else:
                word.append(char)
            i += 1
        if quote and unescape:
            raise ValueError("an unbalanced %s quote" % ("double" if quote == '"' else "single"))
        if plain and separators is not None and word == [";"]:
            separators.append(len(words))
        words.append("".join(word))


def _unescape(text: str, i: int, unescape: bool) -> tuple[str, int]:
    """One C escape after a backslash (cunescape_one, relaxed: an unknown one stays as written)."""
    if i >= len(text):
        return "\\", i
    char = text[i]
    if not unescape:
        return char, i + 1
    if char in _ESCAPES:
        return _ESCAPES[char], i + 1
    if char in "\\\"' ;":
        return char, i + 1
    hex_digits = {"x": 2, "u": 4, "U": 8}.get(char)
    if hex_digits and re.match(r"[0-9A-Fa-f]{%d}\Z" % hex_digits, text[i + 1 : i + 1 + hex_digits]):
        return chr(int(text[i + 1 : i + 1 + hex_digits], 16)), i + 1 + hex_digits
    if re.match(r"[0-7]{3}\Z", text[i : i + 3]):
        return chr(int(text[i : i + 3], 8)), i + 3
    return "\\" + char, i + 1


def _read(path: str, name: str, what: str) -> str | None:
    try:
        data = read_regular(path)
    except NotRegular as exc:
        raise UnitRefused(
            "The %s %s of %s: systemd cannot use it; fix or remove it." % (what, exc.strerror, name)
        ) from None
    except OSError as exc:
        raise UnitRefused("Cannot read %s, the %s of %s: %s." % (path, what, name, exc.strerror)) from None
    return None if data is None else data.decode("utf-8", errors="replace")


def _service_lines(text: str) -> list[tuple[str, str]]:
    """The ``Key=Value`` lines of the [Service] section, continuation lines joined (src/shared/conf-parser.c)."""
    found, section, pending = [], "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending and line[:1] in ("#", ";"):
            continue  # a comment inside a continued line is skipped
        line = pending + line
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        if sep and section == "Service":
            found.append((key.strip(), value.strip()))
    if pending and section == "Service":
        key, sep, value = pending.partition("=")
        if sep:
            found.append((key.strip(), value.strip()))
    return found


def _specifiers(text: str, unit: str, name: str) -> str:
    """``%`` specifiers resolved as ``unit_full_printf`` does for those a service's ExecStart can hold here."""
    stem = unit.rsplit(".", 1)[0]
    prefix, _at, instance = stem.partition("@")
    known = {"%": "%", "n": unit, "N": stem, "p": prefix, "P": prefix, "i": instance, "I": instance}

    def replace(found: re.Match) -> str:
        if found.group(1) not in known:
            raise UnitRefused(
                "The command line of %s uses the specifier %%%s, which this module does not resolve: write the value"
                " itself in the unit." % (name, found.group(1))
            )
        return known[found.group(1)]

    return re.sub(r"%(.?)", replace, text)


def _env_file(text: str) -> dict[str, str]:
    """Assignments of an environment file as systemd's parse_env_file reads them (quotes, escapes, comments)."""
    values: dict[str, str] = {}
    key, value, state, trailing = "", "", "pre_key", 0
    for char in text + "\n":
        if state == "pre_key":
            if char in "#;":
                state = "comment"
            elif char not in " \t\r\n":
                key, state = char, "key"
        elif state == "key":
            if char == "\n":
                state, key = "pre_key", ""
            elif char == "=":
                key, value, state = key.strip(), "", "pre_value"
            else:
                key += char
        elif state in ("pre_value", "value"):
            if char == "\n":
                if _NAME.match(key):
                    values[key] = value[: len(value) - trailing] if state == "value" else value
                state, key, trailing = "pre_key", "", 0
            elif char == "'" or char == '"':
                state = "single" if char == "'" else "double"
            elif char == "\\":
                state = "escape"
            elif state == "pre_value" and char in " \t\r":
                continue
            else:
                value += char
                trailing = trailing + 1 if char in " \t\r" else 0
                state = "value"
        elif state == "escape":
            if char != "\n":
                value += char
            state, trailing = "value", 0
        elif state == "single":
            if char == "'":
                state, trailing = "pre_value", 0
            else:
                value += char
        elif state == "double":
            if char == '"':
                state, trailing = "pre_value", 0
            elif char == "\\":
                state = "double_escape"
            else:
                value += char
        elif state == "double_escape":
            value += char if char in '"\\`$' else ("" if char == "\n" else "\\" + char)
            state = "double"
        elif state == "comment" and char == "\n":
            state = "pre_key"
    return values


def _expand(words: list[str], env: dict[str, str], name: str) -> list[str]:
    """``replace_env_argv``: ``$NAME`` as a word split at whitespace, ``${NAME}`` anywhere, ``$$`` a dollar sign."""
    missing: list[str] = []

    def value(var: str) -> str:
        if var not in env:
            missing.append(var)
            return ""
        return env[var]

    argv: list[str] = []
    for word in words:
        if word.startswith("$") and _NAME.match(word[1:]):
            argv.extend(split_words(value(word[1:]), unescape=False))
            continue
        argv.append(
            re.sub(
                r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\})",
                lambda found: "$" if found.group(1) == "$" else value(found.group(2)),
                word,
            )
        )
    if missing:
        raise UnitRefused(
            "The command line of %s uses %s, which neither its Environment= nor its EnvironmentFile= sets: set %s"
            " in the unit or a drop-in, or write the value itself."
            % (name, ", ".join("$" + v for v in dict.fromkeys(missing)), "it" if len(set(missing)) == 1 else "them")
        )
    return argv


def exec_start(name: str, props: dict[str, str]) -> tuple[list[str], list[str]]:
    """(the command line as the unit writes it, variables unexpanded; the command line systemd runs).

    ``props`` is what :func:`systemctl_show` or :func:`unit_from_files` found. Raises :class:`UnitRefused`.
    """
    if props.get("NeedDaemonReload") == "yes":
        raise UnitRefused(
            "The unit files of %s changed since systemd loaded them, so the command line it runs is not the one they"
            " say: run systemctl daemon-reload, then run again." % name
        )
    unit = _unit_file_name(name)
    fragment = props.get("FragmentPath") or ""
    text = _read(fragment, name, "unit file") if fragment else None
    if text is None:
        return _from_show(name, props.get("ExecStart", ""))
    commands: list[str] = []
    assignments: list[str] = []
    env_files: list[str] = []
    for path in [fragment, *(props.get("DropInPaths") or "").split()]:
        body = text if path == fragment else _read(path, name, "drop-in")
        for key, value in _service_lines(body or ""):
            target = {"ExecStart": commands, "Environment": assignments, "EnvironmentFile": env_files}.get(key)
            if target is None:
                continue
            if not value:
                target.clear()  # an empty assignment resets the list
            else:
                target.append(_specifiers(value, unit, name))
    if len(commands) != 1:
        what = "no ExecStart= left" if not commands else "%d commands in ExecStart=" % len(commands)
        raise UnitRefused(
            "%s has %s after its drop-ins, so the controller's command line is unknown: give it exactly one, an"
            " empty ExecStart= line in a drop-in first resets the one before." % (name, what)
        )
    separators: list[int] = []
    try:
        words = split_words(commands[0], separators=separators)
    except ValueError as exc:
        raise UnitRefused(
            "The ExecStart= of %s has %s, which systemd refuses: close the quote." % (name, exc)
        ) from None
    flags = ""
    while words and words[0][:1] and words[0][0] in _PREFIXES:
        flags += words[0][0]
        words[0] = words[0][1:]
    if "@" in flags:
        words = words[1:]
    if separators:
        raise UnitRefused("The ExecStart= of %s runs several commands (;): give it exactly one." % name)
    if ":" in flags:
        return words, list(words)
    return words, _expand(words, _environment(name, assignments, env_files), name)


def _environment(name: str, assignments: list[str], env_files: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in assignments:
        try:
            words = split_words(line)
        except ValueError as exc:
            raise UnitRefused("An Environment= line of %s has %s: close the quote." % (name, exc)) from None
        for word in words:
            key, sep, value = word.partition("=")
            if sep and _NAME.match(key):
                env[key] = value
    for entry in env_files:
        optional = entry.startswith("-")
        path = entry[1:] if optional else entry
        text = _read(path, name, "environment file")
        if text is None:
            if optional:
                continue
            raise UnitRefused(
                "The EnvironmentFile= %s of %s does not exist, so systemd would not start it: create it, or write"
                " -%s to make it optional." % (path, name, path)
            )
        env.update(_env_file(text))
    return env


def _from_show(name: str, exec_start_text: str) -> tuple[list[str], list[str]]:
    """The command line from ``systemctl show`` (``{ path=... ; argv[]=ARGS ; ignore_errors=... }``).

    systemctl joins the arguments with spaces and without quotes, so they are split at whitespace; variables are
    not expanded there, so a command line with one is refused.
    """
    found = re.search(r"argv\[\]=(.*?) ; ignore_errors=", exec_start_text) or re.search(
        r"argv\[\]=(.*?) ;", exec_start_text
    )
    if not found:
        raise UnitRefused(
            "Neither systemctl show nor a readable unit file gives the ExecStart= of %s: check that the unit loads"
            " (systemctl status %s)." % (name, name)
        )
    words = found.group(1).split()
    if any("$" in word for word in words):
        raise UnitRefused(
            "The ExecStart= of %s uses variables and its unit file cannot be read to resolve them: make the unit file"
            " readable (systemctl show -p FragmentPath %s)." % (name, name)
        )
    return words, list(words)
