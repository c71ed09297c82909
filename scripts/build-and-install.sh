#!/usr/bin/env bash
# Build the collection tarball and install it into a scratch collections path, then ask ansible-doc for every
# plugin: what a user gets from ansible-galaxy collection install.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" .
# Only the scratch path: with the checkout's own path in sight, ansible-galaxy would find k0rdent.audit installed.
export ANSIBLE_COLLECTIONS_PATH="$out/collections"
# --no-deps: Galaxy is out of reach here; the dependency ansible.posix is copied in from the bootstrap's unpacked copy.
ansible-galaxy collection install --offline --no-deps --force -p "$out/collections" "$out"/k0rdent-audit-*.tar.gz
cp -r .cache/collections/ansible_collections/ansible "$out/collections/ansible_collections/"
ansible-doc -t module k0rdent.audit.k0s_config k0rdent.audit.k0s_host_info k0rdent.audit.k0s_controller_ready \
  k0rdent.audit.k0sctl_config >/dev/null
ansible-doc -t filter -l k0rdent.audit
for f in $(ls plugins/filter/*.py | xargs -n1 basename | sed 's/\.py$//'); do
  ansible-doc -t filter "k0rdent.audit.$f" >/dev/null
done
ansible-doc -t role k0rdent.audit.k0s_audit >/dev/null
ansible-playbook --syntax-check k0rdent.audit.enable -i localhost, >/dev/null
ansible-playbook --syntax-check k0rdent.audit.disable -i localhost, >/dev/null
ansible-playbook --syntax-check k0rdent.audit.k0sctl -i localhost, >/dev/null
echo "build-and-install: tarball installs; ansible-doc renders every plugin and the role"
