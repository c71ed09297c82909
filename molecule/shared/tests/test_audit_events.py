"""The audit events the real API server writes for the k0rdent baseline plus the scenario's operator additions.

Each request is sent as a client sends it (the client certificate prepare.yml minted from k0s's CA for a
k0s_test_client_certs user, unique Audit-ID), then the host's audit log is read; the events of k0s's own components
(kube-controller-manager, kube-scheduler, k0s's controllers) are in it too, and are told apart by their Audit-ID.
The real API server authorizes with RBAC (and the Node authorizer): a request a user may not make is answered 403,
and it is audited all the same (the audit filter runs before authorization), so the levels and stages below hold
for every case; only 401 (the certificate not accepted) fails a case. For each request this checks the level and
the stages the policy gives it (the expectation is written by hand from the rule named in the case:
roles/k0s_audit/vars/main/baseline.yml or the additions below) and that the collection's own policy engine
(k0rdent.audit.audit_level's evaluate), given the logged event and the policy on the host, predicts the same level
and omitted stages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))))

from _audit_requests import Request, send, wait_for_ids

from tests.collection_root import collections_root

sys.path.insert(0, str(collections_root()))
from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import evaluate

LOG = "/var/log/k0s/audit.log"
POLICY = "/etc/k0s/audit-policy.yaml"

# The operator additions the cases below were written against; the scenario's group_vars must say the same.
ADDITIONS = {
    "k0s_audit_rules_prepend": [
        {
            "level": "None",
            "users": ["system:serviceaccount:monitoring:prometheus"],
            "verbs": ["get", "list", "watch"],
        }
    ],
    "k0s_audit_rules_append": [
        {
            "level": "Request",
            "verbs": ["create", "update", "patch", "delete"],
            "resources": [{"group": "", "resources": ["pods"]}],
            "omitStages": ["RequestReceived"],
        }
    ],
    "k0s_audit_rules_exclude": ["drop-events"],
    "k0s_audit_extra_api_groups": ["widgets.example.com"],
}

PROXY = "system:kube-proxy"
NODE = "system:node:cp1"
KCM = "system:kube-controller-manager"
NSC = "system:serviceaccount:kube-system:namespace-controller"
PROMETHEUS = "system:serviceaccount:monitoring:prometheus"
OPERATOR = "operator"
MERGE_PATCH = "application/merge-patch+json"

CASES = [
    # baseline rules, in the baseline's order
    Request("proxy-watch-endpoints", PROXY, "GET", "/api/v1/endpoints?watch=true", "None",
            "drop-kube-proxy-watches", long_running=True, verb="watch", ref={"resource": "endpoints"}),
    Request("node-get-own-node", NODE, "GET", "/api/v1/nodes/cp1", "None", "drop-node-reads-of-nodes",
            verb="get", ref={"resource": "nodes", "name": "cp1"}),
    Request("kcm-get-endpoints", KCM, "GET", "/api/v1/namespaces/kube-system/endpoints/kube-controller-manager",
            "None", "drop-controller-endpoint-reads", verb="get",
            ref={"resource": "endpoints", "namespace": "kube-system", "name": "kube-controller-manager"}),
    Request("kcm-lease-update", KCM, "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager", "None",
            "drop-leader-election-leases", body="{}", verb="update",
            ref={"apiGroup": "coordination.k8s.io", "resource": "leases", "namespace": "kube-system",
                 "name": "kube-controller-manager"}),
    # k0s runs kube-apiserver with --anonymous-auth=false: the read-only URLs are read by an authenticated client.
    Request("node-healthz", NODE, "GET", "/healthz", "None", "drop-read-only-urls", verb="get"),
    Request("operator-version", OPERATOR, "GET", "/version", "None", "drop-read-only-urls", verb="get"),
    Request("node-patch-status", NODE, "PATCH", "/api/v1/nodes/cp1/status", "Request", "node-status-updates",
            body="{}", content_type=MERGE_PATCH),
    Request("nsc-deletecollection", NSC, "DELETE", "/api/v1/namespaces/team-a/pods", "Request",
            "namespace-controller-deletecollection"),
    Request("operator-get-secret", OPERATOR, "GET", "/api/v1/namespaces/kcm-system/secrets/db", "Metadata",
            "sensitive-resources-metadata"),
    Request("node-get-configmap", NODE, "GET", "/api/v1/namespaces/kube-system/configmaps/kube-proxy", "Metadata",
            "sensitive-resources-metadata"),
    Request("operator-list-deployments", OPERATOR, "GET", "/apis/apps/v1/deployments", "Request",
            "known-api-groups-read"),
    Request("operator-watch-deployments", OPERATOR, "GET", "/apis/apps/v1/namespaces/kcm-system/deployments?watch=1",
            "Request", "known-api-groups-read", long_running=True),
    Request("operator-create-clusterdeployment", OPERATOR, "POST",
            "/apis/k0rdent.mirantis.com/v1beta1/namespaces/kcm-system/clusterdeployments", "RequestResponse",
            "known-api-groups-default", body="{}"),
    Request("operator-list-pods", OPERATOR, "GET", "/api/v1/namespaces/default/pods", "Metadata",
            "default-metadata"),
    Request("kcm-readyz", KCM, "GET", "/readyz", "Metadata", "default-metadata"),
    # the operator additions
    Request("prometheus-list-pods", PROMETHEUS, "GET", "/api/v1/pods", "None", "k0s_audit_rules_prepend[0]",
            verb="list", ref={"resource": "pods"}),
    Request("operator-create-pod", OPERATOR, "POST", "/api/v1/namespaces/default/pods", "Request",
            "k0s_audit_rules_append[0]", body="{}"),
    Request("operator-create-event", OPERATOR, "POST", "/api/v1/namespaces/default/events", "Metadata",
            "default-metadata (drop-events is in k0s_audit_rules_exclude)", body="{}"),
    Request("operator-list-widgets", OPERATOR, "GET", "/apis/widgets.example.com/v1/widgets", "Request",
            "known-api-groups-read + k0s_audit_extra_api_groups"),
    Request("operator-create-widget", OPERATOR, "POST", "/apis/widgets.example.com/v1/namespaces/default/widgets",
            "RequestResponse", "known-api-groups-default + k0s_audit_extra_api_groups", body="{}"),
]  # fmt: skip
# Every logged level and rule but default-metadata omits RequestReceived (baseline.yml); so do the additions.
OMITTED = ("RequestReceived",)


@pytest.fixture(scope="module")
def host_vars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def policy(host):
    return yaml.safe_load(host.file(POLICY).content_string)


@pytest.fixture(scope="module")
def logged(host, host_vars):
    codes = {case.name: send(host, case) for case in CASES}
    marker = Request("marker", OPERATOR, "GET", "/api/v1/namespaces/default/pods", "Metadata", "default-metadata")
    send(host, marker)
    logged_ids = [case.audit_id for case in CASES if case.level != "None"] + [marker.audit_id]
    return codes, wait_for_ids(host, LOG, logged_ids)


def test_the_scenario_sets_the_additions_the_cases_expect(host_vars):
    for name, value in ADDITIONS.items():
        assert host_vars.get(name) == value, f"{name} in the scenario's group_vars differs from ADDITIONS"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_level_and_stages(case, logged):
    codes, events = logged
    # 403 is RBAC's answer (audited); 401 would mean the client certificate was not accepted
    assert 200 <= codes[case.name] < 600, f"{case.name}: no HTTP answer ({codes[case.name]})"
    assert codes[case.name] != 401, f"{case.name}: the API server did not authenticate the client certificate"
    found = events.get(case.audit_id, [])
    assert [e["stage"] for e in found] == case.expected_stages(OMITTED), (case.rule, found)
    for event in found:
        assert event["level"] == case.level, (case.rule, event)
        assert event["user"]["username"] == case.user


@pytest.mark.parametrize("case", [case for case in CASES if case.level != "None"], ids=lambda case: case.name)
def test_the_policy_engine_predicts_the_logged_level(case, logged, policy):
    _codes, events = logged
    event = next(e for e in events[case.audit_id] if e["stage"] == "ResponseComplete")
    predicted = evaluate(policy, event)
    assert predicted["level"] == event["level"], (case.rule, predicted, event)
    assert "RequestReceived" in predicted["omit_stages"]


def test_requests_the_policy_drops_leave_no_event(logged, policy, host_vars):
    _codes, events = logged
    groups = {row["user"]: row.get("groups", []) for row in host_vars["k0s_test_client_certs"]}
    for case in CASES:
        if case.level != "None":
            continue
        assert case.audit_id not in events, (case.name, case.rule, events.get(case.audit_id))
        # the engine, given the request as the server parses it (verb, objectRef or path), says None too
        request = {"user": {"username": case.user, "groups": groups[case.user]},
                   "verb": case.verb, "requestURI": case.path}  # fmt: skip
        if case.ref is not None:
            request["objectRef"] = case.ref
        assert evaluate(policy, request)["level"] == "None", (case.name, case.rule, request)
