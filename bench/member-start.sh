# Sourced by the one-member scripts (member-gc.sh, member-snapshot.sh):
# starts one fresh member on loopback, Kvorum from REPO's build or Debian's
# etcd (TARGET "etcd"), waits until it answers, and removes it and its data
# when the script exits. Needs $etcd and $etcdctl (bench/tools.sh).
#   start_member TARGET [NODE_FLAG ...]   (node flags apply to Kvorum only)
# Sets dir (the member's log is $dir/m1.log), client (its client port) and pid.
# The caller's environment reaches the member: GODEBUG=gctrace=1 start_member etcd.
start_member() {
  local target="$1"; shift
  dir="$(mktemp -d)"
  client=$((26000 + RANDOM % 1500 * 2))
  local peer=$((client + 1))
  local flags=(--name m1 --data-dir "$dir/m1" --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client"
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer"
    --initial-cluster "m1=http://127.0.0.1:$peer" --initial-cluster-state new)
  if [ "$target" = etcd ]; then
    "$etcd" "${flags[@]}" >"$dir/m1.log" 2>&1 &
  else
    (cd "$target" && exec node "$@" bin/kvorum node "${flags[@]}" --log-level warn >"$dir/m1.log" 2>&1) &
  fi
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; wait || true; rm -rf "$dir"' EXIT
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { echo "the member exited at startup:" >&2; tail -5 "$dir/m1.log" >&2; exit 1; }
    "$etcdctl" --endpoints "127.0.0.1:$client" endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the member did not answer within 30 s:" >&2; tail -5 "$dir/m1.log" >&2; exit 1
}
