#!/usr/bin/env bash
# Resident memory a Kvorum member gains per key: starts MEMBERS fresh members
# of REPO's build on loopback, puts KEYS sequential keys of 256 B with etcd's
# benchmark tool (as the rss-per-m row does, but a fixed count, not a time
# bound, so runs compare), waits 2 s and prints the leader's RSS growth per
# key. Extra arguments are environment assignments for the members.
#   bash bench/member-rss.sh [REPO] [MEMBERS] [KEYS] [VAR=value ...]
# e.g. bash bench/member-rss.sh . 1 400000 KVORUM_HEAP_GROWING_PERCENT=0
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${1:-$here/..}" && pwd)"; members="${2:-1}"; keys="${3:-400000}"; shift $(( $# < 3 ? $# : 3 ))
eval "$(bash "$here/tools.sh" | grep -E '^(etcdctl|benchmark)=')"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
base=$((26000 + RANDOM % 1500 * 2))
initial=""
for i in $(seq 1 "$members"); do initial="$initial${initial:+,}m$i=http://127.0.0.1:$((base + 10 * i + 1))"; done
pids=() endpoints=""
for i in $(seq 1 "$members"); do
  client=$((base + 10 * i)) peer=$((base + 10 * i + 1))
  endpoints="$endpoints${endpoints:+,}127.0.0.1:$client"
  (cd "$repo" && exec env "$@" node bin/kvorum node --name "m$i" --data-dir "$dir/m$i" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$initial" --initial-cluster-state new --log-level warn >"$dir/m$i.log" 2>&1) &
  pids+=($!)
done
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait || true; }
trap 'stop; rm -rf "$dir"' EXIT
for _ in $(seq 1 150); do "$etcdctl" --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
sleep 1
rss() { awk '/VmRSS/ { print $2 * 1024 }' "/proc/$1/status"; }
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
before=() ticks=()
for p in "${pids[@]}"; do before+=("$(rss "$p")"); ticks+=("$(cpu "$p")"); done
timeout 600 "$benchmark" --endpoints "$endpoints" --clients 1000 --conns 100 \
  put --total "$keys" --key-space-size "$keys" --sequential-keys --val-size 256 >"$dir/benchmark.out" 2>&1
sleep 2
leader=$("$etcdctl" --endpoints "$endpoints" endpoint status -w json |
  node -e 'const s = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(String(s.findIndex((x) => x.Status.header.member_id === x.Status.leader)))')
pid=${pids[$leader]}
after=$(rss "$pid")
hz=$(getconf CLK_TCK)
echo "members=$members keys=$keys leader=m$((leader + 1)) rss=$((before[leader] >> 20))->$((after >> 20)) MiB" \
  "growth=$(( (after - before[leader]) / keys )) B/key" \
  "leader_cpu=$(( ($(cpu "$pid") - ticks[leader]) * 1000000 / hz / keys )) us/put env=${*:-none}"
# Where the leader's memory is, from its own metrics: V8's heap (committed and
# in use), memory outside it that V8 knows of (external: array buffers), the rest.
ep=$(cut -d, -f$((leader + 1)) <<<"$endpoints")
curl -s "http://$ep/metrics" | awk -v rss="$after" '
  /^nodejs_heap_size_total_bytes / { total = $2 } /^nodejs_heap_size_used_bytes / { used = $2 } /^nodejs_external_memory_bytes / { ext = $2 }
  END { if (total) printf "leader memory: heap %d MiB (%d in use), external %d MiB, rest %d MiB\n", total / 2^20, used / 2^20, ext / 2^20, (rss - total - ext) / 2^20 }'
