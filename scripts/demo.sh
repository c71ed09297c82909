#!/usr/bin/env bash
# The collection's main job on an embedded default: apply playbook k0rdent.audit.enable to a throwaway local
# systemd container (Debian 12) running the REAL k0s (scripts/build-k0s.sh builds k0s, kube-apiserver, etcd and the
# rest from their Go modules: the first run takes about 25 minutes on 2 cores, later runs reuse the cache), installed
# as operators install it (`k0s install controller`, no k0s.yaml: k0s's defaults, storage etcd); then show what
# changed there and the level the policy gave a few requests.
# Needs a running Docker engine (scripts/docker-engine.sh starts one) and Go. Run it again: nothing changes.
# Remove the container with: docker rm -f k0s-audit-demo
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/bootstrap.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
docker info >/dev/null 2>&1 || { echo "demo: no Docker engine answers; start one (scripts/docker-engine.sh start)" >&2; exit 1; }
scripts/build-k0s.sh
scripts/build-image.sh bookworm
name=k0s-audit-demo
# Components a controller without workers cannot use; konnectivity-server is not built (it serves worker agents).
disabled=konnectivity-server,metrics-server,coredns,kube-proxy,network-provider,windows-node

if ! docker container inspect "$name" >/dev/null 2>&1; then
  echo "demo: starting container $name with the real k0s"
  docker run -d --name "$name" --network none --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    -v "$repo/.cache/k0s/bin:/opt/k0s/bin:ro" --tmpfs /run --tmpfs /run/lock --tmpfs /tmp k0s-audit-systemd:bookworm >/dev/null
  # As molecule/shared/prepare.yml does: k0s on PATH, the binaries it runs in its bin directory, the unit written by
  # k0s install controller (its LimitNOFILE lowered to what the container may have), started.
  docker exec "$name" sh -c "
    systemctl is-system-running --wait >/dev/null 2>&1 || true
    install -m 0755 /opt/k0s/bin/k0s /usr/local/bin/k0s && mkdir -p /var/lib/k0s/bin &&
    for b in kube-apiserver kube-controller-manager kube-scheduler kine etcd; do ln -sf /opt/k0s/bin/\$b /var/lib/k0s/bin/\$b; done &&
    k0s install controller --disable-components=$disabled &&
    mkdir -p /etc/systemd/system/k0scontroller.service.d &&
    printf '[Service]\\nLimitNOFILE=%s\\n' \$(ulimit -Hn) > /etc/systemd/system/k0scontroller.service.d/test-host-limits.conf &&
    systemctl daemon-reload && systemctl start k0scontroller"
  echo "demo: waiting for the controller"
  for _ in $(seq 120); do
    [ "$(docker exec "$name" k0s kubectl get --raw=/readyz 2>/dev/null)" = ok ] && break
    sleep 1
  done
  # A node's identity for the requests below: a client certificate from k0s's own CA.
  docker exec "$name" sh -c '
    cd /var/lib/k0s/pki && openssl req -new -newkey rsa:2048 -nodes -keyout /root/node.key -subj "/O=system:nodes/CN=system:node:cp1" 2>/dev/null |
      openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out /root/node.crt 2>/dev/null'
fi

echo "demo: ansible-playbook k0rdent.audit.enable -i scripts/demo/inventory.yml"
ANSIBLE_PIPELINING=true ansible-playbook k0rdent.audit.enable -i scripts/demo/inventory.yml | tee "$repo/.cache/demo.log" |
  sed -n '/PLAY RECAP/,$p'

echo "=== what changed on $name"
docker exec "$name" sh -c '
  echo "--- /etc/k0s/audit-policy.yaml (first 12 of $(wc -l < /etc/k0s/audit-policy.yaml) lines)"; head -n 12 /etc/k0s/audit-policy.yaml
  echo "--- /etc/k0s/k0s.yaml (there was none: the controller ran on k0s defaults; k0s merges this over them)"
  cat /etc/k0s/k0s.yaml
  echo "--- the API server k0s runs after the restart: its audit flags and its storage"
  tr "\0" "\n" < /proc/$(pgrep -x kube-apiserver)/cmdline | grep -E "^--audit|^--etcd-servers"
  echo "--- the log directory and the API server"; stat -c "%n %U:%G %a" /var/log/k0s /var/log/k0s/audit.log
  echo "readyz: $(k0s kubectl get --raw=/readyz 2>/dev/null); audit events logged: $(wc -l < /var/log/k0s/audit.log)"'

echo "=== a few requests and the level the policy gave each (audit log of $name)"
docker exec "$name" sh -c '
  send() { # audit-id identity method path (identity: admin = the admin certificate of k0s, node = the node one)
    case "$2" in
      admin) id="--cert /var/lib/k0s/pki/admin.crt --key /var/lib/k0s/pki/admin.key" ;;
      *) id="--cert /root/node.crt --key /root/node.key" ;;
    esac
    # shellcheck disable=SC2086
    curl -s -o /dev/null --cacert /var/lib/k0s/pki/ca.crt $id -X "$3" -H "Audit-ID: $1" -H "Content-Type: application/json" \
      $( [ "$3" = GET ] || echo --data-binary {} ) "https://127.0.0.1:6443$4"
  }
  run=$(date +%s)
  send "demo-$run-healthz" admin GET /healthz
  send "demo-$run-readyz" admin GET /readyz
  send "demo-$run-node-get-node" node GET /api/v1/nodes/cp1
  send "demo-$run-node-status-patch" node PATCH /api/v1/nodes/cp1/status
  send "demo-$run-get-secret" admin GET /api/v1/namespaces/kube-system/secrets/db
  send "demo-$run-list-deployments" admin GET /apis/apps/v1/deployments
  send "demo-$run-create-clusterdeployment" admin POST /apis/k0rdent.mirantis.com/v1beta1/namespaces/kcm-system/clusterdeployments
  sleep 1
  for id in healthz readyz node-get-node node-status-patch get-secret list-deployments create-clusterdeployment; do
    level=$(grep -F "\"auditID\":\"demo-$run-$id\"" /var/log/k0s/audit.log | grep -o "\"level\":\"[A-Za-z]*\"" | sort -u | cut -d\" -f4 | tr "\n" " ")
    printf "  %-28s %s\n" "$id" "${level:-None (not logged)}"
  done'
