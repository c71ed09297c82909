"""scripts/build-test-apiserver.sh fails with one sentence, and leaves the machine's apt state alone.

Each test runs a copy of the script in a scratch checkout layout (scripts/ and tests/apiserver/main.go), so the
real ``.cache/testbed`` is not touched, with ``K0S_AUDIT_DEBIAN_SOURCES`` naming an archive that cannot answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _apiserver import REPO

# Not /var/cache/apt: any apt-cache run by anyone rewrites its pkgcache.bin.
APT_STATE = (Path("/var/lib/apt/lists"), Path("/etc/apt"))


def _snapshot():
    seen = {}
    for top in APT_STATE:
        if top.is_dir():
            for path in top.rglob("*"):
                try:
                    info = path.lstat()
                except OSError:
                    continue
                seen[str(path)] = (info.st_size, info.st_mtime_ns)
    return seen


@pytest.fixture
def scratch(tmp_path):
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is absent: the build script needs a Debian machine")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "tests" / "apiserver").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "build-test-apiserver.sh", tmp_path / "scripts")
    shutil.copy2(REPO / "tests" / "apiserver" / "main.go", tmp_path / "tests" / "apiserver")
    return tmp_path


def _run(scratch: Path, sources: str):
    (scratch / "debian.sources").write_text(sources)
    env = {**os.environ, "K0S_AUDIT_DEBIAN_SOURCES": str(scratch / "debian.sources")}
    before = _snapshot()
    result = subprocess.run(
        [str(scratch / "scripts" / "build-test-apiserver.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert _snapshot() == before, "the build script changed the machine's apt configuration or state"
    assert not (scratch / ".cache" / "testbed" / "kube-apiserver").exists()
    return result


def test_unreachable_archive_is_one_sentence(scratch):
    result = _run(
        scratch,
        "Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\n",
    )
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(
        "build-test-apiserver: could not read Debian sid's package lists from http://127.0.0.1:9/debian"
    ), result.stderr


def test_sources_without_a_main_archive(scratch):
    result = _run(
        scratch,
        "Types: deb\nURIs: http://127.0.0.1:9/debian-security\nSuites: bookworm-security\nComponents: main\n",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "build-test-apiserver: found no main-archive URIs line in %s; add the Debian archive there."
        % (scratch / "debian.sources")
    ]
