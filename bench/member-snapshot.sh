#!/usr/bin/env bash
# What one `etcdctl snapshot save` costs a member: starts one fresh member of
# REPO's build (or etcd, with REPO=etcd) on loopback, puts KEYS sequential
# keys of 256 B with etcd's benchmark tool (1000 clients over 100
# connections, as the snapshot row loads), then saves SAVES snapshots one
# after another and prints, for each, its size, wall time, MiB/s and the
# member's CPU time (all threads, from /proc/<pid>/stat) and etcdctl's. Extra arguments
# that start with "--" are flags for node itself (--trace-gc, say).
#   bash bench/member-snapshot.sh [REPO|etcd] [KEYS] [SAVES] [--node-flag ...]
# e.g. bash bench/member-snapshot.sh . 1000000 3
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${1:-$here/..}"; keys="${2:-1000000}"; saves="${3:-3}"; shift $(( $# < 3 ? $# : 3 ))
eval "$(bash "$here/tools.sh" | grep -E '^(etcd|etcdctl|benchmark)=')"
# shellcheck source=bench/member-start.sh
source "$here/member-start.sh"
start_member "$target" "$@"
hz=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
c0=$(cpu)
rate=$(timeout 900 "$benchmark" --endpoints "127.0.0.1:$client" --clients 1000 --conns 100 put --total "$keys" \
  --key-space-size "$keys" --sequential-keys --val-size 256 2>&1 | tr '\r' '\n' | grep -oE 'Requests/sec:[[:space:]]*[0-9.]+' | grep -oE '[0-9.]+$')
c1=$(cpu)
awk -v k="$keys" -v r="$rate" -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "loaded %d keys at %.0f puts/s, member cpu %.1f s\n", k, r, c / hz }'
sleep 2
for i in $(seq 1 "$saves"); do
  c0=$(cpu); t0=$(date +%s.%N)
  client_cpu=$( { TIMEFORMAT='%U %S'; time "$etcdctl" --endpoints "127.0.0.1:$client" --command-timeout 120s snapshot save "$dir/s.db" >/dev/null 2>&1; } 2>&1 | awk '{ print $1 + $2 }')
  t1=$(date +%s.%N); c1=$(cpu)
  size=$(stat -c %s "$dir/s.db"); rm -f "$dir/s.db"
  awk -v t0="$t0" -v t1="$t1" -v s="$size" -v c=$((c1 - c0)) -v hz="$hz" -v i="$i" -v cc="$client_cpu" 'BEGIN {
    printf "save %d: %.0f MiB in %.2f s = %.1f MiB/s, member cpu %.2f s, etcdctl cpu %.2f s\n", i, s / 2^20, t1 - t0, s / 2^20 / (t1 - t0), c / hz, cc }'
done
