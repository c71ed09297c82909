#!/usr/bin/env bash
# Build a Debian systemd image for the Molecule test hosts from Debian's archive (no container registry needed).
#   scripts/build-image.sh [bookworm|trixie]   -> image k0s-audit-systemd:<release>
# Both releases carry python3-ruamel.yaml so k0s_config can keep comments; a scenario that wants the PyYAML
# fallback removes it in its prepare step; acl gives ansible.posix.acl its setfacl; openssh-server is what the real
# k0sctl connects to (the k0sctl scenario runs `k0sctl apply` over SSH to the host itself). The image is built once
# and reused: the build is skipped when an image built from the same package list exists (set
# K0S_AUDIT_REBUILD_IMAGE=1 to force it). The archive's address is read from this machine's apt configuration.
set -euo pipefail
release=${1:-bookworm}
image="k0s-audit-systemd:$release"
packages=systemd,systemd-sysv,passwd,python3,python3-yaml,sudo,procps,python3-ruamel.yaml,openssl,ca-certificates,iproute2,curl,e2fsprogs,acl,openssh-server
stamp=$(printf '%s' "$packages" | sha256sum | cut -c1-16)
if [ -z "${K0S_AUDIT_REBUILD_IMAGE:-}" ] &&
  [ "$(docker image inspect -f '{{ index .Config.Labels "k0s-audit.packages" }}' "$image" 2>/dev/null)" = "$stamp" ]; then
  echo "build-image: $image exists; reusing it"
  exit 0
fi

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "build-image: no Debian archive found in /etc/apt sources" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
start=$(date +%s)
mmdebstrap --variant=apt --mode=root --format=directory \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include="$packages" \
  --customize-hook='chroot "$1" sh -c ": > /etc/machine-id; rm -f /var/lib/dbus/machine-id"' \
  --customize-hook='chroot "$1" systemctl mask getty.target console-getty.service systemd-logind.service systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount systemd-firstboot.service' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  "$release" "$rootfs" "$mirror" >"$work/mmdebstrap.log" 2>&1 || {
  echo "build-image: mmdebstrap failed; last lines of its log:" >&2
  tail -n 30 "$work/mmdebstrap.log" >&2
  exit 1
}
tar -C "$rootfs" --numeric-owner -c . | docker import -c 'ENV container=docker' - "k0s-audit-systemd-base:$release" >/dev/null
# docker import refuses STOPSIGNAL; without it every docker stop waits 10 s.
printf 'FROM k0s-audit-systemd-base:%s\nLABEL k0s-audit.packages=%s\nSTOPSIGNAL SIGRTMIN+3\nCMD ["/lib/systemd/systemd"]\n' \
  "$release" "$stamp" >"$work/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$image" "$work" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
docker rmi "k0s-audit-systemd-base:$release" >/dev/null 2>&1 || true
echo "build-image: built $image in $(( $(date +%s) - start )) s"
