#!/usr/bin/env bash
# Builds kube-apiserver's etcd3 storage tests (k8s.io/apiserver/pkg/storage/etcd3,
# at the release matching the pinned Kubernetes in test/e2e/tools/go.mod) as a
# test binary in the tools cache, with test_server.go (a fresh `kvorum node`
# per test) in place of the upstream embedded-etcd test server. Prints
# "etcd3-storage-tests=PATH". Builds only when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${KVORUM_TOOLS_DIR:-$HOME/.cache/kvorum-tools}"
export GOFLAGS="${GOFLAGS:--p=2}" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
k8s_version="$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$repo/test/e2e/tools/go.mod")"
apiserver_version="v0.${k8s_version#v1.}"
shim_hash="$(sha256sum "$here/test_server.go" | cut -c1-12)"
out="$cache/k8s-storage-$apiserver_version-$shim_hash"
if [[ ! -x "$out/etcd3.test" ]]; then
  echo "[k8s-storage] building k8s.io/apiserver@$apiserver_version pkg/storage/etcd3 tests into $out" >&2
  start=$SECONDS
  mkdir -p "$out"; tmp="$(mktemp -d "$out/.build.XXXXXX")"
  src="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "k8s.io/apiserver@$apiserver_version" | awk -F'"' '$2=="Dir" {print $4}')"
  cp -r "$src" "$tmp/apiserver" && chmod -R u+w "$tmp/apiserver"
  cp "$here/test_server.go" "$tmp/apiserver/pkg/storage/etcd3/testserver/test_server.go"
  (cd "$tmp/apiserver" && CGO_ENABLED=0 go test -c -vet=off -trimpath -o "$tmp/etcd3.test" ./pkg/storage/etcd3)
  mv "$tmp/etcd3.test" "$out/etcd3.test" && rm -rf "$tmp"
  echo "[k8s-storage] built in $((SECONDS - start))s" >&2
fi
echo "etcd3-storage-tests=$out/etcd3.test"
