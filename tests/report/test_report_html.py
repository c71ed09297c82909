"""k0rdent.audit.audit_report_html: a self-contained page, names escaped, one sentence for bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from collection_root import collections_root  # noqa: E402

sys.path.insert(0, str(collections_root()))

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.k0rdent.audit.plugins.filter.audit_report_html import audit_report_html  # noqa: E402
from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report import LogReport, retention  # noqa: E402

POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}


def _report(user: str) -> dict:
    report = LogReport(POLICY, ["all <metadata>"])
    for second in (0, 30):
        report.add_line(
            (
                '{"kind":"Event","level":"Metadata","auditID":"a%d","stage":"ResponseComplete","verb":"get",'
                '"requestURI":"/version","user":{"username":"%s"},"stageTimestamp":"2026-11-30T10:00:%02d.000000Z"}\n'
                % (second, user, second)
            ).encode()
        )
    result = report.result()
    result["retention"] = retention(result["bytes"] / (result["span_seconds"] / 3600), 1, 3, 7)
    return result


def test_names_are_escaped_and_nothing_is_loaded_from_elsewhere():
    page = audit_report_html({"node-<1>": _report("<script>alert(1)</script>")})
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "node-&lt;1&gt;" in page and "all &lt;metadata&gt;" in page
    assert "http://" not in page and "https://" not in page and "src=" not in page
    assert "default-src 'none'" in page
    assert 'data-figure="events">2<' in page


def test_hosts_are_sorted_and_each_has_its_section():
    page = audit_report_html({"b": _report("u"), "a": _report("u")})
    assert page.index('id="host-a"') < page.index('id="host-b"')


@pytest.mark.parametrize(("value", "message"), [([], "give a mapping"), ({"x": {"y": 1}}, "the value for x")])
def test_bad_input_is_one_sentence(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        audit_report_html(value)


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ({"top_users": "jane"}, "top_users"),
        ({"top_users": ["jane"]}, "top_users[0]"),
        ({"top_rules": [{"rule": "r", "events": 1, "bytes": "many"}]}, "top_rules[0].bytes"),
        ({"bytes": float("inf")}, "bytes"),
        ({"hours": [{"hour": "2026-11-30T10:00Z"}]}, "hours[0]"),
        ({"retention": {"hours_held": "long"}}, "retention.hours_held"),
        ({"retention": []}, "retention"),
        ({"projection": {"by_rule": [{"rule": "r", "events": -1, "bytes": 2}]}}, "projection.by_rule[0].events"),
        ({"projection": {"dropped": [{"rule": "r"}]}}, "projection.dropped[0]"),
        ({"warnings": [{"a": 1}]}, "warnings[0]"),
        ({"events": True}, "events"),
    ],
)
def test_a_malformed_report_is_one_sentence_naming_the_field(broken, where):
    report = dict(_report("u"), **broken)
    with pytest.raises(AnsibleFilterError) as caught:
        audit_report_html({"node-1": report})
    message = str(caught.value)
    assert message.startswith(f"audit_report_html: the report of node-1 is malformed at {where}: "), message
    assert message.endswith("give the report k0rdent.audit.k0s_audit_report returned.")


def test_lone_surrogates_in_names_become_replacement_characters():
    report = _report("jane")
    report["top_users"][0]["user"] = "j\ud800ne"  # as a report from elsewhere may hold it
    page = audit_report_html({"node\udc80": report})
    assert "j\ufffdne" in page and "node\ufffd" in page
    page.encode("utf-8")


def test_clock_outliers_and_skipped_files_are_shown():
    report = _report("u")
    report["clock_outliers"] = [{"hour": "1970-01-01T00:00Z", "events": 1, "bytes": 300}]
    report["skipped_files"] = [{"path": "/var/log/k0s/audit-x.log", "reason": "a symbolic link, not followed"}]
    page = audit_report_html({"n": report})
    assert 'data-figure="clock_outliers"' in page and "1970-01-01T00:00Z" in page
    assert "/var/log/k0s/audit-x.log: a symbolic link, not followed" in page
