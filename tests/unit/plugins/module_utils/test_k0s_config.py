"""Unit tests of the pure k0s.yaml patch logic (plugins/module_utils/_k0s_config.py).

Every rendered file is read back by the real k0s (tests/k0s/real_k0s.py runs ``k0s config validate`` of the k0s
that scripts/build-k0s.sh builds), which refuses duplicate keys, unknown top-level and spec keys, non-string
extraArgs values and invalid settings.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.k0rdent.audit.plugins.module_utils import _k0s_config as core
from ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config import (
    MASK,
    K0sConfigError,
    has_comments,
    load_cluster_config,
    mask_secrets,
    normalize_extra_args,
    normalize_flag_names,
    patch_k0s_config,
)

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "k0s"
sys.path.insert(0, str(REPO / "tests" / "k0s"))

from real_k0s import K0sConfigRefused, validate  # noqa: E402

AUDIT = {
    "audit-policy-file": "/etc/k0s/audit-policy.yaml",
    "audit-log-path": "/var/log/k0s/audit/audit.log",
    "audit-log-maxage": 7,
    "audit-log-maxbackup": 5,
    "audit-log-maxsize": 100,
}
AUDIT_AS_STRINGS = {name: str(value) for name, value in AUDIT.items()}

# Fixtures k0s accepts as they are; unquoted-numbers.yaml is valid YAML that k0s refuses (tested apart).
GOOD = [
    "config-create.yaml",
    "commented.yaml",
    "custom-users.yaml",
    "existing-extra-args.yaml",
    "no-api.yaml",
    "empty-spec.yaml",
    "kine-password.yaml",
]


def _choose_engine(monkeypatch, engine: str) -> str:
    """Make the patch render with ``engine`` ("ruamel" or "pyyaml"), the way a host with or without it would."""
    if engine == "ruamel" and core.RUAMEL_IMPORT_ERROR is not None:
        pytest.fail("ruamel.yaml cannot be imported in this environment: run scripts/bootstrap.sh (it pins it).")
    monkeypatch.setattr(core, "HAS_RUAMEL", engine == "ruamel")
    return engine


@pytest.fixture(params=["ruamel", "pyyaml"])
def engine(request, monkeypatch):
    """Each test that asks for it runs once with ruamel.yaml and once with the PyYAML fallback."""
    return _choose_engine(monkeypatch, request.param)


@pytest.fixture
def ruamel(monkeypatch):
    """The test is about ruamel.yaml's rendering: it must be used (a fallback to PyYAML adds a warning)."""
    return _choose_engine(monkeypatch, "ruamel")


@pytest.fixture
def pyyaml(monkeypatch):
    """A host without ruamel.yaml: PyYAML re-writes the file."""
    return _choose_engine(monkeypatch, "pyyaml")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def extra_args_of(text: str) -> dict:
    return ((yaml.safe_load(text).get("spec") or {}).get("api") or {}).get("extraArgs") or {}


def without_extra_args(text: str) -> dict:
    data = yaml.safe_load(text)
    api = (data.get("spec") or {}).get("api") or {}
    api.pop("extraArgs", None)
    if not api:
        (data.get("spec") or {}).pop("api", None)
    return data


def key_paths(node, prefix=()):
    """Every mapping's key order, by path: what 'keeps key order' means."""
    if isinstance(node, dict):
        yield prefix, list(node)
        for key, value in node.items():
            yield from key_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from key_paths(item, (*prefix, index))


def comment_lines(text: str) -> list:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


# ------------------------------------------------------------------------------------------------ the corpus


@pytest.mark.parametrize("name", GOOD)
def test_audit_flags_are_set_as_strings_k0s_accepts(name, engine):
    text = fixture(name)
    result = patch_k0s_config(text, AUDIT)

    assert result.changed
    # ruamel.yaml keeps every comment; PyYAML drops them and says so
    assert comment_lines(result.text) == (comment_lines(text) if engine == "ruamel" else [])
    assert result.comments_dropped is (engine == "pyyaml" and has_comments(text))
    decoded = validate(result.text)
    extra = decoded["spec"]["api"]["extraArgs"]
    for flag, value in AUDIT_AS_STRINGS.items():
        assert extra[flag] == value
        assert re.search(rf'^\s+{re.escape(flag)}: "{re.escape(value)}"$', result.text, re.MULTILINE)
    assert result.extra_args == {**extra_args_of(text), **AUDIT_AS_STRINGS}
    assert result.previous_extra_args == extra_args_of(text)
    assert result.warnings == []


@pytest.mark.parametrize("name", GOOD)
def test_everything_else_is_kept_in_order(name, engine):
    text = fixture(name)
    result = patch_k0s_config(text, AUDIT)

    assert without_extra_args(result.text) == without_extra_args(text)
    before = dict(key_paths(yaml.safe_load(text)))
    for path, keys in key_paths(yaml.safe_load(result.text)):
        if path in before:  # new flags are appended after the existing ones
            assert keys[: len(before[path])] == before[path], path


@pytest.mark.parametrize("name", [*GOOD, "unquoted-numbers.yaml"])
def test_applying_twice_changes_nothing_the_second_time(name, engine):
    first = patch_k0s_config(fixture(name), AUDIT)
    second = patch_k0s_config(first.text, AUDIT)

    assert not second.changed
    assert second.text == first.text
    assert second.extra_args == first.extra_args == second.previous_extra_args


@pytest.mark.parametrize("name", GOOD)
def test_ruamel_keeps_comments_and_quoting_and_removal_restores_the_file_byte_for_byte(name, ruamel):
    text = fixture(name)
    applied = patch_k0s_config(text, AUDIT)
    assert comment_lines(applied.text) == comment_lines(text)
    assert not applied.comments_dropped

    previous = extra_args_of(text)
    restore = {flag: previous[flag] for flag in AUDIT if flag in previous}
    removed = patch_k0s_config(applied.text, restore, [flag for flag in AUDIT if flag not in previous])
    assert removed.changed
    if name in ("no-api.yaml", "empty-spec.yaml"):
        assert without_extra_args(removed.text) == without_extra_args(text)  # `api: {}` stays behind
    else:
        assert removed.text == text


def test_ruamel_adds_new_flags_before_the_comments_that_introduce_the_next_section(ruamel):
    text = fixture("commented.yaml")
    result = patch_k0s_config(text, {"audit-log-path": "/var/log/k0s/audit.log"})
    lines = result.text.splitlines()
    added = lines.index('      audit-log-path: "/var/log/k0s/audit.log"')
    assert lines[added - 1] == "      profiling: 'false'"
    assert lines[added + 1] == "    # End of the API section."
    assert '  name: k0s   # must stay "k0s"' in lines
    assert "    - k0s.example.internal   # DNS name of the load balancer" in lines


def test_ruamel_keeps_comments_when_the_first_and_last_flags_are_removed(ruamel):
    text = fixture("commented.yaml")
    result = patch_k0s_config(text, remove_extra_args=["service-node-port-range", "profiling"])
    gone = "# Keep NodePorts in the range the firewall allows."  # it was about the first flag
    assert comment_lines(result.text) == [line for line in comment_lines(text) if line != gone]
    assert "extraArgs" not in result.text
    validate(result.text)
    lines = result.text.splitlines()
    assert lines[lines.index("  # The network section below is shared by every controller.") + 1] == "  network:"


def test_ruamel_keeps_indented_sequences(ruamel):
    text = fixture("unquoted-numbers.yaml")
    result = patch_k0s_config(text, AUDIT)
    assert "    sans:\n      - 10.0.0.1\n" in result.text
    assert "  workerProfiles:\n    - name: default\n" in result.text


def test_pyyaml_fallback_drops_comments_and_says_so(pyyaml):
    result = patch_k0s_config(fixture("commented.yaml"), AUDIT)
    assert result.comments_dropped
    assert comment_lines(result.text) == []
    validate(result.text)

    plain = patch_k0s_config(fixture("config-create.yaml"), AUDIT)
    assert not plain.comments_dropped


def test_unchanged_file_is_not_rendered_even_when_its_formatting_differs(ruamel):
    text = fixture("existing-extra-args.yaml")
    result = patch_k0s_config(text, {"audit-log-maxage": 3, "oidc-client-id": "kubernetes"})
    assert not result.changed
    assert result.text is text


def test_flags_that_were_missing_are_created_under_missing_sections(engine):
    for name in ("no-api.yaml", "empty-spec.yaml"):
        result = patch_k0s_config(fixture(name), {"audit-log-path": "-"})
        assert validate(result.text)["spec"]["api"] == {"extraArgs": {"audit-log-path": "-"}}
        assert "{" not in result.text.split("spec:", 1)[1]  # `spec: {}` became a block mapping

    header = "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nmetadata:\n  name: k0s\n"
    for body in ("", "spec:\n", "spec:\n  api:\n", "spec:\n  api:\n    extraArgs:\n"):
        result = patch_k0s_config(header + body, {"v": 2})
        assert validate(result.text)["spec"]["api"]["extraArgs"] == {"v": "2"}, body


def test_explicit_document_start_is_kept(engine):
    text = "---\n" + fixture("custom-users.yaml")
    assert patch_k0s_config(text, AUDIT).text.startswith("---\n")


@pytest.mark.parametrize("port", ["'7443'", "true", "70000", "-1", "[6443]"])
def test_a_port_k0s_refuses_is_warned_about(port):
    text = fixture("custom-users.yaml").replace("port: 7443", f"port: {port}")
    result = patch_k0s_config(text, AUDIT)
    assert result.changed
    shown = repr(yaml.safe_load(f"p: {port}")["p"])
    with pytest.raises(K0sConfigRefused, match=r"spec(\.|: )api(\.|: )port"):
        validate(text)  # the warning is right: k0s refuses it
    assert result.warnings == [
        f"spec.api.port in k0s.yaml is {shown}, not a port number: k0s will refuse this file; "
        "set it to a number from 1 to 65535 or leave it out (6443)."
    ]


@pytest.mark.parametrize("port", ["7443", "0", "65535", None])
def test_a_port_k0s_accepts_gives_no_warning(port):
    text = fixture("custom-users.yaml")
    text = text.replace("    port: 7443\n", "" if port is None else f"    port: {port}\n")
    assert (port is None) is ("port:" not in text)
    assert patch_k0s_config(text, AUDIT).warnings == []
    if port is not None:
        validate(text)  # k0s accepts it as well (0 too: it means the default)


# -------------------------------------------------------------------------------------------------- quoting


def test_values_of_every_scalar_type_are_written_as_strings(engine):
    values = {"i": 7, "t": True, "f": False, "x": 1.5, "o": "on", "yy": "y", "empty": "", "n": "null", "on": "x"}
    result = patch_k0s_config(fixture("config-create.yaml"), values)
    assert validate(result.text)["spec"]["api"]["extraArgs"] == {
        "i": "7",
        "t": "true",
        "f": "false",
        "x": "1.5",
        "o": "on",
        "yy": "y",
        "empty": "",
        "n": "null",
        "on": "x",  # a key that YAML 1.1 would read as a boolean is quoted too
    }
    assert result.warnings == []
    assert '      t: "true"\n' in result.text
    assert '      yy: "y"\n' in result.text


def test_an_existing_unquoted_value_of_ours_is_fixed(ruamel):
    result = patch_k0s_config(fixture("unquoted-numbers.yaml"), {"audit-log-maxbackup": 5})
    assert result.changed
    assert '      audit-log-maxbackup: "5"\n' in result.text
    assert result.previous_extra_args["audit-log-maxbackup"] == 5


@pytest.mark.parametrize(
    "value", ["7", "true", "True", "null", "~", "", "y", "N", "on", "1e3", "0o17", "0x1F", "1_000", "1:20", ".5"]
)
def test_pyyaml_representer_quotes_strings_that_would_read_as_another_type(value):
    text = yaml.dump({"k": value}, Dumper=core._K0sDumper, default_flow_style=False)
    assert text.startswith(("k: '", 'k: "')), text
    assert yaml.safe_load(text) == {"k": value}


@pytest.mark.parametrize("value", ["kubernetes", "/var/log/k0s/audit.log", "NodeRestriction,PodSecurity", "8760h"])
def test_pyyaml_representer_leaves_plain_strings_plain(value):
    assert yaml.dump({"k": value}, Dumper=core._K0sDumper, default_flow_style=False) == f"k: {value}\n"


def test_hand_written_numbers_of_other_flags_are_kept_and_warned_about(engine):
    result = patch_k0s_config(fixture("unquoted-numbers.yaml"), {"audit-log-path": "-"})
    assert result.warnings == [
        'spec.api.extraArgs.audit-log-maxbackup is a number, not a string: k0s will refuse this file; quote it ("5").',
        'spec.api.extraArgs.profiling is a boolean, not a string: k0s will refuse this file; quote it ("false").',
        "spec.api.extraArgs.max-requests-inflight is a number, not a string: k0s will refuse this file; "
        'quote it ("400").',
        'spec.api.extraArgs.goaway-chance is a number, not a string: k0s will refuse this file; quote it ("0.001").',
    ]
    assert "      max-requests-inflight: 400\n" in result.text
    assert "      profiling: false\n" in result.text
    # k0s's JSON decoder names the Go field, not the map key, so its message cannot say which flag it was
    with pytest.raises(
        K0sConfigRefused,
        match=r"cannot unmarshal number into Go struct field ClusterSpec\.spec\.api\.extraArgs of type string",
    ):
        validate(result.text)
    # once those are set by the module too, k0s accepts the file
    fixed = {"audit-log-maxbackup": 5, "profiling": False, "max-requests-inflight": 400, "goaway-chance": 0.001}
    validate(patch_k0s_config(result.text, fixed).text)


# ------------------------------------------------------------------------------------------------- refusals

REFUSED = {
    "not-yaml.yaml": r"^not-yaml\.yaml is not valid YAML \(.* at line 8, column 1\): "
    r"fix it by hand, nothing was changed\.$",
    "multi-doc.yaml": r"^multi-doc\.yaml holds more than one YAML document: k0s reads exactly one ClusterConfig",
    "k0sctl-cluster.yaml": r"^k0sctl-cluster\.yaml is a k0sctl configuration "
    r"\(apiVersion k0sctl\.k0sproject\.io/v1beta1, kind Cluster\), not k0s's ClusterConfig: "
    r"this module edits the k0s\.yaml on each controller \(/etc/k0s/k0s\.yaml\)",
    "extra-args-list.yaml": r"^spec\.api\.extraArgs in extra-args-list\.yaml is a list, not a mapping",
    "extra-args-value-list.yaml": r"^spec\.api\.extraArgs\.enable-admission-plugins in extra-args-value-list\.yaml "
    r"is a list, "
    r"but k0s accepts only strings there: fix it by hand or list it in remove_extra_args\.$",
    "top-list.yaml": r"^top-list\.yaml is a list at the top level, not a mapping: it is not a k0s ClusterConfig\.$",
    "spec-list.yaml": r"^spec in spec-list\.yaml is a list, not a mapping",
    "api-string.yaml": r"^spec\.api in api-string\.yaml is a string, not a mapping",
    "wrong-kind.yaml": r"^wrong-kind\.yaml has apiVersion 'v1' and kind 'ConfigMap', but a k0s config file has "
    r"apiVersion k0s\.k0sproject\.io/v1beta1 and kind ClusterConfig\.$",
    "duplicate-key.yaml": r"^duplicate-key\.yaml has the key 'port' twice in one mapping \(line 8\): "
    r"k0s refuses duplicate keys",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_files_that_cannot_be_edited_safely_are_refused_in_one_sentence(name, engine):
    with pytest.raises(K0sConfigError) as caught:
        patch_k0s_config(fixture(name), AUDIT, source=name)
    message = str(caught.value)
    assert re.search(REFUSED[name], message), message
    assert "\n" not in message and message.endswith(".")


# What the real k0s says about each refused file (k0s's JSON decoder names Go fields, not the YAML keys).
K0S_REFUSES = {
    "not-yaml.yaml": r"yaml: line 8: found unexpected end of stream",
    "k0sctl-cluster.yaml": r'json: unknown field "hosts"',
    "extra-args-list.yaml": r"cannot unmarshal array into Go struct field ClusterSpec\.spec\.api\.extraArgs "
    r"of type map\[string\]string",
    "extra-args-value-list.yaml": r"cannot unmarshal array into Go struct field ClusterSpec\.spec\.api\.extraArgs "
    r"of type string",
    "top-list.yaml": r"cannot unmarshal array into Go value of type v1beta1\.config",
    "spec-list.yaml": r"cannot unmarshal array into Go struct field config\.spec of type v1beta1\.ClusterSpec",
    "api-string.yaml": r"cannot unmarshal string into Go struct field ClusterSpec\.spec\.api of type v1beta1\.apiSpec",
    "wrong-kind.yaml": r'json: unknown field "data"',  # the ConfigMap's data; k0s does not check kind itself
    "duplicate-key.yaml": r'line 8: key "port" already set in map',
}


def test_k0s_refuses_the_same_files_except_a_second_document():
    """The corpus is meaningful: what the module refuses, the real k0s refuses too, but for multi-doc.yaml.

    k0s v1.33 ACCEPTS a file of several YAML documents: it reads the first and ignores the rest, even a second
    document it would refuse on its own. The module refuses such a file all the same: an operator who put
    a second ClusterConfig there cannot tell which one k0s runs with.
    """
    assert sorted(K0S_REFUSES) == sorted(set(REFUSED) - {"multi-doc.yaml"})
    for name, message in K0S_REFUSES.items():
        with pytest.raises(K0sConfigRefused, match=message):
            validate(fixture(name))

    text = fixture("multi-doc.yaml")
    assert validate(text)["metadata"]["name"] == "k0s"  # the first document; the second is named k0s-two
    first, second = text.split("---\n")
    with pytest.raises(K0sConfigRefused, match='json: unknown field "bogus"'):
        validate(second + "spec:\n  bogus: 1\n")
    assert validate(f"{first}---\n{second}spec:\n  bogus: 1\n")["metadata"]["name"] == "k0s"


def test_empty_file_is_refused():
    with pytest.raises(K0sConfigError, match=r"^k0s\.yaml is empty: write a ClusterConfig into it"):
        load_cluster_config("# nothing here\n")


def test_a_bad_value_of_a_flag_can_be_removed_or_overwritten():
    text = fixture("extra-args-value-list.yaml")
    removed = patch_k0s_config(text, remove_extra_args=["enable-admission-plugins"])
    assert "extraArgs" not in removed.text
    replaced = patch_k0s_config(text, {"enable-admission-plugins": "NodeRestriction"})
    assert validate(replaced.text)["spec"]["api"]["extraArgs"] == {"enable-admission-plugins": "NodeRestriction"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", r"^extra_args has an empty or non-string flag name \(''\)"),
        (
            "--audit-log-path",
            r"^extra_args has the flag name '--audit-log-path', which starts with '-': write it as 'audit-log-path'",
        ),
        ("audit-log-path=/x", r"^extra_args has the flag name 'audit-log-path=/x', which contains '='"),
        ("audit log", r"^extra_args has the flag name 'audit log', which contains whitespace"),
    ],
)
def test_bad_flag_names_are_refused(name, message):
    with pytest.raises(K0sConfigError, match=message):
        normalize_extra_args({name: "x"})
    with pytest.raises(K0sConfigError, match=message.replace("extra_args", "remove_extra_args")):
        normalize_flag_names([name])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, r"^extra_args\.f has no value: give it a string, or list the flag in remove_extra_args to delete it\.$"),
        (["a", "b"], r"^extra_args\.f is a list, but kube-apiserver flags take one string"),
        ({"a": "b"}, r"^extra_args\.f is a mapping, but kube-apiserver flags take one string"),
    ],
)
def test_values_that_are_not_scalars_are_refused(value, message):
    with pytest.raises(K0sConfigError, match=message):
        patch_k0s_config(fixture("config-create.yaml"), {"f": value})


def test_a_flag_both_set_and_removed_is_refused():
    with pytest.raises(K0sConfigError, match=r"^The flag 'profiling' is both in extra_args and in remove_extra_args"):
        patch_k0s_config(fixture("commented.yaml"), {"profiling": "false"}, ["profiling"])


def test_removing_flags_that_are_not_there_changes_nothing():
    text = fixture("config-create.yaml")
    result = patch_k0s_config(text, remove_extra_args=["audit-log-path", "audit-log-path"])
    assert not result.changed and result.text is text


def test_without_ruamel_pyyaml_rewrites_the_file_and_never_tries_ruamel(monkeypatch, pyyaml):
    def used(*_args, **_kwargs):
        raise AssertionError("a ruamel.yaml renderer ran although HAS_RUAMEL is False")

    monkeypatch.setattr(core, "_render_ruamel_api_block", used)
    monkeypatch.setattr(core, "_render_ruamel_document", used)
    text = fixture("commented.yaml")
    result = patch_k0s_config(text, AUDIT)
    assert result.changed and result.warnings == []
    assert result.comments_dropped and comment_lines(result.text) == []
    assert validate(result.text)["spec"]["api"]["extraArgs"]["audit-log-maxage"] == "7"


def test_a_ruamel_failure_falls_back_to_pyyaml_with_a_warning(monkeypatch, ruamel):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "_render_ruamel_api_block", broken)
    monkeypatch.setattr(core, "_render_ruamel_document", broken)
    result = patch_k0s_config(fixture("commented.yaml"), AUDIT)
    assert result.warnings == ["ruamel.yaml could not round-trip it (boom), so PyYAML re-wrote k0s.yaml."]
    assert result.comments_dropped and comment_lines(result.text) == []  # PyYAML's rendering, not ruamel.yaml's
    validate(result.text)


# -------------------------------------------------------------------------------------------------- secrets

SECRETS = ("Sup3rS3cretPassw0rd", "MyK1neT0ken", "Ev3ntsPassw0rd")


def test_diff_text_never_shows_a_secret(engine):
    text = fixture("kine-password.yaml")
    after = patch_k0s_config(text, AUDIT).text
    assert all(secret in after for secret in SECRETS)  # the file keeps them
    for masked in (mask_secrets(text), mask_secrets(after)):
        assert not any(secret in masked for secret in SECRETS), masked
        assert f'dataSource: "{MASK}"' in masked
        assert f'db-token: "{MASK}"' in masked
        assert f"https://events:{MASK}@10.0.0.30" in masked
        assert "endpoint-timeout: 30s" in masked
        assert "audit-log-path" in masked or masked == mask_secrets(text)
        assert masked.count("\n") == (text if masked == mask_secrets(text) else after).count("\n")


def test_masking_covers_block_scalars_nested_values_and_comments():
    text = (
        "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nmetadata:\n  name: k0s\nspec:\n  storage:\n"
        "    type: etcd\n    etcd:\n      externalCluster:\n        clientKeyFile: /etc/k0s/etcd.key\n"
        "        endpoints:\n        - https://etcd:2379\n      clientSecret: |\n        first-hidden\n"
        "        second-hidden\n      tokens:\n      - hidden-1\n      - {inner: hidden-2}\n"
        "  # old: mysql://root:hidden-3@tcp(db:3306)/k0s\n  api:\n    port: 6443\n"
    )
    masked = mask_secrets(text)
    assert not re.search("hidden", masked), masked
    assert "clientKeyFile" in masked and "https://etcd:2379" in masked and "port: 6443" in masked
    yaml.safe_load(masked)  # still YAML


def test_masking_leaves_files_without_secrets_alone():
    text = fixture("config-create.yaml")
    assert mask_secrets(text) == text
    # a key that looks secret outside spec.storage is not a secret of the storage
    assert mask_secrets("spec:\n  api:\n    extraArgs:\n      token-auth-file: /x\n") == (
        "spec:\n  api:\n    extraArgs:\n      token-auth-file: /x\n"
    )


def test_has_comments_ignores_hashes_inside_values():
    assert has_comments(fixture("commented.yaml"))
    assert not has_comments("a: \"x # y\"\nb: c#d\nc: '#'\n")
    assert has_comments("a: b # c\n")
    assert not has_comments(fixture("config-create.yaml"))


# ------------------------------------------------------------------------------ the two ruamel.yaml renderers


def test_only_the_api_block_is_round_tripped(ruamel):
    odd = "  network: {provider:   kuberouter,   podCIDR: 10.244.0.0/16}   # spacing a round trip would change\n"
    text = fixture("commented.yaml").replace(
        "  network:\n    provider: kuberouter\n    podCIDR: 10.244.0.0/16\n    serviceCIDR: 10.96.0.0/12\n", odd
    )
    result = patch_k0s_config(text, AUDIT)
    assert odd in result.text
    assert result.warnings == []
    assert text.replace("      profiling: 'false'\n", "") == "".join(
        line for line in result.text.splitlines(True) if "audit-" not in line and "profiling" not in line
    )


@pytest.mark.parametrize("name", GOOD)
def test_the_whole_document_renderer_gives_the_same_data_and_keeps_comments(name, monkeypatch, ruamel):
    monkeypatch.setattr(core, "_render_ruamel_api_block", lambda *_args: None)
    text = fixture(name)
    result = patch_k0s_config(text, AUDIT)
    assert result.warnings == [] and not result.comments_dropped  # no fallback to PyYAML
    assert comment_lines(result.text) == comment_lines(text)
    assert validate(result.text) == validate(patch_k0s_config(text, AUDIT).text)
    assert not patch_k0s_config(result.text, AUDIT).changed


@pytest.mark.parametrize(
    "text",
    [
        fixture("custom-users.yaml").replace("\n", "\r\n"),
        fixture("custom-users.yaml").replace(
            "  api:\n    address: 10.1.2.3\n    port: 7443\n", "  api: {port: 7443}\n"
        ),
        fixture("existing-extra-args.yaml").rstrip("\n"),
        fixture("commented.yaml").replace("spec:\n  api:\n", "spec:\n  api:   # the API server\n"),
    ],
    ids=["crlf", "flow-api", "no-final-newline", "comment-on-api"],
)
def test_unusual_layouts_are_patched_correctly(text, ruamel):
    result = patch_k0s_config(text, AUDIT)
    assert result.warnings == [] and not result.comments_dropped  # no fallback to PyYAML
    decoded = validate(result.text)
    assert {key: decoded["spec"]["api"]["extraArgs"][key] for key in AUDIT} == AUDIT_AS_STRINGS
    assert not patch_k0s_config(result.text, AUDIT).changed


# ------------------------------------------------------------------------------ shapes that must be kept as they are

SHAPES = ["crlf.yaml", "anchors.yaml", "flow-api.yaml", "tabs-in-comments.yaml", "secrets-everywhere.yaml"]


def raw_fixture(name: str) -> str:
    text = (FIXTURES / name).read_bytes().decode("utf-8")  # read_text would turn CRLF into LF
    # crlf.yaml is stored with LF line breaks (ansible-test's line-endings check) and given with CRLF here.
    return text.replace("\n", "\r\n") if name == "crlf.yaml" else text


@pytest.mark.parametrize("name", SHAPES)
def test_other_shapes_are_kept_and_never_refused(name, ruamel):
    text = raw_fixture(name)
    result = patch_k0s_config(text, AUDIT)
    assert result.changed and result.warnings == [] and not result.comments_dropped, result.warnings
    decoded = validate(result.text)
    assert {key: decoded["spec"]["api"]["extraArgs"][key] for key in AUDIT} == AUDIT_AS_STRINGS
    assert without_extra_args(result.text) == without_extra_args(text)
    assert comment_lines(result.text) == comment_lines(text)
    assert not patch_k0s_config(result.text, AUDIT).changed
    removed = patch_k0s_config(result.text, remove_extra_args=list(AUDIT))
    assert yaml.safe_load(removed.text) == yaml.safe_load(text)


def test_crlf_line_breaks_stay_crlf(ruamel):
    text = raw_fixture("crlf.yaml")
    assert text.count("\r\n") == text.count("\n")
    result = patch_k0s_config(text, AUDIT)
    assert result.text.count("\r\n") == result.text.count("\n") > text.count("\n")
    assert patch_k0s_config(result.text, remove_extra_args=list(AUDIT)).text == text


def test_anchors_aliases_and_tabs_outside_spec_api_stay_byte_for_byte(ruamel):
    for name in ("anchors.yaml", "tabs-in-comments.yaml"):
        text = raw_fixture(name)
        result = patch_k0s_config(text, AUDIT)
        kept = [line for line in result.text.splitlines() if "audit-" not in line]
        if "    extraArgs:" not in text.splitlines():
            kept.remove("    extraArgs:")  # the one line the new flags bring besides themselves
        assert kept == text.splitlines()
    assert "values: *profile" in patch_k0s_config(raw_fixture("anchors.yaml"), AUDIT).text


def test_flow_style_api_is_patched_in_place(ruamel):
    result = patch_k0s_config(raw_fixture("flow-api.yaml"), AUDIT)
    assert "network: {provider: kuberouter}" in result.text
    assert "# flow style" in result.text


def test_when_no_ruamel_rendering_reads_back_pyyaml_rewrites_with_a_warning(monkeypatch, ruamel):
    monkeypatch.setattr(core, "_render_ruamel_api_block", lambda *_args: None)
    monkeypatch.setattr(core, "_render_ruamel_document", lambda *_args: "apiVersion: wrong\n")
    result = patch_k0s_config(raw_fixture("anchors.yaml"), AUDIT)
    assert "&profile" not in result.text and "*profile" not in result.text  # PyYAML's rendering expands aliases
    assert result.warnings == ["ruamel.yaml did not reproduce it faithfully, so PyYAML re-wrote k0s.yaml."]
    assert validate(result.text)["spec"]["workerProfiles"][1]["values"] == {"maxPods": 110}


# ----------------------------------------------------------------------------------------------- alias bombs


def billion_laughs(levels: int = 9) -> str:
    lines = ["apiVersion: k0s.k0sproject.io/v1beta1", "kind: ClusterConfig", "spec:", "  network:", '    a0: &a0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"    a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_bomb_is_refused_quickly():
    import time

    started = time.monotonic()
    with pytest.raises(K0sConfigError, match=r"^k0s\.yaml contains excessive aliasing .*: k0s refuses such a file"):
        patch_k0s_config(billion_laughs(), AUDIT)
    with pytest.raises(K0sConfigError, match="excessive aliasing"):
        mask_secrets_then_patch = patch_k0s_config  # the diff masking walks each node at most twice
        assert mask_secrets(billion_laughs()).count("lol") == 1
        mask_secrets_then_patch(billion_laughs(), {})
    assert time.monotonic() - started < 2


def test_moderate_aliasing_is_accepted_like_go_yaml_does():
    assert core._allowed_alias_ratio(1000) == 0.99
    assert core._allowed_alias_ratio(4_000_000) == pytest.approx(0.10)
    assert core._allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    patch_k0s_config(billion_laughs(levels=2), AUDIT)  # 100 expansions: far below go-yaml's bound
    patch_k0s_config(raw_fixture("anchors.yaml"), AUDIT)


def test_an_anchor_that_contains_itself_is_refused():
    text = "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nspec:\n  network: &n {self: *n}\n"
    with pytest.raises(K0sConfigError, match=r"anchor whose value contains an alias to itself \(line 4\)"):
        patch_k0s_config(text, AUDIT)


# --------------------------------------------------------------------------------------- secrets, everywhere

EVERYWHERE = ("T0kenAsUser", "KeepA1iv", "p@ss:w/o%rd", "H3lm@Pass", "Pr1vateKey", "Ap1T0ken", "C0mment@Pass")


def test_every_secret_of_the_file_is_masked_in_the_diff(engine):
    text = raw_fixture("secrets-everywhere.yaml")
    after = patch_k0s_config(text, AUDIT).text
    for masked in (mask_secrets(text), mask_secrets(after)):
        assert not [secret for secret in EVERYWHERE if secret in masked], masked
        assert f'authPass: "{MASK}"' in masked and f'password: "{MASK}"' in masked
        assert "https://********@idp.example.internal" in masked  # a user-only URL hides the user
        assert "service-account-key-file: /var/lib/k0s/pki/sa.pub" in masked  # a file name is no secret
        assert "username: robot" in masked
        yaml.safe_load(masked)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgres://u:p@ss@db/x", f"postgres://u:{MASK}@db/x"),
        ("mysql://u:a:b/c%40d@tcp(db)/x", f"mysql://u:{MASK}@tcp(db)/x"),
        ("https://tok3n@github.com/x", f"https://{MASK}@github.com/x"),
        ("/a#http://u:p1@h1;http://v:p2@h2", f"/a#http://u:{MASK}@h1;http://v:{MASK}@h2"),
        ("https://example.com/path", "https://example.com/path"),
        ("password: hunter2, port: 6443", f"password: {MASK}, port: 6443"),
        ("found 'token-auth-file' here", "found 'token-auth-file' here"),
    ],
)
def test_mask_message_hides_url_credentials_whatever_the_password_holds(text, masked):
    assert core.mask_message(text) == masked


def test_mask_data_and_mask_args():
    data = {"a": {"authPass": "x", "keyPath": "~/.ssh/k", "clientKeyFile": "/k"}, "l": ["-----BEGIN X-----\ny"]}
    assert core.mask_data(data) == {"a": {"authPass": MASK, "keyPath": MASK, "clientKeyFile": "/k"}, "l": [MASK]}
    args = ["--token=abc", "--client-secret", "def", "--audit-log-maxage=9", "--token-auth-file", "/f"]
    assert core.mask_args(args) == [
        f"--token={MASK}",
        "--client-secret",
        MASK,
        "--audit-log-maxage=9",
        "--token-auth-file",
        "/f",
    ]


# ------------------------------------------------------------------------------------ k0sctl's masking rule

K0SCTL_TEXT = """\
apiVersion: k0sctl.k0sproject.io/v1beta1
kind: Cluster
spec:
  hosts:
  - role: controller
    ssh: {address: hidden-1, port: 22022, bastion: {user: hidden-2}}
    SomeFutureConnection: {endpoint: hidden-3}
    privateAddress: 10.0.0.5
  host-settings-elsewhere:
    ssh: {address: visible-1}
  k0s:
    config:
      spec:
        storage: {type: kine, kine: {dataSource: "sqlite:///x"}, etcd: {peerAddress: hidden-4}}
        api:
          extraArgs: {authorization-mode: hidden-5, tls-private-key-file: hidden-6, audit-log-maxage: "7"}
        extensions:
          helm:
            repositories: [{name: visible-2, url: "https://visible-3", username: hidden-7, insecure: true}]
  # service-account-key: hidden-8
"""


def test_k0sctl_rule_hides_connections_storage_credentials_and_any_key_naming_a_secret():
    masked = mask_secrets(K0SCTL_TEXT, core.K0SCTL.mask)
    assert not re.search(r"hidden|22022", masked), masked
    assert all(f"visible-{n}" in masked for n in (1, 2, 3)) and "privateAddress: 10.0.0.5" in masked
    assert 'audit-log-maxage: "7"' in masked and "insecure: true" not in masked
    yaml.safe_load(masked)
    # k0s.yaml keeps its word rule: a file name is no secret there
    assert mask_secrets(K0SCTL_TEXT).count("hidden") == 7


@pytest.mark.parametrize(
    ("key", "word_rule", "k0sctl_rule"),
    [
        ("bearerAuth", False, True),
        ("token-auth-file", False, True),
        ("IdentityPwd", False, True),
        ("MyPasswordHash", True, True),
        ("audit-log-path", False, False),
        ("address", False, False),
    ],
)
def test_is_secret_key_by_rule(key, word_rule, k0sctl_rule):
    assert core.is_secret_key(key) is word_rule
    assert core.is_secret_key(key, core.K0SCTL.mask) is k0sctl_rule


def test_url_credentials_behind_quotes_and_escapes_are_hidden():
    text = 'a: \'http://u:p\'\'w@h\'\nb: "https://v:q\\x40r@h"\nc: ["http://w:s\\"t@h"]\n'
    masked = mask_secrets(text)
    assert not re.search(r"p'+w|q|s\\?\"?t", masked.replace("https", "")), masked
    assert yaml.safe_load(masked) == {
        "a": f"http://u:{MASK}@h",
        "b": f"https://v:{MASK}@h",
        "c": [f"http://w:{MASK}@h"],
    }


def test_a_numeric_secret_is_not_shown_in_the_quote_hint():
    text = "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nspec:\n  api:\n    extraArgs:\n"
    result = patch_k0s_config(text + "      oidc-client-secret: 424242\n", AUDIT)
    assert result.warnings and not [warning for warning in result.warnings if "424242" in warning]


# ---------------------------------------------------------------------------------------- line breaks, depth


@pytest.mark.parametrize(
    "breaks", [("\r\n", "\n"), ("\n", "\r\n", "\r\n"), ("\r", "\n")], ids=["crlf-lf", "lf-crlf", "cr-lf"]
)
def test_mixed_line_breaks_are_kept_line_by_line(ruamel, breaks):
    lines = raw_fixture("config-create.yaml").replace("\r\n", "\n").split("\n")[:-1]
    text = "".join(line + breaks[index % len(breaks)] for index, line in enumerate(lines))
    result = patch_k0s_config(text, AUDIT)
    kept = [line for line in result.text.splitlines(True) if "audit-" not in line and line.strip() != "extraArgs:"]
    assert kept == text.splitlines(True)
    assert patch_k0s_config(result.text, remove_extra_args=list(AUDIT)).text == text


@pytest.mark.parametrize("levels", [101, 2000])
def test_deep_nesting_is_refused_and_masking_does_not_recurse(levels):
    text = "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nspec:\n  x: " + "[" * levels + "]" * levels
    with pytest.raises(
        K0sConfigError, match=r"^k0s\.yaml nests mappings and lists more than 100 levels deep \(line 4\)"
    ):
        patch_k0s_config(text, AUDIT)
    assert mask_secrets(text + "\npassword: hunter2\n").endswith(f"password: {MASK}\n")
    # the limit itself: the document, spec and 98 lists are 100 levels
    patch_k0s_config(text.replace("[" * levels + "]" * levels, "[" * 98 + "]" * 98), AUDIT)
