"""scripts/build-k0s.sh refuses inputs that disagree with one sentence, before it builds anything.

Each test runs a copy of the script in a scratch checkout layout (scripts/, tests/k0s/, benchmarks/go_checker/), so
the real ``.cache/k0s`` is not touched, with HOME, GOMODCACHE and GOCACHE in the scratch directory too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _apiserver import REPO


@pytest.fixture
def scratch(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "build-k0s.sh", tmp_path / "scripts")
    shutil.copytree(REPO / "tests" / "k0s", tmp_path / "tests" / "k0s")
    shutil.copytree(REPO / "benchmarks" / "go_checker", tmp_path / "benchmarks" / "go_checker")
    return tmp_path


def _run(scratch: Path, path: str | None = None):
    env = {
        **os.environ,
        "HOME": str(scratch / "home"),
        "GOMODCACHE": str(scratch / "go-mod"),
        "GOCACHE": str(scratch / "go-build"),
    }
    if path is not None:
        env["PATH"] = path
    result = subprocess.run(
        ["bash", str(scratch / "scripts" / "build-k0s.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout == "", "the script started building:\n" + result.stdout
    bin_dir = scratch / ".cache" / "k0s" / "bin"
    assert not bin_dir.exists() or not any(bin_dir.iterdir()), sorted(p.name for p in bin_dir.iterdir())
    assert not (scratch / ".cache" / "k0s" / "STAMP").exists()
    assert not (scratch / "go-mod").exists()
    return result


def _edit(path: Path, pattern: str, replacement: str) -> None:
    text, count = re.subn(pattern, replacement, path.read_text(), flags=re.M)
    assert count == 1, (path, pattern)
    path.write_text(text)


def test_the_copy_passes_the_version_checks(scratch):
    """Unchanged inputs agree: with no Go on PATH the script stops at its Go check, after the version checks."""
    path = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if d and not os.access(os.path.join(d, "go"), os.X_OK)
    )
    result = _run(scratch, path=path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "build-k0s: Go is not installed: install Go 1.24 or newer (the go command must be on PATH)."
    ]


def test_k0s_version_disagreeing_with_go_mod(scratch):
    _edit(scratch / "tests/k0s/versions.env", r"^K0S_MODULE_VERSION=.*$", "K0S_MODULE_VERSION=v9.9.9")
    result = _run(scratch)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "build-k0s: tests/k0s/build/go.mod does not require github.com/k0sproject/k0s v9.9.9 (versions.env):"
        " run go get -tool github.com/k0sproject/k0s@v9.9.9 there."
    ]


def test_checker_module_disagreeing_with_kubernetes(scratch):
    """benchmarks/go_checker must use the k8s.io/apiserver of the kube-apiserver the script builds."""
    versions = (scratch / "tests/k0s/versions.env").read_text()
    kubernetes = re.search(r"^KUBERNETES_VERSION=(\S+)$", versions, re.M).group(1)
    library = "v0." + kubernetes.split(".", 1)[1]
    _edit(
        scratch / "benchmarks/go_checker/go.mod", r"^require k8s.io/apiserver v\S+$", "require k8s.io/apiserver v0.1.0"
    )
    result = _run(scratch)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "build-k0s: benchmarks/go_checker/go.mod does not require k8s.io/apiserver %s (Kubernetes %s in versions.env)."
        % (library, kubernetes)
    ]
