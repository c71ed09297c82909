# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_report_html
short_description: One HTML page with inline SVG charts of k0rdent.audit.k0s_audit_report results
version_added: 0.2.0
author: k0rdent.audit maintainers
description:
  - Renders the RV(k0rdent.audit.k0s_audit_report#module:report) of every host as one self-contained HTML page,
    with no scripts, no fonts, no network resources; charts are inline SVG.
  - Per host, the retention bar (hours the files hold at the observed rate against maxage), events and MiB per
    hour, the top rules, users, verbs and resources by bytes, and the candidate policy's projection.
  - Every figure is also written as text, in an element with C(data-host) and C(data-figure) attributes, so the
    page can be checked by reading its DOM.
  - Events left out of the rate for a wrong clock (C(clock_outliers)) and files not read (C(skipped_files)) are
    named. A report the page cannot be drawn from (a list where a mapping belongs, text or an infinite number
    where a count belongs) is refused in one sentence naming the field; lone surrogates in names are shown as
    U+FFFD, so the page is always valid UTF-8.
positional: _input
options:
  _input:
    description: A mapping of host name to that host's C(report).
    type: dict
    required: true
  title:
    description: The page's title.
    type: str
    default: k0s audit log report
"""

EXAMPLES = r"""
- name: Write the page for all hosts of the play
  ansible.builtin.copy:
    dest: k0s-audit-report/index.html
    content: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, ['audit_report', 'report'])))
         | k0rdent.audit.audit_report_html }}
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

import html
import re
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_report_shape import report_problem

MIB = 1024 * 1024
_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1d2733;background:#fafbfc}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccd}h3{font-size:15px;margin:18px 0 6px}
.host{background:#fff;border:1px solid #dde;border-radius:6px;padding:12px 18px;margin-bottom:24px}
.figs{display:flex;flex-wrap:wrap;gap:10px}
.fig{border:1px solid #e3e6ea;border-radius:4px;padding:6px 10px;min-width:110px}
.fig b{display:block;font-size:18px}.fig small{color:#5a6472}
.warn{background:#fff4e5;border-left:4px solid #e07b00;padding:8px 12px;margin:10px 0}
.note{color:#5a6472;font-size:13px}table{border-collapse:collapse;font-size:13px}
td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #eef}td.n{text-align:right}
svg text{font-size:11px;fill:#1d2733}
"""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _e(value: t.Any) -> str:
    """``value`` as HTML text; lone surrogates (valid in JSON, not in UTF-8) become U+FFFD."""
    text = "" if value is None else str(value)
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return html.escape(text, quote=True)


def _num(value: t.Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _fig(host: str, key: str, value: t.Any, label: str) -> str:
    return (
        f'<div class="fig"><b data-host="{_e(host)}" data-figure="{_e(key)}">{_e(_num(value, 3))}</b>'
        f"<small>{_e(label)}</small></div>"
    )


def _bars(host: str, key: str, rows: t.Sequence[Mapping], label: str, color: str) -> str:
    """Horizontal bars of ``rows`` by bytes, with each row's events and bytes as text."""
    if not rows:
        return '<p class="note">none</p>'
    width, left, height = 760, 300, 18
    top = max(int(row.get("bytes") or 0) for row in rows) or 1
    parts = [f'<svg width="{width}" height="{height * len(rows) + 4}" role="img" aria-label="{_e(key)}">']
    for index, row in enumerate(rows):
        y = index * height + 2
        size = int(row.get("bytes") or 0)
        length = max(1, int((width - left - 170) * size / top))
        name = str(row.get(label))
        short = name if len(name) <= 46 else name[:45] + "\u2026"
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end"><title>{_e(name)}</title>{_e(short)}</text>'
            f'<rect x="{left}" y="{y}" width="{length}" height="{height - 4}" fill="{color}"/>'
            f'<text x="{left + length + 6}" y="{y + 12}" data-host="{_e(host)}" data-figure="{_e(key)}"'
            f' data-name="{_e(name)}">{size} B, {int(row.get("events") or 0)} events</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _retention(host: str, keep: Mapping) -> str:
    held, age = keep.get("hours_held"), keep.get("maxage_hours")
    width, left = 760, 230
    scale = max(float(held or 0), float(age or 0)) or 1.0
    color = "#d9534f" if keep.get("decided_by") == "size" else "#3c8dbc"
    rows = []
    for index, (name, value, fill) in enumerate(
        (
            (
                f"held: {keep.get('effective_maxsize', keep.get('maxsize'))} MiB x ({keep.get('maxbackup')} + 1)",
                held,
                color,
            ),
            (f"maxage: {keep.get('maxage')} days", age, "#9aa5b1"),
        )
    ):
        y = index * 26 + 4
        length = int((width - left - 140) * float(value) / scale) if value else 0
        text = "unlimited" if value is None else f"{_num(float(value), 1)} h"
        rows.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{_e(name)}</text>'
            f'<rect x="{left}" y="{y}" width="{max(length, 1)}" height="20" fill="{fill}"/>'
            f'<text x="{left + max(length, 1) + 6}" y="{y + 14}">{_e(text)}</text>'
        )
    return f'<svg width="{width}" height="60" role="img" aria-label="retention">{"".join(rows)}</svg>'


def _hours(host: str, hours: t.Sequence[Mapping]) -> str:
    if not hours:
        return '<p class="note">no timestamps</p>'
    width, height, bottom = 760, 140, 20
    shown = list(hours)[-96:]
    top = max(int(row["bytes"]) for row in shown) or 1
    step = max(2, (width - 60) // len(shown))
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="per hour">']
    for index, row in enumerate(shown):
        length = int((height - bottom - 16) * int(row["bytes"]) / top)
        x = 50 + index * step
        parts.append(
            f'<rect x="{x}" y="{height - bottom - length}" width="{max(1, step - 2)}" height="{max(length, 1)}"'
            ' fill="#5b9bd5">'
            f"<title>{_e(row['hour'])}: {int(row['events'])} events, {int(row['bytes'])} B</title></rect>"
        )
    parts.append(
        f'<text x="50" y="{height - 4}">{_e(shown[0]["hour"])}</text>'
        f'<text x="{width - 10}" y="{height - 4}" text-anchor="end">{_e(shown[-1]["hour"])}</text>'
        f'<text x="4" y="12">{_num(top / MIB, 3)} MiB</text></svg>'
    )
    return "".join(parts)


def _projection(host: str, report: Mapping, projection: Mapping) -> str:
    current, projected = int(report.get("bytes") or 0), int(projection.get("bytes") or 0)
    scale = max(current, projected) or 1
    bars = []
    for index, (name, value, fill) in enumerate(
        (("logged now", current, "#3c8dbc"), ("candidate", projected, "#5cb85c"))
    ):
        length = max(1, int(500 * value / scale))
        y = index * 26 + 4
        bars.append(
            f'<text x="124" y="{y + 14}" text-anchor="end">{name}</text>'
            f'<rect x="130" y="{y}" width="{length}" height="20" fill="{fill}"/>'
            f'<text x="{136 + length}" y="{y + 14}">{_num(value / MIB, 3)} MiB</text>'
        )
    out = [
        '<div class="figs">',
        _fig(host, "projection.events", projection.get("events"), "events the candidate logs"),
        _fig(host, "projection.bytes", projection.get("bytes"), "bytes the candidate logs"),
        _fig(host, "projection.mib_per_hour", projection.get("mib_per_hour"), "MiB per hour, candidate"),
        _fig(host, "projection.dropped_events", projection.get("dropped_events"), "events no longer logged"),
        _fig(host, "projection.estimated_events", projection.get("estimated_events"), "events sized by estimate"),
        "</div>",
        f'<svg width="760" height="60" role="img" aria-label="projection">{"".join(bars)}</svg>',
        "<h3>Candidate rules by projected bytes</h3>",
        _bars(host, "projection.by_rule", projection.get("by_rule") or [], "rule", "#5cb85c"),
        "<h3>No longer logged</h3>",
    ]
    dropped = projection.get("dropped") or []
    if dropped:
        out.append("<table><tr><th>rule now</th><th>dropped by</th><th>events</th><th>bytes</th></tr>")
        out.extend(
            f"<tr><td>{_e(row['rule'])}</td><td>{_e(row['dropped_by'])}</td><td class=n>{int(row['events'])}</td>"
            f"<td class=n>{int(row['bytes'])}</td></tr>"
            for row in dropped
        )
        out.append("</table>")
    else:
        out.append('<p class="note">nothing</p>')
    changes = projection.get("changes") or []
    if changes:
        out.append("<h3>Level changes</h3><table><tr><th>rule now</th><th>candidate rule</th><th>from</th><th>to</th>")
        out.append("<th>events</th><th>projected bytes</th></tr>")
        out.extend(
            f"<tr><td>{_e(row['rule'])}</td><td>{_e(row['candidate_rule'])}</td><td>{_e(row['from_level'])}</td>"
            f"<td>{_e(row['to_level'])}</td><td class=n>{int(row['events'])}</td>"
            f"<td class=n>{int(row['projected_bytes'])}</td></tr>"
            for row in changes
        )
        out.append("</table>")
    return "".join(out)


def _host(host: str, report: Mapping) -> str:
    keep = report.get("retention") or {}
    skipped = report.get("skipped") or {}
    settings = report.get("settings") or {}
    out = [
        f'<section class="host" id="host-{_e(host)}"><h2>{_e(host)}</h2>',
        f'<p class="note">{_e(report.get("first_event") or "-")} to {_e(report.get("last_event") or "-")};'
        f" log {_e(settings.get('log_path'))} ({len(report.get('files') or [])} files; flags from"
        f" {_e(', '.join(sorted(set((settings.get('sources') or {}).values()))) or '-')};"
        f" policy from {_e(settings.get('policy_source'))})</p>",
        '<div class="figs">',
        _fig(host, "events", report.get("events"), "events"),
        _fig(host, "bytes", report.get("bytes"), "bytes"),
        _fig(host, "span_seconds", report.get("span_seconds"), "seconds of history"),
        _fig(host, "events_per_hour", report.get("events_per_hour"), "events per hour"),
        _fig(host, "mib_per_hour", report.get("mib_per_hour"), "MiB per hour"),
        _fig(host, "hours_held", keep.get("hours_held"), "hours the files hold"),
        _fig(host, "skipped", skipped.get("total"), "lines skipped"),
        "</div>",
    ]
    if keep.get("warning"):
        out.append(f'<div class="warn" data-host="{_e(host)}" data-figure="warning">{_e(keep["warning"])}</div>')
    outliers = report.get("clock_outliers") or []
    if outliers:
        out.append(
            f'<div class="warn" data-host="{_e(host)}" data-figure="clock_outliers">'
            f"{sum(int(row['events']) for row in outliers)} events dated far from the rest (a wrong clock?) are"
            " left out of the span and the rates: "
            + _e(", ".join(f"{row['hour']} ({int(row['events'])})" for row in outliers[:10]))
            + (" ..." if len(outliers) > 10 else "")
            + "</div>"
        )
    warnings = [str(warning) for warning in report.get("warnings") or []]
    for row in report.get("skipped_files") or []:
        note = f"not read: {row['path']}: {row['reason']}"
        if note not in warnings:
            warnings.append(note)
    for warning in warnings:
        out.append(f'<p class="note">{_e(warning)}</p>')
    out += [
        f"<h3>Retention (decided by {_e(keep.get('decided_by'))})</h3>",
        _retention(host, keep),
        "<h3>Bytes per hour</h3>",
        _hours(host, report.get("hours") or []),
        "<h3>Top rules by bytes</h3>",
        _bars(host, "top_rules", report.get("top_rules") or [], "rule", "#3c8dbc"),
        "<h3>Top users by bytes</h3>",
        _bars(host, "top_users", report.get("top_users") or [], "user", "#8e6bbf"),
        "<h3>Top verbs by bytes</h3>",
        _bars(host, "top_verbs", report.get("top_verbs") or [], "verb", "#e0a030"),
        "<h3>Top resources by bytes</h3>",
        _bars(host, "top_resources", report.get("top_resources") or [], "resource", "#4aa3a2"),
    ]
    projection = report.get("projection")
    if projection:
        out += ["<h3>Candidate policy</h3>", _projection(host, report, projection)]
    out.append("</section>")
    return "".join(out)


def audit_report_html(_input: t.Any, title: str = "k0s audit log report") -> str:
    if not isinstance(_input, Mapping):
        raise AnsibleFilterError("audit_report_html: give a mapping of host name to its k0s_audit_report report.")
    hosts = []
    names = sorted(_input, key=str)
    for host in names:
        report = _input[host]
        if not isinstance(report, Mapping) or "events" not in report:
            raise AnsibleFilterError(f"audit_report_html: the value for {_e(host)} is not a k0s_audit_report report.")
        problem = report_problem(report)
        if problem:
            raise AnsibleFilterError(
                f"audit_report_html: the report of {_e(host)} is malformed at {problem[0]}: {problem[1]};"
                " give the report k0rdent.audit.k0s_audit_report returned."
            )
        hosts.append(_host(str(host), report))
    index = "".join(f'<li><a href="#host-{_e(host)}">{_e(host)}</a></li>' for host in names)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>"
        f'<ul>{index}</ul>{"".join(hosts)}<p class="note">Bytes are the events\' own, uncompressed, as'
        " --audit-log-maxsize counts them. Candidate sizes: an event kept at its level keeps its size; at a lower"
        " level it loses the bodies that level does not log (requestObject below Request, responseObject below"
        " RequestResponse); at a higher level, whose bodies the log does not hold, it is estimated as the mean size"
        " of events logged at that level for the same resource, verb and stage, else as its own size times 1 + 1"
        " for a request body (create, update, patch) + 2 for a response body (RequestResponse), at stage"
        " ResponseComplete.</p></body></html>\n"
    )


class FilterModule:
    def filters(self):
        return {"audit_report_html": audit_report_html}
