"""Requests to the real kube-apiserver end up in its audit log as it writes them.

The server is ``.cache/k0s/bin/kube-apiserver`` on a kine of its own, with ``--authorization-mode=Node,RBAC`` as k0s
starts it, and anonymous requests allowed (kube-apiserver's default; k0s turns them off): the requests are
answered by the real API (RBAC's bootstrap roles, the system namespaces), and audited by its own code: the
request-info parser
(k8s.io/apiserver ``pkg/endpoints/request/requestinfo.go``: verb and objectRef), the policy checker
(``pkg/audit/policy/checker.go``: the level), the ``Audit-ID`` header taken as the event's auditID
(``pkg/endpoints/filters/audit_init.go``), the users of ``--token-auth-file`` (``pkg/authentication/token/tokenfile``)
with ``system:authenticated`` added (``pkg/authentication/group/authenticated_group_adder.go``), anonymous requests
as ``system:anonymous`` (``pkg/authentication/request/anonymous``), and the log file's modes
(``pkg/server/options/audit.go`` ensureLogFile: directory 0700, file 0600).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from _apiserver import Kine, Server, free_port, request, require_binaries, server_args, wait_for_events, wait_ready

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: []
rules:
  - level: None
    nonResourceURLs: ["/livez"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets"]
  - level: RequestResponse
"""

# token,user,uid,"group1,group2": kube-apiserver's --token-auth-file CSV.
TOKENS = """\
proxy-token,system:kube-proxy,uid-proxy
node-token,system:node:cp1,uid-cp1,"system:nodes"
operator-token,operator,uid-operator,"system:masters,ops"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_binaries()
    tmp = tmp_path_factory.mktemp("events")
    (tmp / "policy.yaml").write_text(POLICY)
    (tmp / "tokens.csv").write_text(TOKENS)
    log = tmp / "logs" / "audit.log"
    kine = Kine(tmp / "kine")
    proc = Server(
        [
            *server_args(tmp, kine, free_port(), authorization="Node,RBAC", tokens=tmp / "tokens.csv"),
            "--audit-policy-file=%s" % (tmp / "policy.yaml"),
            "--audit-log-path=%s" % log,
        ]
    )
    try:
        assert proc.wait_serving(), proc.output
        # RBAC's bootstrap roles (anonymous may read /readyz and /livez) and kube-system come after serving.
        wait_ready(proc.port, "operator-token", ("/readyz", "/api/v1/namespaces/kube-system"))
        yield proc, log
        assert proc.stop() == 0, proc.output
    finally:
        proc.stop(kill=True)
        kine.stop()


def _events(server, audit_id: str, stages=("RequestReceived", "ResponseComplete"), **kwargs) -> tuple:
    proc, log = server
    status = request(proc.port, audit_id=audit_id, **kwargs)
    events = wait_for_events(log, audit_id, stages=len(stages))
    assert [e["stage"] for e in events] == list(stages), events
    return status, events


def test_serving_line_names_the_address(server):
    proc, _log = server
    assert "Serving securely on 127.0.0.1:%d" % proc.port in proc.output


def test_node_get_is_audited_with_user_verb_and_object(server):
    status, events = _events(server, "h1-node-get", path="/api/v1/nodes/cp1", token="node-token")
    assert status == 404  # the Node authorizer lets a node read its Node object; there is none
    for event in events:
        assert event["user"] == {
            "username": "system:node:cp1",
            "uid": "uid-cp1",
            "groups": ["system:nodes", "system:authenticated"],
        }
        assert event["verb"] == "get"
        assert event["objectRef"] == {"resource": "nodes", "name": "cp1", "apiVersion": "v1"}
        assert event["level"] == "RequestResponse"
    assert events[1]["responseStatus"]["code"] == 404
    # RequestResponse: the answer is in the event, the Status kube-apiserver sent.
    assert events[1]["responseObject"]["kind"] == "Status"
    assert events[1]["responseObject"]["reason"] == "NotFound"


def test_kube_proxy_list_and_watch(server):
    # RBAC's bootstrap binding system:node-proxier lets system:kube-proxy list and watch services and endpointslices.
    status, events = _events(server, "h1-proxy-list", path="/api/v1/services", token="proxy-token")
    assert status == 200
    assert events[0]["user"]["username"] == "system:kube-proxy"
    assert events[0]["user"]["groups"] == ["system:authenticated"]
    assert events[0]["verb"] == "list"
    assert events[0]["objectRef"] == {"resource": "services", "apiVersion": "v1"}
    # A watch is a long-running request: it has a ResponseStarted stage (pkg/endpoints/filters/audit.go).
    status, events = _events(
        server,
        "h1-proxy-watch",
        stages=("RequestReceived", "ResponseStarted", "ResponseComplete"),
        path="/apis/discovery.k8s.io/v1/endpointslices?watch=true&timeoutSeconds=1",
        token="proxy-token",
    )
    assert status == 200
    assert events[0]["verb"] == "watch"
    assert events[0]["objectRef"] == {
        "resource": "endpointslices",
        "apiGroup": "discovery.k8s.io",
        "apiVersion": "v1",
    }


def test_operator_secret_create_is_metadata_level(server):
    status, events = _events(
        server,
        "h1-operator-secret",
        method="POST",
        path="/api/v1/namespaces/kube-system/secrets",
        token="operator-token",
        body=b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}',
    )
    assert status == 201
    for event in events:
        assert event["user"]["groups"] == ["system:masters", "ops", "system:authenticated"]
        assert event["verb"] == "create"
        assert event["level"] == "Metadata"
        assert "requestObject" not in event
        assert "responseObject" not in event
    assert events[1]["responseStatus"]["code"] == 201
    # The name is in the body, not the URL: the event gets it once the body is decoded, after RequestReceived
    # (k8s.io/apiserver pkg/audit/request.go LogRequestObject).
    assert events[0]["objectRef"] == {"resource": "secrets", "namespace": "kube-system", "apiVersion": "v1"}
    assert events[1]["objectRef"] == {
        "resource": "secrets",
        "namespace": "kube-system",
        "name": "s",
        "apiVersion": "v1",
    }


def test_anonymous_readyz(server):
    status, events = _events(server, "h1-anon-readyz", path="/readyz")
    assert status == 200
    assert events[0]["user"] == {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
    assert events[0]["verb"] == "get"
    assert "objectRef" not in events[0]
    assert events[0]["requestURI"] == "/readyz"


def test_policy_level_none_writes_nothing(server):
    proc, log = server
    assert request(proc.port, "/livez", audit_id="h1-livez") == 200
    # A request after it that is audited: once its events are there, /livez's would be too.
    _events(server, "h1-after-livez", path="/readyz")
    assert wait_for_events(log, "h1-livez", timeout=0) == []


def test_unknown_token_is_refused_and_audited(server):
    proc, log = server
    assert request(proc.port, "/api/v1/pods", token="no-such-token", audit_id="h1-bad-token") == 401
    events = wait_for_events(log, "h1-bad-token", stages=1)
    assert events, "no event for a request with an unknown token"
    assert events[-1]["responseStatus"]["code"] == 401


def test_log_file_and_directory_modes(server):
    _proc, log = server
    assert stat.S_IMODE(Path(log).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(log).parent.stat().st_mode) == 0o700
