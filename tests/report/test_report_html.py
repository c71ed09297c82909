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
