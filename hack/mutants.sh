#!/usr/bin/env bash
# Mutation testing of the decision code, one package at a time
# (docs/testing.md). Usage: hack/mutants.sh [package-dir ...]
# Results go to bin/mutants/<package>.json; a summary is printed at the end.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=bin/mutants
mkdir -p "$OUT"

# The tool is pinned in its own module (hack/tools/gremlins) so that it never
# touches Keyless's go.mod; the binary's name carries the version.
version=$(cd hack/tools/gremlins && "$GO" list -m -f '{{.Version}}' github.com/go-gremlins/gremlins)
GREMLINS=bin/gremlins-$version
if [[ ! -x $GREMLINS ]]; then
  (cd hack/tools/gremlins && "$GO" build -o "../../../$GREMLINS" github.com/go-gremlins/gremlins/cmd/gremlins)
fi

# Package directory and the files of it left out (a regexp on the file name).
# Only the controller's cloud sync is in scope in pkg/controller, and the
# providers' rate limiters are not decision code: their tests measure
# request rates, which a loaded machine makes flaky, so they are skipped.
declare -A EXCLUDE=(
  [pkg/cloud/aws]='^limit\.go$'
  [pkg/cloud/gcp]='^limit\.go$'
  [pkg/controller]='^(cloudqueue|metrics|policy|propagation|serviceaccount|status|sweep|syncer)\.go$'
)
declare -A SKIP=(
  [pkg/cloud/aws]='^TestLimit'
  [pkg/cloud/gcp]='^TestLimit'
)
DEFAULT=(pkg/policy pkg/internal/yamlpos pkg/annotations pkg/mutation pkg/internal/jsonstr pkg/admission
  pkg/cloud/aws pkg/cloud/gcp pkg/controller)
PKGS=("$@")
[[ ${#PKGS[@]} -gt 0 ]] || PKGS=("${DEFAULT[@]}")

export KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-$PWD/bin/control-plane}
for pkg in "${PKGS[@]}"; do
  name=${pkg//\//_}
  args=(unleash --config .gremlins.yaml --output "$OUT/$name.json")
  if [[ -n ${EXCLUDE[$pkg]:-} ]]; then
    args+=(--exclude-files "${EXCLUDE[$pkg]}")
  fi
  # A mutant is killed by the tests, not by go vet (make test runs vet).
  flags="-vet=off"
  if [[ -n ${SKIP[$pkg]:-} ]]; then
    flags+=" -skip=${SKIP[$pkg]}"
  fi
  echo "== $pkg"
  start=$SECONDS
  GOFLAGS=$flags "$GREMLINS" "${args[@]}" "./$pkg" | tee "$OUT/$name.log" | grep -E '^ *(LIVED|TIMED OUT)' || true
  echo "   $((SECONDS - start))s"
done

# Killed counts timed-out mutants (a mutant that makes the tests hang is
# caught). Score: killed of killed and lived. Overall: the same with the
# mutants no test reaches (not covered) counted as lived.
echo
printf '%-18s %7s %6s %12s %7s %9s\n' package killed lived not-covered score overall
for pkg in "${PKGS[@]}"; do
  f="$OUT/${pkg//\//_}.json"
  [[ -f $f ]] || continue
  jq -r --arg p "$pkg" '[.files[].mutations[].status] as $s
    | ($s | map(select(. == "KILLED" or . == "TIMED OUT")) | length) as $k
    | ($s | map(select(. == "LIVED")) | length) as $l
    | ($s | map(select(. == "NOT COVERED")) | length) as $n
    | [$p, $k, $l, $n, (if $k + $l > 0 then $k * 1000 / ($k + $l) | floor / 10 else 100 end),
       (if $k + $l + $n > 0 then $k * 1000 / ($k + $l + $n) | floor / 10 else 100 end)] | @tsv' "$f" |
    awk -F'\t' '{printf "%-18s %7s %6s %12s %6s%% %8s%%\n", $1, $2, $3, $4, $5, $6}'
done
