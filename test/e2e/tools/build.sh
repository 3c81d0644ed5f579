#!/usr/bin/env bash
# Builds the upstream binaries the e2e environment needs into a cache outside
# the repository and prints "name=path" lines. Only missing binaries are built;
# each pinned version gets its own directory, so bumping a pin rebuilds it.
#
#   KVORUM_TOOLS_DIR   cache root (default ~/.cache/kvorum-tools)
#   E2E_BUILD_ONLY     space separated subset: kubernetes helm minio (default), promtool, k8s-storage
#   GOFLAGS            defaults to -p=2 (the CI machine has two cores)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${KVORUM_TOOLS_DIR:-$HOME/.cache/kvorum-tools}"
export GOFLAGS="${GOFLAGS:--p=2}"
# With "auto" an older local Go downloads the toolchain the modules ask for
# (as a module from the proxy); a newer local Go builds them itself.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
# promtool (npm run test:mixin) and the etcd3 storage test binary
# (npm run test:k8s-storage) are built only when asked for.
only="${E2E_BUILD_ONLY:-kubernetes helm minio}"

# Pins. The Kubernetes version is the one required by ./go.mod.
k8s_version="$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/go.mod")"
helm_version="v3.18.6"
minio_version="v0.0.0-20260212201848-7aac2a2c5b7c"
# Prometheus 3.3.0 (its Go module is tagged v0.303.0): promtool for the etcd mixin alert test.
prometheus_version="v0.303.0"

log() { echo "[build.sh] $*" >&2; }

want() { [[ " $only " == *" $1 "* ]]; }

k8s_dir="$cache/kubernetes-$k8s_version"
helm_dir="$cache/helm-$helm_version"
minio_dir="$cache/minio-$minio_version"
promtool_dir="$cache/promtool-$prometheus_version"

if want kubernetes; then
  missing=()
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$k8s_dir/$cmd" ]] || missing+=("k8s.io/kubernetes/cmd/$cmd")
  done
  if ((${#missing[@]})); then
    log "building ${missing[*]} ($k8s_version) into $k8s_dir"
    mkdir -p "$k8s_dir"
    minor="${k8s_version#v1.}"; minor="${minor%%.*}"
    pkg=k8s.io/component-base/version
    ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    start=$SECONDS
    tmp="$(mktemp -d "$k8s_dir/.build.XXXXXX")"
    (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${missing[@]}")
    mv "$tmp"/* "$k8s_dir/" && rmdir "$tmp"
    log "kubernetes built in $((SECONDS - start))s"
  fi
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do echo "$cmd=$k8s_dir/$cmd"; done
fi

# kube-apiserver's etcd3 storage tests, built by their own script (which
# caches them beside these tools). Right after the Kubernetes binaries in one
# run, most of their packages come from Go's build cache.
if want k8s-storage; then
  bash "$here/../../k8s-storage/build.sh"
fi

# `go install pkg@version` builds a module with its own go.mod, untouched by ours.
install_module() { # name dir package@version
  local name="$1" dir="$2" spec="$3"
  if [[ ! -x "$dir/$name" ]]; then
    log "building $spec into $dir"
    local start=$SECONDS tmp
    mkdir -p "$dir"; tmp="$(mktemp -d "$dir/.build.XXXXXX")"
    (cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "-s -w ${4:-}" "$spec")
    mv "$tmp/$name" "$dir/$name" && rm -rf "$tmp"
    log "$name built in $((SECONDS - start))s"
  fi
  echo "$name=$dir/$name"
}

if want helm; then
  install_module helm "$helm_dir" "helm.sh/helm/v3/cmd/helm@$helm_version" \
    "-X helm.sh/helm/v3/internal/version.version=$helm_version"
fi
if want minio; then
  install_module minio "$minio_dir" "github.com/minio/minio@$minio_version"
fi

# Prometheus' go.mod has replace directives, which `go install pkg@version`
# refuses; so the module is downloaded and promtool built inside it.
if want promtool; then
  if [[ ! -x "$promtool_dir/promtool" ]]; then
    log "building promtool (github.com/prometheus/prometheus@$prometheus_version) into $promtool_dir"
    start=$SECONDS
    mkdir -p "$promtool_dir"; tmp="$(mktemp -d "$promtool_dir/.build.XXXXXX")"
    src="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus/prometheus@$prometheus_version" | awk -F'"' '$2=="Dir" {print $4}')"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$tmp/promtool" \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=3.3.0" ./cmd/promtool)
    mv "$tmp/promtool" "$promtool_dir/promtool" && rm -rf "$tmp"
    log "promtool built in $((SECONDS - start))s"
  fi
  echo "promtool=$promtool_dir/promtool"
fi
