"""How fast the audit-policy engine is (targets: merge + validate < 100 ms; >= 50,000 events/s on the baseline;
audit_policy_findings on 10,000 rules < 1 s, growing about linearly).

- ``merge+validate``: ``merge_rules`` of the k0rdent baseline with 500 additions (250 prepended, 250 appended, of
  the kinds people write: per-user drops, per-namespace levels, resourceNames, non-resource URLs) and two extra API
  groups, then ``policy_errors`` of the resulting policy; what the role does on the controller on every run.
- ``evaluate``: ``CompiledPolicy.evaluate`` over a realistic mix of audit events (control-plane chatter, node and
  kubelet traffic, health probes, users reading and changing objects), on the baseline and on the 515-rule policy
  above; plus the ``audit_level`` filter on the baseline, which finds the compiled policy in its cache each call.
- ``findings``: the ``audit_policy_findings`` filter, cold (validation, compilation and review, as the role runs it
  once per play), on the baseline merged with 1,000, 4,000 and 10,000 additions; the growth factor from 1k to 10k
  is about 10 when the time grows linearly (100 when every rule is compared with every earlier one).

Run from the repository root:  .venv/bin/python benchmarks/policy_engine.py [--repeat N] [--events N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from collection_root import collections_root  # noqa: E402  (one shim for tests and benchmarks)

TARGET_MERGE_SECONDS = 0.100
TARGET_EVENTS_PER_SECOND = 50_000
TARGET_FINDINGS_SECONDS = 1.0  # at 10,000 rules
FINDINGS_SIZES = (1_000, 4_000, 10_000)


def additions(count: int) -> list:
    """``count`` user rules of the kinds people add to a baseline."""
    rules = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            rule = {"name": f"drop-bot-{i}", "level": "None", "users": [f"system:serviceaccount:bots:bot-{i}"]}
        elif kind == 1:
            rule = {
                "level": "RequestResponse",
                "namespaces": [f"team-{i}"],
                "verbs": ["create", "update", "patch", "delete"],
                "resources": [{"group": "apps", "resources": ["deployments", "statefulsets"]}],
                "omitStages": ["RequestReceived"],
            }
        elif kind == 2:
            rule = {
                "level": "Metadata",
                "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": [f"settings-{i}"]}],
            }
        elif kind == 3:
            rule = {"level": "None", "nonResourceURLs": [f"/apis/custom-{i}*", f"/probe-{i}"]}
        else:
            rule = {
                "level": "Request",
                "userGroups": [f"oidc:team-{i}"],
                "resources": [{"group": f"team{i}.example.com"}, {"group": "batch", "resources": ["jobs", "jobs/*"]}],
            }
        rules.append(rule)
    return rules


def user(name: str, *groups: str) -> dict:
    return {"username": name, "groups": [*groups, "system:authenticated"]}


NODE = user("system:node:worker-1", "system:nodes")
KCM = user("system:kube-controller-manager")
SA = user("system:serviceaccount:kcm-system:k0rdent-controller", "system:serviceaccounts")
JANE = user("jane@example.com", "platform-team")


def ref(resource: str, group: str = "", namespace: str = "", name: str = "", subresource: str = "") -> dict:
    result = {"apiGroup": group, "apiVersion": "v1", "resource": resource, "namespace": namespace, "name": name}
    if subresource:
        result["subresource"] = subresource
    return result


# (weight, event): the share of each kind of request roughly as a busy management cluster's audit log shows it.
EVENT_MIX = [
    (10, {"user": user("system:kube-proxy"), "verb": "watch", "objectRef": ref("endpoints")}),
    (8, {"user": NODE, "verb": "get", "objectRef": ref("nodes", name="worker-1")}),
    (12, {"user": KCM, "verb": "update", "objectRef": ref("leases", "coordination.k8s.io", "kube-system", "kcm")}),
    (6, {"user": KCM, "verb": "get", "objectRef": ref("endpoints", namespace="kube-system", name="kube-dns")}),
    (8, {"user": user("system:anonymous"), "verb": "get", "requestURI": "/healthz?timeout=32s"}),
    (3, {"user": JANE, "verb": "get", "requestURI": "/version"}),
    (3, {"user": SA, "verb": "get", "requestURI": "/apis/apps/v1"}),
    (6, {"user": SA, "verb": "create", "objectRef": ref("events", namespace="kcm-system")}),
    (
        8,
        {
            "user": NODE,
            "verb": "patch",
            "objectRef": ref("pods", namespace="default", name="web-0", subresource="status"),
        },
    ),
    (10, {"user": SA, "verb": "get", "objectRef": ref("secrets", namespace="kcm-system", name="kubeconfig")}),
    (4, {"user": SA, "verb": "watch", "objectRef": ref("configmaps", namespace="kcm-system")}),
    (8, {"user": SA, "verb": "list", "objectRef": ref("clusterdeployments", "k0rdent.mirantis.com", "kcm-system")}),
    (4, {"user": SA, "verb": "patch", "objectRef": ref("helmreleases", "helm.toolkit.fluxcd.io", "kcm-system", "x")}),
    (3, {"user": JANE, "verb": "create", "objectRef": ref("deployments", "apps", "team-a")}),
    (3, {"user": JANE, "verb": "get", "objectRef": ref("pods", namespace="team-a", name="web-0", subresource="log")}),
    (
        2,
        {
            "user": JANE,
            "verb": "create",
            "objectRef": ref("pods", namespace="team-a", name="web-0", subresource="exec"),
        },
    ),
    (2, {"user": JANE, "verb": "list", "objectRef": ref("certificates", "cert-manager.io", "team-a")}),
    (1, {"user": user("system:apiserver"), "verb": "get", "objectRef": ref("namespaces", name="kube-system")}),
    (1, {"verb": "get", "requestURI": "/api/v1/namespaces/default/pods"}),  # failed authentication: no user
]


def event_stream(count: int) -> list:
    rng = random.Random(20260101)
    weights = [weight for weight, _unused in EVENT_MIX]
    return rng.choices([event for _unused, event in EVENT_MIX], weights=weights, k=count)


def throughput(evaluate, events: list, repeat: int) -> float:
    """Median events per second of ``evaluate`` over ``events``."""
    rates = []
    for _unused in range(repeat):
        start = time.perf_counter()
        for event in events:
            evaluate(event)
        rates.append(len(events) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--events", type=int, default=100_000)
    options = parser.parse_args()

    sys.path.insert(0, str(collections_root()))
    from ansible_collections.k0rdent.audit.plugins.filter.audit_level import FilterModule
    from ansible_collections.k0rdent.audit.plugins.filter.audit_policy_findings import (
        FilterModule as FindingsFilterModule,
    )
    from ansible_collections.k0rdent.audit.plugins.plugin_utils import _audit_policy_validate
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_merge import merge_rules
    from ansible_collections.k0rdent.audit.plugins.plugin_utils._audit_policy_validate import (
        compile_valid_policy,
        policy_errors,
    )

    baseline = yaml.safe_load((REPO / "roles/k0s_audit/vars/main/baseline.yml").read_text())[
        "_k0s_audit_baseline_rules"
    ]
    extra = additions(500)

    def merge_and_validate() -> dict:
        rules = merge_rules(
            baseline, prepend=extra[:250], append=extra[250:], extra_api_groups=["cert-manager.io", "kyverno.io"]
        )
        policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rules}
        errors = policy_errors(policy)
        if errors:
            raise SystemExit(f"the benchmark policy is invalid: {errors[:3]}")
        return policy

    big_policy = merge_and_validate()
    times = []
    for _unused in range(options.repeat):
        start = time.perf_counter()
        merge_and_validate()
        times.append(time.perf_counter() - start)
    merge_median = statistics.median(times)
    print(
        f"merge+validate: baseline ({len(baseline)} rules) + {len(extra)} additions -> {len(big_policy['rules'])} rules"
    )
    print(
        f"  {options.repeat} runs: min {min(times) * 1000:.1f} ms, median {merge_median * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms (target < {TARGET_MERGE_SECONDS * 1000:.0f} ms)"
    )

    events = event_stream(options.events)
    base_policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": merge_rules(baseline)}
    base_compiled = compile_valid_policy(base_policy)
    big_compiled = compile_valid_policy(big_policy)
    audit_level = FilterModule().filters()["audit_level"]
    rates = {
        f"baseline ({len(base_policy['rules'])} rules), CompiledPolicy.evaluate": throughput(
            base_compiled.evaluate, events, options.repeat
        ),
        f"{len(big_policy['rules'])}-rule policy, CompiledPolicy.evaluate": throughput(
            big_compiled.evaluate, events, options.repeat
        ),
        f"baseline ({len(base_policy['rules'])} rules), audit_level filter (cached)": throughput(
            lambda event: audit_level(base_policy, event), events[: options.events // 10], options.repeat
        ),
    }
    print(f"evaluate: {len(EVENT_MIX)} kinds of request, {options.events:,} events, median of {options.repeat} runs")
    for what, rate in rates.items():
        print(f"  {what}: {rate:,.0f} events/s")
    baseline_rate = next(iter(rates.values()))

    audit_policy_findings = FindingsFilterModule().filters()["audit_policy_findings"]
    findings_seconds = {}
    print(f"findings: audit_policy_findings filter, cold (validate + compile + review), median of {options.repeat}")
    for size in FINDINGS_SIZES:
        more = additions(size)
        rules = merge_rules(baseline, prepend=more[: size // 2], append=more[size // 2 :])
        policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rules}
        times = []
        for _unused in range(options.repeat):
            _audit_policy_validate._CACHE.clear()  # cold, as on the role's first use in a play
            start = time.perf_counter()
            found = audit_policy_findings(policy)
            times.append(time.perf_counter() - start)
        findings_seconds[size] = statistics.median(times)
        shadowed = sum(1 for item in found if item["category"] == "shadowed")
        print(f"  {len(rules):,} rules: {findings_seconds[size]:.3f} s ({len(found)} findings, {shadowed} shadowed)")
    growth = findings_seconds[FINDINGS_SIZES[-1]] / findings_seconds[FINDINGS_SIZES[0]]
    print(f"  growth {FINDINGS_SIZES[0]:,} -> {FINDINGS_SIZES[-1]:,} additions: x{growth:.1f} (linear: x10)")

    big_findings = findings_seconds[FINDINGS_SIZES[-1]]
    ok = (
        merge_median < TARGET_MERGE_SECONDS
        and baseline_rate >= TARGET_EVENTS_PER_SECOND
        and big_findings < TARGET_FINDINGS_SECONDS
    )
    print(
        f"targets: merge+validate {merge_median * 1000:.1f} ms < {TARGET_MERGE_SECONDS * 1000:.0f} ms, "
        f"baseline {baseline_rate:,.0f} >= {TARGET_EVENTS_PER_SECOND:,} events/s, "
        f"findings at {FINDINGS_SIZES[-1]:,} additions {big_findings:.2f} s < {TARGET_FINDINGS_SECONDS:.0f} s: "
        f"{'OK' if ok else 'MISSED'}"
    )
    # The line benchmarks/run-all.sh collects into its ratio block.
    findings_ok = big_findings < TARGET_FINDINGS_SECONDS
    print(
        f"ratio: findings at {FINDINGS_SIZES[-1]:,} additions = {big_findings:.2f} s "
        f"(target < {TARGET_FINDINGS_SECONDS:g} s): {'OK' if findings_ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
