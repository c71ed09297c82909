"""Unit tests of the k0rdent.audit.k0sctl_config module, run in-process against real-shaped k0sctl.yaml files.

Every fixture goes through check mode, apply, a second apply (idempotence) and ``--diff``; the rendered files are
read back and compared with the original everywhere except ``spec.k0s.config.spec.api.extraArgs``.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from module_results import snapshot, warnings_of

from ansible_collections.k0rdent.audit.plugins.modules import k0sctl_config

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "k0sctl"
AUDIT = {"audit-log-path": "/var/log/k0s/audit/audit.log", "audit-log-maxage": 7, "audit-log-compress": True}
AUDIT_STRINGS = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in AUDIT.items()}
SECRETS = ("Vrrp-S3cret", "H3lmRep0Passw0rd", "W1nRMPassw0rd", "P@ss/w0rd", "id_ed25519_k0rdent", ".ssh/prod")
GOOD = ["single.yaml", "controller-worker.yaml", "files-hooks.yaml", "empty-config.yaml", "no-k0s.yaml"]


@pytest.fixture
def run(run_main):
    return functools.partial(run_main, k0sctl_config.main)


def copy_fixture(tmp_path: Path, name: str, mode: int = 0o600) -> Path:
    target = tmp_path / "cluster" / "k0sctl.yaml"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes((FIXTURES / name).read_bytes())
    target.chmod(mode)
    return target


def without_flags(data: dict) -> dict:
    """The document with spec.k0s.config.spec.api.extraArgs and the sections the module may add taken out."""
    data = copy.deepcopy(data)
    k0s = data["spec"].get("k0s") or {}
    api = ((k0s.get("config") or {}).get("spec") or {}).get("api") or {}
    api.pop("extraArgs", None)
    for holder, key in ((k0s.get("config") or {}).get("spec") or {}, "api"), (k0s.get("config") or {}, "spec"):
        if key in holder and not holder[key]:
            del holder[key]
    if "config" in k0s and not k0s["config"]:
        del k0s["config"]
    if "k0s" in data["spec"] and not data["spec"]["k0s"]:
        del data["spec"]["k0s"]
    return data


def comment_lines(text: str) -> list:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


@pytest.mark.parametrize("name", GOOD)
def test_check_apply_idempotence_and_diff(tmp_path, run, name):
    path = copy_fixture(tmp_path, name)
    original = path.read_text()
    before = snapshot(path)

    checked = run(path=str(path), extra_args=AUDIT, check=True, diff=True)
    assert snapshot(path) == before
    assert checked["changed"] is True
    applied = run(path=str(path), extra_args=AUDIT, diff=True)
    assert {key: applied[key] for key in ("changed", "diff", "extra_args")} == {
        key: checked[key] for key in ("changed", "diff", "extra_args")
    }
    assert warnings_of(applied) == warnings_of(checked)

    text = path.read_text()
    data = yaml.safe_load(text)
    assert data["spec"]["k0s"]["config"]["spec"]["api"]["extraArgs"] == {
        **applied["previous_extra_args"],
        **AUDIT_STRINGS,
    }
    for flag, value in AUDIT_STRINGS.items():
        assert f'{flag}: "{value}"' in text
    assert without_flags(data) == without_flags(yaml.safe_load(original))
    assert comment_lines(text) == comment_lines(original)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert applied["real_path"] == applied["path"] == str(path)

    diff = applied["diff"]
    assert diff["before_header"] == diff["after_header"] == str(path)
    assert 'audit-log-maxage: "7"' in diff["after"] and "audit-log-maxage: " not in diff["before"]
    dumped = json.dumps([checked, applied])
    assert not [secret for secret in SECRETS if secret in dumped], name

    after_apply = snapshot(path)
    again = run(path=str(path), extra_args=AUDIT, diff=True)
    assert again["changed"] is False and "diff" in again
    assert again["diff"]["before"] == again["diff"]["after"] == ""
    assert warnings_of(again) == []
    assert snapshot(path) == after_apply
    assert sorted(p.name for p in path.parent.iterdir()) == ["k0sctl.yaml"]  # no lock or temporary file left


@pytest.mark.parametrize("name", GOOD)
def test_removing_the_flags_again_gives_back_the_file(tmp_path, run, name):
    path = copy_fixture(tmp_path, name)
    original = path.read_bytes()
    run(path=str(path), extra_args=AUDIT)
    removed = run(path=str(path), remove_extra_args=list(AUDIT))
    assert removed["changed"] is True
    if name == "empty-config.yaml":  # `k0s: {config: {}}` and no k0s section mean the same to k0sctl
        assert without_flags(yaml.safe_load(path.read_text())) == without_flags(yaml.safe_load(original))
        assert "config" not in path.read_text()
    else:
        assert path.read_bytes() == original


def test_a_missing_spec_k0s_config_is_created_without_apiversion_and_with_a_warning(tmp_path, run):
    path = copy_fixture(tmp_path, "single.yaml")
    result = run(path=str(path), extra_args=AUDIT)
    assert result["created_sections"] == ["spec.k0s.config"]
    [warning] = warnings_of(result)
    assert "now it builds them from spec.k0s.config" in warning
    config = yaml.safe_load(path.read_text())["spec"]["k0s"]["config"]
    assert config == {"spec": {"api": {"extraArgs": AUDIT_STRINGS}}}  # k0sctl adds apiVersion and kind itself
    assert yaml.safe_load(path.read_text())["spec"]["k0s"]["version"] == "v1.33.4+k0s.0"

    existing = copy_fixture(tmp_path, "controller-worker.yaml")
    assert run(path=str(existing), extra_args=AUDIT)["created_sections"] == []


def test_secrets_are_masked_in_the_diff_and_the_returned_values(tmp_path, run):
    path = copy_fixture(tmp_path, "files-hooks.yaml")
    result = run(path=str(path), extra_args=AUDIT, diff=True, check=True)
    before = result["diff"]["before"]
    assert 'keyPath: "********"' in before and 'password: "********"' in before
    assert 'dataSource: "********"' in before
    assert "W1nRMPassw0rd" not in before and "P@ss/w0rd" not in before
    assert "Managed by k0sctl." in before  # files[].data that is no secret stays readable
    assert result["audit_raw_args"] == ["--audit-log-maxage=90"]
    assert result["raw_args"] == ["--audit-log-maxage=90", "--token-auth-file", "/etc/k0s/tokens.csv"]
    assert result["previous_extra_args"] == {"oidc-issuer-url": "https://idp.example.internal"}

    cluster = copy_fixture(tmp_path, "controller-worker.yaml")
    diff = run(path=str(cluster), extra_args=AUDIT, diff=True, check=True)["diff"]["after"]
    assert 'authPass: "********"' in diff and "Vrrp-S3cret" not in diff
    assert 'password: "********"' in diff and "H3lmRep0Passw0rd" not in diff
    assert "username: robot" in diff and "https://charts.example.internal" in diff


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ((FIXTURES / "wrong-embedded-kind.yaml").read_text(), "spec.k0s.config.apiVersion in "),
        (
            "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nmetadata:\n  name: k0s\n",
            "is a k0s ClusterConfig (k0s.yaml), not a k0sctl configuration: use k0rdent.audit.k0s_config",
        ),
        ("apiVersion: v1\nkind: ConfigMap\n", "but a k0sctl.yaml has apiVersion k0sctl.k0sproject.io/v1beta1 and kind"),
        (
            "apiVersion: k0sctl.k0sproject.io/v1beta1\nkind: Cluster\nspec:\n  k0s:\n    config:\n      spec: []\n",
            "spec.k0s.config.spec in ",
        ),
        (
            "apiVersion: k0sctl.k0sproject.io/v1beta1\nkind: Cluster\nspec:\n  hosts: []\n  hosts: []\n",
            "has the key 'hosts' twice",
        ),
        (
            "apiVersion: k0sctl.k0sproject.io/v1beta1\nkind: Cluster\nspec:\n  k0s:\n    config:\n      spec:\n"
            "        api:\n          extraArgs:\n            token: [Sup3rS3cret]\n",
            "spec.k0s.config.spec.api.extraArgs.token in ",
        ),
    ],
    ids=["embedded-kind", "k0s-yaml", "wrong-kind", "spec-list", "duplicate-key", "list-value"],
)
def test_bad_files_are_refused_in_one_sentence_and_stay_untouched(tmp_path, run, content, message):
    path = tmp_path / "k0sctl.yaml"
    path.write_text(content)
    before = snapshot(path)
    result = run(path=str(path), extra_args=AUDIT, backup=True)
    assert result["failed"] is True
    assert message in result["msg"], result["msg"]
    assert "\n" not in result["msg"] and "Sup3rS3cret" not in result["msg"]
    assert snapshot(path) == before
    assert sorted(tmp_path.iterdir()) == [tmp_path / "k0sctl.yaml", tmp_path / "module-tmp"]


def test_a_missing_file_is_refused(tmp_path, run):
    result = run(path=str(tmp_path / "k0sctl.yaml"), extra_args=AUDIT)
    assert result["msg"] == f"{tmp_path / 'k0sctl.yaml'} does not exist: set path to your k0sctl.yaml."
    assert not (tmp_path / "k0sctl.yaml").exists()


def test_backup_owner_mode_and_a_symlink(tmp_path, run):
    path = copy_fixture(tmp_path, "controller-worker.yaml", mode=0o640)
    link = tmp_path / "k0sctl.yaml"
    link.symlink_to(path)
    original = path.read_bytes()
    os.umask(0o022)
    result = run(path=str(link), extra_args=AUDIT, backup=True)
    assert (result["path"], result["real_path"]) == (str(link), str(path))
    assert link.is_symlink() and "audit-log-path" in path.read_text()
    backup = Path(result["backup_file"])
    assert backup.parent == path.parent and backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o640 == stat.S_IMODE(path.stat().st_mode)
