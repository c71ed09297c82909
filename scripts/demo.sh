#!/usr/bin/env bash
# The collection's main job on an embedded default: apply playbook k0rdent.audit.enable to a throwaway local
# systemd container (Debian 12) that runs the k0s test stand-in as k0scontroller, then show what changed there.
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

if ! docker container inspect "$name" >/dev/null 2>&1; then
  echo "demo: starting container $name with the k0s stand-in"
  docker run -d --name "$name" --network none --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp k0s-audit-systemd:bookworm >/dev/null
  docker cp tests/k0s_standin/k0s_standin.py "$name":/usr/local/bin/k0s
  docker cp tests/k0s_standin/k0scontroller.service "$name":/etc/systemd/system/k0scontroller.service
  docker exec "$name" sh -c '
    systemctl is-system-running --wait >/dev/null 2>&1 || true
    chmod 0755 /usr/local/bin/k0s && mkdir -p /etc/k0s && k0s config create > /etc/k0s/k0s.yaml &&
    chmod 0600 /etc/k0s/k0s.yaml && cp -p /etc/k0s/k0s.yaml /root/k0s.yaml.before &&
    systemctl daemon-reload && systemctl start k0scontroller'
fi

echo "demo: ansible-playbook k0rdent.audit.enable -i scripts/demo/inventory.yml"
ANSIBLE_PIPELINING=true ansible-playbook k0rdent.audit.enable -i scripts/demo/inventory.yml | tee "$repo/.cache/demo.log" |
  sed -n '/PLAY RECAP/,$p'

echo "=== what changed on $name"
docker exec "$name" sh -c '
  echo "--- /etc/k0s/audit-policy.yaml (first 12 of $(wc -l < /etc/k0s/audit-policy.yaml) lines)"; head -n 12 /etc/k0s/audit-policy.yaml
  echo "--- /etc/k0s/k0s.yaml against the file before the first run"; diff -u /root/k0s.yaml.before /etc/k0s/k0s.yaml || true
  echo "--- the log directory and the API server"; stat -c "%n %U:%G %a" /var/log/k0s /var/log/k0s/audit.log
  echo "readyz: $(curl -sk https://127.0.0.1:6443/readyz); audit events logged: $(wc -l < /var/log/k0s/audit.log)"'
