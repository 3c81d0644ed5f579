#!/usr/bin/env bash
# The etcd mixin alert test: builds promtool once into the tools cache
# (test/e2e/tools/build.sh), gets etcdctl (scripts/etcd-tools.sh), then runs
# test/mixin against real member processes.
set -euo pipefail
cd "$(dirname "$0")/.."
KVORUM_PROMTOOL="$(E2E_BUILD_ONLY=promtool bash test/e2e/tools/build.sh | awk -F= '$1=="promtool" {print $2}')"
etcdctl_path="$(bash scripts/etcd-tools.sh | awk -F= '$1=="etcdctl" {print $2}')"
export KVORUM_PROMTOOL PATH="$(dirname "$etcdctl_path"):$PATH"
exec node --test dist/test/mixin/etcd-mixin.test.js
