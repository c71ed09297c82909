"""What kube-apiserver's own code refuses: the server exits non-zero with the reason and never serves.

The reasons come from upstream, not from us: pflag (github.com/spf13/pflag ``flag.go``, "unknown flag"), printed by
k8s.io/component-base ``cli/run.go`` as "Error: ..."; k8s.io/apiserver ``pkg/server/options/audit.go``
(``AuditLogOptions.Validate``, ``newPolicyRuleEvaluator``, ``ensureLogFile``); the policy reader and validator
(``pkg/audit/policy/reader.go``, ``pkg/apis/audit/validation/validation.go``).
"""

from __future__ import annotations

import pytest
from _apiserver import SERVING, free_port, require_binary, run_once

GOOD_POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n"


@pytest.fixture
def base(tmp_path):
    """The minimum flags of a server that would serve: a port, a cert dir, a policy and a log path."""
    require_binary()
    (tmp_path / "policy.yaml").write_text(GOOD_POLICY)
    return tmp_path, [
        "--bind-address=127.0.0.1",
        "--secure-port=%d" % free_port(),
        "--cert-dir=%s" % (tmp_path / "certs"),
        "--audit-policy-file=%s" % (tmp_path / "policy.yaml"),
        "--audit-log-path=%s" % (tmp_path / "logs" / "audit.log"),
    ]


def _refused(args, *reasons):
    run = run_once(args)
    assert not run.serving, run
    assert SERVING not in run.output
    assert run.returncode not in (None, 0), run
    for reason in reasons:
        assert reason in run.output, run
    return run


def test_the_base_flags_serve(base):
    """The refusals below are caused by the one flag each changes: the base alone serves."""
    _binary, args = base
    run = run_once(args)
    assert run.serving, run


def test_unknown_audit_flag(base):
    _binary, args = base
    run = _refused([*args, "--audit-log-maxsizes=5"], "Error: unknown flag: --audit-log-maxsizes")
    assert run.returncode == 1


def test_underscores_read_as_dashes(base):
    """cliflag.WordSepNormalizeFunc: --audit_log_maxage is --audit-log-maxage, and -1 is refused as such."""
    _binary, args = base
    _refused([*args, "--audit_log_maxage=-1"], "--audit-log-maxage -1 can't be a negative number")


def test_negative_maxage(base):
    _binary, args = base
    run = _refused([*args, "--audit-log-maxage=-1"], "--audit-log-maxage -1 can't be a negative number")
    assert run.returncode == 1


def test_unparsable_value(base):
    _binary, args = base
    _refused([*args, "--audit-log-maxbackup=ten"], 'invalid argument "ten" for "--audit-log-maxbackup"')


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Loud\n", "rules[0].level: Unsupported value"),
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n", "loaded illegal policy with 0 rules"),
        ("apiVersion: audit.k8s.io/v9\nkind: Policy\nrules:\n  - level: None\n", "audit.k8s.io/v9"),
        ("rules: [\n", "loading audit policy file"),
    ],
    ids=["unknown-level", "no-rules", "unknown-version", "not-yaml"],
)
def test_bad_policy(base, policy, reason):
    tmp, args = base
    (tmp / "policy.yaml").write_text(policy)
    _refused(args, "loading audit policy file", reason)
    assert not (tmp / "logs").exists() or not any((tmp / "logs").iterdir())


def test_missing_policy_file(base):
    tmp, args = base
    (tmp / "policy.yaml").unlink()
    _refused(args, "loading audit policy file", "no such file or directory")


def test_log_path_that_cannot_be_created(base):
    """The log path's parent is a regular file, so ensureLogFile's MkdirAll fails (root could write anywhere)."""
    tmp, args = base
    (tmp / "blocker").write_text("")
    args = [a for a in args if not a.startswith("--audit-log-path=")]
    _refused([*args, "--audit-log-path=%s" % (tmp / "blocker" / "audit.log")], "ensureLogFile", "not a directory")


def test_positional_argument(base):
    _binary, args = base
    _refused([*args, "extra"], "does not take any arguments")
