#!/usr/bin/env bash
# Make sure a Docker engine answers. When none does, start Debian's dockerd in the background with no bridge and
# no iptables (the test containers use network_mode: none) and write its PID to .cache/dockerd.pid so that
# scripts/docker-engine.sh stop ends it. Never touches an engine it did not start.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
state="$repo/.cache"
pidfile="$state/dockerd.pid"
mkdir -p "$state"

case "${1:-start}" in
start)
  if docker info >/dev/null 2>&1; then
    echo "docker-engine: an engine already answers; using it"
    exit 0
  fi
  command -v dockerd >/dev/null || { echo "docker-engine: dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
  data_root=${K0S_AUDIT_DOCKER_DATA_ROOT:-/var/lib/k0s-audit-docker}
  mkdir -p "$data_root"
  nohup dockerd --data-root "$data_root" --bridge=none --iptables=false --ip6tables=false \
    >"$state/dockerd.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      echo "docker-engine: started dockerd (pid $(cat "$pidfile"), data root $data_root)"
      exit 0
    fi
    sleep 1
  done
  echo "docker-engine: dockerd did not answer within 60 s; its log:" >&2
  tail -n 30 "$state/dockerd.log" >&2
  exit 1
  ;;
stop)
  [ -f "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "docker-engine: stopped dockerd (pid $pid)"
  fi
  rm -f "$pidfile"
  ;;
*)
  echo "usage: $0 [start|stop]" >&2
  exit 2
  ;;
esac
