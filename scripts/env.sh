# Sourced by the other scripts: the venv's tools first on PATH, this checkout and the unpacked collections on
# Ansible's collection path. Source it yourself to run ansible-playbook, molecule or pytest by hand.
K0S_AUDIT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export K0S_AUDIT_REPO
export PATH="$K0S_AUDIT_REPO/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$K0S_AUDIT_REPO/.cache/collections"
export ANSIBLE_FORCE_COLOR=${ANSIBLE_FORCE_COLOR:-false}
export PY_COLORS=${PY_COLORS:-0}
