# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The layout is the architecture: which plugin file may import which, read from the files' own imports.

filters -> plugins/plugin_utils (controller-only engine) -> plugins/module_utils (what modules carry to hosts);
module_utils never imports plugin_utils; modules import only module_utils; no import cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PACKAGE = "ansible_collections.k0rdent.audit.plugins."
# Which folders of plugins/ a file in each folder may import from.
ALLOWED = {
    "module_utils": {"module_utils"},
    "modules": {"module_utils"},
    "plugin_utils": {"plugin_utils", "module_utils"},
    "filter": {"plugin_utils", "module_utils"},
}
ENGINE_FILES = sorted(PLUGINS.glob("*/_audit_policy*.py"))


def collection_imports(path: Path) -> set[str]:
    """``folder/name`` of every collection file ``path`` imports (``from X import Y`` where Y is a file counts)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith(PACKAGE):
                parts = name[len(PACKAGE) :].split(".")
                if len(parts) >= 2 and (PLUGINS / parts[0] / f"{parts[1]}.py").is_file():
                    found.add(f"{parts[0]}/{parts[1]}")
    return found


def plugin_files() -> dict[str, Path]:
    return {f"{path.parent.name}/{path.stem}": path for path in sorted(PLUGINS.glob("*/*.py"))}


GRAPH = {name: collection_imports(path) for name, path in plugin_files().items()}


def test_the_parser_sees_the_imports_it_checks():
    assert "module_utils/_audit_policy_common" in GRAPH["module_utils/_audit_policy_match"]
    assert "plugin_utils/_audit_policy_validate" in GRAPH["filter/audit_level"]


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_go_in_the_allowed_direction(name):
    folder = name.split("/")[0]
    if folder not in ALLOWED:
        pytest.fail(f"plugins/{folder}/ is a new kind of plugin folder: add its import rule to ALLOWED in {__file__}")
    wrong = sorted(target for target in GRAPH[name] if target.split("/")[0] not in ALLOWED[folder])
    assert wrong == [], f"plugins/{name}.py may import only from {sorted(ALLOWED[folder])}, not {wrong}"


def test_the_common_engine_file_imports_no_other_collection_file():
    assert GRAPH["module_utils/_audit_policy_common"] == set()


def test_the_host_matcher_imports_only_the_common_engine_file():
    assert GRAPH["module_utils/_audit_policy_match"] == {"module_utils/_audit_policy_common"}


def test_no_import_cycles():
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            pytest.fail("import cycle: " + " -> ".join((*trail[trail.index(name) :], name)))
        if name in done:
            return
        for target in sorted(GRAPH.get(name, ())):
            visit(target, (*trail, name))
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, ())


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_engine_files_start_with_a_private_note_saying_what_they_do_and_may_import(path):
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert docstring.startswith("PRIVATE to the k0rdent.audit collection"), path
    assert "Responsible for:" in docstring and "May import:" in docstring, path
    assert "__all__" in path.read_text(), path


def test_every_engine_file_is_one_of_the_known_six():
    assert [f"{path.parent.name}/{path.stem}" for path in ENGINE_FILES] == [
        "module_utils/_audit_policy_common",
        "module_utils/_audit_policy_match",
        "plugin_utils/_audit_policy_findings",
        "plugin_utils/_audit_policy_merge",
        "plugin_utils/_audit_policy_schema",
        "plugin_utils/_audit_policy_validate",
    ]
