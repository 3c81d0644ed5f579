#!/usr/bin/env bash
# Prepares the external tools the benchmark harness drives:
#   * etcd and etcdctl - the reference system (Debian's etcd 3.4, or etcd 3.5
#     built from its Go modules where packages cannot be installed)
#   * etcd's own load generator, `benchmark` (tools/benchmark of go.etcd.io/etcd/v3),
#     pinned by bench/tools/go.mod and cached outside the repository.
# Prints `name=path` lines on stdout; progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${KVORUM_TOOLS_DIR:-$HOME/.cache/kvorum-tools}"
log() { echo "[bench/tools.sh] $*" >&2; }

# --- etcd and etcdctl -------------------------------------------------------
# On PATH, else Debian's packages, else built from etcd's Go modules
# (scripts/etcd-tools.sh, shared with the test runner).
etcd="" etcdctl=""
while IFS='=' read -r name path; do
  case "$name" in
    etcd) etcd="$path" ;;
    etcdctl) etcdctl="$path" ;;
  esac
done < <(bash "$here/../scripts/etcd-tools.sh")
[ -n "$etcd" ] && [ -n "$etcdctl" ] || { log "scripts/etcd-tools.sh could not provide etcd and etcdctl"; exit 1; }

# --- etcd benchmark tool ---------------------------------------------------
# The pinned version is whatever bench/tools/go.mod requires for the root module.
version="$(awk '$1 == "go.etcd.io/etcd/v3" { print $2; exit }' "$here/tools/go.mod")"
if [ -z "$version" ]; then
  log "cannot find the go.etcd.io/etcd/v3 requirement in $here/tools/go.mod"
  exit 1
fi
dest="$cache_root/etcd-benchmark-$version"
if [ ! -x "$dest/benchmark" ]; then
  command -v go >/dev/null 2>&1 || { log "go is required to build the etcd benchmark tool"; exit 1; }
  log "building go.etcd.io/etcd/v3/tools/benchmark@$version into $dest"
  mkdir -p "$dest"
  start=$(date +%s)
  (cd "$here/tools" && GOFLAGS="${GOFLAGS:--p=2}" go build -trimpath -o "$dest/benchmark.tmp" go.etcd.io/etcd/v3/tools/benchmark) >&2
  mv "$dest/benchmark.tmp" "$dest/benchmark"
  log "benchmark built in $(( $(date +%s) - start ))s"
fi

echo "etcd=$etcd"
echo "etcdctl=$etcdctl"
echo "benchmark=$dest/benchmark"
