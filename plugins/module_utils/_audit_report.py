# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""What a host's own audit log says about volume and retention, read in one streaming pass.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

- :func:`find_log_files` lists the live log and the backups kube-apiserver's log backend left beside it, oldest
  first. The backend is lumberjack (k8s.io/apiserver pkg/server/options/audit.go, ``getWriter``), which names a
  backup ``<stem>-<UTC time as 2006-01-02T15-04-05.000><ext>`` and, with compression, appends ``.gz``
  (gopkg.in/natefinch/lumberjack.v2 lumberjack.go, ``backupName``, ``oldLogFiles``, ``compressLogFile``).
- :class:`LogReport` reads those files line by line (gzip streamed), evaluates every event against the policy in
  effect and an optional candidate policy, and keeps only counters whose number of keys is capped, so memory does
  not grow with the log. Lines that are not audit events (a truncated last line, ``--audit-log-format=legacy``
  lines, anything else) are counted and skipped.
- :func:`retention` turns the observed rate into the hours that ``maxsize * (maxbackup + 1)`` MiB hold, against
  ``maxage`` days, and the settings that would hold ``maxage`` days.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import typing as t
import zlib
from collections.abc import Mapping
from datetime import datetime, timezone

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_match import compile_policy

__all__ = [
    "BODY_FACTORS",
    "MAX_KEYS",
    "MAX_LINE",
    "MIB",
    "LogReport",
    "ReportError",
    "find_log_files",
    "named_policy",
    "render_table",
    "retention",
    "rule_names",
]

MIB = 1024 * 1024
# lumberjack's MaxSize is in megabytes of 1024 * 1024 bytes (lumberjack.go, ``megabyte``).
# A line longer than this is skipped (and counted) instead of being held in memory whole.
MAX_LINE = 64 * MIB
# Each counter keeps at most this many keys; the rest are summed under OTHER.
MAX_KEYS = 2000
OTHER = "(other)"
# lumberjack.go: backupTimeFormat "2006-01-02T15-04-05.000", compressSuffix ".gz".
_BACKUP_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}"
_LEVELS = ("None", "Metadata", "Request", "RequestResponse")
_RANK = {level: rank for rank, level in enumerate(_LEVELS)}
# Verbs whose requests carry a body that a Request-level event logs as requestObject.
_BODY_VERBS = frozenset(("create", "update", "patch"))
# Used when the log has no event at the candidate's level for the same resource, verb and stage: the event's own
# size is multiplied by 1 + the factors that apply (rough: a response body of a list can be far bigger).
BODY_FACTORS = {"requestObject": 1.0, "responseObject": 2.0}
# metav1.MicroTime as kube-apiserver writes it: time.Time.UTC().Format(RFC3339Micro), RFC3339Micro being
# "2006-01-02T15:04:05.000000Z07:00" (k8s.io/apimachinery pkg/apis/meta/v1/micro_time.go, MarshalJSON), so always
# 27 characters ending in Z. Such a string sorts as its time does and its first 13 characters are its UTC hour.
_MICRO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
# Request shapes (and hours) the report remembers a decision for before it starts afresh.
_SHAPE_LIMIT = 4096


class ReportError(ValueError):
    """Bad input to the report (a policy that does not validate, a log path that is a directory)."""


# --------------------------------------------------------------------------------------------------------------
# Files


def find_log_files(log_path: str) -> list[dict[str, t.Any]]:
    """The live log and its lumberjack backups, oldest first: ``{path, compressed, rotated_at, disk_bytes}``.

    Backups sort by the time in their name (as lumberjack's ``oldLogFiles`` does); the live file comes last. A
    backup that exists both plain and as ``.gz`` is being compressed right now: only the plain one is read.
    """
    directory, name = os.path.split(log_path)
    stem, ext = os.path.splitext(name)
    pattern = re.compile(re.escape(stem) + "-(" + _BACKUP_TIME + ")" + re.escape(ext) + r"(\.gz)?\Z")
    try:
        names = os.listdir(directory or ".")
    except FileNotFoundError:
        names = []
    except NotADirectoryError as exc:
        raise ReportError(f"log_path: the directory of {log_path} is not a directory.") from exc
    backups: dict[str, dict[str, t.Any]] = {}
    for entry in names:
        match = pattern.match(entry)
        if not match:
            continue
        path = os.path.join(directory, entry)
        if not os.path.isfile(path):
            continue
        stamp, compressed = match.group(1), bool(match.group(2))
        if stamp in backups and not backups[stamp]["compressed"]:
            continue  # the plain file wins while lumberjack writes its .gz
        backups[stamp] = {"path": path, "compressed": compressed, "rotated_at": _backup_time(stamp)}
    files = [backups[stamp] for stamp in sorted(backups)]
    if os.path.isdir(log_path):
        raise ReportError(f"log_path: {log_path} is a directory; give the audit log file (--audit-log-path).")
    if os.path.isfile(log_path):
        files.append({"path": log_path, "compressed": False, "rotated_at": None})
    for row in files:
        row["disk_bytes"] = os.path.getsize(row["path"])
    return files


def _backup_time(stamp: str) -> str:
    day, clock = stamp.split("T")
    return f"{day}T{clock[:8].replace('-', ':')}{clock[8:]}Z"


def _lines(path: str, compressed: bool, problems: list[str]) -> t.Iterator[tuple[bytes, str]]:
    """Yield ``(line, state)`` of one file without reading it whole: state ``complete``, ``partial`` (a last line
    without a newline) or ``oversized`` (a line longer than MAX_LINE, given as empty bytes; it is skipped). A
    damaged or unfinished gzip stream ends the file with a note in ``problems``."""
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            while True:
                line = handle.readline(MAX_LINE)
                if not line:
                    return
                if line.endswith(b"\n"):
                    yield line, "complete"
                    continue
                if len(line) < MAX_LINE:
                    yield line, "partial"  # end of file without a newline
                    return
                while line and not line.endswith(b"\n"):  # skip the rest of the over-long line
                    line = handle.readline(MAX_LINE)
                yield b"", "oversized"
    except (EOFError, OSError, zlib.error) as exc:
        problems.append(f"{path}: {exc.__class__.__name__}: {exc}")


# --------------------------------------------------------------------------------------------------------------
# Counters


class _Counter:
    """``key -> [events, bytes]`` with at most ``MAX_KEYS`` keys; later keys are summed under ``(other)``."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[t.Any, list[float]] = {}

    def add(self, key: t.Any, count: float, size: float) -> None:
        row = self.rows.get(key)
        if row is None:
            if len(self.rows) >= MAX_KEYS:
                key = OTHER if isinstance(key, str) else (OTHER,) * len(key)
                row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = [0, 0]
        row[0] += count
        row[1] += size

    def top(self, count: int, label: str = "name") -> list[dict[str, t.Any]]:
        ordered = sorted(self.rows.items(), key=lambda item: (-item[1][1], -item[1][0], str(item[0])))
        return [{label: key, "events": int(row[0]), "bytes": int(row[1])} for key, row in ordered[:count]]


def _count(counter: _Counter, key: t.Any, size: int) -> None:
    """``counter.add(key, 1, size)``, with the common case (a key already there) done without a method call."""
    row = counter.rows.get(key)
    if row is None:
        counter.add(key, 1, size)
    else:
        row[0] += 1
        row[1] += size


def _plain(value: t.Any) -> bool:
    return value is None or isinstance(value, str)


def _shape(event: dict) -> tuple | None:
    """What a policy rule can test of an event, as a key (None when a field has an unusual type). It holds the
    fields CompiledPolicy.evaluate reads and _resource names, before their normalisation (None and "" alike)."""
    get = event.get
    verb = get("verb")
    user = get("user")
    if user is None:
        who: tuple = (None,)
    elif isinstance(user, dict):
        username, groups = user.get("username"), user.get("groups")
        if not _plain(username):
            return None
        if groups is None:
            groups = ()
        elif not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            return None
        who = (username or "", *groups)
    else:
        return None
    ref = get("objectRef")
    if isinstance(ref, dict):
        fields = (
            ref.get("apiGroup"),
            ref.get("resource"),
            ref.get("subresource"),
            ref.get("namespace"),
            ref.get("name"),
        )
        if not _plain(verb) or not all(_plain(field) for field in fields):
            return None
        return (True, verb or "", who, *(field or "" for field in fields))
    uri = get("requestURI")
    if ref is not None or not _plain(verb) or not _plain(uri):
        return None
    return (False, verb or "", who, (uri or "").split("?", 1)[0])


def _resource(event: Mapping) -> str:
    ref = event.get("objectRef")
    if isinstance(ref, Mapping):
        group = ref.get("apiGroup") or ""
        name = str(ref.get("resource") or "")
        if ref.get("subresource"):
            name += "/" + str(ref["subresource"])
        return f"{group}/{name}" if group else name
    uri = str(event.get("requestURI") or "").split("?", 1)[0]
    return "url " + uri


def _timestamp(value: t.Any) -> datetime | None:
    """metav1.MicroTime as kube-apiserver writes it (RFC 3339, UTC, microseconds); None when it is not one."""
    if not isinstance(value, str) or len(value) < 20:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    head, dot, tail = text.partition(".")
    if dot:  # Python before 3.11 takes 3 or 6 fraction digits only
        digits = re.match(r"\d*", tail).group(0)
        text = head + "." + (digits + "000000")[:6] + tail[len(digits) :]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def _body_bytes(event: Mapping, key: str) -> int:
    """About how many bytes ``key`` takes in the event's JSON line (Go writes compact JSON)."""
    if key not in event:
        return 0
    return len(json.dumps(event[key], separators=(",", ":"), ensure_ascii=False).encode()) + len(key) + 4


# --------------------------------------------------------------------------------------------------------------
# Rule names


def _fingerprint(rule: Mapping) -> str:
    plain = {key: value for key, value in rule.items() if key not in ("name", "known_api_groups")}
    return json.dumps(plain, sort_keys=True, default=str)


def rule_names(rules: t.Sequence[Mapping], named_rules: t.Sequence[Mapping] = (), extra_api_groups=()) -> list[str]:
    """A name for each rule of a policy: the ``name`` of the equal rule in ``named_rules`` (the baseline and the
    inventory's additions, compared without ``name``), else ``rules[INDEX]``.

    A named rule marked ``known_api_groups: true`` is also compared with ``extra_api_groups`` added to its
    resources, as k0rdent.audit.merge_audit_rules adds them.
    """
    known: dict[str, str] = {}
    extra = [group for group in extra_api_groups or () if isinstance(group, str)]
    for rule in named_rules or ():
        if not isinstance(rule, Mapping) or not isinstance(rule.get("name"), str):
            continue
        known.setdefault(_fingerprint(rule), rule["name"])
        if rule.get("known_api_groups") is True and extra:
            widened = dict(rule)
            resources = [dict(entry) for entry in rule.get("resources") or []]
            present = {entry.get("group") or "" for entry in resources}
            resources.extend({"group": group} for group in extra if group not in present)
            widened["resources"] = resources
            known.setdefault(_fingerprint(widened), rule["name"])
    names: list[str] = []
    for index, rule in enumerate(rules):
        name = known.get(_fingerprint(rule)) if isinstance(rule, Mapping) else None
        label = name or f"rules[{index}]"
        names.append(label if label not in names else f"{label} (rules[{index}])")
    return names


def named_policy(
    policy: Mapping, named_rules: t.Sequence[Mapping] = (), extra_api_groups=()
) -> tuple[dict[str, t.Any], list[str]]:
    """``policy`` without the ``name`` keys its rules may carry (a candidate file may name its rules), and a name
    per rule: its own ``name``, else as :func:`rule_names` gives it."""
    if not isinstance(policy, Mapping):
        return policy, []  # compile_policy gives the message
    rules = policy.get("rules")
    if not isinstance(rules, list):
        return dict(policy), []
    plain = [
        {key: value for key, value in rule.items() if key != "name"} if isinstance(rule, Mapping) else rule
        for rule in rules
    ]
    names = rule_names(plain, named_rules, extra_api_groups)
    for index, rule in enumerate(rules):
        own = rule.get("name") if isinstance(rule, Mapping) else None
        if isinstance(own, str) and own and own not in names:
            names[index] = own
    return dict(policy, rules=plain), names


# --------------------------------------------------------------------------------------------------------------
# The report


def _compile(option: str, policy: t.Any) -> t.Any:
    """The policy engine's matcher. Hosts need no jsonschema: k0rdent.audit.report validates the policies fully on
    the Ansible controller, and the matcher checks the shape it reads, naming the first problem."""
    try:
        return compile_policy(policy)
    except AuditPolicyError as exc:
        raise ReportError(f"{option}: {exc}") from exc


class _Policy:
    def __init__(self, option: str, policy: Mapping, names: t.Sequence[str] | None) -> None:
        self.compiled = _compile(option, policy)
        count = len(self.compiled.rules)
        if names is not None and len(names) != count:
            raise ReportError(
                f"{option}: has {count} rules but {len(names)} rule names were given; give one name per rule."
            )
        self.names = list(names) if names is not None else rule_names(policy["rules"])

    def decide(self, event: Mapping) -> tuple[str, str, tuple[str, ...]]:
        result = self.compiled.evaluate(event)
        index = result["rule_index"]
        return result["level"], ("(no rule)" if index is None else self.names[index]), tuple(result["omit_stages"])


class LogReport:
    """One streaming pass over a host's audit log files; :meth:`result` gives the figures."""

    def __init__(
        self,
        policy: Mapping,
        rule_names: t.Sequence[str] | None = None,
        candidate: Mapping | None = None,
        candidate_rule_names: t.Sequence[str] | None = None,
    ) -> None:
        self.policy = _Policy("policy", policy, rule_names)
        self.candidate = _Policy("candidate_policy", candidate, candidate_rule_names) if candidate else None
        self.events = 0
        self.bytes = 0
        self.skipped = {"truncated": 0, "legacy": 0, "garbage": 0, "oversized": 0}
        self.blank = 0
        self.level_mismatches = 0
        # Earliest and latest timestamps: in the standard form as text, any other form parsed (see _clock).
        self._first_text: str | None = None
        self._last_text: str | None = None
        self._first_parsed: datetime | None = None
        self._last_parsed: datetime | None = None
        self._hours: dict[str, bool] = {}
        self._shapes: dict[tuple, list] = {}
        self.files: list[dict[str, t.Any]] = []
        self.problems: list[str] = []
        self.by_rule, self.by_user, self.by_verb = _Counter(), _Counter(), _Counter()
        self.by_resource, self.by_level, self.by_stage, self.by_hour = _Counter(), _Counter(), _Counter(), _Counter()
        # Projection: per candidate rule, per dropped current rule, per change, and the sizes seen per
        # (resource, verb, stage, level) to estimate bodies the log does not hold.
        self.cand_rule, self.dropped, self.changes = _Counter(), _Counter(), _Counter()
        self.cand_bytes = 0.0
        self.cand_events = 0
        self.estimated_events = 0
        self.seen_sizes = _Counter()
        self.pending = _Counter()

    # -- reading ----------------------------------------------------------------------------------------------

    def read_files(self, files: t.Iterable[Mapping]) -> None:
        for row in files:
            before = (self.events, sum(self.skipped.values()))
            first_problem = len(self.problems)
            for line, state in _lines(row["path"], row["compressed"], self.problems):
                self.add_line(line, state)
            self.files.append(
                {
                    "path": row["path"],
                    "compressed": row["compressed"],
                    "rotated_at": row.get("rotated_at"),
                    "disk_bytes": row.get("disk_bytes"),
                    "events": self.events - before[0],
                    "skipped": sum(self.skipped.values()) - before[1],
                    "damaged": len(self.problems) > first_problem,
                }
            )

    def add_line(self, line: bytes, state: str = "complete") -> None:
        """Count one line of a log (with its newline); ``state`` as :func:`_lines` gives it."""
        if state == "oversized":
            self.skipped["oversized"] += 1
            return
        complete = state == "complete"
        if not line.strip():
            self.blank += 1
            return
        try:
            event = json.loads(line)
        except ValueError:
            if not complete:
                self.skipped["truncated"] += 1
            elif b" AUDIT: " in line:  # --audit-log-format=legacy (k8s.io/apiserver pkg/audit/format.go)
                self.skipped["legacy"] += 1
            else:
                self.skipped["garbage"] += 1
            return
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("stage"), str)
            or event.get("kind", "Event") != "Event"
            or "auditID" not in event
        ):
            self.skipped["truncated" if not complete else "garbage"] += 1
            return
        self._event(event, len(line))

    def _clock(self, value: t.Any) -> str | None:
        """The UTC hour (``YYYY-MM-DDTHH``) of a timestamp, noting it as first or last; None when it is not one.

        The standard form (``_MICRO_TIME``) is sliced and compared as text, with the same checks as parsing it
        (the date and hour once per hour, minute and second each time); any other form is parsed."""
        if isinstance(value, str) and len(value) == 27 and _MICRO_TIME.match(value):
            hour = value[:13]
            valid = self._hours.get(hour)
            if valid is None:
                if len(self._hours) >= _SHAPE_LIMIT:
                    self._hours.clear()
                valid = self._hours[hour] = _timestamp(hour + ":00:00.000000Z") is not None
            if not valid or value[14:16] > "59" or value[17:19] > "59":
                return None
            if self._first_text is None or value < self._first_text:
                self._first_text = value
            if self._last_text is None or value > self._last_text:
                self._last_text = value
            return hour
        moment = _timestamp(value)
        if moment is None:
            return None
        if self._first_parsed is None or moment < self._first_parsed:
            self._first_parsed = moment
        if self._last_parsed is None or moment > self._last_parsed:
            self._last_parsed = moment
        return _iso(moment)[:13]

    @property
    def first(self) -> datetime | None:
        """The earliest event time seen."""
        moments = [_timestamp(self._first_text), self._first_parsed]
        return min((moment for moment in moments if moment is not None), default=None)

    @property
    def last(self) -> datetime | None:
        """The latest event time seen."""
        moments = [_timestamp(self._last_text), self._last_parsed]
        return max((moment for moment in moments if moment is not None), default=None)

    def _decisions(self, event: dict) -> list:
        """``[level, rule, resource, candidate level, candidate rule, candidate omitStages]`` of an event, from
        the cache when an event of the same request shape was seen: everything a rule can test (user, groups, verb,
        namespace, API group, resource, subresource, object name; the path of a non-resource request). Events
        with fields of unusual types are decided afresh each time."""
        key = _shape(event)
        if key is not None:
            found = self._shapes.get(key)
            if found is not None:
                return found
        level, rule, _omit = self.policy.decide(event)
        found = [level, rule, _resource(event), None, None, None]
        if self.candidate is not None:
            found[3:] = self.candidate.decide(event)
        if key is not None:
            if len(self._shapes) >= _SHAPE_LIMIT:
                self._shapes.clear()
            self._shapes[key] = found
        return found

    def _event(self, event: dict, size: int) -> None:
        self.events += 1
        self.bytes += size
        get = event.get
        hour = self._clock(get("stageTimestamp"))
        if hour is None:
            hour = self._clock(get("requestReceivedTimestamp"))
        if hour is not None:
            _count(self.by_hour, hour, size)
        logged = get("level")
        if logged not in _RANK:
            logged = "Metadata"
        stage = event["stage"]
        verb = get("verb")
        if not isinstance(verb, str):
            verb = str(verb or "")
        user = get("user")
        username = str(user.get("username") or "") if isinstance(user, Mapping) else ""
        decided = self._decisions(event)
        rule, resource = decided[1], decided[2]
        if decided[0] != logged:
            self.level_mismatches += 1
        _count(self.by_rule, rule, size)
        _count(self.by_user, username or "(anonymous)", size)
        _count(self.by_verb, verb or "(none)", size)
        _count(self.by_resource, resource, size)
        _count(self.by_level, logged, size)
        _count(self.by_stage, stage, size)
        _count(self.seen_sizes, (resource, verb, stage, logged), size)
        if self.candidate is not None:
            self._project(event, size, logged, rule, resource, verb, stage, decided[3:])

    def _project(
        self, event: dict, size: int, logged: str, rule: str, resource: str, verb: str, stage: str, decided: list
    ) -> None:
        level, cand_rule, omit = decided
        if level == "None" or stage in omit:
            self.dropped.add((rule, cand_rule), 1, size)
            self.changes.add((rule, cand_rule, logged, "None"), 1, size)
            return
        self.cand_events += 1
        if _RANK[level] > _RANK[logged]:
            # The log holds no body for this event: sized at the end from events seen at that level.
            self.pending.add((resource, verb, stage, level, cand_rule, rule, logged), 1, size)
            self.estimated_events += 1
            return
        projected = size
        if _RANK[level] < _RANK["RequestResponse"] <= _RANK[logged]:
            projected -= _body_bytes(event, "responseObject")
        if _RANK[level] < _RANK["Request"] <= _RANK[logged]:
            projected -= _body_bytes(event, "requestObject")
        projected -= len(logged) - len(level)
        self.cand_rule.add(cand_rule, 1, projected)
        self.changes.add((rule, cand_rule, logged, level), 1, projected)
        self.cand_bytes += projected

    # -- results ----------------------------------------------------------------------------------------------

    def _estimate(self, resource: str, verb: str, stage: str, level: str, count: float, size: float) -> float:
        seen = self.seen_sizes.rows.get((resource, verb, stage, level))
        if seen and seen[0]:
            return count * seen[1] / seen[0]
        factor = 1.0
        if stage == "ResponseComplete" and verb in _BODY_VERBS:
            factor += BODY_FACTORS["requestObject"]
        if stage == "ResponseComplete" and level == "RequestResponse":
            factor += BODY_FACTORS["responseObject"]
        return size * factor

    def result(self, top: int = 10) -> dict[str, t.Any]:
        first, last = self.first, self.last
        span = (last - first).total_seconds() if first and last else 0.0
        hours = span / 3600.0
        report: dict[str, t.Any] = {
            "files": self.files,
            "file_problems": self.problems,
            "events": self.events,
            "bytes": self.bytes,
            "skipped": dict(self.skipped, total=sum(self.skipped.values())),
            "blank_lines": self.blank,
            "first_event": _iso(first),
            "last_event": _iso(last),
            "span_seconds": round(span, 3),
            "events_per_hour": round(self.events / hours, 3) if span >= 1 else None,
            "mib_per_hour": round(self.bytes / MIB / hours, 6) if span >= 1 else None,
            "level_mismatches": self.level_mismatches,
            "top_rules": self.by_rule.top(top, "rule"),
            "top_users": self.by_user.top(top, "user"),
            "top_verbs": self.by_verb.top(top, "verb"),
            "top_resources": self.by_resource.top(top, "resource"),
            "levels": self.by_level.top(len(_LEVELS) + 1, "level"),
            "stages": self.by_stage.top(8, "stage"),
            "hours": [
                {"hour": key + ":00Z", "events": int(row[0]), "bytes": int(row[1])}
                for key, row in sorted(self.by_hour.rows.items())
                if key != OTHER
            ],
        }
        report["projection"] = self._projection(top, hours if span >= 1 else 0.0) if self.candidate else None
        return report

    def _projection(self, top: int, hours: float) -> dict[str, t.Any]:
        cand_rule, changes = _Counter(), _Counter()
        for key, row in self.cand_rule.rows.items():
            cand_rule.add(key, row[0], row[1])
        for key, row in self.changes.rows.items():
            changes.add(key, row[0], row[1])
        total = self.cand_bytes
        for (resource, verb, stage, level, c_rule, rule, logged), (count, size) in self.pending.rows.items():
            projected = self._estimate(resource, verb, stage, level, count, size)
            cand_rule.add(c_rule, count, projected)
            changes.add((rule, c_rule, logged, level), count, projected)
            total += projected
        change_rows = []
        for (rule, c_rule, logged, level), (count, size) in changes.rows.items():
            if logged == level and rule == c_rule:
                continue
            change_rows.append(
                {
                    "rule": rule,
                    "candidate_rule": c_rule,
                    "from_level": logged,
                    "to_level": level,
                    "events": int(count),
                    "projected_bytes": int(size) if level != "None" else 0,
                }
            )
        change_rows.sort(key=lambda row: (-row["events"], row["rule"], row["candidate_rule"]))
        dropped = [
            {"rule": key[0], "dropped_by": key[1], "events": int(row[0]), "bytes": int(row[1])}
            for key, row in sorted(self.dropped.rows.items(), key=lambda item: (-item[1][1], str(item[0])))
        ]
        return {
            "events": self.cand_events,
            "bytes": int(total),
            "estimated_events": self.estimated_events,
            "dropped_events": int(sum(row[0] for row in self.dropped.rows.values())),
            "dropped_bytes": int(sum(row[1] for row in self.dropped.rows.values())),
            "events_per_hour": round(self.cand_events / hours, 3) if hours else None,
            "mib_per_hour": round(total / MIB / hours, 6) if hours else None,
            "by_rule": cand_rule.top(top, "rule"),
            "dropped": dropped[:top],
            "changes": change_rows[:top],
        }


# --------------------------------------------------------------------------------------------------------------
# Retention


def retention(
    bytes_per_hour: float | None, maxsize: int, maxbackup: int, maxage: int, compress: bool = False
) -> dict[str, t.Any]:
    """How many hours the files hold at ``bytes_per_hour``, and what decides how long logs are kept.

    kube-apiserver with ``--audit-log-maxsize=0`` does not rotate at all (k8s.io/apiserver
    pkg/server/options/audit.go, ``getWriter``); lumberjack keeps every backup when MaxBackups is 0 and never
    removes one for its age when MaxAge is 0 (lumberjack.go, ``millRunOnce``). Backups hold ``maxsize`` MiB of
    events each before compression, so ``maxsize * (maxbackup + 1)`` MiB of events are kept at most, compressed or
    not.
    """
    age_hours = maxage * 24 if maxage > 0 else None
    out: dict[str, t.Any] = {
        "maxsize": maxsize,
        "maxbackup": maxbackup,
        "maxage": maxage,
        "compress": compress,
        "capacity_bytes": None,
        "hours_held": None,
        "hours_held_after_rotation": None,
        "maxage_hours": age_hours,
        "decided_by": "maxage" if age_hours else "nothing",
        "warning": "",
        "keeps_maxage_with": None,
    }
    if maxsize <= 0 or maxbackup <= 0:
        out["note"] = (
            "--audit-log-maxsize=0: the log is never rotated and grows without limit"
            if maxsize <= 0
            else "--audit-log-maxbackup=0: lumberjack keeps every backup, so size sets no limit"
        )
        return out
    capacity = maxsize * MIB * (maxbackup + 1)
    out["capacity_bytes"] = capacity
    if not bytes_per_hour:
        out["note"] = "no rate observed (fewer than two timestamps a second apart)"
        return out
    held = capacity / bytes_per_hour
    out["hours_held"] = round(held, 3)
    out["hours_held_after_rotation"] = round(maxsize * MIB * maxbackup / bytes_per_hour, 3)
    if age_hours is None or held < age_hours:
        out["decided_by"] = "size"
        if age_hours is None:
            out["warning"] = (
                f"maxsize {maxsize} MiB x (maxbackup {maxbackup} + 1) holds about {held:.1f} hours of events at the"
                " observed rate and maxage is 0 (no age limit): the size limit alone decides how long logs are kept."
            )
            return out
        needed = bytes_per_hour * age_hours
        backups = max(maxbackup, math.ceil(needed / (maxsize * MIB)) - 1)
        size = max(maxsize, math.ceil(needed / MIB / (maxbackup + 1)))
        out["keeps_maxage_with"] = {
            "bytes_needed": math.ceil(needed),
            "maxbackup_at_this_maxsize": backups,
            "maxsize_at_this_maxbackup": size,
        }
        out["warning"] = (
            f"The size limit, not maxage, decides how long audit logs are kept: maxsize {maxsize} MiB x (maxbackup"
            f" {maxbackup} + 1) holds about {held:.1f} hours at the observed rate, maxage asks for {maxage} days"
            f" ({age_hours} hours). To keep {maxage} days set maxbackup to {backups} (k0s_audit_log_maxbackup) or"
            f" maxsize to {size} (k0s_audit_log_maxsize)."
        )
    return out


# --------------------------------------------------------------------------------------------------------------
# Text


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:.2f} MiB"


def render_table(host: str, report: Mapping[str, t.Any]) -> list[str]:
    """The report as lines of text for the play output."""
    keep = report["retention"]
    lines = [
        f"{host}: {report['events']} events, {_mib(report['bytes'])} in {len(report['files'])} files,"
        f" {report['first_event'] or '-'} .. {report['last_event'] or '-'} ({report['span_seconds']} s)",
        f"  rate: {report['events_per_hour'] if report['events_per_hour'] is not None else '-'} events/h,"
        f" {report['mib_per_hour'] if report['mib_per_hour'] is not None else '-'} MiB/h;"
        f" skipped lines: {report['skipped']['total']} (truncated {report['skipped']['truncated']},"
        f" legacy {report['skipped']['legacy']}, garbage {report['skipped']['garbage']})",
        f"  retention: maxsize {keep['maxsize']} MiB x (maxbackup {keep['maxbackup']} + 1) holds"
        f" {keep['hours_held'] if keep['hours_held'] is not None else '-'} h; maxage {keep['maxage']} d;"
        f" decided by {keep['decided_by']}",
    ]
    if keep["warning"]:
        lines.append("  WARNING: " + keep["warning"])
    for title, key, label in (
        ("rules", "top_rules", "rule"),
        ("users", "top_users", "user"),
        ("verbs", "top_verbs", "verb"),
        ("resources", "top_resources", "resource"),
    ):
        lines.append(f"  top {title} by bytes:")
        lines.extend(f"    {row['bytes']:>12} B {row['events']:>8} ev  {row[label]}" for row in report[key])
    projection = report.get("projection")
    if projection:
        lines.append(
            f"  candidate: {projection['events']} events, {_mib(projection['bytes'])}"
            f" ({projection['estimated_events']} estimated); no longer logged: {projection['dropped_events']} events,"
            f" {_mib(projection['dropped_bytes'])}"
        )
        lines.extend(
            f"    drop {row['bytes']:>12} B {row['events']:>8} ev  {row['rule']} (by {row['dropped_by']})"
            for row in projection["dropped"]
        )
    return lines
