# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""What ``k0rdent.audit.k0s_config`` and ``k0rdent.audit.k0sctl_config`` hide before they show or return anything.

Private to the collection (leading underscore): the names in ``__all__`` may change without notice.

One notion of a secret for everything the modules print or return: :func:`mask_secrets` for a whole file (the
diff), :func:`mask_data` for returned values, :func:`mask_args` for command lines, :func:`mask_message` for
warnings and errors. A :class:`MaskRule` says what a secret is:

- :data:`WORD_RULE` (k0s.yaml): a key is secret-looking when one of its words (camelCase, kebab-case and
  snake_case are split) names a secret: password, passwd, pass (keepalived authPass), passphrase, secret, token,
  credential, key (a private key), or when it is dataSource (kine's database URL). A key whose last word is file or
  dir names a file, not its content (clientKeyFile, token-auth-file), and is left alone.
- :data:`K0SCTL_RULE` (k0sctl.yaml) errs toward masking: a key is secret-looking when its name contains pass, pwd,
  secret, token, key, credential, auth or datasource anywhere, in any case (file names included); every value
  below a host's connection settings (``spec.hosts[].ssh``, ``winRM``, ``openSSH``, ``localhost`` and any other
  key that is not one of k0sctl's documented host settings), below the k0s config's ``storage`` and below each helm
  repository's credentials (all but its name and url) is hidden, numbers and booleans too.

Under both rules every scalar below a secret-looking key is hidden, wherever it is in the file, and so are every
value holding a PEM block (-----BEGIN), the user information of every URL, and ``key: value`` pairs with a
secret-looking key in comments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

try:
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

__all__ = [
    "K0SCTL_RULE",
    "MASK",
    "MAX_NESTING",
    "WORD_RULE",
    "MaskRule",
    "NestingGuard",
    "TooDeep",
    "is_secret_key",
    "mask_args",
    "mask_data",
    "mask_message",
    "mask_secrets",
]

MASK = "********"
# No k0s or k0sctl configuration nests a tenth of this deep; anything deeper is refused before it is walked, so that
# no recursive reader (the YAML composer, deepcopy, the comparison) can exhaust the stack.
MAX_NESTING = 100

_INDEX = object()  # a path element: any item of a sequence


class _Except(frozenset):
    """A path element: any mapping key but these."""


@dataclass(frozen=True)
class MaskRule:
    """What counts as a secret: ``strict`` keys (substring rule) and ``sections`` whose every value is hidden.

    Each section is a path of mapping keys (compared in any case), :data:`_INDEX` for any item of a sequence, and
    :class:`_Except` for any mapping key but those named.
    """

    strict: bool = False
    sections: tuple = ()


WORD_RULE = MaskRule()

# k0sctl pkg/apis/k0sctl.k0sproject.io/v1beta1/cluster/host.go: the host settings that are not how k0sctl connects
# (rig.Connection, inlined: ssh, winRM, openSSH, localhost). Any other key of a host is taken for a connection.
_K0SCTL_HOST_SETTINGS = _Except(
    (
        "role", "reset", "privateInterface", "privateAddress", "dataDir", "kubeletRootDir", "environment",
        "uploadBinary", "k0sBinaryPath", "k0sDownloadURL", "installFlags", "files", "os", "hostname", "noTaints",
        "hooks", "useExistingK0s",
    )
)  # fmt: skip
K0SCTL_RULE = MaskRule(
    strict=True,
    sections=(
        ("spec", "hosts", _INDEX, _K0SCTL_HOST_SETTINGS),
        ("spec", "k0s", "config", "spec", "storage"),
        ("spec", "k0s", "config", "spec", "extensions", "helm", "repositories", _INDEX, _Except(("name", "url"))),
    ),
)

_SECRET_WORDS = frozenset(
    [
        "password",
        "passwords",
        "passwd",
        "pass",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "credential",
        "credentials",
        "key",
        "keys",
        "privatekey",
        "apikey",
        "authpass",
        "datasource",
    ]
)
_SECRET_PARTS = ("pass", "pwd", "secret", "token", "key", "credential", "auth", "datasource")
_FILE_WORDS = frozenset(("file", "files", "dir", "directory"))
_WORD_SPLIT = re.compile(r"[-_.\s/]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
# scheme://USERINFO@ up to the next scheme (lists such as etcd-servers-overrides), whitespace or quote; USERINFO is
# everything up to the LAST @, so a password holding @, :, / or % is hidden whole
_URL = re.compile(rf"(?P<scheme>{_SCHEME})(?P<rest>(?:(?!{_SCHEME})[^\s'\"<>\\])+)")
# in a parsed value quotes and backslashes are content, not delimiters: the password may hold them
_URL_IN_VALUE = re.compile(rf"(?P<scheme>{_SCHEME})(?P<rest>(?:(?!{_SCHEME})[^\s<>])+)")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.DOTALL)
_MESSAGE_KEY_VALUE = re.compile(
    r"(?P<key>[A-Za-z0-9_.\-]+)(?P<sep>['\"]?\s*[:=]\s*)(?P<value>\"[^\"]*\"?|'[^']*'?|[^\s,;)\]}]+)"
)
_COMMENT_START = re.compile(r"(?:^|[ \t])#", re.MULTILINE)


def is_secret_key(key: Any, rule: MaskRule = WORD_RULE) -> bool:
    """Whether a mapping key (or a flag name) looks like it holds a secret under ``rule``."""
    if not isinstance(key, str) or not key:
        return False
    if rule.strict:
        lowered = key.lower()
        return any(part in lowered for part in _SECRET_PARTS)
    words = [word.lower() for part in _WORD_SPLIT.split(key) for word in _CAMEL.split(part) if word]
    if not words or words[-1] in _FILE_WORDS:
        return False
    joined = "".join(words)
    return any(word in _SECRET_WORDS for word in words) or any(
        name in joined for name in ("password", "passwd", "secret", "token", "datasource", "credential", "authpass")
    )


def _mask_url(match: Any) -> str:
    rest = match.group("rest")
    at = rest.rfind("@")
    if at < 0:
        return match.group(0)
    userinfo = rest[:at]
    user, colon, _password = userinfo.partition(":")
    hidden = f"{user}:{MASK}" if colon and user else MASK  # a user-only URL often carries a token as the user
    return match.group("scheme") + hidden + rest[at:]


def _mask_string(text: str, url: Any = _URL) -> str:
    """Hide PEM blocks and URL credentials inside any string."""
    if "-----BEGIN" in text:
        text = _PEM.sub(MASK, text)
    if "://" in text:
        text = url.sub(_mask_url, text)
    return text


def mask_message(message: str, rule: MaskRule = WORD_RULE) -> str:
    """A message (an error, a warning, a library's exception text) with secrets hidden, also ``key: value`` ones."""
    message = _mask_string(message)
    return _MESSAGE_KEY_VALUE.sub(
        lambda m: m.group("key") + m.group("sep") + MASK if is_secret_key(m.group("key"), rule) else m.group(0),
        message,
    )


def mask_data(value: Any, secret: bool = False, rule: MaskRule = WORD_RULE) -> Any:
    """A copy of parsed data (a returned value) with every secret hidden; ``secret`` hides every scalar."""
    if isinstance(value, Mapping):
        return {key: mask_data(item, secret or is_secret_key(key, rule), rule) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(item, secret, rule) for item in value]
    if secret and value is not None:
        return MASK
    if isinstance(value, str):
        return MASK if "-----BEGIN" in value else _mask_string(value, _URL_IN_VALUE)
    return value


def mask_args(args: Iterable[Any], rule: MaskRule = WORD_RULE) -> list[Any]:
    """Command-line arguments (rawArgs) with the values of secret-looking flags hidden (--x=v and --x v forms)."""
    result: list[Any] = []
    hide_next = False
    for entry in args:
        if not isinstance(entry, str):
            result.append(mask_data(entry, hide_next, rule))
            hide_next = False
            continue
        if hide_next and not entry.startswith("-"):
            result.append(MASK)
            hide_next = False
            continue
        hide_next = False
        name, equals, _value = entry.lstrip("-").partition("=")
        if entry.startswith("-") and is_secret_key(name, rule):
            if equals:
                result.append(entry[: len(entry) - len(_value)] + MASK)
                continue
            hide_next = True
        result.append(mask_data(entry, rule=rule))
    return result


# ------------------------------------------------------------------------------------------------- the diff

if HAS_YAML:

    class TooDeep(yaml.YAMLError):
        """The text nests more than :data:`MAX_NESTING` levels; ``mark`` is where the limit was passed."""

        def __init__(self, mark: Any) -> None:
            super().__init__(f"nested more than {MAX_NESTING} levels deep")
            self.mark = mark

    class NestingGuard:
        """Mixin for a pure-Python PyYAML loader: refuse nesting beyond :data:`MAX_NESTING` before recursing.

        (libyaml's C composer does not call this; it stops at 1,000 levels by itself, without recursing in Python.)
        """

        _nesting = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self._nesting >= MAX_NESTING and self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
                raise TooDeep(self.peek_event().start_mark)
            self._nesting += 1
            try:
                return super().compose_node(parent, index)  # type: ignore[misc]
            finally:
                self._nesting -= 1

    class _MaskLoader(NestingGuard, yaml.SafeLoader):  # pure-Python marks count characters, not bytes
        pass

else:  # pragma: no cover - without PyYAML nothing is parsed, so nothing can nest too deep

    class TooDeep(ValueError):
        """The text nests more than :data:`MAX_NESTING` levels (never raised without PyYAML)."""

    class NestingGuard:
        """Mixin for a PyYAML loader; without PyYAML there is no loader to guard."""


_FLAG = re.compile(r"(?P<name>--?[A-Za-z0-9][A-Za-z0-9_.\-]*)(?P<equals>=?)")


def _secret_flag(value: str, rule: MaskRule) -> tuple[bool, bool]:
    """(is ``--secret-flag...``, has ``=value``) for a command-line argument (rawArgs entries)."""
    match = _FLAG.match(value)
    if not match or not is_secret_key(match.group("name").lstrip("-"), rule):
        return False, False
    return True, bool(match.group("equals"))


def _element_matches(wanted: Any, element: Any) -> bool:
    if wanted is _INDEX or element is _INDEX:
        return wanted is element
    if element is None:
        return False
    if isinstance(wanted, _Except):
        return element not in wanted
    return element.lower() == wanted.lower()


def _step(rule: MaskRule, path: tuple | None, element: Any) -> tuple[bool, tuple | None]:
    """(the child is in a secret section, the child's path while it may still lead into one, else None)."""
    if path is None or not rule.sections:
        return False, None
    child = (*path, element)
    depth = len(child)
    leads = False
    for section in rule.sections:
        if depth <= len(section) and all(_element_matches(w, e) for w, e in zip(section, child)):
            if depth == len(section):
                return True, None
            leads = True
    return False, child if leads else None


def _secret_nodes(root: Any, rule: MaskRule) -> Iterator[tuple[Any, str]]:
    """Scalar nodes to hide, with their replacement text. A node is visited at most once per (secret, path)."""
    seen: set[tuple[int, bool, tuple | None]] = set()
    stack: list[tuple[Any, bool, tuple | None]] = [(root, False, ())]
    while stack:
        node, secret, path = stack.pop()
        if (id(node), secret, path) in seen:
            continue
        seen.add((id(node), secret, path))
        if isinstance(node, ScalarNode):
            flag, with_value = _secret_flag(node.value, rule)
            if secret or "-----BEGIN" in node.value:
                yield node, f'"{MASK}"'
            elif flag and with_value:
                yield node, json.dumps(node.value.split("=", 1)[0] + "=" + MASK, ensure_ascii=False)
            elif "://" in node.value and node.style not in ("|", ">"):
                masked = _mask_string(
                    node.value, _URL_IN_VALUE
                )  # escapes, quotes or folding may hide the URL from the text
                if masked != node.value:
                    yield node, json.dumps(masked, ensure_ascii=False)
        elif isinstance(node, SequenceNode):
            hide_next = False
            inside, child_path = _step(rule, path, _INDEX)
            for item in node.value:
                stack.append((item, secret or inside or hide_next, child_path))
                flag, with_value = _secret_flag(item.value, rule) if isinstance(item, ScalarNode) else (False, False)
                hide_next = flag and not with_value
        elif isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, ScalarNode) else None
                inside, child_path = _step(rule, path, key)
                stack.append((value_node, secret or inside or is_secret_key(key, rule), child_path))


def _comment_spans(text: str) -> list[tuple[int, int]]:
    """Where the comments of ``text`` are (a ``#`` outside every scalar, to the end of its line)."""
    if "#" not in text:
        return []
    scalars = [
        (token.start_mark.index, token.end_mark.index)
        for token in yaml.scan(text, Loader=yaml.SafeLoader)
        if isinstance(token, yaml.ScalarToken)
    ]
    spans = []
    for match in _COMMENT_START.finditer(text):
        start = match.end() - 1
        if any(begin <= start < end for begin, end in scalars):
            continue
        end = len(text)
        for stop in ("\n", "\r"):
            found = text.find(stop, start)
            if 0 <= found < end:
                end = found
        spans.append((start, end))
    return spans


def mask_secrets(text: str, rule: MaskRule = WORD_RULE) -> str:
    """Return ``text`` for a diff, with every secret value replaced by ``"********"``.

    Works on the text itself, at the positions the YAML parser reports, so that the diff shows the real file (its
    comments and layout) and only the secret values change (see the module's docstring for what ``rule`` hides).
    Text that does not parse, or nests too deep, is masked by the ``key: value`` rule of :func:`mask_message` line
    by line instead.
    """
    try:
        root = yaml.compose(text, Loader=_MaskLoader)
        comments = _comment_spans(text)
    except (yaml.YAMLError, RecursionError):
        return "".join(mask_message(line, rule) for line in text.splitlines(True))
    replacements = {}
    if root is not None:
        for node, new in _secret_nodes(root, rule):
            start, end = node.start_mark.index, node.end_mark.index
            original = text[start:end]
            tail = original[len(original.rstrip("\r\n")) :] if node.style in ("|", ">") else ""
            replacements[start] = (end, new + tail)
    for start, end in comments:
        masked = mask_message(text[start:end], rule)
        if masked != text[start:end]:
            replacements[start] = (end, masked)
    for start in sorted(replacements, reverse=True):
        end, new = replacements[start]
        text = text[:start] + new + text[end:]
    return _mask_string(text)
