# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""Pure logic of ``k0rdent.audit.k0s_config`` and ``k0rdent.audit.k0sctl_config``: patch kube-apiserver extraArgs.

``k0s_config`` edits ``spec.api.extraArgs`` of a k0s ``ClusterConfig`` (``k0s.yaml``); ``k0sctl_config`` edits
``spec.k0s.config.spec.api.extraArgs`` of a k0sctl ``Cluster`` (``k0sctl.yaml``). Both go through the same code,
parameterised by a :class:`Profile` (which document kind, which key path).

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

The patch works on text and returns text, so that the module, the unit tests and the benchmark all run the same
code. It parses the file strictly (one document, no duplicate keys, ``ClusterConfig``), decides whether anything
changes by comparing the parsed data before and after, and only then renders the new text:

- with ruamel.yaml (round-trip mode) the untouched parts keep their comments, quoting and key order;
- without it, PyYAML re-dumps the data in its original key order, and comments are lost (``comments_dropped``).

k0s decodes ``extraArgs`` as ``map[string]string``: every value this code writes is a double-quoted string, and the
rendered text is parsed again and compared with the intended data before it is handed back.

Every text or value this code hands to a caller for display goes through the masking functions of ``_secret_mask``
(:func:`mask_secrets` for a whole file, :func:`mask_data` for returned values, :func:`mask_message` for messages),
with the rule of the file's profile (``Profile.mask``).
"""

from __future__ import annotations

import copy
import difflib
import io
import re
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

try:
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.k0rdent.audit.plugins.module_utils._secret_mask import (
    K0SCTL_RULE,
    MASK,
    MAX_NESTING,
    WORD_RULE,
    MaskRule,
    NestingGuard,
    TooDeep,
    is_secret_key,
    mask_args,
    mask_data,
    mask_message,
    mask_secrets,
)

try:
    from ruamel.yaml import YAML as _RuamelYAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, FoldedScalarString, LiteralScalarString

    HAS_RUAMEL = True
    RUAMEL_IMPORT_ERROR = None
except ImportError:
    HAS_RUAMEL = False
    RUAMEL_IMPORT_ERROR = traceback.format_exc()

__all__ = [
    "API_VERSION",
    "CREATED_MARKER",
    "HAS_RUAMEL",
    "HAS_YAML",
    "K0SCTL",
    "K0SCTL_API_VERSION",
    "K0SCTL_KIND",
    "K0S_CONFIG",
    "KIND",
    "MASK",
    "MAX_NESTING",
    "MINIMAL_CLUSTER_CONFIG",
    "RUAMEL_IMPORT_ERROR",
    "YAML_IMPORT_ERROR",
    "K0sConfigError",
    "MaskRule",
    "PatchResult",
    "Profile",
    "has_comments",
    "is_secret_key",
    "load_cluster_config",
    "mask_args",
    "mask_data",
    "mask_message",
    "mask_secrets",
    "normalize_extra_args",
    "normalize_flag_names",
    "patch_extra_args",
    "patch_k0s_config",
    "patch_k0sctl_config",
]

API_VERSION = "k0s.k0sproject.io/v1beta1"
KIND = "ClusterConfig"

K0SCTL_API_VERSION = "k0sctl.k0sproject.io/v1beta1"
K0SCTL_KIND = "Cluster"

# The first line of a k0s.yaml this collection created. Only such a file is ever deleted again, and only when it
# holds nothing but the skeleton below.
CREATED_MARKER = "# Created by k0rdent.audit (k0s_config); k0s merges this file over its defaults."
# Never the output of `k0s config create`: that pins spec.api.address and says `storage: type: etcd`, and k0s merges
# the file over its defaults (pkg/config/cfgvars.go, NodeConfig -> MergedWithYAML), so on a `--single` (kine)
# controller a full default file switches the node to a new, empty etcd at the next restart. This skeleton is a
# complete configuration: every value it does not name stays k0s's default.
MINIMAL_CLUSTER_CONFIG = f"""\
{CREATED_MARKER}
apiVersion: {API_VERSION}
kind: {KIND}
metadata:
  name: k0s
spec: {{}}
"""

_STR_TAG = "tag:yaml.org,2002:str"
# go-yaml (what k0s reads with) takes these plain scalars for booleans or numbers where PyYAML sees strings
# (y/n, 1e3, 0o17, 1_000): the PyYAML fallback quotes them so that k0s still reads strings.
_GO_YAML_BOOLEANS = frozenset(("y", "Y", "n", "N"))
_GO_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_GO_YAML_INT = re.compile(r"[-+]?(0[bB][01]+|0[oO]?[0-7]+|0[xX][0-9a-fA-F]+|[0-9]+)\Z")
_EXPLICIT_START = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*---(?:[ \t]|$)", re.MULTILINE)


class K0sConfigError(ValueError):
    """The file or the requested change cannot be applied; the message is one sentence a person can act on."""


@dataclass(frozen=True)
class Profile:
    """Which file is edited: its kind and where ``extraArgs`` sits in it.

    ``config_path`` leads to the ClusterConfig (empty for a k0s.yaml, ``spec.k0s.config`` in a k0sctl.yaml);
    ``api_path`` to its ``spec.api``. ``prune`` is how many mappings above ``extraArgs`` are deleted again when
    removing the last flag leaves them empty (k0sctl reads a non-empty ``spec.k0s.config`` as the whole config,
    phase/configure_k0s.go Prepare, so an empty skeleton left there would change what k0sctl does).
    """

    name: str
    api_version: str
    kind: str
    config_path: tuple[str, ...]
    prune: int
    noun: str
    file_noun: str
    mask: MaskRule = WORD_RULE  # what this file's secrets are (see _secret_mask)

    @property
    def api_path(self) -> tuple[str, ...]:
        return (*self.config_path, "spec", "api")

    def dotted(self, *keys: str) -> str:
        return ".".join((*self.api_path, *keys))


K0S_CONFIG = Profile("k0s.yaml", API_VERSION, KIND, (), 0, "k0s ClusterConfig", "k0s config file")
K0SCTL = Profile(
    "k0sctl.yaml",
    K0SCTL_API_VERSION,
    K0SCTL_KIND,
    ("spec", "k0s", "config"),
    4,
    "k0sctl Cluster",
    "k0sctl.yaml",
    K0SCTL_RULE,
)


@dataclass(frozen=True)
class PatchResult:
    """Outcome of :func:`patch_k0s_config`. ``text`` is the input itself when nothing changes."""

    changed: bool
    text: str
    extra_args: dict[str, Any]
    previous_extra_args: dict[str, Any]
    comments_dropped: bool = False
    warnings: list[str] = field(default_factory=list)
    raw_args: list[Any] = field(default_factory=list)
    audit_raw_args: list[Any] = field(default_factory=list)
    # the file is a skeleton this collection created and holds nothing else after the change: delete it
    removes_file: bool = False
    # mappings on the way to extraArgs that did not exist and were created (k0sctl: "spec.k0s.config")
    created_sections: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------- input


def _describe(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _check_flag_name(option: str, name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise K0sConfigError(
            f"{option} has an empty or non-string flag name ({name!r}): give the kube-apiserver flag name."
        )
    if name.startswith("-"):
        raise K0sConfigError(
            f"{option} has the flag name {name!r}, which starts with '-': "
            f"write it as {name.lstrip('-')!r}, k0s adds the dashes itself."
        )
    if "=" in name:
        raise K0sConfigError(
            f"{option} has the flag name {name!r}, which contains '=': "
            "put the flag name in the key and its value in the value."
        )
    if re.search(r"\s", name):
        raise K0sConfigError(f"{option} has the flag name {name!r}, which contains whitespace: flag names have none.")
    return name


def _to_flag_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # Go spells booleans in lower case
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        raise K0sConfigError(
            f"extra_args.{name} has no value: give it a string, or list the flag in remove_extra_args to delete it."
        )
    raise K0sConfigError(
        f"extra_args.{name} is {_describe(value)}, but kube-apiserver flags take one string: "
        "join the items yourself (for example with commas)."
    )


def normalize_extra_args(extra_args: Mapping[str, Any] | None) -> dict[str, str]:
    """Check the flag names and turn every scalar value into the string k0s expects (``7`` -> ``"7"``)."""
    result: dict[str, str] = {}
    for name, value in (extra_args or {}).items():
        _check_flag_name("extra_args", name)
        result[name] = _to_flag_value(name, value)
    return result


def normalize_flag_names(names: Iterable[str] | None, extra_args: Mapping[str, Any] | None = None) -> list[str]:
    """Check the names of ``remove_extra_args``; a name that is also set in ``extra_args`` is a contradiction."""
    result: list[str] = []
    for name in names or ():
        _check_flag_name("remove_extra_args", name)
        if extra_args and name in extra_args:
            raise K0sConfigError(
                f"The flag {name!r} is both in extra_args and in remove_extra_args: keep it in only one of them."
            )
        if name not in result:
            result.append(name)
    return result


# ------------------------------------------------------------------------------------------------------- parsing

if HAS_YAML:
    _BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _DuplicateKeyError(yaml.constructor.ConstructorError):
        """A key twice in one mapping: PyYAML keeps the last one silently, k0s refuses the file."""

    class _StrictLoader(NestingGuard, _BaseLoader):  # type: ignore[misc, valid-type]
        """SafeLoader that refuses duplicate keys, as k0s (sigs.k8s.io/yaml UnmarshalStrict) does, and deep nesting."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, MappingNode):
                seen = set()
                for key_node, _value_node in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                    except TypeError:  # unhashable key: SafeLoader reports it itself
                        continue
                    if duplicate:
                        raise _DuplicateKeyError(None, None, repr(key), key_node.start_mark)
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    _StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_mapping)
    # sigs.k8s.io/yaml goes through JSON, which has no timestamp type: k0s reads an unquoted date as a string.
    _StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.constructor.SafeConstructor.construct_yaml_str)


# go-yaml refuses a document whose alias expansion dwarfs its size ("billion laughs"): gopkg.in/yaml.v3 decode.go
# (allowedAliasRatio, and the check in decoder.unmarshal) counts every node it decodes, and those decoded inside an
# alias; past 100 aliased and 1,000 decoded nodes the aliased share may not exceed 99 % up to 400,000 decodes,
# falling linearly to 10 % at 4,000,000. The same bound is modelled here on PyYAML's node graph, in which an alias
# is the anchored node itself, so that the expansion is refused before anything walks it.
_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _too_deep(source: str, line: int) -> K0sConfigError:
    return K0sConfigError(
        f"{source} nests mappings and lists more than {MAX_NESTING} levels deep (line {line}), which no k0s or "
        "k0sctl configuration does: fix it by hand, nothing was changed."
    )


def _check_aliases(root: Any, source: str) -> None:
    """Refuse excessive alias expansion, an anchor that contains itself (go-yaml refuses both) and deep nesting.

    The depth counted is that of the data the aliases expand to, so that no recursive reader of it (deepcopy, the
    comparison, the masking of returned values) can exhaust the stack.
    """
    decoded = aliased_count = 0
    seen: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[bool, Any, bool, int]] = [(True, root, False, 0)]
    while stack:
        entering, node, aliased, depth = stack.pop()
        key = id(node)
        if not entering:
            on_path.discard(key)
            continue
        if key in on_path:
            raise K0sConfigError(
                f"{source} has an anchor whose value contains an alias to itself (line {node.start_mark.line + 1}): "
                "k0s refuses it, fix it by hand."
            )
        decoded += 1
        aliased = aliased or key in seen  # a node met again is met through an alias
        seen.add(key)
        if aliased:
            aliased_count += 1
        if aliased_count > 100 and decoded > 1000 and aliased_count / decoded > _allowed_alias_ratio(decoded):
            raise K0sConfigError(
                f"{source} contains excessive aliasing (its aliases expand to far more data than it holds): "
                "k0s refuses such a file, write it out without the aliases."
            )
        if isinstance(node, ScalarNode):
            continue
        if depth >= MAX_NESTING:
            raise _too_deep(source, node.start_mark.line + 1)
        on_path.add(key)
        stack.append((False, node, aliased, depth))
        children = node.value if isinstance(node, SequenceNode) else [item for pair in node.value for item in pair]
        stack.extend((True, child, aliased, depth + 1) for child in reversed(children))


def _mark_text(error: Any) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        return ""
    return f" at line {mark.line + 1}, column {mark.column + 1}"


def _load_strict(text: str, source: str) -> Any:
    return _compose_and_load(text, source)[0]


def _compose_and_load(text: str, source: str) -> tuple[Any, Any]:
    """The single document of ``text`` as data and as the node tree (whose marks locate it in the text)."""
    if not HAS_YAML:
        raise K0sConfigError(f"PyYAML is required to read {source} but cannot be imported.")
    loader = _StrictLoader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            _check_aliases(node, source)
            documents.append((loader.construct_document(node), node))
            if len(documents) > 1:
                raise K0sConfigError(
                    f"{source} holds more than one YAML document: "
                    "k0s reads exactly one ClusterConfig, so keep only that one."
                )
    except TooDeep as exc:
        raise _too_deep(source, exc.mark.line + 1) from exc
    except _DuplicateKeyError as exc:
        raise K0sConfigError(
            f"{source} has the key {exc.problem} twice in one mapping (line {exc.problem_mark.line + 1}): "
            "k0s refuses duplicate keys, so remove one by hand."
        ) from exc
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "maximum nesting depth" in problem:  # libyaml's own limit (1,000 levels)
            mark = getattr(exc, "problem_mark", None)
            raise _too_deep(source, mark.line + 1 if mark else 1) from exc
        raise K0sConfigError(
            f"{source} is not valid YAML ({problem}{_mark_text(exc)}): fix it by hand, nothing was changed."
        ) from exc
    finally:
        loader.dispose()
    if not documents:
        raise K0sConfigError(
            f"{source} is empty: write a ClusterConfig into it (k0s config create) "
            "or delete it to let the module create one."
        )
    return documents[0]


def _mapping_or_none(value: Any, where: str, source: str) -> dict[str, Any] | None:
    """A missing or empty (null) section is fine, k0s fills in its defaults; anything else must be a mapping."""
    if value is None or isinstance(value, dict):
        return value
    raise K0sConfigError(
        f"{where} in {source} is {_describe(value)}, not a mapping: k0s cannot read it, fix it by hand."
    )


def load_cluster_config(text: str, source: str = "k0s.yaml", profile: Profile = K0S_CONFIG) -> dict[str, Any]:
    """Parse ``text`` strictly and check that it is a file of ``profile`` whose extraArgs can be edited."""
    return _load_document(text, source, profile)[0]


def _load_document(text: str, source: str, profile: Profile) -> tuple[dict[str, Any], Any]:
    document, node = _compose_and_load(text, source)
    if not isinstance(document, dict):
        raise K0sConfigError(
            f"{source} is {_describe(document)} at the top level, not a mapping: it is not a {profile.noun}."
        )
    api_version = document.get("apiVersion")
    kind = document.get("kind")
    is_k0sctl = (isinstance(api_version, str) and api_version.startswith("k0sctl.k0sproject.io/")) or kind == "Cluster"
    if profile is K0S_CONFIG and is_k0sctl:
        raise K0sConfigError(
            f"{source} is a k0sctl configuration (apiVersion {api_version}, kind {kind}), not k0s's ClusterConfig: "
            "this module edits the k0s.yaml on each controller (/etc/k0s/k0s.yaml), so point path at that file "
            "(k0rdent.audit.k0sctl_config edits k0sctl.yaml)."
        )
    if profile is K0SCTL and api_version == API_VERSION and kind == KIND:
        raise K0sConfigError(
            f"{source} is a k0s ClusterConfig (k0s.yaml), not a k0sctl configuration: "
            "use k0rdent.audit.k0s_config for it, or point path at the k0sctl.yaml."
        )
    if api_version != profile.api_version or kind != profile.kind:
        raise K0sConfigError(
            f"{source} has apiVersion {api_version!r} and kind {kind!r}, "
            f"but a {profile.file_noun} has apiVersion {profile.api_version} and kind {profile.kind}."
        )
    node_data: Any = document
    for depth, key in enumerate((*profile.api_path, "extraArgs")):
        node_data = _mapping_or_none(node_data.get(key), ".".join((*profile.api_path[:depth], key)), source)
        if node_data is None:
            break
        if depth + 1 == len(profile.config_path):
            _check_embedded_kind(node_data, ".".join(profile.config_path), source)
    return document, node


def _check_embedded_kind(config: Mapping[str, Any], where: str, source: str) -> None:
    """spec.k0s.config of a k0sctl.yaml may leave out apiVersion and kind (k0sctl adds them), but not get them wrong."""
    for key, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        if key in config and config[key] != wanted:
            raise K0sConfigError(
                f"{where}.{key} in {source} is {config[key]!r}, but k0sctl passes that mapping to k0s as a "
                f"ClusterConfig: set it to {wanted} or leave it out."
            )


def _section(document: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    node: Any = document
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _check_api_port(document: Mapping[str, Any], source: str, warnings: list[str], profile: Profile) -> None:
    """Warn when ``spec.api.port`` is something k0s refuses, since the file this module writes would not start.

    k0s pkg/apis/k0s/v1beta1/api.go: APISpec.Port is an int (a string or a boolean does not decode), 0 or absent
    means the default 6443 (SetDefaults), and Validate refuses anything outside 1-65535 (IsValidPortNum).
    """
    port = _section(document, "spec", "api").get("port")
    if port is None or (isinstance(port, int) and not isinstance(port, bool) and 0 <= port < 65536):
        return
    warnings.append(
        f"{profile.dotted('port')} in {source} is {port!r}, not a port number: k0s will refuse this file; "
        "set it to a number from 1 to 65535 or leave it out (6443)."
    )


def _go_quote_hint(value: Any, secret: bool = False) -> str:
    if secret:
        return f'"{MASK}", with the value itself'
    if isinstance(value, bool):
        return '"%s"' % ("true" if value else "false")
    if value is None:
        return '""'
    return f'"{value}"'


# ----------------------------------------------------------------------------------------------------- comparing


def _same(left: Any, right: Any) -> bool:
    """Equality of plain YAML data that, unlike ``==``, tells ``1`` from ``True`` and ``1`` from ``1.0``."""
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(_same(value, right[key]) for key, value in left.items())
        )
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


# ----------------------------------------------------------------------------------------------------- rendering


def _guess_indent(text: str) -> tuple[int, int, int]:
    """Mapping indent, sequence indent and dash offset of the file, so that ruamel.yaml re-emits it as it was."""
    mapping = offset = None
    previous_indent = -1
    previous_opens = False
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if previous_opens and indent >= previous_indent:
            if stripped.startswith("- ") or stripped == "-":
                if offset is None:
                    offset = indent - previous_indent
            elif mapping is None and indent > previous_indent:
                mapping = indent - previous_indent
        if mapping is not None and offset is not None:
            break
        content = stripped[2:] if stripped.startswith("- ") else stripped
        previous_indent = indent + (len(stripped) - len(content))
        previous_opens = content.split(" #", 1)[0].rstrip().endswith(":")
    mapping = mapping or 2
    offset = offset or 0
    return mapping, max(mapping, offset + 2), offset


_LINE_BREAK = re.compile(r"\r\n?|\n")


def _restore_line_breaks(original: str, rendered: str) -> str:
    """``rendered`` (LF) with the line breaks of ``original``: each line kept keeps its own, a new line takes the
    break of the line before it (the file's most common one at the top)."""
    old_lines, old_breaks = _lines_and_breaks(original)
    breaks = set(old_breaks) - {""}
    common = max(breaks, key=old_breaks.count) if breaks else "\n"
    new_lines = rendered.split("\n")
    if len(breaks) <= 1:
        return rendered.replace("\n", common)
    new_breaks = [""] * len(new_lines)
    head = 0
    while head < min(len(old_lines), len(new_lines)) - 1 and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < min(len(old_lines), len(new_lines)) - head - 1 and old_lines[-2 - tail] == new_lines[-2 - tail]:
        tail += 1
    matched: dict[int, int] = {index: index for index in range(head)}
    offset = len(old_lines) - len(new_lines)
    matched.update({index: index + offset for index in range(len(new_lines) - 1 - tail, len(new_lines) - 1)})
    middle = difflib.SequenceMatcher(
        None, old_lines[head : len(old_lines) - 1 - tail], new_lines[head : len(new_lines) - 1 - tail], autojunk=False
    )
    for block in middle.get_matching_blocks():
        for step in range(block.size):
            matched[head + block.b + step] = head + block.a + step
    previous = common
    for index in range(len(new_lines) - 1):  # the last piece follows the last break: it has none
        found = old_breaks[matched[index]] if index in matched else ""
        new_breaks[index] = previous = found or previous
    return "".join(line + brk for line, brk in zip(new_lines, new_breaks))


def _lines_and_breaks(text: str) -> tuple[list[str], list[str]]:
    """The lines of ``text`` and the break after each (the last line's is always empty)."""
    pieces = _LINE_BREAK.split(text)
    found = _LINE_BREAK.findall(text)
    return pieces, [*found, ""]


def _patched_data(
    document: dict[str, Any], new_extra_args: dict[str, Any] | None, drop_extra_args: bool, profile: Profile
) -> dict[str, Any]:
    """Copy only the path down to extraArgs: the rest is shared with ``document`` and never modified."""
    result = dict(document)
    chain = [result]
    for key in profile.api_path:
        child = dict(chain[-1].get(key) or {})
        chain[-1][key] = child
        chain.append(child)
    if drop_extra_args:
        chain[-1].pop("extraArgs", None)
        for depth in range(profile.prune):
            parent, key = chain[-2 - depth], profile.api_path[-1 - depth]
            if parent[key]:
                break
            del parent[key]
    else:
        chain[-1]["extraArgs"] = new_extra_args
    return result


if HAS_YAML:
    _BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class _QuotedStr(str):
        """A value this module writes: always emitted double-quoted so that k0s reads a string."""

    class _K0sDumper(_BaseDumper):  # type: ignore[misc, valid-type]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def _represent_quoted(dumper: Any, data: str) -> Any:
        return dumper.represent_scalar(_STR_TAG, str(data), style='"')

    _RESOLVER = yaml.resolver.Resolver()

    def _reads_as_non_string(data: str) -> bool:
        """Whether PyYAML or go-yaml would take this plain scalar for a number, boolean, null or date."""
        plain = data.replace("_", "")
        return bool(
            data in _GO_YAML_BOOLEANS
            or _GO_YAML_FLOAT.match(plain)
            or _GO_YAML_INT.match(plain)
            or _RESOLVER.resolve(ScalarNode, data, (True, False)) != _STR_TAG
        )

    def _represent_str(dumper: Any, data: str) -> Any:
        """Quote a string that a YAML reader would otherwise take for a number, boolean, null or date."""
        return dumper.represent_scalar(_STR_TAG, data, style="'" if _reads_as_non_string(data) else None)

    _K0sDumper.add_representer(_QuotedStr, _represent_quoted)
    _K0sDumper.add_representer(str, _represent_str)


def _render_pyyaml(
    data: dict[str, Any], ours: Iterable[str], indent: int, explicit_start: bool, profile: Profile
) -> str:
    extra = _section(data, *profile.api_path).get("extraArgs")
    if isinstance(extra, dict):
        for name in ours:
            extra[name] = _QuotedStr(extra[name])
    return yaml.dump(
        data,
        Dumper=_K0sDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        indent=indent,
        width=1 << 16,
        explicit_start=explicit_start,
    )


# ruamel.yaml keeps the full-line comments that follow an entry on that entry's deepest last value. When a key is
# appended after it or the entry is deleted, those lines must move, or a comment that introduces the next section
# ends up above our new flag, or disappears with the deleted one.


def _slot_of_entry(container: Any, key: Any) -> tuple[Any, Any, int]:
    while True:
        value = container[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value) and not value.fa.flow_style():
            container = value
            key = next(reversed(value)) if isinstance(value, CommentedMap) else len(value) - 1
            continue
        return container, key, 2 if isinstance(container, CommentedMap) else 0


def _take_trailing_lines(container: Any, key: Any) -> Any:
    """Detach the full-line comments after the entry ``key``; return them as a comment token (or None)."""
    holder, slot_key, slot = _slot_of_entry(container, key)
    items = holder.ca.items.get(slot_key)
    token = items[slot] if items and len(items) > slot else None
    if token is None:
        return None
    value = token.value
    if isinstance(holder[slot_key], (LiteralScalarString, FoldedScalarString)):
        head, rest = "", value  # a block scalar ate the line break: every comment line is a full line
    else:
        cut = value.find("\n")
        head, rest = (value, "") if cut < 0 else (value[: cut + 1], value[cut + 1 :])
    if not rest.strip():
        return None
    moved = copy.copy(token)
    moved.value = rest
    if head.strip():
        token.value = head
    else:
        items[slot] = None
    return moved


def _join_lines(first: Any, second: Any) -> Any:
    if first is None or second is None:
        return first if second is None else second
    first.value += second.value
    return first


def _give_trailing_lines(container: Any, key: Any, token: Any) -> None:
    holder, slot_key, slot = _slot_of_entry(container, key)
    items = holder.ca.items.setdefault(slot_key, [None, None, None, None])
    if items[slot] is not None:
        items[slot].value += token.value
        return
    if not isinstance(holder[slot_key], (LiteralScalarString, FoldedScalarString)):
        token.value = "\n" + token.value  # ends the entry's own line, which has no comment
    items[slot] = token


def _give_leading_lines(mapping: Any, token: Any) -> None:
    """Put comment lines before the first entry of ``mapping`` (ruamel.yaml prints the first line at the column)."""
    stripped = token.value.lstrip(" ")
    token.column = len(token.value) - len(stripped)
    token.value = stripped
    mapping.ca.comment = [None, [token]]


def _rt_append(mapping: Any, key: str, value: Any) -> None:
    trailing = _take_trailing_lines(mapping, next(reversed(mapping))) if len(mapping) else None
    mapping[key] = value
    if trailing is not None:
        _give_trailing_lines(mapping, key, trailing)


def _rt_delete(mapping: Any, key: str, carried: Any = None) -> Any:
    """Delete ``key``, keeping the comment lines after it (and ``carried``, comment lines from inside it).

    Returns those lines when no entry is left before them to follow.
    """
    trailing = _join_lines(carried, _take_trailing_lines(mapping, key))
    keys = list(mapping)
    position = keys.index(key)
    del mapping[key]
    if trailing is not None and position > 0:
        _give_trailing_lines(mapping, keys[position - 1], trailing)
        return None
    return trailing


def _rt_child(parent: Any, key: str) -> Any:
    value = parent.get(key)
    if isinstance(value, CommentedMap):
        if not value and value.fa.flow_style():
            value.fa.set_block_style()  # `spec: {}` becomes a block mapping once it has entries
        return value
    child = CommentedMap()
    if key in parent:
        parent[key] = child  # an empty (null) section is replaced in place, its comments stay
    else:
        _rt_append(parent, key, child)
    return child


def _rt_edit_api(api: Any, set_args: Mapping[str, str], remove_args: Iterable[str], drop_extra_args: bool) -> Any:
    extra = _rt_child(api, "extraArgs")
    orphan = None  # comment lines that followed a deleted first entry
    for name in remove_args:
        if name in extra:
            orphan = _join_lines(orphan, _rt_delete(extra, name))
    for name, value in set_args.items():
        current = extra.get(name)
        if isinstance(current, str) and current == value:
            continue  # already right: keep it quoted the way it is
        if name in extra:
            extra[name] = DoubleQuotedScalarString(value)
        else:
            key = DoubleQuotedScalarString(name) if _reads_as_non_string(name) else name
            _rt_append(extra, key, DoubleQuotedScalarString(value))
    if drop_extra_args and not extra:
        orphan = _rt_delete(api, "extraArgs", orphan)
        if orphan is not None and len(api):
            _give_leading_lines(api, orphan)
            orphan = None
    elif orphan is not None:
        _give_leading_lines(extra, orphan)
        orphan = None
    return orphan  # comment lines nothing is left to carry (the caller may prune api itself)


def _ruamel(text: str) -> Any:
    mapping, sequence, offset = _guess_indent(text)
    yaml_rt = _RuamelYAML(typ="rt")
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 1 << 16  # never fold a long value onto a second line
    yaml_rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml_rt


def _dump(yaml_rt: Any, data: Any) -> str:
    stream = io.StringIO()
    yaml_rt.dump(data, stream)
    return stream.getvalue()


def _render_ruamel_document(
    text: str,
    root: Any,
    set_args: Mapping[str, str],
    remove_args: Iterable[str],
    drop_extra_args: bool,
    profile: Profile = K0S_CONFIG,
) -> str | None:
    """Round-trip the whole file through ruamel.yaml."""
    yaml_rt = _ruamel(text)
    yaml_rt.explicit_start = bool(_EXPLICIT_START.match(text))
    document = yaml_rt.load(text)
    chain = [document]
    missing = None
    for depth, key in enumerate(profile.api_path):
        if key not in chain[-1] and depth < len(profile.api_path) - 1:
            missing = depth
            break
        chain.append(_rt_child(chain[-1], key))
    if missing is not None:
        # build the missing sections whole before attaching them, so that the comment lines after the entry they
        # follow end up after the new flags, not between a new key and its content
        top = node = CommentedMap()
        for key in profile.api_path[missing + 1 :]:
            node[key] = CommentedMap()
            node = node[key]
        _rt_edit_api(node, set_args, remove_args, drop_extra_args)
        _rt_append(chain[-1], profile.api_path[missing], top)
        return _dump(yaml_rt, document)
    orphan = _rt_edit_api(chain[-1], set_args, remove_args, drop_extra_args)
    if drop_extra_args:
        for depth in range(profile.prune):
            parent, key = chain[-2 - depth], profile.api_path[-1 - depth]
            if len(parent[key]):
                break
            orphan = _rt_delete(parent, key, orphan)
            if orphan is not None and len(parent):
                _give_leading_lines(parent, orphan)
                orphan = None
    return _dump(yaml_rt, document)


def _render_ruamel_api_block(
    text: str,
    root: Any,
    set_args: Mapping[str, str],
    remove_args: Iterable[str],
    drop_extra_args: bool,
    profile: Profile = K0S_CONFIG,
) -> str | None:
    """Round-trip only the lines of the ``spec.api`` block mapping and splice them back; None when it cannot.

    ruamel.yaml's round-trip parser is pure Python: on a 2,000-line file with many worker profiles it takes most
    of a second, while the api block is a few dozen lines. Every other line stays byte for byte as it was. The
    full-line comments right after the block stay outside it, so new flags go above them.
    """
    if any(char in text for char in "\r\x85\u2028\u2029"):
        return None  # line numbers of the parser would not match str.split("\n")
    api = root
    for wanted in profile.api_path:
        if not isinstance(api, MappingNode):
            return None
        api = next((v for k, v in api.value if isinstance(k, ScalarNode) and k.value == wanted), None)
    if not isinstance(api, MappingNode) or api.flow_style or not api.value:
        return None
    lines = text.split("\n")
    first, column = api.start_mark.line, api.start_mark.column
    last = api.end_mark.line
    if last < len(lines) and lines[last][: api.end_mark.column].strip():
        last += 1  # the block runs to the end of a file without a final line break
    while last > first and (not lines[last - 1].strip() or lines[last - 1].lstrip().startswith("#")):
        last -= 1
    block = lines[first:last]
    if lines[first][:column].strip() or any(
        line.strip() and len(line) - len(line.lstrip(" ")) < column for line in block
    ):
        return None
    yaml_rt = _ruamel(text)
    mapping = yaml_rt.load("\n".join(line[column:] for line in block) + "\n")
    if not isinstance(mapping, CommentedMap):
        return None
    _rt_edit_api(mapping, set_args, remove_args, drop_extra_args)
    if not mapping:
        return None  # the api block goes: the whole-document renderer deletes it with its comments
    indent = " " * column
    rendered = [indent + line if line else line for line in _dump(yaml_rt, mapping).rstrip("\n").split("\n")]
    return "\n".join(lines[:first] + rendered + lines[last:])


# -------------------------------------------------------------------------------------------------------- public


def has_comments(text: str) -> bool:
    """Whether ``text`` holds a YAML comment (a ``#`` outside every scalar)."""
    if "#" not in text:
        return False
    scalars = [
        (token.start_mark.index, token.end_mark.index)
        for token in yaml.scan(text, Loader=yaml.SafeLoader)
        if isinstance(token, yaml.ScalarToken)
    ]
    for match in re.finditer(r"(?:^|[ \t])#", text, re.MULTILINE):
        position = match.end() - 1
        if not any(start <= position < end for start, end in scalars):
            return True
    return False


def patch_k0s_config(
    text: str,
    extra_args: Mapping[str, Any] | None = None,
    remove_extra_args: Iterable[str] | None = None,
    source: str = "k0s.yaml",
) -> PatchResult:
    """Set ``extra_args`` and delete ``remove_extra_args`` in ``spec.api.extraArgs`` of the k0s.yaml ``text``.

    ``source`` names the file in messages. ruamel.yaml renders the change when it can be imported (``HAS_RUAMEL``),
    PyYAML otherwise. Raises :class:`K0sConfigError` for anything that cannot be applied safely; nothing is
    half-done because nothing is written here.
    """
    return patch_extra_args(text, extra_args, remove_extra_args, source, K0S_CONFIG)


def patch_k0sctl_config(
    text: str,
    extra_args: Mapping[str, Any] | None = None,
    remove_extra_args: Iterable[str] | None = None,
    source: str = "k0sctl.yaml",
) -> PatchResult:
    """The same as :func:`patch_k0s_config` for ``spec.k0s.config.spec.api.extraArgs`` of a k0sctl.yaml."""
    return patch_extra_args(text, extra_args, remove_extra_args, source, K0SCTL)


def _raw_args(api: Mapping[str, Any], source: str, profile: Profile, warnings: list[str]) -> list[Any]:
    raw = api.get("rawArgs")
    if raw is None:
        return []
    if not isinstance(raw, list):
        warnings.append(f"{profile.dotted('rawArgs')} in {source} is {_describe(raw)}, not a list: k0s will refuse it.")
        return []
    return list(raw)


def _audit_raw_args(raw: list[Any]) -> list[Any]:
    """rawArgs entries that set an --audit-* flag (with the next entry when it holds the value).

    k0s appends rawArgs after the flags built from extraArgs (pkg/component/controller/apiserver.go), and the last
    occurrence of a flag wins, so these override whatever extraArgs says.
    """
    result: list[Any] = []
    for index, entry in enumerate(raw):
        if isinstance(entry, str) and re.match(r"--?audit-", entry):
            result.append(entry)
            following = raw[index + 1] if index + 1 < len(raw) else None
            if "=" not in entry and isinstance(following, str) and not following.startswith("-"):
                result.append(following)
    return result


def _is_created_skeleton(text: str, data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is the untouched skeleton of a file this collection created (see CREATED_MARKER)."""
    first, _newline, rest = text.partition("\n")
    if first.rstrip("\r") != CREATED_MARKER or has_comments(rest):
        return False
    spec = data.get("spec")
    api = spec.get("api") if isinstance(spec, dict) else None
    return (
        set(data) <= {"apiVersion", "kind", "metadata", "spec"}
        and data.get("metadata") == {"name": "k0s"}
        and (spec is None or (isinstance(spec, dict) and set(spec) <= {"api"}))
        and not api
    )


def _missing_sections(document: Mapping[str, Any], profile: Profile) -> list[str]:
    node: Any = document
    for depth, key in enumerate(profile.config_path):
        node = node.get(key) if isinstance(node, Mapping) else None
        if not node:
            return [".".join(profile.config_path[: depth + 1])]
    return []


def patch_extra_args(
    text: str,
    extra_args: Mapping[str, Any] | None = None,
    remove_extra_args: Iterable[str] | None = None,
    source: str = "k0s.yaml",
    profile: Profile = K0S_CONFIG,
) -> PatchResult:
    """Set and delete flags in the extraArgs of ``profile`` in ``text`` (see :func:`patch_k0s_config`).

    The text is patched with LF line breaks and handed back with each line's own break again (CRLF, LF or CR, also
    mixed in one file); a new line gets the break of the line before it.
    """
    set_args = normalize_extra_args(extra_args)
    remove_args = normalize_flag_names(remove_extra_args, set_args)

    work = _LINE_BREAK.sub("\n", text) if "\r" in text else text
    document, root = _load_document(work, source, profile)
    warnings: list[str] = []
    config = _section(document, *profile.config_path) if profile.config_path else document
    api = _section(document, *profile.api_path)
    current = api.get("extraArgs")
    previous = dict(current) if isinstance(current, dict) else {}
    raw = _raw_args(api, source, profile, warnings)

    new_extra = dict(previous)
    removed = [name for name in remove_args if name in new_extra]
    for name in removed:
        del new_extra[name]
    new_extra.update(set_args)
    for name, value in new_extra.items():
        if name in set_args or value is None or isinstance(value, str):
            continue  # k0s reads a null value as "" and passes --name= on
        if isinstance(value, (dict, list)):
            raise K0sConfigError(
                f"{profile.dotted('extraArgs', name)} in {source} is {_describe(value)}, but k0s accepts only strings "
                "there: fix it by hand or list it in remove_extra_args."
            )
        warnings.append(
            f"{profile.dotted('extraArgs', name)} is {_describe(value)}, not a string: "
            f"k0s will refuse this file; quote it ({_go_quote_hint(value, is_secret_key(name, profile.mask))})."
        )

    drop_extra_args = bool(removed) and not new_extra
    changed = not _same(previous, new_extra) or (drop_extra_args and "extraArgs" in api)
    _check_api_port(config, source, warnings, profile)
    common = dict(
        previous_extra_args=previous,
        warnings=warnings,
        raw_args=raw,
        audit_raw_args=_audit_raw_args(raw),
    )
    if not changed:
        return PatchResult(changed=False, text=text, extra_args=previous, **common)

    expected = _patched_data(document, new_extra, drop_extra_args, profile)
    rendered = None
    if HAS_RUAMEL:
        problem = "did not reproduce it faithfully"
        for render in (_render_ruamel_api_block, _render_ruamel_document):
            try:
                candidate = render(work, root, set_args, remove_args, drop_extra_args, profile)
                if candidate is not None and _same(_load_strict(candidate, source), expected):
                    rendered = candidate
                    break
            except Exception as exc:  # ruamel.yaml reads a few things PyYAML does not: fall back rather than fail
                first_line = (str(exc) or type(exc).__name__).splitlines()[0]
                problem = f"could not round-trip it ({mask_message(first_line, profile.mask)})"
        if rendered is None:
            warnings.append(f"ruamel.yaml {problem}, so PyYAML re-wrote {source}.")
    comments_dropped = False
    if rendered is None:
        rendered = _render_pyyaml(
            copy.deepcopy(expected), set_args, _guess_indent(work)[0], bool(_EXPLICIT_START.match(work)), profile
        )
        if not _same(_load_strict(rendered, source), expected):
            raise K0sConfigError(
                f"The new content of {source} did not read back as intended, so it was not written: please report this "
                "with the file."
            )
        marked = work.startswith(CREATED_MARKER + "\n")
        comments_dropped = has_comments(work[len(CREATED_MARKER) + 1 :] if marked else work)
        if marked:
            rendered = CREATED_MARKER + "\n" + rendered  # the marker says who made the file; keep it
    if work is not text:
        rendered = _restore_line_breaks(text, rendered)
    created_sections = [] if drop_extra_args else _missing_sections(document, profile)
    if created_sections and profile is K0SCTL:
        # phase/configure_k0s.go (Prepare): a non-empty spec.k0s.config is the whole base config; an absent one
        # makes k0sctl start from the leader's existing k0s.yaml (or from `k0s config create`)
        warnings.append(
            f"{source} had no spec.k0s.config, so k0sctl built each k0s.yaml from the leader's existing one; now it "
            "builds them from spec.k0s.config, which holds only these flags: copy any other settings of the "
            "leader's /etc/k0s/k0s.yaml into spec.k0s.config before the next k0sctl apply."
        )
    return PatchResult(
        changed=True,
        text=rendered,
        extra_args=new_extra,
        comments_dropped=comments_dropped,
        removes_file=profile is K0S_CONFIG and drop_extra_args and _is_created_skeleton(work, expected),
        created_sections=created_sections,
        **common,
    )
