"""The report's HTML page as headless Chromium renders it (Debian's ``chromium`` package): its DOM, and the text of
every figure element (``data-host`` and ``data-figure``, as plugins/filter/audit_report_html.py writes them).

Used by the playbook test (tests/report) and by the Molecule report verifier on the Ansible controller.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["figures_of", "rendered_dom"]


class _Figures(HTMLParser):
    """The text of every element with data-figure (bars, which carry data-name too, left out), by (host, figure)."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict = {}
        self._open: tuple | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-figure" in attrs and "data-name" not in attrs:
            self._open = (attrs.get("data-host"), attrs["data-figure"])

    def handle_data(self, data):
        if self._open:
            self.figures[self._open] = self.figures.get(self._open, "") + data

    def handle_endtag(self, tag):
        self._open = None


def rendered_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after headless Chromium has rendered it, with ``profile`` as its fresh user data dir."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is needed on the Ansible controller: apt-get install -y chromium (Debian's)"
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return process.stdout


def figures_of(dom: str, host: str) -> dict[str, str]:
    """The figures the page shows for ``host``, by name (``events``, ``bytes``, ``warning``, ...)."""
    parser = _Figures()
    parser.feed(dom)
    return {key: value for (name, key), value in parser.figures.items() if name == host}
