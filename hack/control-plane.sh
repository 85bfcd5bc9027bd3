#!/usr/bin/env bash
# Builds etcd and kube-apiserver from Go modules (hack/tools) into a git-ignored
# folder and prints that folder. Nothing is downloaded but Go modules; binaries
# that already exist are kept, so only the first run is slow (about 10 minutes).
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KEYLESS_ASSETS_DIR:-"$root/bin/control-plane"}
mkdir -p "$dir"

for tool in etcd kube-apiserver; do
  if [ ! -x "$dir/$tool" ]; then
    echo "building $tool from Go modules (first run only) ..." >&2
    (cd "$root/hack/tools" && CGO_ENABLED=0 go build -trimpath -o "$dir/$tool.tmp" "./$tool")
    mv "$dir/$tool.tmp" "$dir/$tool"
  fi
done
echo "$dir"
