#!/usr/bin/env bash
# Every test of the collection: lint, ansible-test sanity, unit and integration tests, Molecule scenarios.
#   scripts/test-all.sh            all stages
#   scripts/test-all.sh unit lint  only those stages (lint, sanity, unit, molecule, build)
#   K0S_AUDIT_SCENARIOS="default rollback" scripts/test-all.sh molecule
#   K0S_AUDIT_LANES=1 scripts/test-all.sh molecule   one scenario at a time (default: two at once)
# Molecule scenarios run in K0S_AUDIT_LANES lanes that take the next scenario from one queue. The test hosts run real
# k0s controllers (about 450 MiB each), and at most three run at once: a scenario with more hosts than a lane may
# have runs alone, after the lanes, and only one scenario with more than one host runs at a time. Each scenario's
# output is kept and printed whole, in the order of the list, when all are done.
# Needs a Docker engine for the Molecule stage (scripts/docker-engine.sh starts one). Ends with one plain line
# "N passed, N failed": every pytest test (unit, integration, Molecule verifiers) and every other check counts one.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/bootstrap.sh || exit 1
# shellcheck source=scripts/env.sh
source scripts/env.sh

results=$(mktemp -d)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(lint build sanity unit molecule)
scenarios=${K0S_AUDIT_SCENARIOS:-"real_k0s default existing_config running_controllers rollback disable bad_input debian13 single_node custom_config_path k0sctl custom_users audit_events rotation report"}
passed=0
failed=0
failures=()
timings=()

record() { # name rc
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}
count_junit() { # name file rc
  local counts
  if counts=$(python3 - "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad, skipped)
PY
  ); then
    read -r p f s <<<"$counts"
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -eq 0 ] || failures+=("$1 ($f failed)")
    [ "$s" -eq 0 ] || echo "note: $1 skipped $s test(s)"
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); failures+=("$1 (exit $3)"); fi
  else
    failed=$((failed + 1)); failures+=("$1 (no test report)")
  fi
}
timed() { # label command...
  local start=$SECONDS rc
  echo "=== $1"
  "${@:2}"
  rc=$?
  timings+=("$1: $((SECONDS - start)) s (exit $rc)")
  return $rc
}

max_hosts=3 # real controllers at once
scenario_hosts() { # scenario -> how many test hosts it starts (its platforms, else the base config's one)
  python3 - "molecule/$1/molecule.yml" <<'PY'
import sys, yaml
print(len((yaml.safe_load(open(sys.argv[1])) or {}).get("platforms") or [None]))
PY
}
run_scenario() { # scenario lane: one Molecule scenario, its output, junit report and exit code into $results
  local start=$SECONDS rc hosts
  hosts=$(scenario_hosts "$1")
  echo "=== molecule $1 (lane $2, $hosts host(s))"
  if [ "$hosts" -gt 1 ]; then # one scenario of several hosts at a time
    flock "$results/multi.lock" env K0S_AUDIT_JUNIT="$results/molecule-$1.xml" molecule test -s "$1" >"$results/$1.log" 2>&1
  else
    K0S_AUDIT_JUNIT="$results/molecule-$1.xml" molecule test -s "$1" >"$results/$1.log" 2>&1
  fi
  rc=$?
  echo "$rc $((SECONDS - start))" >"$results/$1.rc"
  echo "=== molecule $1: exit $rc after $((SECONDS - start)) s"
}
run_lane() { # lane: take the next scenario from the queue until it is empty
  local index scenario
  while true; do
    index=$(flock "$results/next" sh -c 'n=$(cat "$1"); echo $((n + 1)) >"$1"; echo "$n"' sh "$results/next")
    scenario=$(sed -n "$((index + 1))p" "$results/queue")
    [ -n "$scenario" ] || return 0
    run_scenario "$scenario" "$1"
  done
}

for stage in "${stages[@]}"; do
  case "$stage" in
  lint)
    timed "ruff check" ruff check .; record "ruff check" $?
    timed "ruff format" ruff format --check .; record "ruff format" $?
    timed "yamllint" yamllint -s .; record yamllint $?
    timed "ansible-lint" ansible-lint -q; record ansible-lint $?
    timed "antsibull-changelog lint" antsibull-changelog lint; record "antsibull-changelog lint" $?
    # The docs lint wants the collection where Ansible finds it: the ansible_collections tree of scripts/env.sh.
    timed "antsibull-docs lint" env -C "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/k0rdent/audit" \
      antsibull-docs lint-collection-docs --plugin-docs .
    record "antsibull-docs lint" $?
    ;;
  build)
    timed "collection build and install" scripts/build-and-install.sh; record "collection build and install" $?
    ;;
  sanity)
    timed "ansible-test sanity" scripts/ansible-test.sh sanity; record "ansible-test sanity" $?
    timed "ansible-test integration" scripts/ansible-test.sh integration; record "ansible-test integration" $?
    ;;
  unit)
    # The test bed's tests run the real kube-apiserver and kine: build them first (skipped when built).
    timed "real k0s" scripts/build-k0s.sh; record "real k0s" $?
    # The k0s_config module tests run the module in-process, as if each call were the module's own process; they
    # get a pytest process of their own, apart from the filter tests, which install Ansible's controller-side
    # warning and collection machinery.
    modules=tests/unit/plugins/modules
    timed "pytest (unit and integration)" pytest -q -p no:cacheprovider --junitxml="$results/unit.xml" \
      tests/unit tests/integration tests/testbed tests/ee tests/report --ignore="$modules" --ignore=tests/integration/targets
    count_junit "pytest" "$results/unit.xml" $?
    timed "pytest (modules)" pytest -q -p no:cacheprovider --junitxml="$results/modules.xml" "$modules"
    count_junit "pytest modules" "$results/modules.xml" $?
    ;;
  molecule)
    timed "docker engine" scripts/docker-engine.sh start || { record "docker engine" 1; continue; }
    # The real k0s, kube-apiserver, kine and k0sctl (skipped when built): the scenarios mount .cache/k0s/bin.
    timed "real k0s" scripts/build-k0s.sh; record "real k0s" $?
    timed "image bookworm" scripts/build-image.sh bookworm; record "image bookworm" $?
    if [[ " $scenarios " == *" debian13 "* ]]; then
      timed "image trixie" scripts/build-image.sh trixie; record "image trixie" $?
    fi
    lanes=${K0S_AUDIT_LANES:-2}
    queue=() solo=()
    for scenario in $scenarios; do
      hosts=$(scenario_hosts "$scenario")
      if [ "$hosts" -gt 1 ] && [ $((hosts + lanes - 1)) -gt "$max_hosts" ]; then solo+=("$scenario"); else queue+=("$scenario"); fi
    done
    printf '%s\n' "${queue[@]}" >"$results/queue"
    echo 0 >"$results/next"
    for ((lane = 1; lane <= lanes; lane++)); do run_lane "$lane" & done
    wait
    for scenario in "${solo[@]}"; do run_scenario "$scenario" solo; done
    for scenario in $scenarios; do
      cat "$results/$scenario.log"
      read -r rc took <"$results/$scenario.rc"
      timings+=("molecule $scenario: $took s (exit $rc)")
      junit="$results/molecule-$scenario.xml"
      if [ -f "$junit" ]; then count_junit "molecule $scenario" "$junit" "$rc"; else record "molecule $scenario" "$rc"; fi
    done
    ;;
  *)
    echo "unknown stage $stage (lint, build, sanity, unit, molecule)" >&2
    record "stage $stage" 1
    ;;
  esac
done

echo
echo "=== stage times"
printf '%s\n' "${timings[@]}"
if [ ${#failures[@]} -gt 0 ]; then
  echo "=== failed"
  printf '%s\n' "${failures[@]}"
fi
rm -rf "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
