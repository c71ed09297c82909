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

from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config import MASK
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
    # k0sctl's rule errs toward masking: a flag whose name holds "token" hides its value, file name or not
    assert result["raw_args"] == ["--audit-log-maxage=90", "--token-auth-file", MASK]
    assert result["previous_extra_args"] == {"oidc-issuer-url": "https://idp.example.internal"}

    cluster = copy_fixture(tmp_path, "controller-worker.yaml")
    diff = run(path=str(cluster), extra_args=AUDIT, diff=True, check=True)["diff"]["after"]
    assert 'authPass: "********"' in diff and "Vrrp-S3cret" not in diff
    assert 'password: "********"' in diff and "H3lmRep0Passw0rd" not in diff
    # a helm repository's credentials are hidden whole, its name and url stay readable
    assert 'username: "********"' in diff and "name: private" in diff and "https://charts.example.internal" in diff
    assert "address: 10.0.1.11" not in diff and "keyPath: /home/ops" not in diff  # the hosts' connections too


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


# ------------------------------------------------------------------------------------------- hostile input

HOSTILE = """\
apiVersion: k0sctl.k0sproject.io/v1beta1
kind: Cluster
metadata:
  name: hostile
spec:
  hosts:
    - role: controller
      ssh:
        address: ssh-Addr3ss.internal
        user: Adm1nUser
        port: 22022
        bastion:
          address: B4stion.internal
          keyPath: ~/.ssh/B4stionKey
    - role: worker
      openSSH:
        address: 0penSSH-host
        configPath: ~/.ssh/C0nfigPath
        options:
          IdentityFile: ~/.ssh/Id3ntity
    - role: worker
      winRM:
        address: W1nRM-host
        user: Administrat0r
        password: 918273645
        port: 59860
    - role: worker
      localhost:
        enabled: true
      environment:
        HTTP_PROXY: 'http://proxyuser:Pr0xy''Pass@proxy:3128'
        MyAuthHeader: B3arerValue
        NO_PROXY: "https://u:Esc\\x40aped@x"
      files:
        - name: motd
          data: Visible data
          dst: /etc/motd
  k0s:
    config:
      spec:
        # old password: C0mmentPass
        storage:
          type: etcd
          etcd:
            externalCluster:
              endpoints: ["https://Etcd-H0st:2379"]
              etcdPrefix: Pr3fixValue
        extensions:
          helm:
            repositories:
              - name: internal
                url: https://charts.example.internal
                username: R0botUser
                password: 5551234
        api:
          extraArgs:
            oidc-client-secret: 424242
            service-account-signing-key-file: /K3yFile
            bearerAuth: Auth0rization
            PrivToken: 31337
          rawArgs:
            - --kubelet-certificate-authority
            - /Auth0rityFile
            - --some-token
            - 987654
"""
HOSTILE_SECRETS = (
    "ssh-Addr3ss", "Adm1nUser", "22022", "B4stion", "0penSSH-host", "C0nfigPath", "Id3ntity", "W1nRM-host",
    "Administrat0r", "918273645", "59860", "Pr0xy", "B3arerValue", "Esc", "C0mmentPass", "Etcd-H0st", "Pr3fixValue",
    "R0botUser", "5551234", "424242", "K3yFile", "Auth0rization", "31337", "Auth0rityFile", "987654",
)  # fmt: skip


@pytest.mark.parametrize("check", [True, False], ids=["check", "apply"])
def test_every_secret_of_a_hostile_file_is_masked_everywhere(tmp_path, run, check):
    path = tmp_path / "k0sctl.yaml"
    path.write_text(HOSTILE)
    result = run(path=str(path), extra_args=AUDIT, diff=True, check=check, backup=True)
    assert result["changed"] is True
    dumped = json.dumps(result)
    assert not [secret for secret in HOSTILE_SECRETS if secret in dumped], result
    if not check:
        assert all(secret in path.read_text() for secret in HOSTILE_SECRETS)  # the file keeps them
    before = result["diff"]["before"]
    assert "role: controller" in before and "Visible data" in before and "name: internal" in before
    assert "https://charts.example.internal" in before and "enabled: true" not in before  # localhost is masked
    yaml.safe_load(before)  # still YAML
    assert result["previous_extra_args"] == {
        "oidc-client-secret": MASK, "service-account-signing-key-file": MASK, "bearerAuth": MASK, "PrivToken": MASK,
    }  # fmt: skip
    assert result["raw_args"] == ["--kubelet-certificate-authority", MASK, "--some-token", MASK]
    assert any("oidc-client-secret" in warning for warning in warnings_of(result))  # the number is named, hidden


def test_a_refusal_naming_a_numeric_secret_hides_it(tmp_path, run):
    path = tmp_path / "k0sctl.yaml"
    path.write_text(HOSTILE.replace("oidc-client-secret: 424242", "oidc-client-secret: {nested: 424242}"))
    result = run(path=str(path), extra_args=AUDIT)
    assert result["failed"] and "oidc-client-secret" in result["msg"] and "424242" not in result["msg"]


def _lines_with_endings(data: bytes) -> list:
    return data.splitlines(keepends=True)


def test_mixed_line_endings_are_kept_line_by_line(tmp_path, run):
    path = copy_fixture(tmp_path, "controller-worker.yaml")
    lines = path.read_bytes().splitlines()
    original = b"".join(line + (b"\r\n" if index % 3 == 0 else b"\n") for index, line in enumerate(lines))
    path.write_bytes(original)
    result = run(path=str(path), extra_args=AUDIT)
    assert result["changed"] is True
    written = _lines_with_endings(path.read_bytes())
    kept = [line for line in written if b"audit-" not in line and line.strip() != b"extraArgs:"]
    assert kept == _lines_with_endings(original)
    assert run(path=str(path), remove_extra_args=list(AUDIT))["changed"] is True
    assert path.read_bytes() == original


@pytest.mark.parametrize("where", ["file", "directory"])
def test_a_symbolic_link_loop_is_refused_in_one_sentence(tmp_path, run, where):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a").symlink_to(work / "b")
    (work / "b").symlink_to(work / "a")
    path = work / "a" if where == "file" else work / "a" / "k0sctl.yaml"
    result = run(path=str(path), extra_args=AUDIT)
    assert result["failed"] is True
    assert result["msg"].startswith(f"{path} ") and "loop of symbolic links" in result["msg"], result["msg"]
    assert "run again" not in result["msg"] and "\n" not in result["msg"]
    assert sorted(p.name for p in work.iterdir()) == ["a", "b"]


def _deep_by_aliases(levels: int, bulk: int = 10_000) -> str:
    """Nested ``levels`` deep through aliases only, with enough plain data to pass go-yaml's alias-ratio bound."""
    chain = "\n".join(f"    n{level}: &n{level} [*n{level - 1}]" for level in range(1, levels))
    return (
        "apiVersion: k0sctl.k0sproject.io/v1beta1\nkind: Cluster\nspec:\n  hosts: []\n  x:\n"
        f"    bulk: [{','.join(['0'] * bulk)}]\n    n0: &n0 [1]\n{chain}\n"
    )


@pytest.mark.parametrize(
    "content",
    [
        "apiVersion: k0sctl.k0sproject.io/v1beta1\nkind: Cluster\nspec:\n  hosts: " + "[" * 150 + "]" * 150 + "\n",
        "apiVersion: k0sctl.k0sproject.io/v1beta1\nkind: Cluster\nspec:\n  hosts: " + "[" * 5000 + "]" * 5000 + "\n",
        _deep_by_aliases(600),  # a RecursionError in deepcopy before
    ],
    ids=["150-levels", "5000-levels", "600-levels-by-aliases"],
)
def test_absurdly_deep_nesting_is_refused_in_one_sentence(tmp_path, run, content):
    path = tmp_path / "k0sctl.yaml"
    path.write_text(content)
    before = snapshot(path)
    result = run(path=str(path), extra_args=AUDIT, diff=True)
    assert result["failed"] is True
    assert result["msg"].startswith(f"{path} nests ") and "levels deep" in result["msg"], result["msg"]
    assert "\n" not in result["msg"] and "Recursion" not in result["msg"]
    assert snapshot(path) == before
