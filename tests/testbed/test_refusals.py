"""What the real kube-apiserver refuses: it exits non-zero with the reason and never serves.

Each test starts ``.cache/k0s/bin/kube-apiserver`` on the session's kine (see _apiserver.py) with a base set of
flags that the first test shows to serve, changed by one flag or file.

The reasons come from upstream, not from us: pflag (github.com/spf13/pflag ``flag.go``, "unknown flag"), printed by
k8s.io/component-base ``cli/run.go`` as "Error: ..."; k8s.io/apiserver ``pkg/server/options/audit.go``
(``AuditLogOptions.Validate``, ``newPolicyRuleEvaluator``, ``ensureLogFile``); the policy reader and validator
(``pkg/audit/policy/reader.go``, ``pkg/apis/audit/validation/validation.go``).
"""

from __future__ import annotations

import pytest
from _apiserver import ACCEPTED, SERVING, free_port, run_once, server_args

GOOD_POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n"


@pytest.fixture
def base(tmp_path, shared_kine):
    """The flags of a server that serves: kine, a port, certificates, keys, a policy and a log path."""
    (tmp_path / "policy.yaml").write_text(GOOD_POLICY)
    return tmp_path, [
        *server_args(tmp_path, shared_kine, free_port()),
        "--audit-policy-file=%s" % (tmp_path / "policy.yaml"),
        "--audit-log-path=%s" % (tmp_path / "logs" / "audit.log"),
    ]


def _refused(args, *reasons):
    run = run_once(args)
    assert not run.accepted, run
    assert ACCEPTED not in run.output
    assert SERVING not in run.output
    assert run.returncode not in (None, 0), run
    for reason in reasons:
        assert reason in run.output, run
    return run


def test_the_base_flags_serve(base):
    """The refusals below are caused by the one flag each changes: the base alone serves."""
    tmp, args = base
    run = run_once(args, sign=SERVING)
    assert run.accepted, run
    assert (tmp / "logs" / "audit.log").is_file()


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
