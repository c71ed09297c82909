"""How fast the audit report reads a log, beside ``json.loads`` alone (target: the report core runs at >= 0.5 times
the lines/s of parsing each line with ``json.loads``), on one core.

- The log: ``--lines`` JSON lines (default 200,000) of audit.k8s.io/v1 Events as kube-apiserver's log backend writes
  them (compact JSON, one a line; k8s.io/apiserver pkg/apis/audit/v1/types.go Event, written by
  pkg/audit/format.go's JSON encoder through plugin/pkg/audit/log/backend.go): policy_engine.py's request mix
  (imported, not copied) logged under the k0rdent baseline, so requests the baseline drops are not in the log;
  stages ResponseStarted (long-running requests) and ResponseComplete unless the rule omits them; request bodies at
  Request and RequestResponse, response bodies at RequestResponse; timestamps spread over two hours.
- ``json.loads``: one pass over the file, ``json.loads`` of every line, nothing else.
- The report core (plugins/module_utils/_audit_report.py, what the k0rdent.audit.k0s_audit_report module runs):
  ``named_policy`` + ``LogReport(policy, names)`` + ``read_files(find_log_files(path))`` + ``result()``: parse,
  evaluate each event against the policy in effect, aggregate. Timed again with a candidate policy (the baseline
  with ``omitManagedFields``), which adds a second evaluation and the projection per event.

Run from the repository root:  .venv/bin/python benchmarks/report_throughput.py [--lines N] [--repeat N]
Exits 1 when the ratio is under the target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))
import policy_engine  # noqa: E402  (the request mix)
from collection_root import collections_root  # noqa: E402
from evaluator_vs_go import engine_function  # noqa: E402  (finds the engine wherever the split put it)

TARGET_RATIO = 0.5
START = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
SPAN = timedelta(hours=2)
# Requests that kube-apiserver serves as long-running (k8s.io/apiserver pkg/server/config.go
# DefaultLongRunningRequestRE / genericfilters.BasicLongRunningRequestCheck: watch and proxy verbs, exec/attach/
# log/portforward subresources): they have a ResponseStarted stage.
LONG_RUNNING_VERBS = frozenset(("watch", "proxy"))
LONG_RUNNING_SUBRESOURCES = frozenset(("exec", "attach", "log", "portforward", "proxy"))
USER_AGENTS = {
    "system:kube-proxy": "kube-proxy/v1.36.0 (linux/amd64) kubernetes/abcdef0",
    "system:kube-controller-manager": "kube-controller-manager/v1.36.0 (linux/amd64) kubernetes/abcdef0/leader",
    "jane@example.com": "kubectl/v1.36.0 (linux/amd64) kubernetes/abcdef0",
}


def _request_uri(event: dict) -> str:
    ref = event.get("objectRef")
    if not ref:
        return event["requestURI"]
    group = ref.get("apiGroup", "")
    base = f"/apis/{group}/{ref.get('apiVersion', 'v1')}" if group else "/api/v1"
    if ref.get("namespace"):
        base += "/namespaces/" + ref["namespace"]
    path = f"{base}/{ref['resource']}"
    if ref.get("name"):
        path += "/" + ref["name"]
    if ref.get("subresource"):
        path += "/" + ref["subresource"]
    if event["verb"] == "watch":
        path += "?allowWatchBookmarks=true&resourceVersion=123456&timeout=7m12s&timeoutSeconds=432&watch=true"
    elif event["verb"] == "list":
        path += "?limit=500&resourceVersion=0"
    return path


def _body(event: dict, kind: str) -> dict:
    """A plausible object of the request's resource, with managedFields, as a request or response body."""
    ref = event.get("objectRef") or {}
    return {
        "kind": kind,
        "apiVersion": (ref.get("apiGroup", "") + "/v1").lstrip("/"),
        "metadata": {
            "name": ref.get("name") or "generated-x7k2p",
            "namespace": ref.get("namespace", ""),
            "uid": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
            "resourceVersion": "123456",
            "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "k0rdent"},
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-30T09:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}}}},
                }
            ],
        },
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}},
        "status": {"observedGeneration": 4, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def write_log(path: Path, lines: int, compiled) -> dict:
    """Write ``lines`` logged events; return how many per level."""
    mix = policy_engine.event_stream(lines * 3)
    levels: dict[str, int] = {}
    written = 0
    step = SPAN / lines
    with path.open("w") as handle:
        for index, request in enumerate(mix):
            if written >= lines:
                break
            # Event.user is not optional (authentication/v1 UserInfo): a request without one is logged with {}.
            request = dict(request, user=request.get("user") or {})
            decision = compiled.evaluate(request)
            level = decision["level"]
            if level == "None":
                continue  # kube-apiserver writes nothing for a request its policy drops
            ref = request.get("objectRef")
            long_running = request["verb"] in LONG_RUNNING_VERBS or (
                ref is not None and ref.get("subresource") in LONG_RUNNING_SUBRESOURCES
            )
            stages = ["ResponseStarted", "ResponseComplete"] if long_running else ["ResponseComplete"]
            received = START + step * written
            audit_id = str(uuid.UUID(int=index))
            user = request["user"]
            for stage in stages:
                if stage in decision["omit_stages"] or written >= lines:
                    continue
                event = {
                    "kind": "Event",
                    "apiVersion": "audit.k8s.io/v1",
                    "level": level,
                    "auditID": audit_id,
                    "stage": stage,
                    "requestURI": _request_uri(request),
                    "verb": request["verb"],
                    "user": user,
                    "sourceIPs": ["10.0.0.12"],
                    "userAgent": USER_AGENTS.get(user.get("username", ""), "Go-http-client/2.0"),
                }
                if ref is not None:
                    event["objectRef"] = ref
                event["responseStatus"] = {"metadata": {}, "code": 200}
                if level in ("Request", "RequestResponse") and request["verb"] in ("create", "update", "patch"):
                    event["requestObject"] = _body(request, "Object")
                if level == "RequestResponse" and stage == "ResponseComplete":
                    event["responseObject"] = _body(request, "Object")
                done = received + timedelta(milliseconds=3 if stage == "ResponseComplete" else 1)
                event["requestReceivedTimestamp"] = received.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                event["stageTimestamp"] = done.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                event["annotations"] = {
                    "authorization.k8s.io/decision": "allow",
                    "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "system:basic-user"',
                }
                handle.write(json.dumps(event, separators=(",", ":")) + "\n")
                levels[level] = levels.get(level, 0) + 1
                written += 1
    if written < lines:
        raise SystemExit(f"the request mix gave only {written} logged events; raise the mix size in write_log.")
    return levels


def timed(function, repeat: int) -> float:
    """Median seconds of ``function()``."""
    times = []
    for _unused in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    if options.lines < 1 or options.repeat < 1:
        parser.error("--lines and --repeat must be 1 or more")

    # One core: the report runs on a host beside kube-apiserver; pin so the figures do not depend on the scheduler.
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})

    sys.path.insert(0, str(collections_root()))
    from ansible_collections.k0rdent.audit.plugins.module_utils._audit_report import (
        LogReport,
        find_log_files,
        named_policy,
    )

    merge_rules, merge_module = engine_function("merge_rules")
    compile_policy, compile_module = engine_function("compile_policy")
    named = yaml.safe_load((REPO / "roles/k0s_audit/vars/main/baseline.yml").read_text())["_k0s_audit_baseline_rules"]
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": merge_rules(named)}
    candidate = dict(policy, omitManagedFields=True)
    print(f"engine: merge_rules from {merge_module}, compile_policy from {compile_module}; pinned to CPU {core}")

    with tempfile.TemporaryDirectory(prefix="report-throughput-") as scratch:
        log = Path(scratch) / "audit.log"
        levels = write_log(log, options.lines, compile_policy(policy))
        size = log.stat().st_size
        shares = ", ".join(f"{level} {count:,}" for level, count in sorted(levels.items()))
        print(f"log: {options.lines:,} lines, {size / 2**20:.1f} MiB ({size // options.lines:,} bytes/line); {shares}")

        def json_only() -> None:
            with log.open("rb") as handle:
                for line in handle:
                    json.loads(line)

        results: dict = {}

        def report(with_candidate: bool) -> None:
            current, names = named_policy(policy, named)
            cand, cand_names = named_policy(candidate, named) if with_candidate else (None, None)
            core_report = LogReport(current, names, cand, cand_names)
            core_report.read_files(find_log_files(str(log)))
            results[with_candidate] = core_report.result()

        base = timed(json_only, options.repeat)
        plain = timed(lambda: report(False), options.repeat)
        projected = timed(lambda: report(True), options.repeat)

    for with_candidate, result in results.items():
        if result["events"] != options.lines or result["skipped"]["total"] or result["level_mismatches"]:
            print(
                f"the report read {result['events']:,} events, skipped {result['skipped']['total']:,} lines and saw "
                f"{result['level_mismatches']:,} level mismatches (candidate: {with_candidate}); expected "
                f"{options.lines:,}, 0 and 0"
            )
            return 1
    print(f"median of {options.repeat} passes, one core:")
    print(f"  json.loads alone:                   {base:6.2f} s  {options.lines / base:10,.0f} lines/s")
    for label, seconds in (("report core (policy in effect)", plain), ("report core + candidate policy", projected)):
        rate = options.lines / seconds
        print(f"  {label + ':':35s} {seconds:6.2f} s  {rate:10,.0f} lines/s  ({base / seconds:.3f}x json.loads)")
    ratio = base / plain
    ok = ratio >= TARGET_RATIO
    print(f"with a candidate policy: {base / projected:.3f}x json.loads")
    # The line benchmarks/run-all.sh collects.
    print(f"ratio: report core / json.loads = {ratio:.3f} (target >= {TARGET_RATIO}): {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
