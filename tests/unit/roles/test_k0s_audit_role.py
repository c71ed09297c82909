"""The role's public interface: defaults and argument_specs name the same variables with the same defaults."""

from __future__ import annotations

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "k0s_audit"


def _defaults():
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def _options():
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def test_defaults_and_argument_specs_list_the_same_variables():
    assert sorted(_defaults()) == sorted(_options())


def test_argument_specs_carry_the_defaults():
    options = _options()
    for name, value in _defaults().items():
        assert options[name].get("default") == value, name


def test_every_public_variable_is_prefixed_and_documented():
    for name, spec in _options().items():
        assert name.startswith("k0s_audit_"), name
        assert spec.get("description"), name


def test_every_public_variable_is_in_the_readme():
    readme = (ROLE.parents[1] / "README.md").read_text()
    missing = [name for name in _options() if name not in readme]
    assert missing == []


def test_internal_variables_are_underscored():
    for path in (ROLE / "vars" / "main").glob("*.yml"):
        for name in yaml.safe_load(path.read_text()):
            assert name.startswith("_k0s_audit_"), (path.name, name)
