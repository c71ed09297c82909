#!/usr/bin/env bash
# Every benchmark, one after the other, with its figures: the policy engine, the k0s_config module on a large
# k0s.yaml, the audit-log volume per policy, and the rollout against N systemd containers (needs a Docker engine;
# skipped with a note when none answers). Not part of the tests. Figures of a run are kept in benchmarks/RESULTS.md.
#   benchmarks/run-all.sh [--quick]    (--quick: rollout with N = 1 and 5 only)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/bootstrap.sh >/dev/null
python=.venv/bin/python
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), $($python --version)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
status=0
echo "=== benchmarks/policy_engine.py"; $python benchmarks/policy_engine.py || status=1
echo "=== benchmarks/k0s_config_patch.py"; $python benchmarks/k0s_config_patch.py || status=1
echo "=== benchmarks/audit_volume.py"; $python benchmarks/audit_volume.py || status=1
echo "=== benchmarks/rollout.py"
if docker info >/dev/null 2>&1; then
  scripts/build-image.sh bookworm >/dev/null
  if [ "${1:-}" = "--quick" ]; then $python benchmarks/rollout.py --hosts 1 5 || status=1; else $python benchmarks/rollout.py || status=1; fi
else
  echo "no Docker engine answers: rollout skipped (scripts/docker-engine.sh start)"
fi
exit $status
