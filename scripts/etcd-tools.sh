#!/usr/bin/env bash
# Makes sure etcd and etcdctl can be run: the process integration tests drive
# etcdctl and compare Kvorum with etcd, and the benchmarks run both.
# In order, the first that works:
#   1. etcd and etcdctl already on PATH;
#   2. a copy built earlier into the tools cache;
#   3. Debian's packages etcd-server and etcd-client (etcd 3.4), installed with
#      apt-get when this may install packages: as root or with passwordless
#      sudo, and unless KVORUM_NO_APT=1;
#   4. built with Go from etcd's modules at the release pinned in
#      scripts/etcd-tools/go.mod, into
#      ${KVORUM_TOOLS_DIR:-$HOME/.cache/kvorum-tools}/etcd-<version>/ (a few
#      minutes once; reused afterwards).
# Prints `etcd=PATH` and `etcdctl=PATH` on stdout; progress goes to stderr.
# Exits 1 with what was tried and how to fix it when none works.
set -euo pipefail

here="$(cd "${BASH_SOURCE[0]%/*}" && pwd)"
cache_root="${KVORUM_TOOLS_DIR:-$HOME/.cache/kvorum-tools}"
log() { echo "[etcd-tools] $*" >&2; }

# Both commands exist in the directory given (or on PATH when none) and answer --version.
usable() {
  local etcd etcdctl
  if [ -n "${1:-}" ]; then etcd="$1/etcd"; etcdctl="$1/etcdctl"; else
    etcd="$(command -v etcd || true)"; etcdctl="$(command -v etcdctl || true)"
  fi
  [ -n "$etcd" ] && [ -x "$etcd" ] && [ -n "$etcdctl" ] && [ -x "$etcdctl" ] || return 1
  "$etcd" --version >/dev/null 2>&1 && "$etcdctl" version >/dev/null 2>&1 || return 1
  echo "etcd=$etcd"
  echo "etcdctl=$etcdctl"
}

# The etcd release the wrapper module pins (its server module's version).
version=""
while read -r path ver _; do
  # (The tool block names it too, without a version.)
  if [ "$path" = "go.etcd.io/etcd/server/v3" ] && [ -n "$ver" ]; then version="$ver"; break; fi
done < "$here/etcd-tools/go.mod"
[ -n "$version" ] || { log "cannot find the go.etcd.io/etcd/server/v3 requirement in $here/etcd-tools/go.mod"; exit 1; }
built="$cache_root/etcd-$version"

# 1 and 2.
usable && exit 0
usable "$built" && exit 0

tried=("etcd and etcdctl are not on PATH" "no copy built earlier in $built")

# 3. Debian's packages.
sudo=""
if [ "${KVORUM_NO_APT:-}" = 1 ]; then
  tried+=("Debian packages not tried (KVORUM_NO_APT=1)")
elif ! command -v apt-get >/dev/null 2>&1; then
  tried+=("Debian packages not tried (no apt-get)")
elif [ "$EUID" -ne 0 ] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; }; then
  tried+=("Debian packages not tried (not root and no passwordless sudo)")
else
  [ "$EUID" -eq 0 ] || sudo="sudo -n"
  log "installing Debian's etcd-server and etcd-client with apt-get"
  if $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends etcd-server etcd-client >&2; then
    hash -r
    usable && exit 0
    tried+=("apt-get installed etcd-server and etcd-client, but etcd or etcdctl still does not run")
  else
    tried+=("apt-get could not install etcd-server and etcd-client")
  fi
fi

# 4. Built from etcd's Go modules.
if command -v go >/dev/null 2>&1; then
  log "building etcd and etcdctl $version from go.etcd.io/etcd into $built (a few minutes, once)"
  start=$SECONDS
  mkdir -p "$built"
  if (cd "$here/etcd-tools" && GOFLAGS="${GOFLAGS:--p=2}" go build -trimpath -o "$built/etcd.tmp" go.etcd.io/etcd/server/v3 \
      && GOFLAGS="${GOFLAGS:--p=2}" go build -trimpath -o "$built/etcdctl.tmp" go.etcd.io/etcd/etcdctl/v3) >&2; then
    mv "$built/etcd.tmp" "$built/etcd"
    mv "$built/etcdctl.tmp" "$built/etcdctl"
    log "built in $((SECONDS - start))s"
    usable "$built" && exit 0
    tried+=("built etcd and etcdctl into $built, but they do not run")
  else
    rm -f "$built/etcd.tmp" "$built/etcdctl.tmp"
    tried+=("go build of go.etcd.io/etcd $version failed (output above)")
  fi
else
  tried+=("no go toolchain to build them from go.etcd.io/etcd $version")
fi

{
  echo "etcd and etcdctl are needed and could not be provided:"
  for t in "${tried[@]}"; do echo "  - $t"; done
  echo "Fix one of:"
  echo "  - install Debian's packages: sudo apt-get install etcd-server etcd-client"
  echo "  - install Go (https://go.dev/dl/) and run this again: it builds them into $built"
  echo "  - put etcd and etcdctl (3.4 or 3.5) on PATH"
} >&2
exit 1
