#!/usr/bin/env bash
# The collection's main job on an embedded default: apply playbook k0rdent.audit.enable to a throwaway local
# systemd container (Debian 12) shaped like the k0rdent quick start (`k0s install controller --single`, no k0s.yaml,
# storage kine), which runs the k0s test stand-in as k0scontroller with kube-apiserver's real audit code, then show
# what changed there and the level the policy gave a few requests.
# Needs only a running Docker engine (scripts/docker-engine.sh starts one). Run it again: nothing changes.
# Remove the container with: docker rm -f k0s-audit-demo
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/bootstrap.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
docker info >/dev/null 2>&1 || { echo "demo: no Docker engine answers; start one (scripts/docker-engine.sh start)" >&2; exit 1; }
scripts/build-image.sh bookworm
name=k0s-audit-demo
[ -x .cache/testbed/kube-apiserver ] ||
  { echo "demo: the test API server .cache/testbed/kube-apiserver is missing: run scripts/build-test-apiserver.sh" >&2; exit 1; }

if ! docker container inspect "$name" >/dev/null 2>&1; then
  echo "demo: starting container $name with the k0s stand-in"
  docker run -d --name "$name" --network none --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp k0s-audit-systemd:bookworm >/dev/null
  docker cp tests/k0s_standin/k0s_standin.py "$name":/usr/local/bin/k0s
  docker cp tests/k0s_standin/k0scontroller.service "$name":/etc/systemd/system/k0scontroller.service
  # As molecule/shared/prepare.yml does: the test API server in k0s's bin dir, and a token file for the requests.
  docker exec "$name" mkdir -p /var/lib/k0s/bin /etc/k0s-standin
  docker cp .cache/testbed/kube-apiserver "$name":/var/lib/k0s/bin/kube-apiserver
  docker exec "$name" sh -c '
    systemctl is-system-running --wait >/dev/null 2>&1 || true
    chmod 0755 /var/lib/k0s/bin/kube-apiserver &&
    printf "%s\n" "demo-operator,operator,1001,\"system:masters\"" "demo-node,system:node:cp1,1002,\"system:nodes\"" \
      > /etc/k0s-standin/tokens.csv && chmod 0640 /etc/k0s-standin/tokens.csv
    chmod 0755 /usr/local/bin/k0s &&
    sed -i "s|^ExecStart=/usr/local/bin/k0s controller\$|ExecStart=/usr/local/bin/k0s controller --single|" \
      /etc/systemd/system/k0scontroller.service &&
    systemctl daemon-reload && systemctl start k0scontroller'
fi

echo "demo: ansible-playbook k0rdent.audit.enable -i scripts/demo/inventory.yml"
ANSIBLE_PIPELINING=true ansible-playbook k0rdent.audit.enable -i scripts/demo/inventory.yml | tee "$repo/.cache/demo.log" |
  sed -n '/PLAY RECAP/,$p'

echo "=== what changed on $name"
docker exec "$name" sh -c '
  echo "--- /etc/k0s/audit-policy.yaml (first 12 of $(wc -l < /etc/k0s/audit-policy.yaml) lines)"; head -n 12 /etc/k0s/audit-policy.yaml
  echo "--- /etc/k0s/k0s.yaml (there was none: the quick start runs on k0s defaults; k0s merges this over them)"
  cat /etc/k0s/k0s.yaml
  echo "--- the controller after the restart: $(grep " ready " /var/lib/k0s-standin/lifecycle.log | tail -n 1 | grep -o "storage=[a-z]* config=[^ ]*")"
  echo "--- the log directory and the API server"; stat -c "%n %U:%G %a" /var/log/k0s /var/log/k0s/audit.log
  echo "readyz: $(curl -sk https://127.0.0.1:6443/readyz); audit events logged: $(wc -l < /var/log/k0s/audit.log)"'

echo "=== a few requests and the level the policy gave each (audit log of $name)"
docker exec "$name" sh -c '
  send() { # audit-id token method path
    curl -sk -o /dev/null -X "$3" -H "Audit-ID: $1" ${2:+-H "Authorization: Bearer $2"} -H "Content-Type: application/json" \
      $( [ "$3" = GET ] || echo --data-binary {} ) "https://127.0.0.1:6443$4"
  }
  run=$(date +%s)
  send "demo-$run-healthz" "" GET /healthz
  send "demo-$run-readyz" "" GET /readyz
  send "demo-$run-node-get-node" demo-node GET /api/v1/nodes/cp1
  send "demo-$run-node-status-patch" demo-node PATCH /api/v1/nodes/cp1/status
  send "demo-$run-get-secret" demo-operator GET /api/v1/namespaces/kcm-system/secrets/db
  send "demo-$run-list-deployments" demo-operator GET /apis/apps/v1/deployments
  send "demo-$run-create-clusterdeployment" demo-operator POST /apis/k0rdent.mirantis.com/v1beta1/namespaces/kcm-system/clusterdeployments
  sleep 1
  for id in healthz readyz node-get-node node-status-patch get-secret list-deployments create-clusterdeployment; do
    level=$(grep -F "\"auditID\":\"demo-$run-$id\"" /var/log/k0s/audit.log | grep -o "\"level\":\"[A-Za-z]*\"" | sort -u | cut -d\" -f4 | tr "\n" " ")
    printf "  %-28s %s\n" "$id" "${level:-None (not logged)}"
  done'
