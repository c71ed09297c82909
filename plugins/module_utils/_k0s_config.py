# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""Pure logic of the ``k0rdent.audit.k0s_config`` module: patch ``spec.api.extraArgs`` of a k0s ``k0s.yaml``.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

The patch works on text and returns text, so that the module, the unit tests and the benchmark all run the same
code. It parses the file strictly (one document, no duplicate keys, ``ClusterConfig``), decides whether anything
changes by comparing the parsed data before and after, and only then renders the new text:

- with ruamel.yaml (round-trip mode) the untouched parts keep their comments, quoting and key order;
- without it, PyYAML re-dumps the data in its original key order, and comments are lost (``comments_dropped``).

k0s decodes ``extraArgs`` as ``map[string]string``: every value this code writes is a double-quoted string, and the
rendered text is parsed again and compared with the intended data before it is handed back.
"""

from __future__ import annotations

import copy
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
    "DEFAULT_API_PORT",
    "DEFAULT_KUBE_APISERVER_USER",
    "HAS_RUAMEL",
    "HAS_YAML",
    "KIND",
    "MASK",
    "MINIMAL_CLUSTER_CONFIG",
    "RUAMEL_IMPORT_ERROR",
    "YAML_IMPORT_ERROR",
    "K0sConfigError",
    "PatchResult",
    "has_comments",
    "load_cluster_config",
    "mask_secrets",
    "normalize_extra_args",
    "normalize_flag_names",
    "patch_k0s_config",
]

API_VERSION = "k0s.k0sproject.io/v1beta1"
KIND = "ClusterConfig"
DEFAULT_API_PORT = 6443
DEFAULT_KUBE_APISERVER_USER = "kube-apiserver"
MASK = "********"

# What `k0s config create` would give minus the machine-specific parts: k0s fills in every default itself.
MINIMAL_CLUSTER_CONFIG = """\
apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
  namespace: kube-system
spec: {}
"""

_STR_TAG = "tag:yaml.org,2002:str"
# go-yaml (what k0s reads with) takes these plain scalars for booleans or numbers where PyYAML sees strings
# (y/n, 1e3, 0o17, 1_000): the PyYAML fallback quotes them so that k0s still reads strings.
_GO_YAML_BOOLEANS = frozenset(("y", "Y", "n", "N"))
_GO_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_GO_YAML_INT = re.compile(r"[-+]?(0[bB][01]+|0[oO]?[0-7]+|0[xX][0-9a-fA-F]+|[0-9]+)\Z")
_STORAGE = ("spec", "storage")
_SECRET_KEY = re.compile(r"password|secret|token|key|datasource", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@'\"]*:)[^\s@/'\"]+@")
_EXPLICIT_START = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*---(?:[ \t]|$)", re.MULTILINE)


class K0sConfigError(ValueError):
    """The file or the requested change cannot be applied; the message is one sentence a person can act on."""


@dataclass(frozen=True)
class PatchResult:
    """Outcome of :func:`patch_k0s_config`. ``text`` is the input itself when nothing changes."""

    changed: bool
    text: str
    extra_args: dict[str, Any]
    previous_extra_args: dict[str, Any]
    kube_apiserver_user: str
    api_port: int
    engine: str
    comments_dropped: bool = False
    warnings: list[str] = field(default_factory=list)


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

    class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
        """SafeLoader that refuses duplicate keys, as k0s (sigs.k8s.io/yaml UnmarshalStrict) does."""

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
            documents.append((loader.construct_document(node), node))
            if len(documents) > 1:
                raise K0sConfigError(
                    f"{source} holds more than one YAML document: "
                    "k0s reads exactly one ClusterConfig, so keep only that one."
                )
    except _DuplicateKeyError as exc:
        raise K0sConfigError(
            f"{source} has the key {exc.problem} twice in one mapping (line {exc.problem_mark.line + 1}): "
            "k0s refuses duplicate keys, so remove one by hand."
        ) from exc
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
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


def load_cluster_config(text: str, source: str = "k0s.yaml") -> dict[str, Any]:
    """Parse ``text`` strictly and check that it is a k0s ClusterConfig whose ``spec.api.extraArgs`` can be edited."""
    return _load_cluster_config(text, source)[0]


def _load_cluster_config(text: str, source: str) -> tuple[dict[str, Any], Any]:
    document, node = _compose_and_load(text, source)
    if not isinstance(document, dict):
        raise K0sConfigError(
            f"{source} is {_describe(document)} at the top level, not a mapping: it is not a k0s ClusterConfig."
        )
    api_version = document.get("apiVersion")
    kind = document.get("kind")
    if (isinstance(api_version, str) and api_version.startswith("k0sctl.k0sproject.io/")) or kind == "Cluster":
        raise K0sConfigError(
            f"{source} is a k0sctl configuration (apiVersion {api_version}, kind {kind}), not k0s's ClusterConfig: "
            "this module edits the k0s.yaml on each controller (/etc/k0s/k0s.yaml), so point path at that file."
        )
    if api_version != API_VERSION or kind != KIND:
        raise K0sConfigError(
            f"{source} has apiVersion {api_version!r} and kind {kind!r}, "
            f"but a k0s config file has apiVersion {API_VERSION} and kind {KIND}."
        )
    spec = _mapping_or_none(document.get("spec"), "spec", source) or {}
    api = _mapping_or_none(spec.get("api"), "spec.api", source) or {}
    _mapping_or_none(api.get("extraArgs"), "spec.api.extraArgs", source)
    return document, node


def _section(document: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    node: Any = document
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _kube_apiserver_user(document: Mapping[str, Any]) -> str:
    user = _section(document, "spec", "installConfig", "users").get("kubeAPIserverUser")
    return user if isinstance(user, str) and user else DEFAULT_KUBE_APISERVER_USER


def _api_port(document: Mapping[str, Any], source: str, warnings: list[str]) -> int:
    port = _section(document, "spec", "api").get("port")
    if port is None:
        return DEFAULT_API_PORT
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        return port
    warnings.append(
        f"spec.api.port in {source} is {port!r}, not a port number: "
        f"k0s will refuse it; reporting the default {DEFAULT_API_PORT}."
    )
    return DEFAULT_API_PORT


def _go_quote_hint(value: Any) -> str:
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


def _patched_data(
    document: dict[str, Any], new_extra_args: dict[str, Any] | None, drop_extra_args: bool
) -> dict[str, Any]:
    """Copy only the path down to extraArgs: the rest is shared with ``document`` and never modified."""
    result = dict(document)
    spec = dict(result.get("spec") or {})
    api = dict(spec.get("api") or {})
    if drop_extra_args:
        api.pop("extraArgs", None)
    else:
        api["extraArgs"] = new_extra_args
    spec["api"] = api
    result["spec"] = spec
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


def _render_pyyaml(data: dict[str, Any], ours: Iterable[str], indent: int, explicit_start: bool) -> str:
    extra = data["spec"]["api"].get("extraArgs")
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


def _rt_edit_api(api: Any, set_args: Mapping[str, str], remove_args: Iterable[str], drop_extra_args: bool) -> None:
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
    elif orphan is not None:
        _give_leading_lines(extra, orphan)


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
    text: str, root: Any, set_args: Mapping[str, str], remove_args: Iterable[str], drop_extra_args: bool
) -> str | None:
    """Round-trip the whole file through ruamel.yaml."""
    yaml_rt = _ruamel(text)
    yaml_rt.explicit_start = bool(_EXPLICIT_START.match(text))
    document = yaml_rt.load(text)
    _rt_edit_api(_rt_child(_rt_child(document, "spec"), "api"), set_args, remove_args, drop_extra_args)
    return _dump(yaml_rt, document)


def _render_ruamel_api_block(
    text: str, root: Any, set_args: Mapping[str, str], remove_args: Iterable[str], drop_extra_args: bool
) -> str | None:
    """Round-trip only the lines of the ``spec.api`` block mapping and splice them back; None when it cannot.

    ruamel.yaml's round-trip parser is pure Python: on a 2,000-line file with many worker profiles it takes most
    of a second, while the api block is a few dozen lines. Every other line stays byte for byte as it was. The
    full-line comments right after the block stay outside it, so new flags go above them.
    """
    if any(char in text for char in "\r\x85\u2028\u2029"):
        return None  # line numbers of the parser would not match str.split("\n")
    api = None
    for key, value in root.value if isinstance(root, MappingNode) else ():
        if key.value == "spec" and isinstance(value, MappingNode):
            api = next((v for k, v in value.value if k.value == "api"), None)
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
        return None
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
    use_ruamel: bool | None = None,
) -> PatchResult:
    """Set ``extra_args`` and delete ``remove_extra_args`` in ``spec.api.extraArgs`` of the k0s.yaml ``text``.

    ``source`` names the file in messages. ``use_ruamel``: None uses ruamel.yaml when it can be imported, False
    forces the PyYAML fallback, True requires ruamel.yaml. Raises :class:`K0sConfigError` for anything that cannot
    be applied safely; nothing is half-done because nothing is written here.
    """
    set_args = normalize_extra_args(extra_args)
    remove_args = normalize_flag_names(remove_extra_args, set_args)
    if use_ruamel and not HAS_RUAMEL:
        raise K0sConfigError("ruamel.yaml was requested but cannot be imported.")
    engine = "ruamel" if (HAS_RUAMEL if use_ruamel is None else use_ruamel) else "pyyaml"

    document, root = _load_cluster_config(text, source)
    warnings: list[str] = []
    current = _section(document, "spec", "api").get("extraArgs")
    previous = dict(current) if isinstance(current, dict) else {}

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
                f"spec.api.extraArgs.{name} in {source} is {_describe(value)}, but k0s accepts only strings there: "
                "fix it by hand or list it in remove_extra_args."
            )
        warnings.append(
            f"spec.api.extraArgs.{name} is {_describe(value)}, not a string: "
            f"k0s will refuse this file; quote it ({_go_quote_hint(value)})."
        )

    drop_extra_args = bool(removed) and not new_extra
    changed = not _same(previous, new_extra) or (drop_extra_args and "extraArgs" in _section(document, "spec", "api"))
    common = dict(
        previous_extra_args=previous,
        kube_apiserver_user=_kube_apiserver_user(document),
        api_port=_api_port(document, source, warnings),
        engine=engine,
        warnings=warnings,
    )
    if not changed:
        return PatchResult(changed=False, text=text, extra_args=previous, **common)

    expected = _patched_data(document, new_extra, drop_extra_args)
    rendered = None
    if engine == "ruamel":
        problem = "did not reproduce it faithfully"
        for render in (_render_ruamel_api_block, _render_ruamel_document):
            try:
                candidate = render(text, root, set_args, remove_args, drop_extra_args)
            except Exception as exc:  # ruamel.yaml reads a few things PyYAML does not: fall back rather than fail
                problem = f"could not round-trip it ({exc})"
                continue
            if candidate is not None and _same(_load_strict(candidate, source), expected):
                rendered = candidate
                break
        if rendered is None:
            warnings.append(f"ruamel.yaml {problem}, so PyYAML re-wrote {source}.")
            engine = common["engine"] = "pyyaml"
    comments_dropped = False
    if rendered is None:
        rendered = _render_pyyaml(
            copy.deepcopy(expected), set_args, _guess_indent(text)[0], bool(_EXPLICIT_START.match(text))
        )
        if not _same(_load_strict(rendered, source), expected):
            raise K0sConfigError(
                f"The new content of {source} did not read back as intended, so it was not written: please report this "
                "with the file."
            )
        comments_dropped = has_comments(text)
    return PatchResult(changed=True, text=rendered, extra_args=new_extra, comments_dropped=comments_dropped, **common)


def _scalar_nodes(node: Any) -> Iterable[Any]:
    if isinstance(node, ScalarNode):
        yield node
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _scalar_nodes(item)
    elif isinstance(node, MappingNode):
        for _key_node, value_node in node.value:
            yield from _scalar_nodes(value_node)


def _secret_nodes(node: Any, path: tuple[str, ...]) -> Iterable[Any]:
    """Value nodes to hide: under spec.storage, every value of a key that looks like a password, token or key."""
    if isinstance(node, SequenceNode):
        for item in node.value:
            yield from _secret_nodes(item, path)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else ""
            here = (*path, key)
            if len(here) > 2 and here[:2] == _STORAGE and _SECRET_KEY.search(key):
                yield from _scalar_nodes(value_node)
            elif here[:2] == _STORAGE[: len(here)]:
                yield from _secret_nodes(value_node, here)


def mask_secrets(text: str) -> str:
    """Return ``text`` for a diff, with every secret value replaced by ``"********"``.

    Works on the text itself, at the positions the YAML parser reports, so that the diff shows the real file (its
    comments and layout) and only the secret values change. Hidden: the value of every key under ``spec.storage``
    whose name contains password, secret, token, key or dataSource (any case, any depth, every scalar inside it),
    and the password of every ``scheme://user:password@`` URL anywhere in the text, comments included.
    """
    spans = []
    if _SECRET_KEY.search(text) and "storage" in text:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # pure-Python marks count characters, not bytes
        if root is not None:
            spans = sorted(
                {(node.start_mark.index, node.end_mark.index, node.style) for node in _secret_nodes(root, ())},
                reverse=True,
            )
    for start, end, style in spans:
        original = text[start:end]
        tail = original[len(original.rstrip("\n")) :] if style in ("|", ">") else ""
        text = text[:start] + '"' + MASK + '"' + tail + text[end:]
    return _URL_PASSWORD.sub(lambda match: match.group("head") + MASK + "@", text)
