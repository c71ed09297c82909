# Copyright: contributors to the k0rdent.audit collection
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""An execution environment that installs the built collection gets the collection's Python and system packages.

No container runtime and no network: ``ansible-builder create`` writes the build context only, and the two steps
of the image build that matter here are run as the image build runs them (ansible_builder containerfile.py,
``_prepare_galaxy_install_steps`` and ``_prepare_introspect_assemble_steps``): the collection is installed from
the tarball copied into the context, then the context's own ``introspect.py`` collects the requirements of every
installed collection (it reads ``meta/execution-environment.yml``, _target_scripts/introspect.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
TARBALL = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
# ansible-builder drops requirements the base image already satisfies (introspect.py EXCLUDE_REQUIREMENTS).
BUILDER_DROPS = {"pyyaml"}


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(cwd / "no-collections")  # nothing installed is in sight
    env["ANSIBLE_LOCAL_TEMP"] = str(cwd / "ansible-tmp")
    env["ANSIBLE_HOME"] = str(cwd / "ansible-home")
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _names(lines: list[str], python: bool) -> dict[str, str]:
    """Map each requirement's name (lower case, ``_`` as ``-``) to its line, without comments."""
    names = {}
    for raw in lines:
        line = re.sub(r"(^|\s+)#.*$", "", raw).strip()
        if not line:
            continue
        name = re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]
        names[name.lower().replace("_", "-") if python else name] = raw
    return names


def _collection_requirements(filename: str, python: bool) -> dict[str, str]:
    return _names((REPO / filename).read_text(encoding="utf-8").splitlines(), python)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build context from an EE definition that installs the collection from its tarball, beside the tarball."""
    work = tmp_path_factory.mktemp("ee")
    _run(_tool("ansible-galaxy"), "collection", "build", str(REPO), "--output-path", str(work), cwd=work)
    assert (work / TARBALL).is_file()
    definition = {
        "version": 3,
        "images": {"base_image": {"name": "quay.io/fedora/python-312:latest"}},
        "dependencies": {
            "ansible_core": {"package_pip": "ansible-core>=2.17,<2.20"},
            "ansible_runner": {"package_pip": "ansible-runner"},
            "galaxy": {"collections": [{"name": f"/build/collections/{TARBALL}", "type": "file"}]},
        },
        "additional_build_files": [{"src": TARBALL, "dest": "collections"}],
    }
    (work / "execution-environment.yml").write_text(yaml.safe_dump(definition), encoding="utf-8")
    _run(
        _tool("ansible-builder"),
        "create",
        "-f",
        "execution-environment.yml",
        "-c",
        "context",
        "--output-filename",
        "Containerfile",
        cwd=work,
    )
    return work


def test_tarball_carries_the_execution_environment_files(context: Path) -> None:
    with tarfile.open(context / TARBALL) as archive:
        members = set(archive.getnames())
        meta = yaml.safe_load(archive.extractfile("meta/execution-environment.yml").read())
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt"} <= members
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_context_installs_the_collection_from_the_tarball(context: Path) -> None:
    build = context / "context" / "_build"
    galaxy = yaml.safe_load((build / "requirements.yml").read_text(encoding="utf-8"))
    assert galaxy == {"collections": [{"name": f"/build/collections/{TARBALL}", "type": "file"}]}
    assert (build / "collections" / TARBALL).read_bytes() == (context / TARBALL).read_bytes()
    containerfile = (context / "context" / "Containerfile").read_text(encoding="utf-8")
    # The galaxy stage copies _build to /build, installs requirements.yml there, and the builder stage introspects.
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "/output/scripts/introspect.py introspect" in containerfile


def test_image_build_collects_the_collection_requirements(context: Path) -> None:
    build = context / "context" / "_build"
    installed = context / "installed"
    # As the galaxy stage does, but offline: ansible.posix, the Galaxy dependency, is not what is checked here.
    _run(
        _tool("ansible-galaxy"),
        "collection",
        "install",
        "--no-deps",
        "-p",
        str(installed),
        str(build / "collections" / TARBALL),
        cwd=context,
    )
    pip_out, bindep_out = context / "pip.txt", context / "bindep.txt"
    _run(
        sys.executable,
        str(build / "scripts" / "introspect.py"),
        "introspect",
        str(installed),
        f"--write-pip={pip_out}",
        f"--write-bindep={bindep_out}",
        cwd=context,
    )
    pip = _names(pip_out.read_text(encoding="utf-8").splitlines(), python=True)
    bindep = _names(bindep_out.read_text(encoding="utf-8").splitlines(), python=False)

    wanted_pip = _collection_requirements("requirements.txt", python=True)
    assert {"jsonschema", "ruamel.yaml"} <= set(wanted_pip)
    for name in set(wanted_pip) - BUILDER_DROPS:
        assert name in pip, f"{name} from requirements.txt is not in the image's requirements: {pip_out.read_text()}"
        assert pip[name].endswith("# from collection k0rdent.audit")
        assert pip[name].split("#")[0].strip() == wanted_pip[name].split("#")[0].strip()
    assert not BUILDER_DROPS & set(pip)

    wanted_bindep = _collection_requirements("bindep.txt", python=False)
    assert wanted_bindep
    for name, line in wanted_bindep.items():
        assert bindep.get(name, "").startswith(line.strip()), f"{name} missing from {bindep_out.read_text()}"
        assert bindep[name].endswith("# from collection k0rdent.audit")


def test_collection_reference_paths_are_relative_and_present() -> None:
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert meta["version"] == 1
    for kind in ("python", "system"):
        path = meta["dependencies"][kind]
        assert not os.path.isabs(path), "ansible-builder refuses absolute requirement paths of a collection"
        assert (REPO / path).is_file()
