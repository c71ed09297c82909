# Copyright (c) k0rdent.audit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The kube-apiserver ``--audit-*`` flags: which exist, what values they take, how k0s.yaml spells them.

A misspelled flag in ``spec.api.extraArgs`` is passed to kube-apiserver as it is and stops it ("unknown flag"), and
a value of the wrong type does the same. This module is the one place that knows the flags, so the role can refuse
both before anything is written to a host.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["AUDIT_FLAGS", "audit_flag_errors", "flag_value_to_string"]

_INT = "non-negative integer"
_FLOAT = "non-negative number"
_BOOL = "boolean"
_DURATION = "duration"
_PATH = "path"

# Flag name -> value kind, or the tuple of allowed values. From kube-apiserver's
# k8s.io/apiserver/pkg/server/options/audit.go (log, webhook and policy options).
AUDIT_FLAGS: Dict[str, Any] = {
    "audit-policy-file": _PATH,
    "audit-log-path": _PATH,
    "audit-log-maxage": _INT,
    "audit-log-maxbackup": _INT,
    "audit-log-maxsize": _INT,
    "audit-log-format": ("json", "legacy"),
    "audit-log-compress": _BOOL,
    "audit-log-mode": ("batch", "blocking", "blocking-strict"),
    "audit-log-version": ("audit.k8s.io/v1",),
    "audit-log-batch-buffer-size": _INT,
    "audit-log-batch-max-size": _INT,
    "audit-log-batch-max-wait": _DURATION,
    "audit-log-batch-throttle-enable": _BOOL,
    "audit-log-batch-throttle-qps": _FLOAT,
    "audit-log-batch-throttle-burst": _INT,
    "audit-log-truncate-enabled": _BOOL,
    "audit-log-truncate-max-batch-size": _INT,
    "audit-log-truncate-max-event-size": _INT,
    "audit-webhook-config-file": _PATH,
    "audit-webhook-initial-backoff": _DURATION,
    "audit-webhook-mode": ("batch", "blocking", "blocking-strict"),
    "audit-webhook-version": ("audit.k8s.io/v1",),
    "audit-webhook-batch-buffer-size": _INT,
    "audit-webhook-batch-max-size": _INT,
    "audit-webhook-batch-max-wait": _DURATION,
    "audit-webhook-batch-throttle-enable": _BOOL,
    "audit-webhook-batch-throttle-qps": _FLOAT,
    "audit-webhook-batch-throttle-burst": _INT,
    "audit-webhook-truncate-enabled": _BOOL,
    "audit-webhook-truncate-max-batch-size": _INT,
    "audit-webhook-truncate-max-event-size": _INT,
}

# Go's time.ParseDuration: a sequence of decimal numbers with units, e.g. "300ms", "1h30m", "2.5s".
_DURATION_RE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$|^0$")
_TRUE_WORDS = ("true", "1", "t")
_FALSE_WORDS = ("false", "0", "f")


def flag_value_to_string(value: Any) -> str:
    """Spell a value the way k0s.yaml needs it: a string; booleans in Go's lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value_problem(kind: Any, value: Any) -> Optional[str]:
    if value is None or isinstance(value, (list, dict)):
        return "must be a single value, not %s" % ("null" if value is None else type(value).__name__)
    text = flag_value_to_string(value).strip()
    if isinstance(kind, tuple):
        return None if text in kind else "must be one of %s, not %r" % (", ".join(kind), text)
    if kind == _INT:
        return None if re.match(r"^\d+$", text) else "must be a %s, not %r" % (_INT, text)
    if kind == _FLOAT:
        return None if re.match(r"^\d+(\.\d+)?$", text) else "must be a %s, not %r" % (_FLOAT, text)
    if kind == _BOOL:
        return None if text.lower() in _TRUE_WORDS + _FALSE_WORDS else "must be true or false, not %r" % text
    if kind == _DURATION:
        return None if _DURATION_RE.match(text) else "must be a duration such as 5s or 1m30s, not %r" % text
    return None if text else "must not be empty"


def audit_flag_errors(flags: Any, source_name: str = "extra_args") -> List[str]:
    """Every problem with a mapping of audit flags, one sentence each, naming ``source_name.FLAG``.

    Only ``audit-*`` names are judged against the known flags; other kube-apiserver flags pass through unchecked.
    """
    if not isinstance(flags, Mapping):
        return [
            "%s must be a mapping of kube-apiserver flag names to values, not %s" % (source_name, type(flags).__name__)
        ]
    errors: List[str] = []
    for name, value in flags.items():
        place = "%s.%s" % (source_name, name)
        if (
            not isinstance(name, str)
            or not name
            or name.startswith("-")
            or "=" in name
            or any(c.isspace() for c in name)
        ):
            errors.append(
                "%s: a flag name is written without leading dashes, '=' or spaces, e.g. audit-log-maxage" % place
            )
            continue
        if name not in AUDIT_FLAGS:
            if name.startswith("audit"):
                near = difflib.get_close_matches(name, list(AUDIT_FLAGS), n=1, cutoff=0.8)
                hint = '; did you mean "%s"?' % near[0] if near else "; see kube-apiserver --help for the audit flags"
                errors.append("%s: kube-apiserver has no such audit flag and would refuse to start%s" % (place, hint))
            elif isinstance(value, (list, dict)) or value is None:
                errors.append("%s: must be a single value" % place)
            continue
        problem = _value_problem(AUDIT_FLAGS[name], value)
        if problem:
            errors.append("%s: %s" % (place, problem))
    return errors
