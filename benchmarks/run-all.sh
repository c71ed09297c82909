#!/usr/bin/env bash
# Every benchmark, one after the other, with its figures, then every ratio of the benchmark table in one block:
# the policy engine, the evaluator beside kube-apiserver's Go rule checker, the report beside json.loads, the
# k0s_config module on a large k0s.yaml, the audit-log volume per policy, and the rollout against N systemd
# containers (needs a Docker engine; skipped with a note when none answers). Not part of the tests. Figures of a
# run are kept in benchmarks/RESULTS.md.
#   benchmarks/run-all.sh [--quick]    (--quick: rollout with N = 1 and 5 only, so no 20-host ratio)
# Exit status 1 when a benchmark failed or missed its target.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/bootstrap.sh >/dev/null
python=.venv/bin/python
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
echo "machine: $(uname -a)"
echo "cores: $(nproc), memory $(free -g | awk '/^Mem:/ {print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), $($python --version)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "commit: $commit"
status=0

# run NAME COMMAND...: print the benchmark's output and keep it in $logs/NAME for the ratio block.
run() {
  local name=$1
  shift
  echo "=== $name"
  "$@" 2>&1 | tee "$logs/$name"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
}

run policy_engine.py $python benchmarks/policy_engine.py
run evaluator_vs_go.py $python benchmarks/evaluator_vs_go.py
run report_throughput.py $python benchmarks/report_throughput.py
run k0s_config_patch.py $python benchmarks/k0s_config_patch.py
if docker info >/dev/null 2>&1; then
  scripts/build-image.sh bookworm >/dev/null
  if [ "${1:-}" = "--quick" ]; then
    run rollout.py $python benchmarks/rollout.py --hosts 1 5
  else
    run rollout.py $python benchmarks/rollout.py
  fi
else
  echo "=== rollout.py"
  echo "no Docker engine answers: rollout skipped (scripts/docker-engine.sh start)" | tee "$logs/rollout.py"
fi

# ratio NAME PATTERN WHAT: the benchmark's "ratio:" line matching PATTERN, or a line saying it printed none.
ratio() {
  local line
  line=$(grep -E "^ratio: .*$2" "$logs/$1" 2>/dev/null | tail -1)
  if [ -n "$line" ]; then
    echo "  ${line#ratio: }"
  else
    echo "  $3: not measured ($1 printed no such ratio line)"
  fi
}

echo "=== ratios (commit $commit)"
ratio rollout.py 'idempotent re-run, 20 hosts' 'idempotent re-run, 20 hosts / ping'
ratio rollout.py 'first run, 20 hosts' 'first run, 20 hosts / ping'
ratio rollout.py 'idempotent re-run, 1 host ' 'idempotent re-run, 1 host / ping'
ratio evaluator_vs_go.py 'evaluator' 'evaluator / Go checker'
# policy_engine.py prints the findings time at 10,000 rules; its own ratio: line when it has one, else its line.
if grep -qE '^ratio: .*findings' "$logs/policy_engine.py"; then
  ratio policy_engine.py 'findings' 'findings at 10,000 rules'
else
  findings=$(grep -iE 'findings.*10,?000|10,?000.*findings' "$logs/policy_engine.py" | tail -1)
  echo "  ${findings:-findings at 10,000 rules: not measured (policy_engine.py printed no such line)}" |
    sed -E 's/^  +/  /'
fi
ratio report_throughput.py 'report' 'report core / json.loads'
exit $status
