# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Go's value syntax, as pflag parses kube-apiserver's flags: integers, booleans, durations and 32-bit floats.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

Used by ``_audit_flags`` (which re-exports the parsers). Modelled on github.com/spf13/pflag ``int.go``/``int64.go``
(``strconv.ParseInt(s, 0, 64)``), ``bool.go`` (``strconv.ParseBool``), ``duration.go`` (``time.ParseDuration``),
``float32.go`` (``strconv.ParseFloat(s, 32)``), and Go's ``strconv/atoi.go``, ``strconv/atof.go``,
``time/format.go``. No value is trimmed: ``" 5"`` is refused.
"""

from __future__ import annotations

import math
import struct

__all__ = [
    "go_float32_text",
    "parse_go_bool",
    "parse_go_duration",
    "parse_go_float32",
    "parse_go_int",
]

_INT64_LIMIT = 1 << 63
_UINT64_LIMIT = 1 << 64


def _underscore_ok(text: str) -> bool:
    """Go strconv underscoreOK (atoi.go): '_' only between digits, or between a base prefix and a digit."""
    saw = "^"
    i = 0
    if text[:1] in ("+", "-"):
        text = text[1:]
    hexadecimal = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        i = 2
        saw = "0"
        hexadecimal = text[1].lower() == "x"
    for char in text[i:]:
        if "0" <= char <= "9" or (hexadecimal and "a" <= char.lower() <= "f"):
            saw = "0"
            continue
        if char == "_":
            if saw != "0":
                return False
            saw = "_"
            continue
        if saw == "_":
            return False
        saw = "!"
    return saw != "_"


def _digit(char: str) -> int:
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "a" <= char.lower() <= "z":
        return ord(char.lower()) - ord("a") + 10
    return 99


def parse_go_int(text: str) -> tuple[int | None, str]:
    """``strconv.ParseInt(text, 0, 64)`` (Go strconv/atoi.go): (value, "") or (None, "syntax" | "range")."""
    body = text
    negative = False
    if body[:1] in ("+", "-"):
        negative = body[0] == "-"
        body = body[1:]
    if not body:
        return None, "syntax"
    # ParseUint with base 0: 0b, 0o, 0x prefixes (only with a digit after them), a leading 0 means octal.
    base = 10
    if body[0] == "0":
        if len(body) >= 3 and body[1].lower() in "box":
            base = {"b": 2, "o": 8, "x": 16}[body[1].lower()]
            body = body[2:]
        else:
            base = 8
            body = body[1:]
    value = 0
    underscores = False
    for char in body:
        if char == "_":
            underscores = True
            continue
        digit = _digit(char)
        if digit >= base:
            return None, "syntax"
        value = value * base + digit
        if value >= _UINT64_LIMIT:
            return None, "range"
    if underscores and not _underscore_ok(text):
        return None, "syntax"
    if value > _INT64_LIMIT or (value == _INT64_LIMIT and not negative):
        return None, "range"
    return (-value if negative else value), ""


# strconv.ParseBool (Go strconv/atob.go).
_GO_BOOLS = {
    **{word: True for word in ("1", "t", "T", "TRUE", "true", "True")},
    **{word: False for word in ("0", "f", "F", "FALSE", "false", "False")},
}


def parse_go_bool(text: str) -> tuple[bool | None, str]:
    """``strconv.ParseBool``: (value, "") or (None, "syntax")."""
    if text in _GO_BOOLS:
        return _GO_BOOLS[text], ""
    return None, "syntax"


# time.ParseDuration's units (Go time/format.go unitMap), in nanoseconds; both micro signs are accepted.
_DURATION_UNITS = {
    "ns": 1,
    "us": 1000,
    "\u00b5s": 1000,
    "\u03bcs": 1000,
    "ms": 1000**2,
    "s": 1000**3,
    "m": 60 * 1000**3,
    "h": 3600 * 1000**3,
}


def parse_go_duration(text: str) -> tuple[int | None, str]:
    """``time.ParseDuration`` (Go time/format.go): (nanoseconds, "") or (None, reason in Go's words).

    Grammar ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``, or a plain ``0``; each number needs digits before or after the
    point and a unit; the total must fit in an int64 of nanoseconds.
    """
    rest = text
    negative = False
    if rest[:1] in ("+", "-"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0, ""
    if not rest:
        return None, "invalid duration"
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            return None, "invalid duration"
        # leadingInt: digits, overflow above 1<<63.
        i = 0
        whole = 0
        while i < len(rest) and "0" <= rest[i] <= "9":
            whole = whole * 10 + ord(rest[i]) - ord("0")
            if whole > _INT64_LIMIT:
                return None, "invalid duration"
            i += 1
        before_point = i > 0
        rest = rest[i:]
        fraction, scale, after_point = 0, 1.0, False
        if rest[:1] == ".":
            rest = rest[1:]
            # leadingFraction: digits past what fits are consumed and ignored.
            i = 0
            overflow = False
            while i < len(rest) and "0" <= rest[i] <= "9":
                if not overflow:
                    bigger = fraction * 10 + ord(rest[i]) - ord("0")
                    if fraction > (_INT64_LIMIT - 1) // 10 or bigger > _INT64_LIMIT:
                        overflow = True
                    else:
                        fraction = bigger
                        scale *= 10
                i += 1
            after_point = i > 0
            rest = rest[i:]
        if not before_point and not after_point:
            return None, "invalid duration"
        i = 0
        while i < len(rest) and not (rest[i] == "." or "0" <= rest[i] <= "9"):
            i += 1
        if i == 0:
            return None, "missing unit in duration"
        unit, rest = rest[:i], rest[i:]
        if unit not in _DURATION_UNITS:
            return None, 'unknown unit "%s" in duration' % unit
        factor = _DURATION_UNITS[unit]
        if whole > _INT64_LIMIT // factor:
            return None, "invalid duration"
        whole *= factor
        if fraction > 0:
            # Go adds uint64(float64(f) * (float64(unit) / scale)): float64 arithmetic, truncated.
            whole += int(float(fraction) * (float(factor) / scale))
            if whole > _INT64_LIMIT:
                return None, "invalid duration"
        total += whole
        if total > _INT64_LIMIT:
            return None, "invalid duration"
    if negative:
        return -total, ""
    if total > _INT64_LIMIT - 1:
        return None, "invalid duration"
    return total, ""


def _float_syntax_ok(text: str) -> tuple[bool, bool]:
    """Go strconv readFloat (atof.go) on the whole text: (well formed, hexadecimal)."""
    i = 0
    if text[:1] in ("+", "-"):
        i = 1
    hexadecimal = False
    if i + 2 < len(text) and text[i] == "0" and text[i + 1].lower() == "x":
        hexadecimal = True
        i += 2
    exponent_char = "p" if hexadecimal else "e"
    underscores = saw_dot = saw_digits = False
    while i < len(text):
        char = text[i]
        if char == "_":
            underscores = True
        elif char == ".":
            if saw_dot:
                break
            saw_dot = True
        elif "0" <= char <= "9" or (hexadecimal and "a" <= char.lower() <= "f"):
            saw_digits = True
        else:
            break
        i += 1
    if not saw_digits:
        return False, hexadecimal
    if i < len(text) and text[i].lower() == exponent_char:
        i += 1
        if i < len(text) and text[i] in "+-":
            i += 1
        if i >= len(text) or not "0" <= text[i] <= "9":
            return False, hexadecimal
        while i < len(text) and ("0" <= text[i] <= "9" or text[i] == "_"):
            underscores = underscores or text[i] == "_"
            i += 1
    elif hexadecimal:
        # A hexadecimal mantissa requires a 'p' exponent.
        return False, hexadecimal
    if underscores and not _underscore_ok(text[:i]):
        return False, hexadecimal
    return i == len(text), hexadecimal


def parse_go_float32(text: str) -> tuple[float | None, str]:
    """``strconv.ParseFloat(text, 32)`` (Go strconv/atof.go): (value, "") or (None, "syntax" | "range").

    Decimal and hexadecimal (``0x1p-2``) forms, ``_`` between digits, ``inf``/``infinity``/``nan`` in any case.
    The value is rounded to float64 and then to float32; Go rounds once, which differs only at the very edge of
    the float32 range.
    """
    unsigned = text[1:] if text[:1] in ("+", "-") else text
    if unsigned.lower() in ("inf", "infinity"):
        return (-math.inf if text[0] == "-" else math.inf), ""
    if text.lower() == "nan":
        return math.nan, ""
    well_formed, hexadecimal = _float_syntax_ok(text)
    if not well_formed:
        return None, "syntax"
    cleaned = text.replace("_", "")
    try:
        value = float.fromhex(cleaned) if hexadecimal else float(cleaned)
        struct.pack("<f", value)
    except OverflowError:
        return None, "range"
    if math.isinf(value):
        return None, "range"
    return struct.unpack("<f", struct.pack("<f", value))[0], ""


def go_float32_text(value: float) -> str:
    """Go's %v of a float32: the shortest text that reads back as the same float32."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    for digits in range(1, 10):
        text = "%.*g" % (digits, value)
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == value:
            return text
    return repr(value)
