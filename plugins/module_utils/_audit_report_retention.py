# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""How long a host's audit log files hold events, as lumberjack rotates them, and the report as text lines.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

kube-apiserver always writes its audit log file through lumberjack (k8s.io/apiserver pkg/server/options/audit.go,
``getWriter``). lumberjack rotates a file before it would exceed ``MaxSize`` megabytes, 100 when ``MaxSize`` is 0
(lumberjack.go, ``max``, ``defaultMaxSize``); keeps every backup when ``MaxBackups`` is 0 and never removes one
for its age when ``MaxAge`` is 0 (``millRunOnce``). Backups hold ``maxsize`` MiB of events each before
compression, so ``maxsize * (maxbackup + 1)`` MiB of events are kept at most, compressed or not.
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Mapping

from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report_events import MIB
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report_files import DEFAULT_MAXSIZE

__all__ = ["GO_INT_MAX", "render_table", "retention"]

# kube-apiserver reads the flags as Go ints: no larger value can be in effect.
GO_INT_MAX = 2**63 - 1


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _ceil(value: float) -> int | None:
    return math.ceil(value) if math.isfinite(value) else None


def _clamp(value: t.Any) -> int:
    try:
        return max(0, min(int(value), GO_INT_MAX))
    except (TypeError, ValueError, OverflowError):
        return 0


def retention(
    bytes_per_hour: float | None, maxsize: int, maxbackup: int, maxage: int, compress: bool = False
) -> dict[str, t.Any]:
    """How many hours the files hold at ``bytes_per_hour``, and what decides how long logs are kept.

    Settings beyond a Go int, and rates that overflow, give ``None`` for the figures they make infinite.
    """
    maxsize, maxbackup, maxage = _clamp(maxsize), _clamp(maxbackup), _clamp(maxage)
    size = maxsize or DEFAULT_MAXSIZE
    age_hours = maxage * 24 if maxage > 0 else None
    out: dict[str, t.Any] = {
        "maxsize": maxsize,
        "effective_maxsize": size,
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
    notes = []
    if maxsize == 0:
        notes.append(f"--audit-log-maxsize=0: lumberjack rotates at its default size, {DEFAULT_MAXSIZE} MiB")
    if maxbackup == 0:
        notes.append("--audit-log-maxbackup=0: lumberjack keeps every backup, so size sets no limit")
        out["note"] = "; ".join(notes)
        return out
    capacity = size * MIB * (maxbackup + 1)
    out["capacity_bytes"] = capacity
    rate = bytes_per_hour if isinstance(bytes_per_hour, (int, float)) and bytes_per_hour > 0 else None
    if rate is None:
        notes.append("no rate observed (fewer than two timestamps a second apart)")
        out["note"] = "; ".join(notes)
        return out
    if notes:
        out["note"] = "; ".join(notes)
    held = _finite(capacity / rate)
    out["hours_held"] = None if held is None else round(held, 3)
    after = _finite(size * MIB * maxbackup / rate)
    out["hours_held_after_rotation"] = None if after is None else round(after, 3)
    if held is None or (age_hours is not None and held >= age_hours):
        return out
    out["decided_by"] = "size"
    flags = f"maxsize {size} MiB x (maxbackup {maxbackup} + 1)"
    if age_hours is None:
        out["warning"] = (
            f"{flags} holds about {held:.1f} hours of events at the observed rate and maxage is 0 (no age limit):"
            " the size limit alone decides how long logs are kept."
        )
        return out
    needed = rate * age_hours
    backups = _ceil(needed / (size * MIB))
    larger = _ceil(needed / MIB / (maxbackup + 1))
    if backups is None or larger is None:
        out["warning"] = f"The size limit, not maxage, decides how long audit logs are kept: {flags} at this rate."
        return out
    backups, larger = max(maxbackup, backups - 1), max(size, larger)
    out["keeps_maxage_with"] = {
        "bytes_needed": math.ceil(needed),
        "maxbackup_at_this_maxsize": backups,
        "maxsize_at_this_maxbackup": larger,
    }
    out["warning"] = (
        f"The size limit, not maxage, decides how long audit logs are kept: {flags} holds about {held:.1f} hours at"
        f" the observed rate, maxage asks for {maxage} days ({age_hours} hours). To keep {maxage} days set maxbackup"
        f" to {backups} (k0s_audit_log_maxbackup) or maxsize to {larger} (k0s_audit_log_maxsize)."
    )
    return out


# --------------------------------------------------------------------------------------------------------------
# Text


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:.2f} MiB"


def _or_dash(value: t.Any) -> t.Any:
    return "-" if value is None else value


def render_table(host: str, report: Mapping[str, t.Any]) -> list[str]:
    """The report as lines of text for the play output."""
    keep = report["retention"]
    skipped = ", ".join(f"{key} {value}" for key, value in report["skipped"].items() if key != "total" and value)
    lines = [
        f"{host}: {report['events']} events, {_mib(report['bytes'])} in {len(report['files'])} files,"
        f" {report['first_event'] or '-'} .. {report['last_event'] or '-'} ({report['span_seconds']} s)",
        f"  rate: {_or_dash(report['events_per_hour'])} events/h, {_or_dash(report['mib_per_hour'])} MiB/h;"
        f" skipped lines: {report['skipped']['total']}" + (f" ({skipped})" if skipped else ""),
        f"  retention: maxsize {keep.get('effective_maxsize', keep['maxsize'])} MiB x (maxbackup {keep['maxbackup']}"
        f" + 1) holds {_or_dash(keep['hours_held'])} h; maxage {keep['maxage']} d; decided by {keep['decided_by']}",
    ]
    outliers = report.get("clock_outliers") or []
    if outliers:
        lines.append(
            f"  left out of the rate (a wrong clock): {sum(row['events'] for row in outliers)} events in "
            + ", ".join(row["hour"] for row in outliers[:5])
            + (" ..." if len(outliers) > 5 else "")
        )
    if keep["warning"]:
        lines.append("  WARNING: " + keep["warning"])
    for title, key, name in (
        ("rules", "top_rules", "rule"),
        ("users", "top_users", "user"),
        ("verbs", "top_verbs", "verb"),
        ("resources", "top_resources", "resource"),
    ):
        lines.append(f"  top {title} by bytes:")
        lines.extend(f"    {row['bytes']:>12} B {row['events']:>8} ev  {row[name]}" for row in report[key])
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
