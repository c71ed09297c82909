# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""What a host's own audit log says about volume and retention, read in one streaming pass.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

- :class:`LogReport` reads the live log and its lumberjack backups (found and opened by
  ``_audit_report_files``) line by line, evaluates every event against the policy in effect and an optional
  candidate policy, and keeps only counters whose number of keys is capped, so memory does not grow with the log.
  Lines that are not audit events as kube-apiserver writes them (a truncated last line,
  ``--audit-log-format=legacy`` lines, deep nesting, fields of other types, times that are not times, anything
  else) are counted as skipped with their reason (``_audit_report_events``). Files renamed or removed by rotation
  while they are read are followed by their open handle or found under their new name, and counted once.
- :func:`retention` (``_audit_report_retention``) turns the observed rate into the hours that
  ``maxsize * (maxbackup + 1)`` MiB hold, against ``maxage`` days.
"""

from __future__ import annotations

import hashlib
import json
import os
import typing as t
from collections.abc import Mapping
from datetime import datetime, timezone

from ansible_collections.k0rdent.audit.plugins.module_utils import _audit_report_files as _files
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_common import AuditPolicyError
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_policy_match import compile_policy
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report_events import (
    LEVELS,
    MAX_TEXT,
    MIB,
    STAGES,
    Counter,
    HourSeries,
    ReportError,
    Skip,
    check_event,
    count,
    dense_span,
    describe,
    event_time,
    label,
    micro_time,
    policy_cut,
)
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report_files import MAX_LINE, find_log_files
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report_retention import render_table, retention

__all__ = [
    "BODY_FACTORS",
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

_RANK = {level: rank for rank, level in enumerate(LEVELS)}
# Verbs whose requests carry a body that a Request-level event logs as requestObject.
_BODY_VERBS = frozenset(("create", "update", "patch"))
# Used when the log has no event at the candidate's level for the same resource, verb and stage: the event's own
# size is multiplied by 1 + the factors that apply (rough: a response body of a list can be far bigger).
BODY_FACTORS = {"requestObject": 1.0, "responseObject": 2.0}
# Request shapes the report remembers a decision for before it starts afresh.
_SHAPE_LIMIT = 4096
# Skipped lines named with their file, line and reason, at most.
_EXAMPLES = 20
# Clock outliers named, at most.
_OUTLIERS = 100
_SKIP_KINDS = ("truncated", "legacy", "garbage", "oversized", "nesting", "malformed", "timestamp")


def _str(value: t.Any) -> str:
    return "" if value is None else str(value)


def _shape(event: dict) -> tuple | None:
    """What a policy rule can test of an event, as a key, read from the event as it is (None when a part is of an
    unusual type): the fields CompiledPolicy.evaluate reads and _resource names. A key found among those of events
    that check_event passed holds only text and None, so its event is of the types check_event wants."""
    get = event.get
    user = get("user")
    if user is None:
        who: tuple | None = None
    elif user.__class__ is dict:
        groups = user.get("groups")
        who = (user.get("username"), tuple(groups) if groups.__class__ is list else groups)
    else:
        return None
    uri = get("requestURI")
    if uri is not None and uri.__class__ is not str:
        return None
    ref = get("objectRef")
    if ref is None:
        return (get("verb"), who, uri.split("?", 1)[0] if uri else uri)
    if ref.__class__ is not dict:
        return None
    get = ref.get
    return (event.get("verb"), who, get("apiGroup"), get("resource"), get("subresource"), get("namespace"), get("name"))


def _resource(fields: Mapping, event: Mapping) -> str:
    ref = fields.get("objectRef")
    if ref is not None:
        group = _str(ref.get("apiGroup"))
        name = _str(ref.get("resource"))
        if ref.get("subresource"):
            name += "/" + _str(ref["subresource"])
        return label(f"{group}/{name}" if group else name)
    return label("url " + _str(event.get("requestURI")).split("?", 1)[0][:MAX_TEXT])


def _body_bytes(event: Mapping, key: str) -> int:
    """About how many bytes ``key`` takes in the event's JSON line (Go writes compact JSON)."""
    if key not in event:
        return 0
    text = json.dumps(event[key], separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8", "surrogatepass")) + len(key) + 4


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


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
        # Text longer than any in the policies is cut to this before the policy engine sees it (same decision).
        # At least one more than a counter key keeps, so that names are shown as they are.
        self._cut = max(policy_cut(policy, candidate), MAX_TEXT + 1)
        self.events = 0
        self.bytes = 0
        self.skipped = dict.fromkeys(_SKIP_KINDS, 0)
        self.examples: list[str] = []
        self.blank = 0
        self.level_mismatches = 0
        self._shapes: dict[tuple, list] = {}
        self.files: list[dict[str, t.Any]] = []
        self.skipped_files: list[dict[str, str]] = []
        self.problems: list[str] = []
        # The bytes lumberjack writes to one file at most: a compressed backup is inflated to that much.
        self.limit = _files.max_bytes(None)
        # Rotation while reading: the first line of each file read (a file renamed or compressed by rotation
        # starts with the same line) and the file each path was when it was read.
        self._digests: set[bytes] = set()
        self._read_ids: dict[str, tuple[int, int]] = {}
        self.by_rule, self.by_user, self.by_verb = Counter(), Counter(), Counter()
        self.by_resource, self.by_level, self.by_stage = Counter(), Counter(), Counter()
        self.by_hour = HourSeries()
        # Projection: per candidate rule, per dropped current rule, per change, and the sizes seen per
        # (resource, verb, stage, level) to estimate bodies the log does not hold.
        self.cand_rule, self.dropped, self.changes = Counter(), Counter(), Counter()
        self.cand_bytes = 0.0
        self.cand_events = 0
        self.estimated_events = 0
        self.seen_sizes = Counter()
        self.pending = Counter()

    # -- reading ----------------------------------------------------------------------------------------------

    def read_log(self, log_path: str, maxsize: int | None = None) -> None:
        """Read the live log ``log_path`` and its backups (``maxsize`` as ``--audit-log-maxsize`` bounds each
        compressed backup), then the files rotation made while they were read, each file's content once."""
        self.limit = _files.max_bytes(maxsize)
        self.read_files(_files.find_log_files(log_path, self.skipped_files))
        for row in _files.find_log_files(log_path, []):
            known = self._read_ids.get(row["path"])
            if known is None or known != _identity(row["path"]):
                self._read_file(row)

    def read_files(self, files: t.Iterable[Mapping]) -> None:
        for row in files:
            self._read_file(row)

    def _open(self, row: Mapping, entry: dict) -> t.BinaryIO | None:
        """The file of ``row`` opened, or None with the reason in ``entry``; a backup compressed since it was
        listed is found under its ``.gz`` name. An unreadable live log is a :class:`ReportError`."""
        path = entry["path"]
        try:
            return _files.open_log_file(path)
        except FileNotFoundError:
            if row.get("rotated_at") and not entry["compressed"]:
                try:
                    handle = _files.open_log_file(path + ".gz")
                except OSError:
                    pass
                else:
                    entry.update(path=path + ".gz", compressed=True)
                    return handle
            entry["note"] = "removed or renamed by rotation before it was read"
        except OSError as exc:
            why = _files.why_not_opened(exc)
            if why.startswith("could not") and row.get("rotated_at") is None:
                raise ReportError(
                    f"log_path: {path} cannot be read ({exc.strerror or exc}); run the report as root (become:"
                    " true) or give its account read access."
                ) from exc
            entry["note"] = why
            if why.startswith("could not"):
                self.problems.append(f"{path}: {why}")
            else:
                self.skipped_files.append({"path": path, "reason": why})
        return None

    def _read_file(self, row: Mapping) -> None:
        entry: dict[str, t.Any] = {
            "path": row["path"],
            "compressed": bool(row["compressed"]),
            "rotated_at": row.get("rotated_at"),
            "disk_bytes": row.get("disk_bytes"),
            "events": 0,
            "skipped": 0,
            "damaged": False,
            "over_limit": False,
            "note": "",
        }
        self.files.append(entry)
        handle = self._open(row, entry)
        if handle is None:
            return
        state = _files.FileState()
        before = (self.events, sum(self.skipped.values()))
        with handle:
            info = os.fstat(handle.fileno())
            self._read_ids[entry["path"]] = (info.st_dev, info.st_ino)
            lines = _files.read_lines(handle, entry["compressed"], self.limit, state)
            path = entry["path"]
            for number, (line, kind) in enumerate(lines, start=1):
                if number == 1 and kind == "complete":
                    digest = hashlib.sha256(line).digest()
                    if digest in self._digests:
                        entry["note"] = "renamed by rotation while the report read it: counted once, before"
                        return
                    self._digests.add(digest)
                self.add_line(line, kind, (path, number))
        entry.update(
            events=self.events - before[0],
            skipped=sum(self.skipped.values()) - before[1],
            damaged=state.damaged,
            over_limit=state.over_limit,
            note=state.note,
        )
        if state.note:
            self.problems.append(f"{entry['path']}: {state.note}")

    def _skip(self, kind: str, why: str, where: tuple[str, int] | None) -> None:
        self.skipped[kind] += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(f"{where[0]} line {where[1]}: {why}" if where else why)

    def add_line(self, line: bytes, state: str = "complete", where: tuple[str, int] | None = None) -> None:
        """Count one line of a log (with its newline); ``state`` as read_lines gives it, ``where`` the file and
        line number that name a skipped line. Never raises for what a line holds."""
        if state == "oversized":
            self._skip("oversized", f"longer than {_files.MAX_LINE} bytes", where)
            return
        if not line.strip():
            self.blank += 1
            return
        complete = state == "complete"
        try:
            event = json.loads(line)
        except RecursionError:
            self._skip("nesting", "nesting deeper than the JSON parser allows", where)
            return
        except ValueError as exc:  # UnicodeDecodeError too
            if not complete:
                self._skip("truncated", "a last line without its newline (being written)", where)
            elif b" AUDIT: " in line:  # --audit-log-format=legacy (k8s.io/apiserver pkg/audit/format.go)
                self._skip("legacy", "a line of --audit-log-format=legacy", where)
            else:
                self._skip("garbage", "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not JSON", where)
            return
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("stage"), str)
            or event.get("kind", "Event") != "Event"
            or "auditID" not in event
        ):
            self._skip("truncated" if not complete else "garbage", "not an audit event", where)
            return
        logged = event.get("level") or "Metadata"
        try:
            if logged.__class__ is not str or logged not in _RANK:
                why = describe(logged) if logged.__class__ is not str else "not a level"
                raise Skip("malformed", f"level is {why}")
            if event["stage"] not in STAGES:
                raise Skip("malformed", "stage is not a stage")
            moment = event.get("stageTimestamp")
            if not (moment.__class__ is str and len(moment) == 27 and micro_time(moment)):
                moment = event_time(event)
            decided = self._decisions(event)
            projected = self._projected(event, len(line), logged, decided) if self.candidate else None
        except Skip as exc:
            self._skip(exc.kind, exc.why, where)
            return
        except RecursionError:
            self._skip("nesting", "nesting deeper than the JSON encoder allows", where)
            return
        self._event(event["stage"], logged, moment, len(line), decided, projected)

    def _decisions(self, event: dict) -> list:
        """``[level, rule, resource, candidate level, candidate rule, candidate omitStages, verb, user]`` of an
        event, from the cache when an event of the same request shape was seen (everything a rule can test); else
        its fields are checked (:func:`check_event` raises :class:`Skip`) and decided. Events with long fields are
        decided afresh each time, so that neither cache grows with long distinct values."""
        key = _shape(event)
        if key is not None:
            try:
                found = self._shapes.get(key)
            except TypeError:  # a list or mapping inside: check_event names it
                found = key = None
            if found is not None:
                return found
        fields, cacheable = check_event(event, self._cut)
        level, rule, _omit = self.policy.decide(fields)
        user = fields.get("user")
        found = [
            level,
            rule,
            _resource(fields, event),
            None,
            None,
            None,
            label(_str(fields.get("verb"))) or "(none)",
            (label(_str(user.get("username"))) if user is not None else "") or "(anonymous)",
        ]
        if self.candidate is not None:
            found[3:6] = self.candidate.decide(fields)
        if key is not None and cacheable:
            if len(self._shapes) >= _SHAPE_LIMIT:
                self._shapes.clear()
            self._shapes[key] = found
        return found

    def _event(self, stage: str, logged: str, moment: str, size: int, decided: list, projected: t.Any) -> None:
        self.events += 1
        self.bytes += size
        row = self.by_hour.rows.get(moment[:13])
        if row is None:
            self.by_hour.add(moment, size)
        else:  # HourSeries.add for an hour already there, without a call
            row[0] += 1
            row[1] += size
            if moment < row[2]:
                row[2] = moment
            elif moment > row[3]:
                row[3] = moment
        rule, resource, verb = decided[1], decided[2], decided[6]
        if decided[0] != logged:
            self.level_mismatches += 1
        count(self.by_rule, rule, size)
        count(self.by_user, decided[7], size)
        count(self.by_verb, verb, size)
        count(self.by_resource, resource, size)
        count(self.by_level, logged, size)
        count(self.by_stage, stage, size)
        count(self.seen_sizes, (resource, verb, stage, logged), size)
        if projected is not None:
            self._project(size, logged, rule, resource, verb, stage, decided[3:6], projected)

    def _projected(self, event: dict, size: int, logged: str, decided: list) -> int:
        """The event's size at the candidate's level when that level logs less or as much (bodies it would lose
        taken off); computed before anything is counted, as it may fail on a hostile body."""
        level = decided[3]
        if level == "None" or _RANK[level] > _RANK[logged]:
            return size
        projected = size
        if _RANK[level] < _RANK["RequestResponse"] <= _RANK[logged]:
            projected -= _body_bytes(event, "responseObject")
        if _RANK[level] < _RANK["Request"] <= _RANK[logged]:
            projected -= _body_bytes(event, "requestObject")
        return projected - (len(logged) - len(level))

    def _project(
        self, size: int, logged: str, rule: str, resource: str, verb: str, stage: str, decided: list, projected: int
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
        self.cand_rule.add(cand_rule, 1, projected)
        self.changes.add((rule, cand_rule, logged, level), 1, projected)
        self.cand_bytes += projected

    # -- results ----------------------------------------------------------------------------------------------

    def _estimate(self, resource: str, verb: str, stage: str, level: str, events: float, size: float) -> float:
        seen = self.seen_sizes.rows.get((resource, verb, stage, level))
        if seen and seen[0]:
            return events * seen[1] / seen[0]
        factor = 1.0
        if stage == "ResponseComplete" and verb in _BODY_VERBS:
            factor += BODY_FACTORS["requestObject"]
        if stage == "ResponseComplete" and level == "RequestResponse":
            factor += BODY_FACTORS["responseObject"]
        return size * factor

    def result(self, top: int = 10) -> dict[str, t.Any]:
        """The figures. The span and the rates are those of the dense span (see dense_span): events whose clock
        is far from the rest are counted but named in ``clock_outliers`` instead of stretching the span."""
        dense = dense_span(self.by_hour)
        first, last = dense["first"], dense["last"]
        span = (_moment(last) - _moment(first)).total_seconds() if first and last else 0.0
        hours = span / 3600.0 if span >= 1 else 0.0
        report: dict[str, t.Any] = {
            "files": self.files,
            "file_problems": self.problems,
            "skipped_files": self.skipped_files,
            "events": self.events,
            "bytes": self.bytes,
            "skipped": dict(self.skipped, total=sum(self.skipped.values())),
            "skipped_examples": self.examples,
            "blank_lines": self.blank,
            "first_event": first,
            "last_event": last,
            "span_seconds": round(span, 3),
            "events_per_hour": round(dense["events"] / hours, 3) if hours else None,
            "mib_per_hour": round(dense["bytes"] / MIB / hours, 6) if hours else None,
            "bytes_per_hour": dense["bytes"] / hours if hours else None,
            "clock_outliers": dense["outliers"][:_OUTLIERS],
            "older_hours": {"events": int(self.by_hour.older[0]), "bytes": int(self.by_hour.older[1])},
            "level_mismatches": self.level_mismatches,
            "top_rules": self.by_rule.top(top, "rule"),
            "top_users": self.by_user.top(top, "user"),
            "top_verbs": self.by_verb.top(top, "verb"),
            "top_resources": self.by_resource.top(top, "resource"),
            "levels": self.by_level.top(len(LEVELS) + 1, "level"),
            "stages": self.by_stage.top(8, "stage"),
            "hours": [
                {"hour": key + ":00Z", "events": int(row[0]), "bytes": int(row[1])}
                for key, row in sorted(self.by_hour.rows.items())
            ],
        }
        report["projection"] = self._projection(top, hours) if self.candidate else None
        return report

    def _projection(self, top: int, hours: float) -> dict[str, t.Any]:
        cand_rule, changes = Counter(), Counter()
        for key, row in self.cand_rule.rows.items():
            cand_rule.add(key, row[0], row[1])
        for key, row in self.changes.rows.items():
            changes.add(key, row[0], row[1])
        total = self.cand_bytes
        for (resource, verb, stage, level, c_rule, rule, logged), (events, size) in self.pending.rows.items():
            projected = self._estimate(resource, verb, stage, level, events, size)
            cand_rule.add(c_rule, events, projected)
            changes.add((rule, c_rule, logged, level), events, projected)
            total += projected
        change_rows = []
        for (rule, c_rule, logged, level), (events, size) in changes.rows.items():
            if logged == level and rule == c_rule:
                continue
            change_rows.append(
                {
                    "rule": rule,
                    "candidate_rule": c_rule,
                    "from_level": logged,
                    "to_level": level,
                    "events": int(events),
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


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino
