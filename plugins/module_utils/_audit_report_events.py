# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""One line of an audit log checked as an event, its time, and the bounded counters the report keeps.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

- :func:`check_event` takes what ``json.loads`` gave for a line and returns the fields the report and the policy
  engine read, each of the type kube-apiserver writes (k8s.io/apiserver pkg/apis/audit/v1 types.go), or raises
  :class:`Skip` with the reason: a line that is not an event as kube-apiserver writes it is counted as skipped,
  never fatal.
- :func:`label` makes a value safe to keep and to print: lone surrogates (valid in JSON text, not in UTF-8) become
  U+FFFD and long text is cut, so counters hold at most ``MAX_KEYS`` keys of at most ``MAX_TEXT`` characters.
- :class:`Counter` and :class:`HourSeries` are the counters; the hour series keeps the newest ``MAX_HOURS`` hours.
- :func:`dense_span` finds the hours the events really cover: a small group of hours far from the rest (an event
  with a wrong clock) is named and left out of the rate.
"""

from __future__ import annotations

import heapq
import re
import typing as t
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

__all__ = [
    "LEVELS",
    "MAX_HOURS",
    "MAX_KEYS",
    "MAX_TEXT",
    "MIB",
    "OTHER",
    "STAGES",
    "Counter",
    "HourSeries",
    "ReportError",
    "Skip",
    "check_event",
    "count",
    "dense_span",
    "describe",
    "event_time",
    "label",
    "micro_time",
    "policy_cut",
]

MIB = 1024 * 1024
# Each counter keeps at most this many keys; the rest are summed under OTHER.
MAX_KEYS = 2000
# The hour series keeps the newest this many hours; older hours are summed as older_hours.
MAX_HOURS = 2000
# A counter key (a user name, a resource) is cut to this many characters.
MAX_TEXT = 256
# An event with a text field longer than this (or groups longer in all) is decided afresh each time, not cached.
LONG_FIELD = 1024
OTHER = "(other)"
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
# k8s.io/apiserver pkg/apis/audit/v1 types.go, Stage.
STAGES = frozenset(("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"))
# metav1.MicroTime as kube-apiserver writes it: time.Time.UTC().Format(RFC3339Micro), always 27 characters ending
# in Z (k8s.io/apimachinery pkg/apis/meta/v1/micro_time.go, MarshalJSON). Such a text sorts as its time does and
# its first 13 characters are its UTC hour.
_MICRO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
# Any other RFC 3339 time, as MicroTime's UnmarshalJSON (time.Parse with RFC3339) takes it.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Hours further apart than this split the series into groups; see dense_span.
_GAP = timedelta(hours=24)
_REF_FIELDS = ("apiGroup", "resource", "subresource", "namespace", "name")


class ReportError(ValueError):
    """Bad input to the report (a policy that does not validate, a log path that cannot be read)."""


class Skip(Exception):
    """A line that is not counted as an event: ``kind`` (the skipped counter) and ``why`` (a phrase)."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind, self.why = kind, why


def label(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` safe to keep and print: lone surrogates replaced (U+FFFD), cut to ``limit`` characters."""
    if not value.isascii():
        value = _SURROGATE.sub("\ufffd", value)
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def describe(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "text"


def policy_cut(*policies: t.Any) -> int:
    """One more than the longest text in ``policies``: a policy compares text only with its own (equal, or
    starting with a ``nonResourceURLs`` prefix), so text cut to this length is decided as it is whole."""
    longest, todo = 0, list(policies)
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            longest = max(longest, len(value))
        elif isinstance(value, Mapping):
            todo.extend(value.keys())
            todo.extend(value.values())
        elif isinstance(value, (list, tuple)):
            todo.extend(value)
    return longest + 1


def _cut_path(uri: str, cut: int) -> str:
    """A request URI whose path (without the query, percent-decoded, as the policy engine reads it) is cut to
    ``cut`` characters, written so that the engine reads that path back."""
    path = uri.split("?", 1)[0]
    if "%" in path:
        path = unquote(path)
    return path[:cut].replace("%", "%25").replace("?", "%3F")


def _text(event: Mapping, key: str, where: str, fields: dict, long: list, cut: int) -> None:
    value = event.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise Skip("malformed", f"{where}{key} is {describe(value)}, not text")
    if len(value) > LONG_FIELD:
        long.append(True)
    fields[key] = value[:cut] if len(value) > cut else value


def check_event(event: dict, cut: int = 2**62) -> tuple[dict, bool]:
    """``(fields, cacheable)``: the event's fields the policy engine reads (verb, user, objectRef, requestURI),
    checked to be of the types kube-apiserver writes, each cut to ``cut`` characters (see :func:`policy_cut`: the
    decision stays the same, the engine's caches stay small); ``cacheable`` is false when one is longer than
    ``LONG_FIELD``. Raises :class:`Skip` naming the first field of another type."""
    fields: dict[str, t.Any] = {}
    long: list = []
    level = event.get("level")
    if level is not None and (not isinstance(level, str) or level not in LEVELS):
        raise Skip("malformed", f"level is {describe(level) if not isinstance(level, str) else 'not a level'}")
    if event["stage"] not in STAGES:
        raise Skip("malformed", "stage is not a stage")
    _text(event, "verb", "", fields, long, cut)
    uri = event.get("requestURI")
    _text(event, "requestURI", "", fields, long, 2**62)
    if uri is not None and len(uri) > cut:
        fields["requestURI"] = _cut_path(uri, cut)
    user = event.get("user")
    if user is not None:
        if not isinstance(user, dict):
            raise Skip("malformed", f"user is {describe(user)}, not a mapping")
        clean_user: dict[str, t.Any] = {}
        _text(user, "username", "user.", clean_user, long, cut)
        groups = user.get("groups")
        if groups is not None:
            if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
                raise Skip("malformed", "user.groups is not a list of text")
            if sum(map(len, groups)) > LONG_FIELD:
                long.append(True)
                groups = [group[:cut] for group in groups]
            clean_user["groups"] = groups
        fields["user"] = clean_user
    ref = event.get("objectRef")
    if ref is not None:
        if not isinstance(ref, dict):
            raise Skip("malformed", f"objectRef is {describe(ref)}, not a mapping")
        clean_ref: dict[str, t.Any] = {}
        for key in _REF_FIELDS:
            _text(ref, key, "objectRef.", clean_ref, long, cut)
        fields["objectRef"] = clean_ref
    return fields, not long


# --------------------------------------------------------------------------------------------------------------
# Time


def _parse(value: str) -> str | None:
    """An RFC 3339 time as MicroTime text in UTC, or None when it is not one or falls outside years 1 to 9999."""
    match = _RFC3339.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=timezone.utc)
        if zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            if offset >= timedelta(hours=24) or int(zone[4:6]) > 59:
                return None
            moment -= sign * offset
    except (ValueError, OverflowError):
        return None
    micro = (fraction or "").ljust(6, "0")[:6]
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
        f"{moment.second:02d}.{micro}Z"
    )


_valid_hours: dict[str, bool] = {}


def micro_time(value: str) -> bool:
    """Whether 27 characters are a time in the standard form (the date and hour checked once per hour)."""
    if not _MICRO_TIME.match(value):
        return False
    hour = value[:13]
    valid = _valid_hours.get(hour)
    if valid is None:
        if len(_valid_hours) >= 4096:
            _valid_hours.clear()
        valid = _valid_hours[hour] = _parse(hour + ":00:00Z") is not None
    return valid and value[14:16] <= "59" and value[17:19] <= "59"


def event_time(event: Mapping) -> str:
    """The event's time as MicroTime text in UTC: ``stageTimestamp``, else ``requestReceivedTimestamp``. Raises
    :class:`Skip` when the one given is not an RFC 3339 time in years 1 to 9999, or neither is given."""
    for key in ("stageTimestamp", "requestReceivedTimestamp"):
        value = event.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            if len(value) == 27 and micro_time(value):
                return value
            parsed = _parse(value) if len(value) < 64 else None
            if parsed is not None:
                return parsed
        raise Skip("timestamp", f"{key} is not an RFC 3339 time in years 1 to 9999")
    raise Skip("timestamp", "it has neither stageTimestamp nor requestReceivedTimestamp")


def _hour_start(hour: str) -> datetime:
    return datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------------------------
# Counters


class Counter:
    """``key -> [events, bytes]`` with at most ``MAX_KEYS`` keys; later keys are summed under ``(other)``."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[t.Any, list[float]] = {}

    def add(self, key: t.Any, events: float, size: float) -> None:
        row = self.rows.get(key)
        if row is None:
            if len(self.rows) >= MAX_KEYS:
                key = OTHER if isinstance(key, str) else (OTHER,) * len(key)
                row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = [0, 0]
        row[0] += events
        row[1] += size

    def top(self, number: int, name: str = "name") -> list[dict[str, t.Any]]:
        ordered = sorted(self.rows.items(), key=lambda item: (-item[1][1], -item[1][0], str(item[0])))
        return [{name: key, "events": int(row[0]), "bytes": int(row[1])} for key, row in ordered[:number]]


def count(counter: Counter, key: t.Any, size: int) -> None:
    """``counter.add(key, 1, size)``, with the common case (a key already there) done without a method call."""
    row = counter.rows.get(key)
    if row is None:
        counter.add(key, 1, size)
    else:
        row[0] += 1
        row[1] += size


class HourSeries:
    """Events and bytes per UTC hour with the first and last time of each, for the newest ``MAX_HOURS`` hours;
    an hour older than all of them is summed in ``older``."""

    __slots__ = ("_heap", "older", "rows")

    def __init__(self) -> None:
        self.rows: dict[str, list] = {}
        self._heap: list[str] = []
        self.older = [0, 0]

    def add(self, moment: str, size: int) -> None:
        hour = moment[:13]
        row = self.rows.get(hour)
        if row is None:
            if len(self.rows) >= MAX_HOURS:
                if hour < self._heap[0]:
                    self.older[0] += 1
                    self.older[1] += size
                    return
                gone = self.rows.pop(heapq.heappop(self._heap))
                self.older[0] += gone[0]
                self.older[1] += gone[1]
            row = self.rows[hour] = [0, 0, moment, moment]
            heapq.heappush(self._heap, hour)
        row[0] += 1
        row[1] += size
        if moment < row[2]:
            row[2] = moment
        elif moment > row[3]:
            row[3] = moment


def dense_span(series: HourSeries) -> dict[str, t.Any]:
    """The span the events really cover: hours are grouped where more than 24 hours pass without an event, and a
    group other than the largest that holds under 1% of the events (or one event while the largest holds ten or
    more) is a wrong clock, named in ``outliers`` and left out of ``first``, ``last``, ``events`` and ``bytes``."""
    hours = sorted(series.rows)
    groups: list[list[str]] = []
    previous = None
    for hour in hours:
        start = _hour_start(hour)
        if previous is None or start - previous > _GAP:
            groups.append([])
        groups[-1].append(hour)
        previous = start
    sizes = [sum(series.rows[hour][0] for hour in group) for group in groups]
    total = sum(sizes)
    largest = max(sizes, default=0)
    kept: list[str] = []
    outliers: list[dict[str, t.Any]] = []
    biggest_seen = False
    for group, size in zip(groups, sizes):
        main = size == largest and not biggest_seen
        biggest_seen = biggest_seen or main
        if not main and (size * 100 < total or (size == 1 and largest >= 10)):
            outliers.extend(
                {"hour": hour + ":00Z", "events": int(series.rows[hour][0]), "bytes": int(series.rows[hour][1])}
                for hour in group
            )
        else:
            kept.extend(group)
    rows = [series.rows[hour] for hour in kept]
    return {
        "first": min((row[2] for row in rows), default=None),
        "last": max((row[3] for row in rows), default=None),
        "events": sum(row[0] for row in rows),
        "bytes": sum(row[1] for row in rows),
        "outliers": outliers,
    }
