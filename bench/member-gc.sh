#!/usr/bin/env bash
# What garbage collection costs one member per write, Kvorum or etcd: starts
# one fresh member (REPO's build, or Debian's etcd with REPO=etcd) on
# loopback, warms it with a third as many puts (at least 2,000) of the same
# shape, then puts WRITES keys of
# 256 B (etcd's benchmark tool, CLIENTS clients over CONNS connections) and
# prints writes/s, p99, the member's CPU per write (all threads, /proc) and
# the collector's share of it, from the collector's own trace of the
# measured writes only:
# - Kvorum (node --trace-gc-nvp): young-generation collections (scavenges)
#   and full ones (mark-compacts): how many, the main thread's pauses, and
#   the CPU of all their phases, main thread and helper threads, per write;
#   the bytes each scavenge found still alive (survived) and moved to the
#   old generation (promoted).
# - etcd (GODEBUG=gctrace=1): cycles, their stop-the-world pauses, and the
#   CPU of every phase (assist, background and idle marking), per write.
#   bash bench/member-gc.sh [REPO|etcd] [CLIENTS] [CONNS] [WRITES]
# e.g. bash bench/member-gc.sh . 1000 100 60000; bash bench/member-gc.sh etcd 1000 100 60000
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${1:-$here/..}"; clients="${2:-100}"; conns="${3:-10}"; writes="${4:-40000}"
eval "$(bash "$here/tools.sh" | grep -E '^(etcd|etcdctl|benchmark)=')"
# shellcheck source=bench/member-start.sh
source "$here/member-start.sh"
if [ "$target" = etcd ]; then GODEBUG=gctrace=1 start_member etcd; else start_member "$target" --trace-gc-nvp; fi
put() { timeout 300 "$benchmark" --endpoints "127.0.0.1:$client" --clients "$1" --conns "$2" put --total "$3" --val-size 256 --key-space-size 100000; }
# Warm-up in the measured shape, so the JIT has compiled what it runs.
put "$clients" "$conns" $(( writes / 3 > 2000 ? writes / 3 : 2000 )) >/dev/null 2>&1
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
from=$(($(wc -l <"$dir/m1.log") + 1)); c0=$(cpu)
out=$(put "$clients" "$conns" "$writes" 2>&1 | tr '\r' '\n')
c1=$(cpu); sleep 0.2
rate=$(grep -oE 'Requests/sec:[[:space:]]*[0-9.]+' <<<"$out" | grep -oE '[0-9.]+$')
p99=$(grep -oE '99% in [0-9.]+ secs' <<<"$out" | head -1 | awk '{ print $3 }')
awk -v r="$rate" -v p="$p99" -v c=$((c1 - c0)) -v n="$writes" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  printf "%.0f writes/s, p99 %.1f ms, member cpu %.1f µs/write\n", r, p * 1000, c / hz * 1e6 / n }'
if [ "$target" = etcd ]; then
  # gc N @T s P%: a+b+c ms clock, d+e/f/g+h ms cpu, ...: a and c are the pauses; d..h the CPU.
  tail -n +"$from" "$dir/m1.log" | awk -v n="$writes" '/^gc [0-9]+ @/ {
      cycles++
      split($5, clock, "+"); pause += clock[1] + clock[3]
      split($8, cpu, "[+/]"); for (i in cpu) work += cpu[i]
    } END {
      printf "gc: %d cycles, pauses %.1f ms in all; gc cpu %.1f µs/write\n", cycles, pause, work * 1000 / n }'
else
  # --trace-gc-nvp: one line per collection (ms). Its CPU is the main
  # thread's pause, its incremental marking steps between pauses, and every
  # background.* phase (the helper threads'); the pause's own breakdown
  # (scavenge.roots, say) is within the pause.
  tail -n +"$from" "$dir/m1.log" | awk -v n="$writes" '/ gc=/ {
      kind = ""; pause = 0; work = 0
      for (i = 1; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "gc") kind = kv[2]
        else if (kv[1] == "pause") pause = kv[2]
        else if (kv[1] == "new_space_survived") survived[kind] += kv[2]
        else if (kv[1] == "promoted") promoted[kind] += kv[2]
        else if (kv[1] ~ /^background\./ || kv[1] == "incremental") work += kv[2]
      }
      count[kind]++; pauses[kind] += pause; cpu[kind] += pause + work
    } END {
      s = count["s"] + 0; m = count["mc"] + 0
      printf "scavenges: %d, pauses %.1f ms in all (%.2f ms each), cpu %.1f µs/write; survived %.0f KB and promoted %.0f KB each\n",
        s, pauses["s"], s ? pauses["s"] / s : 0, cpu["s"] * 1000 / n, s ? survived["s"] / s / 1024 : 0, s ? promoted["s"] / s / 1024 : 0
      printf "mark-compacts: %d, pauses %.1f ms in all, cpu %.1f µs/write\n", m, pauses["mc"], cpu["mc"] * 1000 / n
      printf "gc cpu %.1f µs/write\n", (cpu["s"] + cpu["mc"]) * 1000 / n }'
fi
