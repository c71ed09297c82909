"""The collection's policy evaluator beside kube-apiserver's own rule checker, on the same requests (target: ours
runs at >= 0.25 times the Go checker's requests/s on the k0rdent baseline), and a check that both give every request
the same level.

- Requests: policy_engine.py's weighted event mix (imported, not copied) and, for the agreement check only, a fuzzed
  set drawn from the policy's own users, groups, verbs, namespaces, resources and URLs with near misses.
- Policies: the k0rdent baseline rendered with the collection's ``merge_rules`` from
  roles/k0s_audit/vars/main/baseline.yml, and policy_engine.py's 515-rule policy (baseline + 500 additions).
- Go: ``.cache/k0s/bin/go-checker-bench`` (benchmarks/go_checker/main.go, built by scripts/build-k0s.sh from the
  k8s.io/apiserver module of the kube-apiserver it builds, tests/k0s/versions.env): ``LoadPolicyFromFile`` +
  ``NewPolicyRuleEvaluator``, only the
  ``EvaluatePolicyRule`` loop timed, over the requests as ``authorizer.AttributesRecord``.
- Python: ``CompiledPolicy.evaluate`` over the same requests as audit.k8s.io/v1 Event-shaped mappings (what the
  collection's filter and report feed it), timed the same way (median of --repeat passes).

Run from the repository root:  .venv/bin/python benchmarks/evaluator_vs_go.py [--events N] [--fuzz N] [--repeat N]
Exits 1 when a level differs or the ratio is under the target, 2 when the Go checker cannot be built or run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))
import policy_engine  # noqa: E402  (the event mix and the 500 additions)
from collection_root import collections_root  # noqa: E402

TARGET_RATIO = 0.25
CHECKER = REPO / ".cache" / "k0s" / "bin" / "go-checker-bench"
# Where the engine lives: it is being split into several files (the evaluator into _audit_policy_match), so every
# plugins/{module_utils,plugin_utils}/_audit_policy*.py is a candidate; the first that defines a name wins.
COLLECTION = "ansible_collections.k0rdent.audit"


def engine_modules() -> list[str]:
    found = sorted(
        f"{COLLECTION}.plugins.{path.parent.name}.{path.stem}"
        for folder in ("module_utils", "plugin_utils")
        for path in (REPO / "plugins" / folder).glob("_audit_policy*.py")
    )
    first = f"{COLLECTION}.plugins.module_utils._audit_policy_match"
    return sorted(found, key=lambda name: name != first)


def engine_function(name: str) -> tuple[object, str]:
    """``(function, module name)`` of the first engine module that defines ``name``."""
    sys.path.insert(0, str(collections_root()))
    modules = engine_modules()
    for module_name in modules:
        module = importlib.import_module(module_name)  # a module that fails to import is an error, not a miss
        if callable(getattr(module, name, None)):
            return getattr(module, name), module_name
    raise SystemExit(f"no engine module defines {name} (looked in {', '.join(modules)}).")


# k8s.io/apiserver pkg/endpoints/request/requestinfo.go (RequestInfoFactory.NewRequestInfo): a request to
# /api/v1/namespaces/X (get, update, patch, delete; also its status and finalize subresources) is a request in
# namespace X; pkg/endpoints/filters/authorization.go GetAuthorizerAttributes copies RequestInfo's fields into the
# AttributesRecord, and leaves User nil when the context has none (a request that failed authentication).
_OWN_NAMESPACE_VERBS = frozenset(("get", "update", "patch", "delete"))


def attributes(event: dict) -> dict:
    """The AttributesRecord kube-apiserver builds for the request an audit Event records (go-checker-bench's input)."""
    user = event.get("user")
    record = {
        "user": {"name": user.get("username", ""), "groups": list(user.get("groups") or [])} if user else None,
        "verb": event.get("verb", ""),
        # net/url gives the handler the decoded path (URL.Path) without the query.
        "path": unquote(event.get("requestURI", "").split("?", 1)[0]),
        "resourceRequest": "objectRef" in event,
    }
    ref = event.get("objectRef")
    if ref:
        namespace = ref.get("namespace", "")
        name = ref.get("name", "")
        subresource = ref.get("subresource", "")
        if (
            not namespace
            and name
            and ref.get("apiGroup", "") == ""
            and ref.get("resource") == "namespaces"
            and event.get("verb") in _OWN_NAMESPACE_VERBS
            and subresource in ("", "status", "finalize")
        ):
            namespace = name
        record.update(
            namespace=namespace,
            apiGroup=ref.get("apiGroup", ""),
            resource=ref.get("resource", ""),
            subresource=subresource,
            name=name,
        )
    return record


# For the agreement check only: one rule per corner of the matching rules (kube-apiserver's
# pkg/audit/policy/checker.go ruleMatches, ruleMatchesResource, pathMatches), which the baseline does not all reach.
EDGE_RULES = [
    {"level": "RequestResponse", "namespaces": ["kube-system"], "verbs": ["get", "update"]},
    {"level": "Request", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["web-0"]}]},
    {"level": "Metadata", "resources": [{"group": "*", "resources": ["*/status"]}], "userGroups": ["oidc:other"]},
    {"level": "None", "resources": [{"group": "batch", "resources": ["jobs/*"]}]},
    {"level": "Request", "resources": [{"group": "apps"}], "namespaces": ["", "default"]},
    {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/exec", "namespaces"]}]},
    {"level": "None", "nonResourceURLs": ["/livez*", "/version", "/api/v1/x/y"]},
    {"level": "Request", "users": ["jane@example.com"], "nonResourceURLs": ["*"]},
    {"level": "Metadata", "users": ["system:kube-proxy-x"], "verbs": ["list"]},
    {"level": "Metadata", "resources": [{"group": "other.io", "resources": ["*"]}]},
    {"level": "Request", "resources": [{"group": "", "resources": ["secrets"]}], "omitStages": ["RequestReceived"]},
]


def fuzz_events(policy: dict, count: int, seed: int = 15) -> list:
    """Requests built from what the policy's rules name, and near misses, to exercise every selector."""
    rng = random.Random(seed)
    rules = policy["rules"]
    users = {u for r in rules for u in r.get("users") or []} | {"jane@example.com", "system:kube-proxy-x"}
    groups = {g for r in rules for g in r.get("userGroups") or []} | {"system:authenticated", "oidc:other"}
    verbs = {v for r in rules for v in r.get("verbs") or []} | {"get", "list", "watch", "create", "deletecollection"}
    namespaces = {n for r in rules for n in r.get("namespaces") or []} | {"default", "team-x", ""}
    api_groups = {e.get("group", "") for r in rules for e in r.get("resources") or []} | {"", "apps", "other.io"}
    api_groups.discard("*")
    patterns = {p for r in rules for e in r.get("resources") or [] for p in e.get("resources") or []}
    names = {n for r in rules for e in r.get("resources") or [] for n in e.get("resourceNames") or []}
    names |= {"", "web-0", "kube-system", "default"}
    urls = {u for r in rules for u in r.get("nonResourceURLs") or []}
    paths = set()
    for url in urls:
        stem = url.rstrip("*")
        paths |= {stem, stem + "x", stem + "/sub", stem[:-1] if len(stem) > 1 else "/", stem + "?q=1"}
    paths |= {"/", "/healthz", "/livez/ping", "/metrics", "/version", "/apis", "/api/v1/x%2Fy"}
    resources = set()
    for pattern in patterns:
        resource, _slash, sub = pattern.partition("/")
        resource = "pods" if resource == "*" else resource
        resources.add((resource, "status" if sub == "*" else sub))
        resources.add((resource, ""))
    resources |= {("namespaces", ""), ("namespaces", "status"), ("namespaces", "finalize"), ("pods", "exec")}
    users, groups, verbs, namespaces = sorted(users), sorted(groups), sorted(verbs), sorted(namespaces)
    api_groups, names, paths, resources = sorted(api_groups), sorted(names), sorted(paths), sorted(resources)

    events = []
    for _unused in range(count):
        event: dict = {"verb": rng.choice(verbs)}
        roll = rng.random()
        if roll < 0.9:
            chosen = rng.sample(groups, rng.randint(0, min(3, len(groups))))
            event["user"] = {"username": rng.choice(users), "groups": chosen}
        if rng.random() < 0.7:
            resource, sub = rng.choice(resources)
            ref = {"apiGroup": rng.choice(api_groups), "apiVersion": "v1", "resource": resource}
            if sub:
                ref["subresource"] = sub
            namespace, name = rng.choice(namespaces), rng.choice(names)
            if namespace:
                ref["namespace"] = namespace
            if name:
                ref["name"] = name
            event["objectRef"] = ref
        else:
            event["requestURI"] = rng.choice(paths)
        events.append(event)
    return events


def run_checker(policy_file: Path, requests_file: Path, levels_file: Path, repeat: int) -> dict:
    result = subprocess.run(
        [
            str(CHECKER),
            *("-policy", str(policy_file), "-requests", str(requests_file)),
            *("-levels", str(levels_file), "-repeat", str(repeat)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{CHECKER} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def compare(label: str, compiled, events: list, go_levels: list[str]) -> int:
    """Print every request whose level differs; return how many did."""
    mismatches = 0
    for index, (event, go_level) in enumerate(zip(events, go_levels)):
        ours = compiled.evaluate(event)["level"]
        if ours != go_level:
            mismatches += 1
            if mismatches <= 20:
                print(f"  MISMATCH {label} #{index}: ours {ours}, Go {go_level}: {json.dumps(event, sort_keys=True)}")
    if len(go_levels) != len(events):
        print(f"  MISMATCH {label}: Go gave {len(go_levels)} levels for {len(events)} requests")
        mismatches += abs(len(go_levels) - len(events)) or 1
    return mismatches


def cold_throughput(compile_policy, policy: dict, events: list, repeat: int) -> float:
    """Median requests/s of ``evaluate`` over ``events``, each pass on a newly compiled policy (empty caches).

    The evaluator remembers decisions of requests it has seen; on the fuzzed requests, nearly all distinct, a
    fresh policy per pass shows what a request costs that it has not seen (compilation itself is not timed).
    """
    rates = []
    for _unused in range(repeat):
        evaluate = compile_policy(policy).evaluate
        start = time.perf_counter()
        for event in events:
            evaluate(event)
        rates.append(len(events) / (time.perf_counter() - start))
    return statistics.median(rates)


def versions() -> dict[str, str]:
    """tests/k0s/versions.env's NAME=value lines: the versions scripts/build-k0s.sh builds."""
    lines = (REPO / "tests" / "k0s" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def distinct_requests(events: list) -> int:
    return len({json.dumps(event, sort_keys=True) for event in events})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="requests of policy_engine.py's mix")
    parser.add_argument("--fuzz", type=int, default=20_000, help="fuzzed requests, for the agreement check")
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    if options.events < 1 or options.fuzz < 0 or options.repeat < 1:
        parser.error("--events and --repeat must be 1 or more, --fuzz 0 or more")

    build = subprocess.run([str(REPO / "scripts" / "build-k0s.sh")], capture_output=True, text=True, check=False)
    if build.returncode != 0 or not CHECKER.is_file():
        print(build.stderr.strip() or f"scripts/build-k0s.sh built no {CHECKER}", file=sys.stderr)
        return 2
    version = "k8s.io/apiserver v0." + versions()["KUBERNETES_VERSION"].split(".", 1)[1]

    merge_rules, merge_module = engine_function("merge_rules")
    compile_policy, compile_module = engine_function("compile_policy")
    print(f"engine: merge_rules from {merge_module}, compile_policy from {compile_module}")
    print(f"Go checker: {CHECKER.relative_to(REPO)} (k8s.io/apiserver pkg/audit/policy, {version})")

    baseline = yaml.safe_load((REPO / "roles/k0s_audit/vars/main/baseline.yml").read_text())[
        "_k0s_audit_baseline_rules"
    ]
    extra = policy_engine.additions(500)
    policies = {
        "baseline": {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": merge_rules(baseline)},
        "edge": {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": EDGE_RULES},
        "515-rule": {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "rules": merge_rules(
                baseline, prepend=extra[:250], append=extra[250:], extra_api_groups=["cert-manager.io", "kyverno.io"]
            ),
        },
    }
    mix = policy_engine.event_stream(options.events)

    mismatches = 0
    ratios = {}
    fuzz_ratios = {}
    with tempfile.TemporaryDirectory(prefix="evaluator-vs-go-") as scratch:
        work = Path(scratch)
        for label, policy in policies.items():
            compiled = compile_policy(policy)
            policy_file = work / f"{label}.yaml"
            policy_file.write_text(yaml.safe_dump(policy, sort_keys=False))
            rules = len(policy["rules"])
            for set_name, events, timed in (
                ("mix", mix, label != "edge"),
                ("fuzz", fuzz_events(policy, options.fuzz), label != "edge"),
            ):
                if not events:
                    continue
                requests_file = work / f"{label}-{set_name}.jsonl"
                with requests_file.open("w") as handle:
                    for event in events:
                        handle.write(json.dumps(attributes(event), separators=(",", ":")) + "\n")
                levels_file = work / f"{label}-{set_name}.levels"
                go = run_checker(policy_file, requests_file, levels_file, options.repeat if timed else 1)
                go_levels = levels_file.read_text().split()
                bad = compare(f"{label}/{set_name}", compiled, events, go_levels)
                mismatches += bad
                seen = ", ".join(f"{level} {count:,}" for level, count in sorted(go["levels"].items()))
                print(f"{label} ({rules} rules), {set_name}: {len(events):,} requests, levels {seen}; {bad} differ")
                if timed and set_name == "mix":
                    ours = policy_engine.throughput(compiled.evaluate, events, options.repeat)
                    theirs = go["requests_per_second"]
                    ratios[label] = ours / theirs
                    print(
                        f"  ours {ours:,.0f} requests/s, Go {theirs:,.0f} requests/s: ours / Go = {ours / theirs:.3f}"
                        f" (median of {options.repeat})"
                    )
                elif timed:
                    # Timed as the mix is (the policy compiled once), then on a newly compiled policy each pass.
                    theirs = go["requests_per_second"]
                    ours = policy_engine.throughput(compiled.evaluate, events, options.repeat)
                    cold = cold_throughput(compile_policy, policy, events, options.repeat)
                    fuzz_ratios[label] = (ours / theirs, cold / theirs)
                    print(
                        f"  {distinct_requests(events):,} distinct: ours {ours:,.0f} requests/s, newly compiled each"
                        f" pass {cold:,.0f} requests/s, Go {theirs:,.0f} requests/s: ours / Go = {ours / theirs:.3f},"
                        f" newly compiled {cold / theirs:.3f} (median of {options.repeat})"
                    )

    ratio = ratios["baseline"]
    ok = mismatches == 0 and ratio >= TARGET_RATIO
    print(f"levels that differ from the Go checker's: {mismatches}; ours / Go at 515 rules: {ratios['515-rule']:.3f}")
    if fuzz_ratios:
        # The uncached case beside the mix: mostly distinct requests, none remembered from an earlier pass.
        print(
            "fuzz (mostly distinct requests, so few remembered decisions): ours / Go, baseline ="
            f" {fuzz_ratios['baseline'][0]:.3f} (newly compiled each pass {fuzz_ratios['baseline'][1]:.3f}),"
            f" 515 rules = {fuzz_ratios['515-rule'][0]:.3f} (newly compiled {fuzz_ratios['515-rule'][1]:.3f})"
        )
    # The line benchmarks/run-all.sh collects.
    print(
        f"ratio: evaluator / Go checker, baseline = {ratio:.3f} (target >= {TARGET_RATIO}"
        f"{', and every level the same' if mismatches == 0 else f'; {mismatches} levels differ'}): "
        f"{'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
