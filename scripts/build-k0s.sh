#!/usr/bin/env bash
# Build the real components the test hosts run, from their Go modules (the versions: tests/k0s/versions.env):
#
#   .cache/k0s/bin/k0s                       k0s, bare (no embedded binaries: it finds the others in
#                                            /var/lib/k0s/bin or on PATH)
#   .cache/k0s/bin/kube-apiserver            Kubernetes' own commands, at the version that k0s release ships
#   .cache/k0s/bin/kube-controller-manager
#   .cache/k0s/bin/kube-scheduler
#   .cache/k0s/bin/kine                      with cgo (k0s's default sqlite:// data source needs it), static
#   .cache/k0s/bin/etcd                      k0s's default storage for a controller without --single
#   .cache/k0s/bin/k0sctl
#   .cache/k0s/bin/go-checker-bench          benchmarks/go_checker: kube-apiserver's audit-policy rule checker timed
#                                            on a request list (benchmarks/evaluator_vs_go.py), from the same
#                                            k8s.io/apiserver module as kube-apiserver
#   .cache/k0s/VERSIONS                      what each binary says its version is, and the build's wall time
#
# k0s and the Kubernetes commands are built in one wrapper module of ours (tests/k0s/build/go.mod: k0s's own
# replace block, the commands as `tool` lines), so the Kubernetes libraries compile once for both. kine has no
# replace directives and is built with `go install module@version`; k0sctl in tests/k0s/k0sctl/go.mod; the
# benchmark's checker in benchmarks/go_checker/go.mod (k8s.io/apiserver at kube-apiserver's version, k0s's replaces).
# Module and build caches live under $HOME/.cache (go-mod, go-build): a machine that built once stays warm.
# A run whose inputs (this script, versions.env, go.mod, go.sum) did not change skips everything.
# Cold on 2 cores this takes about 25 minutes; it prints each step as it goes.
set -euo pipefail
start=$SECONDS
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

top=.cache/k0s
bin=$top/bin
mkdir -p "$bin"
bin_abs=$(cd "$bin" && pwd)
exec 9>"$top/.lock"
flock 9

say() { echo "build-k0s: $*"; }
fail() {
  say "$*" >&2
  exit 1
}

# shellcheck source=../tests/k0s/versions.env
. tests/k0s/versions.env

export GOTOOLCHAIN=local GOFLAGS=-modcacherw
export GOMODCACHE=${GOMODCACHE:-$HOME/.cache/go-mod}
export GOCACHE=${GOCACHE:-$HOME/.cache/go-build}

binaries=(k0s kube-apiserver kube-controller-manager kube-scheduler kine etcd k0sctl go-checker-bench)
inputs_hash() {
  cat scripts/build-k0s.sh tests/k0s/versions.env tests/k0s/build/go.mod tests/k0s/build/go.sum \
    tests/k0s/k0sctl/go.mod tests/k0s/k0sctl/go.sum tests/k0s/etcd/go.mod tests/k0s/etcd/go.sum \
    benchmarks/go_checker/go.mod benchmarks/go_checker/go.sum benchmarks/go_checker/main.go | sha256sum | cut -d' ' -f1
}
built() {
  local b
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
}
if built && [ -f "$top/STAMP" ] && [ "$(cat "$top/STAMP")" = "$(inputs_hash)" ]; then
  say "up to date ($K0S_VERSION, Kubernetes $KUBERNETES_VERSION, kine $KINE_VERSION, k0sctl $K0SCTL_VERSION), nothing to do"
  exit 0
fi
rm -f "$top/STAMP"

# versions.env and the wrapper modules must name the same versions (go.mod is what the build uses).
grep -q "github.com/k0sproject/k0s $K0S_MODULE_VERSION" tests/k0s/build/go.mod ||
  fail "tests/k0s/build/go.mod does not require github.com/k0sproject/k0s $K0S_MODULE_VERSION (versions.env): run go get -tool github.com/k0sproject/k0s@$K0S_MODULE_VERSION there."
grep -q "k8s.io/kubernetes v$KUBERNETES_VERSION" tests/k0s/build/go.mod ||
  fail "tests/k0s/build/go.mod does not require k8s.io/kubernetes v$KUBERNETES_VERSION (versions.env)."
grep -q "go.etcd.io/etcd/server/v3 v$ETCD_VERSION" tests/k0s/etcd/go.mod ||
  fail "tests/k0s/etcd/go.mod does not require go.etcd.io/etcd/server/v3 v$ETCD_VERSION (versions.env)."
grep -q "github.com/k0sproject/k0sctl $K0SCTL_VERSION" tests/k0s/k0sctl/go.mod ||
  fail "tests/k0s/k0sctl/go.mod does not require github.com/k0sproject/k0sctl $K0SCTL_VERSION (versions.env)."
# Kubernetes 1.X.Y's libraries are v0.X.Y.
grep -q "^require k8s.io/apiserver v0.${KUBERNETES_VERSION#*.}\$" benchmarks/go_checker/go.mod ||
  fail "benchmarks/go_checker/go.mod does not require k8s.io/apiserver v0.${KUBERNETES_VERSION#*.} (Kubernetes $KUBERNETES_VERSION in versions.env)."
command -v go >/dev/null || fail "Go is not installed: install Go 1.24 or newer (the go command must be on PATH)."
command -v gcc >/dev/null || fail "gcc is not installed: kine needs cgo; install Debian's gcc and libc6-dev."

step() {
  local what=$1
  shift
  local t=$SECONDS
  say "$what ..."
  "$@" || fail "$what failed (see above); when a module cannot be downloaded, the Go module proxy does not serve that version here: pick one it serves in tests/k0s/versions.env."
  say "$what: $((SECONDS - t)) s"
}

say "building k0s $K0S_VERSION (module $K0S_MODULE_VERSION), Kubernetes $KUBERNETES_VERSION, kine $KINE_VERSION, k0sctl $K0SCTL_VERSION with $(go version | cut -d' ' -f3); caches in $GOMODCACHE and $GOCACHE"
say "a cold build takes about 25 minutes on 2 cores; later runs reuse the caches"

k8s_minor=${KUBERNETES_VERSION#*.}
k8s_minor=${k8s_minor%%.*}
k8s_ldflags="-X k8s.io/component-base/version.gitMajor=${KUBERNETES_VERSION%%.*}
  -X k8s.io/component-base/version.gitMinor=$k8s_minor
  -X k8s.io/component-base/version.gitTreeState=clean
  -X k8s.io/component-base/version.buildDate=$K0S_BUILD_DATE
  -X k8s.io/component-base/version.gitCommit=not_available"

# One setting for every package of the wrapper module, so a library compiled for one command is reused by the
# others. k0s needs cgo (its backup code links SQLite through github.com/rqlite/rqlite/db), so everything is built
# with cgo and linked statically as k0s's Makefile links k0s; the pure-Go user and name lookups (osusergo, netgo)
# keep the Kubernetes commands as they are without cgo. providerless is how k0s builds Kubernetes; noembedbins is
# k0s without the embedded-binaries payload, as k0s's Makefile builds it with EMBEDDED_BINS_BUILDMODE=none.
tags=providerless,osusergo,netgo,noembedbins
wrapper_env=(CGO_ENABLED=1)
static="-extldflags=-static"
build_wrapper() {
  (
    cd tests/k0s/build
    go mod download
    env "${wrapper_env[@]}" go build -trimpath -buildvcs=false -tags "$tags" -o "$bin_abs/" -ldflags "-w -s $static $k8s_ldflags
      -X k8s.io/component-base/version.gitVersion=v$KUBERNETES_VERSION+k0s" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler
  )
}
build_k0s() {
  (
    cd tests/k0s/build
    env "${wrapper_env[@]}" go build -trimpath -buildvcs=false -tags "$tags" -o "$bin_abs/k0s" -ldflags "-w -s $static $k8s_ldflags
      -X k8s.io/component-base/version.gitVersion=v$KUBERNETES_VERSION
      -X github.com/k0sproject/k0s/pkg/build.Version=$K0S_VERSION
      -X github.com/k0sproject/k0s/pkg/build.KubernetesVersion=$KUBERNETES_VERSION
      -X github.com/k0sproject/k0s/pkg/build.KineVersion=$KINE_VERSION
      -X github.com/k0sproject/k0s/pkg/build.EtcdVersion=$ETCD_VERSION
      -X github.com/k0sproject/k0s/pkg/build.KonnectivityVersion=$KONNECTIVITY_VERSION
      -X github.com/k0sproject/k0s/pkg/build.ContainerdVersion=$CONTAINERD_VERSION
      -X github.com/k0sproject/k0s/pkg/build.RuncVersion=$RUNC_VERSION" \
      github.com/k0sproject/k0s
  )
}
build_kine() {
  # As kine's and k0s's builds do: cgo, static, sqlite with alloca and the dbstat table.
  GOBIN=$bin_abs CGO_ENABLED=1 CGO_CFLAGS="-DSQLITE_ENABLE_DBSTAT_VTAB=1 -DSQLITE_USE_ALLOCA=1" \
    go install -trimpath -buildvcs=false -tags nats,netgo,osusergo \
    -ldflags "-w -s -extldflags=-static -X github.com/k3s-io/kine/pkg/version.Version=v$KINE_VERSION" \
    "github.com/k3s-io/kine@v$KINE_VERSION"
}
build_etcd() {
  # In a wrapper module of its own (tests/k0s/etcd/go.mod): etcd's server module names its siblings by path.
  (
    cd tests/k0s/etcd
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$bin_abs/etcd" -ldflags "-w -s" go.etcd.io/etcd/server/v3
  )
}
build_checker() {
  # In a module of its own (benchmarks/go_checker/go.mod): k8s.io/apiserver at kube-apiserver's version.
  (
    cd benchmarks/go_checker
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$bin_abs/go-checker-bench" -ldflags "-w -s" .
  )
}
build_k0sctl() {
  # In a wrapper module of its own (tests/k0s/k0sctl/go.mod), for the one replace it needs here.
  (
    cd tests/k0s/k0sctl
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags netgo,osusergo -o "$bin_abs/k0sctl" \
      -ldflags "-s -w -X github.com/k0sproject/k0sctl/version.Environment=production" github.com/k0sproject/k0sctl
  )
}

step "kube-apiserver, kube-controller-manager, kube-scheduler" build_wrapper
step "k0s" build_k0s
step "kine (cgo)" build_kine
step "etcd" build_etcd
step "k0sctl" build_k0sctl
step "go-checker-bench" build_checker

{
  echo "k0s: $("$bin/k0s" version)"
  echo "kube-apiserver: $("$bin/kube-apiserver" --version)"
  echo "kube-controller-manager: $("$bin/kube-controller-manager" --version)"
  echo "kube-scheduler: $("$bin/kube-scheduler" --version)"
  echo "kine: $("$bin/kine" --version 2>&1 | head -1)"
  echo "etcd: $("$bin/etcd" --version 2>&1 | head -1)"
  echo "k0sctl: $("$bin/k0sctl" version 2>&1 | head -1)"
  echo "go: $(go version)"
  echo "built in $((SECONDS - start)) s"
} >"$top/VERSIONS"
inputs_hash >"$top/STAMP"
cat "$top/VERSIONS"
du -sh "$bin"/* | sed 's/^/build-k0s: size /'
say "done in $((SECONDS - start)) s"
