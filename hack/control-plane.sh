#!/usr/bin/env bash
# Builds the local control plane from Go modules into a git-ignored folder and
# prints that folder: etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler (hack/tools, k8s.io/kubernetes), kwok (hack/tools/kwok) and
# kwok's stage configs (kwok-stages). Nothing is downloaded but Go modules.
# A binary is rebuilt only when it is missing or its recipe (module versions,
# ldflags, main package) changed, so only the first run is slow.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KEYLESS_ASSETS_DIR:-"$root/bin/control-plane"}
tools="$root/hack/tools"
mkdir -p "$dir"

kube_version=v1.37.2 # k8s.io/kubernetes in hack/tools/go.mod
etcd_version=v3.7.0  # go.etcd.io/etcd/server/v3 in hack/tools/go.mod
kwok_version=v0.8.0  # sigs.k8s.io/kwok in hack/tools/kwok/go.mod

# version.Get() of an unstamped build is v0.0.0-master, which clients that
# parse the server version refuse.
major=${kube_version#v}; major=${major%%.*}
minor=${kube_version#v*.}; minor=${minor%%.*}
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_version \
-X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor \
-X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=2026-10-27T12:01:04Z \
-X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version"
kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version \
-X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${kube_version#v} -X sigs.k8s.io/kwok/pkg/consts.PreRelease=GA"

# recipe fingerprints what a binary is built from; a change means a rebuild.
recipe() { # module-dir package ldflags
  {
    cat "$1/go.mod" "$1/go.sum"
    if [ -d "$1/$2" ]; then cat "$1/$2"/*.go; else echo "$2"; fi
    echo "$3"
    go env GOVERSION
  } | sha256sum
}

# stale lists the tools of one module whose binary is missing or out of date.
stale() { # module-dir ldflags tool...
  local mod=$1 flags=$2 tool
  shift 2
  for tool in "$@"; do
    if [ ! -x "$dir/$tool" ] || ! recipe "$mod" "$(pkg "$tool")" "$flags" | cmp -s - "$dir/.$tool.recipe"; then
      echo "$tool"
    fi
  done
}

pkg() { if [ "$1" = kwok ]; then echo sigs.k8s.io/kwok/cmd/kwok; else echo "$1"; fi; }

# build compiles the tools of one module in one go build, so that they share
# the compilation of their common packages.
build() { # module-dir ldflags tool...
  local mod=$1 flags=$2 tool pkgs=()
  shift 2
  [ $# -gt 0 ] || return 0
  echo "building $* from Go modules (first run only; the first of all takes 10 to 20 minutes) ..." >&2
  for tool in "$@"; do
    case $(pkg "$tool") in ./*|*/*/*) pkgs+=("$(pkg "$tool")") ;; *) pkgs+=("./$tool") ;; esac
  done
  rm -rf "$dir/.build" && mkdir -p "$dir/.build"
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$dir/.build/" "${pkgs[@]}")
  for tool in "$@"; do
    mv "$dir/.build/$tool" "$dir/$tool"
    recipe "$mod" "$(pkg "$tool")" "$flags" >"$dir/.$tool.recipe"
  done
  rm -rf "$dir/.build"
}

# shellcheck disable=SC2046 # tool names have no spaces
build "$tools" "$kube_ldflags" $(stale "$tools" "$kube_ldflags" etcd kube-apiserver kube-controller-manager kube-scheduler)
# shellcheck disable=SC2046
build "$tools/kwok" "$kwok_ldflags" $(stale "$tools/kwok" "$kwok_ldflags" kwok)

# kwok does nothing without stages: nodes become Ready and keep a heartbeat,
# pods run, Jobs' pods complete, deleted pods go.
stages="$dir/kwok-stages"
if [ ! -f "$stages/.$kwok_version" ]; then
  src=$(cd "$tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
  rm -rf "$stages" && mkdir -p "$stages"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    cp "$src/$f" "$stages/$(basename "$f")"
    chmod 0644 "$stages/$(basename "$f")"
  done
  touch "$stages/.$kwok_version"
fi
echo "$dir"
