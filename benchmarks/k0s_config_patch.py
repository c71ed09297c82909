"""How long k0rdent.audit.k0s_config takes on a large k0s.yaml (target: well under 0.5 s).

Generates a realistic 2,000-line k0s.yaml (many extraArgs, workerProfiles, images, comments) and times, in the
ruamel.yaml (round-trip) and the PyYAML (fallback) modes:

- ``pure``: ``patch_k0s_config`` alone (strict parse, patch, render, read-back check), as the module calls it;
- ``mask``: ``mask_secrets`` of the before and after texts (what ``--diff`` adds);
- ``module``: the whole module as a process (``python`` + imports + argument parsing + patch + validate-less
  atomic write), the way Ansible runs it on the host minus the AnsiballZ unpacking.

Run from the repository root:  .venv/bin/python benchmarks/k0s_config_patch.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from collection_root import collections_root  # noqa: E402  (one shim for tests and benchmarks)

TARGET_SECONDS = 0.5
AUDIT = {
    "audit-policy-file": "/etc/k0s/audit-policy.yaml",
    "audit-log-path": "/var/log/k0s/audit/audit.log",
    "audit-log-maxage": 30,
    "audit-log-maxbackup": 10,
    "audit-log-maxsize": 100,
}


def large_k0s_yaml(lines: int = 2000) -> str:
    """A ClusterConfig of about ``lines`` lines, shaped like a heavily customised production file."""
    out = [
        "# k0s configuration of the management cluster (generated for the benchmark).",
        "apiVersion: k0s.k0sproject.io/v1beta1",
        "kind: ClusterConfig",
        "metadata:",
        "  name: k0s",
        "  namespace: kube-system",
        "spec:",
        "  api:",
        "    address: 10.0.0.10",
        "    k0sApiPort: 9443",
        "    port: 6443",
        "    sans:",
    ]
    out += [f"    - 10.0.{i // 250}.{i % 250 + 1}" for i in range(40)]
    out += ["    extraArgs:", "      # flags kept from the previous installation"]
    out += [f'      feature-flag-{i:03d}: "value-{i}"  # set by change {1000 + i}' for i in range(150)]
    out += [
        "  images:",
        "    repository: registry.example.internal/mirror",
    ]
    for name in ("konnectivity", "metricsserver", "kubeproxy", "coredns", "pause", "pushgateway"):
        out += [f"    {name}:", f"      image: registry.example.internal/{name}", '      version: "v1.2.3"']
    out += ["  installConfig:", "    users:", "      kubeAPIserverUser: kube-apiserver", "      etcdUser: etcd"]
    out += ["  network:", "    provider: kuberouter", "    podCIDR: 10.244.0.0/16", "    serviceCIDR: 10.96.0.0/12"]
    out += ["  storage:", "    type: etcd", "    etcd:", "      peerAddress: 10.0.0.10"]
    out += ["  # one profile per node pool", "  workerProfiles:"]
    profile = 0
    while len(out) < lines - 2:
        out += [
            f"  - name: pool-{profile:03d}",
            "    values:",
            f"      maxPods: {100 + profile % 50}",
            "      kubeReserved:",
            '        cpu: "500m"',
            "        memory: 1Gi",
            "      evictionHard:",
            '        memory.available: "200Mi"',
            f"      # pool {profile} runs the audit collectors",
        ]
        profile += 1
    out += ["  telemetry:", "    enabled: false"]
    return "\n".join(out) + "\n"


def timed(function, repeat: int) -> list:
    times = []
    for _unused in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def module_process(text: str, force_pyyaml: bool, workdir: Path) -> float:
    path = workdir / "k0s.yaml"
    path.write_text(text)
    path.chmod(0o600)
    module_tmp = workdir / "module-tmp"
    module_tmp.mkdir(exist_ok=True)
    args = workdir / "args.json"
    args.write_text(
        json.dumps(
            {"ANSIBLE_MODULE_ARGS": {"path": str(path), "extra_args": AUDIT, "_ansible_tmpdir": str(module_tmp)}}
        )
    )
    code = (
        "import runpy, ansible_collections.k0rdent.audit.plugins.module_utils._k0s_config as core\n"
        f"core.HAS_RUAMEL = core.HAS_RUAMEL and not {force_pyyaml}\n"
        "runpy.run_module('ansible_collections.k0rdent.audit.plugins.modules.k0s_config', run_name='__main__')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(collections_root()), PATH="/usr/bin:/bin")
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-c", code, str(args)], capture_output=True, text=True, env=env, check=False
    )
    elapsed = time.perf_counter() - start
    result = json.loads(process.stdout)
    if not result.get("changed"):
        raise SystemExit(f"the module did not change the file: {process.stdout}{process.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    sys.path.insert(0, str(collections_root()))
    from ansible_collections.k0rdent.audit.plugins.module_utils import _k0s_config as core

    text = large_k0s_yaml()
    print(f"k0s.yaml: {text.count(chr(10))} lines, {len(text)} bytes; {options.repeat} runs each, seconds")
    print(f"{'mode':8} {'what':8} {'min':>7} {'median':>7} {'max':>7}")
    worst = 0.0
    has_ruamel = core.HAS_RUAMEL
    for mode in ("ruamel", "pyyaml"):
        if mode == "ruamel" and not has_ruamel:
            print("ruamel   (ruamel.yaml cannot be imported: skipped)")
            continue
        core.HAS_RUAMEL = mode == "ruamel"  # what the module sees on a host with or without ruamel.yaml
        result = core.patch_k0s_config(text, AUDIT)
        # the file has comments: only PyYAML drops them, and ruamel.yaml did not fall back (that would warn)
        assert result.changed and result.warnings == [] and result.comments_dropped is (mode == "pyyaml")
        rows = {
            "pure": timed(lambda: core.patch_k0s_config(text, AUDIT), options.repeat),
            "mask": timed(lambda r=result: (core.mask_secrets(text), core.mask_secrets(r.text)), options.repeat),
        }
        with tempfile.TemporaryDirectory() as workdir:
            rows["module"] = [
                module_process(text, mode == "pyyaml", Path(workdir)) for _unused in range(options.repeat)
            ]
        for what, times in rows.items():
            print(f"{mode:8} {what:8} {min(times):7.3f} {statistics.median(times):7.3f} {max(times):7.3f}")
        worst = max(worst, statistics.median(rows["module"]))
    core.HAS_RUAMEL = has_ruamel
    verdict = "OK" if worst < TARGET_SECONDS else "TOO SLOW"
    print(f"slowest median module run: {worst:.3f} s (target < {TARGET_SECONDS} s): {verdict}")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
