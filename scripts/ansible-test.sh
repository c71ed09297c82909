#!/usr/bin/env bash
# ansible-test in a temporary ansible_collections/k0rdent/audit tree made from the files git tracks (plus new files
# not ignored), so the checkout itself needs no particular place on disk.
#   scripts/ansible-test.sh sanity        ansible-test sanity in its own venvs
#   scripts/ansible-test.sh integration   the targets under tests/integration/targets, on this machine, with this
#                                         venv's Python (the filters need jsonschema) and the bootstrap's ansible.posix
set -euo pipefail
command=${1:?usage: scripts/ansible-test.sh sanity|integration [ansible-test options]}
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
dest="$tree/ansible_collections/k0rdent/audit"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$dest"/ 2>/dev/null || true
# ansible-test bootstraps pip in its venvs with a get-pip script it downloads from a host this machine cannot
# reach; give it one that bootstraps from Python's own ensurepip and then installs the pip version it asks for from
# the package index. ansible-test looks for it in its cache under ~/.ansible/test/cache.
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',$/\1/p" \
  "$("$repo/.venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
mkdir -p "$HOME/.ansible/test/cache"
cat >"$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py" <<'PY'
"""Stand-in for get-pip.py: pip from ensurepip, then the requested packages from the package index."""
import ensurepip
import os
import runpy
import sys

saved = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null; the real install must see the machine's pip configuration.
os.environ.clear()
os.environ.update(saved)
# --no-setuptools and --no-wheel are get-pip.py options, not pip options.
sys.argv = ["pip", "install"] + [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY

cp -r "$repo/.cache/collections/ansible_collections/ansible" "$tree/ansible_collections/"

cd "$dest"
git init -q . && git add -A >/dev/null
case "$command" in
sanity) "$repo/.venv/bin/ansible-test" sanity --color no --python 3.11 --venv --requirements "$@" ;;
integration) PATH="$repo/.venv/bin:$PATH" "$repo/.venv/bin/ansible-test" integration --color no --local --python 3.11 "$@" ;;
*) echo "scripts/ansible-test.sh: unknown command $command (sanity, integration)" >&2; exit 2 ;;
esac
