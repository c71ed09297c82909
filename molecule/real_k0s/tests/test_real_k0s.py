"""The real k0s and the real kube-apiserver, after the role turned auditing on.

The host runs what scripts/build-k0s.sh built from the Go modules (tests/k0s/versions.env), installed by the real
`k0s install controller`. These checks work on the live cluster as an operator would, with the admin client
certificate k0s writes (`<data-dir>/pki/admin.crt`), each request with its own ``Audit-ID`` so that its events can
be found in the log.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import secrets
import shlex
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "molecule" / "shared" / "tests"))
from _audit_log import send_long_uri_requests  # noqa: E402
from _real_k0s import apiserver_account, apiserver_args  # noqa: E402

from tests.collection_root import collections_root  # noqa: E402
from tests.k0s.real_k0s import versions  # noqa: E402

sys.path.insert(0, str(collections_root()))
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import evaluate  # noqa: E402

LOG_DIR = "/var/log/k0s"
LOG = LOG_DIR + "/audit.log"
POLICY = "/etc/k0s/audit-policy.yaml"
CONFIG = "/etc/k0s/k0s.yaml"
PKI = "/var/lib/k0s/pki"
API = "https://127.0.0.1:6443"
# The canary: random, so that finding it anywhere means it was logged by this run.
CANARY = "canary-" + secrets.token_hex(16)


def admin_request(host, method: str, path: str, audit_id: str, body: dict | None = None, max_time: int = 10):
    """One request as k0s's admin (client certificate, group system:masters); its HTTP status and body."""
    command = ["curl", "-s", "--max-time", str(max_time), "-X", method, "-H", f"Audit-ID: {audit_id}"]
    command += ["--cacert", f"{PKI}/ca.crt", "--cert", f"{PKI}/admin.crt", "--key", f"{PKI}/admin.key"]
    command += ["-w", "\n%{http_code}"]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    command.append(API + path)
    result = host.run(shlex.join(command))
    text, _newline, code = result.stdout.rpartition("\n")
    assert code.strip().isdigit(), (command, result.stdout, result.stderr)
    return int(code), text


def read_events(host) -> list:
    """Every event in the live log and its rotated backups (compressed ones included)."""
    listing = host.run(f"ls -1 {LOG_DIR}").stdout.split()
    events = []
    for name in listing:
        path = f"{LOG_DIR}/{name}"
        reader = "zcat" if name.endswith(".gz") else "cat"
        for line in host.run(f"{reader} {shlex.quote(path)}").stdout.splitlines():
            if line.strip():
                events.append(json.loads(line))
    return events


def received_at(event: dict) -> float:
    stamp = event["requestReceivedTimestamp"]  # RFC 3339 in UTC with microseconds: 2026-12-07T23:21:04.123456Z
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def wait_for(host, ids, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found: dict = {}
        for event in read_events(host):
            found.setdefault(event.get("auditID"), []).append(event)
        done = {i for i, evs in found.items() if any(e.get("stage") == "ResponseComplete" for e in evs)}
        if set(ids) <= done or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.fixture(scope="module")
def canary_requests(host):
    """Write and read back a Secret, a ConfigMap and a TokenReview carrying the canary; their audit IDs."""
    run = secrets.token_hex(4)
    ids = {}

    def call(name, method, path, body=None, expect=(200, 201), **kw):
        audit_id = f"{name}-{run}"
        code, text = admin_request(host, method, path, audit_id, body, **kw)
        assert code in expect, (name, code, text[:300])
        ids[name] = audit_id
        return text

    ns = "/api/v1/namespaces/default"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"canary-{run}"},
        "stringData": {"password": CANARY},
    }
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"canary-{run}"}, "data": {"k": CANARY}}
    call("secret-create", "POST", f"{ns}/secrets", secret)
    call("secret-get", "GET", f"{ns}/secrets/canary-{run}")
    call("secret-list", "GET", f"{ns}/secrets")
    call("secret-watch", "GET", f"{ns}/secrets?watch=1&timeoutSeconds=1", max_time=15)
    call("configmap-create", "POST", f"{ns}/configmaps", configmap)
    call("configmap-get", "GET", f"{ns}/configmaps/canary-{run}")
    call("configmap-list", "GET", f"{ns}/configmaps")
    call("configmap-watch", "GET", f"{ns}/configmaps?watch=1&timeoutSeconds=1", max_time=15)
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": CANARY}}
    call("tokenreview-create", "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    return ids


def test_k0s_is_the_real_build(host):
    want = versions()
    assert host.run("/usr/local/bin/k0s version").stdout.strip() == want["K0S_VERSION"]
    apiserver = host.run("/var/lib/k0s/bin/kube-apiserver --version").stdout.strip()
    assert apiserver == f"Kubernetes v{want['KUBERNETES_VERSION']}+k0s"


def test_the_unit_is_the_one_k0s_install_controller_wrote(host):
    unit = host.file("/etc/systemd/system/k0scontroller.service").content_string
    assert "Description=k0s - Zero Friction Kubernetes" in unit
    assert re.search(r"^ExecStart=/usr/local/bin/k0s controller --config=/etc/k0s/k0s.yaml ", unit, re.M), unit


def test_the_live_api_server_runs_with_the_audit_flags_as_k0s_starts_it(host):
    args = apiserver_args(host)
    assert apiserver_account(host) == "kube-apiserver:root"  # k0s sets the uid only: gid 0, no supplementary groups
    assert args[0] == "/var/lib/k0s/bin/kube-apiserver"
    assert f"--audit-policy-file={POLICY}" in args
    assert f"--audit-log-path={LOG}" in args
    assert "--authorization-mode=Node,RBAC" in args  # one of k0s's own flags, kept beside ours


def test_k0s_config_validate_accepts_the_file_the_role_wrote(host):
    result = host.run(f"/usr/local/bin/k0s config validate --config {CONFIG}")
    assert result.rc == 0, result.stderr


def test_storage_is_still_kine(host):
    kine = host.run("ps -o args= -C kine").stdout.strip()
    assert kine.startswith("/var/lib/k0s/bin/kine "), kine
    assert "--endpoint=sqlite://file:/var/lib/k0s/db/state.db" in kine, kine
    args = apiserver_args(host)
    assert any(a == "--etcd-servers=unix:/run/k0s/kine/kine.sock:2379" for a in args), args


def test_secret_configmap_and_tokenreview_requests_are_logged_at_metadata(host, canary_requests):
    found = wait_for(host, canary_requests.values())
    for name, audit_id in canary_requests.items():
        events = found.get(audit_id)
        assert events, f"{name}: no event"
        assert {e["level"] for e in events} == {"Metadata"}, (name, [e["level"] for e in events])
        assert all("requestObject" not in e and "responseObject" not in e for e in events), name


def files_holding(host, text: str) -> list[str]:
    """The files of the log directory, the live log, its backups and the compressed ones, that hold text."""
    found = []
    for name in host.run(f"ls -1 {LOG_DIR}").stdout.split():
        reader = "zcat" if name.endswith(".gz") else "cat"
        result = host.run(f"{reader} {shlex.quote(f'{LOG_DIR}/{name}')} | grep -c -F -- {shlex.quote(text)}")
        if result.stdout.strip() != "0":
            found.append(name)
    return found


@pytest.fixture(scope="module")
def canary_rotated(host, canary_requests):
    """After the canary requests, about 1.8 MiB of other events (k0s_audit_log_maxsize is 1): lumberjack rotates the
    file that holds the canary requests' events and compresses it (k0s_audit_log_compress); the compressed backups
    that hold them."""
    wait_for(host, canary_requests.values())
    codes = send_long_uri_requests(
        host, count=10, uri_bytes=90 * 1024, user="operator", audit_id="fill", config="/tmp/fill.curl"
    )
    assert codes == ["200"] * 10, codes
    some_id = next(iter(canary_requests.values()))
    deadline = time.monotonic() + 30  # lumberjack compresses in a goroutine after the rotation
    while True:
        compressed = [name for name in files_holding(host, some_id) if name.endswith(".gz")]
        if compressed or time.monotonic() > deadline:
            return compressed


def test_the_canary_is_in_no_file_of_the_log_directory(host, canary_requests, canary_rotated):
    # The canary requests' events were rotated into a compressed backup: the check reads that one too.
    assert canary_rotated, "no compressed backup holds the canary requests' events"
    assert len(host.run(f"ls -1 {LOG_DIR}").stdout.split()) >= 2
    # A Secret's data travels base64-encoded in responses: look for both forms.
    for form in (CANARY, base64.b64encode(CANARY.encode()).decode()):
        assert files_holding(host, form) == [], f"the canary ({form}) is in the log directory"


def test_audit_level_predicts_every_logged_event(host, canary_requests):
    wait_for(host, canary_requests.values())
    policy = yaml.safe_load(host.file(POLICY).content_string)
    # The events of the running API server, which loaded this policy when it started (a verifier run again on the
    # same host finds older events of another policy before them).
    started = int(host.run('date -d "$(ps -o lstart= -C kube-apiserver)" +%s').stdout)
    events = [e for e in read_events(host) if received_at(e) >= started]
    assert len(events) > 50
    users = set()
    groups_seen = set()
    wrong = []
    for event in events:
        predicted = evaluate(policy, event)
        users.add(event.get("user", {}).get("username"))
        groups_seen.add(event.get("objectRef", {}).get("apiGroup"))
        if predicted["level"] != event["level"] or event["stage"] in predicted.get("omitStages", []):
            wrong.append((event["level"], predicted, event.get("verb"), event.get("requestURI")))
    assert not wrong, wrong[:5]
    # k0s's own components were heard, not only the test's requests, and the requests on k0s's own CRDs.
    assert {"system:kube-controller-manager", "system:kube-scheduler"} <= users, users
    assert {"helm.k0sproject.io", "autopilot.k0sproject.io"} <= groups_seen, groups_seen


RAISE_SECRETS = json.dumps(
    {"k0s_audit_rules_prepend": [{"level": "RequestResponse", "resources": [{"group": "", "resources": ["secrets"]}]}]}
)
CIS_SECRETS = "CIS 3.2.2: Secrets must be logged at Metadata level at most"


def test_an_addition_that_raises_secrets_is_warned_about_and_refused_under_the_cis_profile(host, playbook):
    before = {path: host.file(path).content_string for path in (CONFIG, POLICY)}
    warned = playbook("k0rdent.audit.enable", "--check", "-e", RAISE_SECRETS)
    assert CIS_SECRETS in warned.stdout
    refused = playbook("k0rdent.audit.enable", "-e", RAISE_SECRETS, "-e", "k0s_audit_profile=cis", check=False)
    assert refused.returncode != 0
    assert CIS_SECRETS in refused.stdout + refused.stderr
    assert {path: host.file(path).content_string for path in before} == before


def test_the_canary_check_can_fail(host, playbook):
    """The control: with Secrets raised to RequestResponse, a new canary does reach the log; then back to the baseline.

    Runs last: it leaves events of another policy in the log.
    """
    baseline = host.file(POLICY).content_string
    playbook("k0rdent.audit.enable", "-e", RAISE_SECRETS)
    assert host.file(POLICY).content_string != baseline
    try:
        canary = "canary-" + secrets.token_hex(16)
        audit_id = "control-" + secrets.token_hex(4)
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": audit_id}, "stringData": {"k": canary}}
        code, _body = admin_request(host, "POST", "/api/v1/namespaces/default/secrets", audit_id, body)
        assert code == 201
        events = wait_for(host, [audit_id])[audit_id]
        assert {e["level"] for e in events} == {"RequestResponse"}
        # The server logs the Secret with its data base64-encoded (stringData is merged into data on decoding).
        encoded = base64.b64encode(canary.encode()).decode()
        assert files_holding(host, encoded), "the raised rule did not bring the canary into the log"
    finally:
        playbook("k0rdent.audit.enable")
    assert host.file(POLICY).content_string == baseline
