#!/usr/bin/env bash
# Builds the previous release of Kvorum, the one pinned in
# test/previous-release.json, from this repository's own git history, for the
# mixed-version and upgrade tests. The tree goes to
#   ${KVORUM_TOOLS_DIR:-$HOME/.cache/kvorum-tools}/kvorum-<short commit>/
# with its node_modules linked to this checkout's (or installed with
# `npm ci --prefer-offline` when this checkout has none), compiled with tsc.
# A tree built earlier is reused. Prints the tree's path on stdout (run it as
# `node <path>/bin/kvorum ...`); progress goes to stderr.
# Fetches nothing: when the commit is not in the history (a shallow clone), it
# fails and says how to get it.
set -euo pipefail

here="$(cd "${BASH_SOURCE[0]%/*}" && pwd)"
repo="$(cd "$here/.." && pwd)"
pin="$repo/test/previous-release.json"
cache_root="${KVORUM_TOOLS_DIR:-$HOME/.cache/kvorum-tools}"
log() { echo "[previous-release] $*" >&2; }

commit="$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).commit)' "$pin")"
[[ "$commit" =~ ^[0-9a-f]{40}$ ]] || { log "$pin: \"commit\" must be a full 40-character commit hash, got '$commit'"; exit 1; }
short="${commit:0:7}"
dest="$cache_root/kvorum-$short"

built() { [ -f "$dest/.kvorum-built" ] && [ "$(cat "$dest/.kvorum-built")" = "$commit" ]; }
if built; then echo "$dest"; exit 0; fi

if ! git -C "$repo" cat-file -e "$commit^{commit}" 2>/dev/null; then
  log "commit $commit (the previous release pinned in test/previous-release.json) is not in this repository's history."
  log "A shallow clone lacks it: fetch the full history (git fetch --unshallow, or actions/checkout with fetch-depth: 0) and run this again."
  exit 1
fi

mkdir -p "$cache_root"
# One build at a time: tests running in parallel may all ask for it.
exec 9>"$cache_root/.kvorum-$short.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if built; then echo "$dest"; exit 0; fi

work="$cache_root/.kvorum-$short.tmp.$$"
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
log "extracting $commit into $dest"
git -C "$repo" archive --format=tar "$commit" | tar -x -C "$work"

if [ -d "$repo/node_modules" ]; then
  ln -s "$(cd "$repo/node_modules" && pwd -P)" "$work/node_modules"
else
  log "no node_modules in $repo: installing the previous release's dependencies"
  (cd "$work" && npm ci --prefer-offline --no-audit --no-fund >&2)
fi

log "compiling (tsc)"
(cd "$work" && npx --no-install tsc -p tsconfig.json >&2)
echo "$commit" > "$work/.kvorum-built"

rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
log "built $dest"
echo "$dest"
