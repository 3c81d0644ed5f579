#!/usr/bin/env bash
# CPU and thread wake-ups a single Kvorum member spends per write: starts one
# fresh member of REPO's build on loopback, warms it with 2,000 puts, then
# puts WRITES keys of 256 B (etcd's benchmark tool, CLIENTS clients over
# CONNS connections) and prints requests/s, p99, the member's CPU time per
# write and its voluntary context switches per 100 writes (all threads, from
# /proc/<pid>/task/*/status; a member's client workers count with it).
# Extra arguments are environment assignments for the member, for A/B runs
# on one build (ETCD_CLIENT_WORKERS=2 for --client-workers 2), or, when they
# start with "--", flags for node itself (V8's, say).
#   bash bench/member-cpu.sh [REPO] [CLIENTS] [CONNS] [WRITES] [VAR=value | --node-flag ...]
# e.g. bash bench/member-cpu.sh . 100 10 40000 KVORUM_GRPC_HOT_PATH=0
#      bash bench/member-cpu.sh . 1 1 5000 --single-threaded-gc
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${1:-$here/..}" && pwd)"; clients="${2:-1}"; conns="${3:-1}"; writes="${4:-8000}"; shift $(( $# < 4 ? $# : 4 ))
eval "$(bash "$here/tools.sh" | grep -E '^(etcdctl|benchmark)=')"
dir="$(mktemp -d)"
client=$((28000 + RANDOM % 1500 * 2)) peer=$((client + 1))
assignments=() node_flags=()
for arg in "$@"; do if [[ "$arg" == --* ]]; then node_flags+=("$arg"); else assignments+=("$arg"); fi; done
(cd "$repo" && exec env "${assignments[@]}" node "${node_flags[@]}" bin/kvorum node --name m1 --data-dir "$dir/m1" \
  --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "m1=http://127.0.0.1:$peer" --initial-cluster-state new --log-level warn >"$dir/m1.log" 2>&1) &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 150); do "$etcdctl" --endpoints "127.0.0.1:$client" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
put() { timeout 300 "$benchmark" --endpoints "127.0.0.1:$client" --clients "$1" --conns "$2" put --total "$3" --val-size 256 --key-space-size 100000; }
put 10 3 2000 >/dev/null 2>&1
# The member and its client workers (--client-workers), if any.
tree() { echo "$pid"; pgrep -P "$pid" || true; }
cpu() { for p in $(tree); do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ n += $1 } END { print n }'; }
switches() { for p in $(tree); do cat /proc/"$p"/task/*/status; done | awk '/^voluntary_ctxt_switches/ { n += $2 } END { print n }'; }
core() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
c0=$(cpu) s0=$(switches) k0=$(core)
out=$(put "$clients" "$conns" "$writes" 2>&1 | tr '\r' '\n')
c1=$(cpu) s1=$(switches) k1=$(core)
hz=$(getconf CLK_TCK)
rate=$(grep -oE 'Requests/sec:[[:space:]]*[0-9.]+' <<<"$out" | grep -oE '[0-9.]+$')
p99=$(grep -oE '99% in [0-9.]+ secs' <<<"$out" | head -1 | awk '{ print $3 }')
awk -v r="$rate" -v p="$p99" -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v k=$((k1 - k0)) -v n="$writes" -v hz="$hz" 'BEGIN {
  printf "%.0f writes/s, p99 %.1f ms, cpu %.0f µs/write (core process %.0f), %.0f voluntary context switches per 100 writes\n", r, p * 1000, c / hz * 1e6 / n, k / hz * 1e6 / n, s * 100 / n }'
