#!/usr/bin/env bash
# `npm run bench -- --many-core [DIR]`: packs what the bench needs on a
# machine without Node, etcd, Go or a registry (a lent many-core machine):
# node, etcd, etcdctl and etcd's benchmark tool, xz-compressed, plus Kvorum's
# built node and bench harness with its production modules (the Kubernetes
# client left out). Target: under 60 MiB.
#
# On the other machine, from wherever DIR was carried to:
#   bash DIR/run.sh [bench flags]          # e.g. --out "$OUT/RESULTS.md"
#   bash DIR/run.sh sizes [bench:sizes flags]
# It unpacks with Python's lzma (no xz binary needed) and runs the same
# rows as `npm run bench`, both systems in the same run.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(realpath -m "${1:-$repo/.devbench}")"
log() { echo "[many-core-pack] $*" >&2; }

cd "$repo"
[ -f dist/bench/run.js ] && [ -d dist/node ] || { log "build first: npm run build"; exit 1; }
tools=()
while IFS='=' read -r name path; do tools+=("$name=$path"); done < <(bash bench/tools.sh)
tool() { local t; for t in "${tools[@]}"; do [ "${t%%=*}" = "$1" ] && { echo "${t#*=}"; return; }; done; log "bench/tools.sh gave no $1"; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/kv/dist" "$stage/kv/bench/tools" "$stage/kv/node/api" "$stage/kv/node_modules"
cp -r package.json bin "$stage/kv/"
# dist/operator: the bench's backup row drives the operator's own backup code.
cp -r dist/bin dist/node dist/bench dist/contract dist/operator "$stage/kv/dist/"
find "$stage/kv/dist" -name '*.map' -delete
cp bench/tools.sh "$stage/kv/bench/"
cp bench/tools/go.mod "$stage/kv/bench/tools/"
cp -r node/api/proto "$stage/kv/node/api/"
git rev-parse --short HEAD >"$stage/kv/COMMIT" 2>/dev/null || echo unknown >"$stage/kv/COMMIT"
# Production modules only; what the member and the bench never load (the
# Kubernetes client, the tool chain) is left out.
tar -C node_modules \
  --exclude='@kubernetes' \
  --exclude='typescript' --exclude='@typescript-eslint' --exclude='eslint*' --exclude='@eslint*' \
  --exclude='@types' --exclude='etcd3' --exclude='.cache' -cf - . | tar -C "$stage/kv/node_modules" -xf -

rm -rf "$out"
mkdir -p "$out"
tar -C "$stage" -cf - kv | xz -T2 -6 >"$out/kv.tar.xz"
xz -T2 -6 -c "$(command -v node)" >"$out/node.xz"
for t in etcd etcdctl benchmark; do xz -T2 -6 -c "$(tool "$t")" >"$out/$t.xz"; done

cat >"$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Unpacks the pack beside this file (once) and runs Kvorum's bench with the
# packed tools. `run.sh sizes ...` runs bench:sizes instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -x "$here/bin/node" ]; then
  python3 - "$here" <<'PY'
import lzma, os, shutil, sys, tarfile
here = sys.argv[1]
os.makedirs(os.path.join(here, 'bin'), exist_ok=True)
for name in ['node', 'etcd', 'etcdctl', 'benchmark']:
    dest = os.path.join(here, 'bin', name)
    with lzma.open(os.path.join(here, name + '.xz')) as src, open(dest, 'wb') as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(dest, 0o755)
with lzma.open(os.path.join(here, 'kv.tar.xz')) as src:
    tarfile.open(fileobj=src).extractall(here)
PY
fi
export PATH="$here/bin:$PATH" KVORUM_BENCH_TOOLS_DIR="$here/bin"
echo "cores $(nproc); kvorum $(cat "$here/kv/COMMIT"); $(node --version)"
cd "$here/kv"
if [ "${1:-}" = sizes ]; then shift; exec node dist/bench/sizes.js "$@"; fi
exec node dist/bench/run.js "$@"
RUN
chmod +x "$out/run.sh"
size=$(du -sm "$out" | cut -f1)
log "wrote $out (${size} MiB)"
[ "$size" -lt 60 ] || { log "the pack is ${size} MiB, over the 60 MiB target"; exit 1; }
