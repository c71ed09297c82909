#!/usr/bin/env bash
# Set up everything the collection's own commands need, idempotently:
#   .venv/                          the pinned Python tool chain (requirements-dev.txt + constraints.txt)
#   .cache/collections/             ANSIBLE_COLLECTIONS_PATH: this checkout as k0rdent.audit (a symlink) and the
#                                   collections Molecule's docker driver needs, unpacked without Galaxy
# Source scripts/env.sh afterwards (the other scripts do) to put both on the path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
python=${PYTHON:-python3}

stamp=.venv/.k0s-audit-installed
want=$(cat requirements-dev.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing the Python tool chain into .venv"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
  echo "$want" >"$stamp"
fi

collections=.cache/collections/ansible_collections
mkdir -p "$collections/k0rdent"
[ -L "$collections/k0rdent/audit" ] || ln -sfn "$repo" "$collections/k0rdent/audit"
if [ ! -f "$collections/community/docker/MANIFEST.json" ]; then
  echo "bootstrap: unpacking community.docker and ansible.posix from the pinned Ansible bundle"
  dl=.cache/downloads
  mkdir -p "$dl"
  .venv/bin/pip download -q --disable-pip-version-check --no-deps --require-hashes -d "$dl" -r requirements-collections.txt
  .venv/bin/python - "$dl" "$collections" <<'PY'
import pathlib, sys, zipfile
downloads, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wanted = ("community/docker/", "community/library_inventory_filtering_v1/", "ansible/posix/")
wheel = sorted(downloads.glob("ansible-*.whl"))[-1]
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        inner = name[len("ansible_collections/"):]
        if name.startswith("ansible_collections/") and inner.startswith(wanted) and not name.endswith("/"):
            out = target / inner
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(name))
PY
fi
echo "bootstrap: ready"
