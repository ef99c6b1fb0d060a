#!/usr/bin/env bash
# Installs the operations tools the chart and alert-rule tests need, built from
# source through the Go module proxy (prebuilt binaries cannot be downloaded):
#
#   helm      helm.sh/helm/v3/cmd/helm                          (about 2 minutes on 2 cores)
#   promtool  github.com/prometheus/prometheus/cmd/promtool     (about 6 minutes on 2 cores)
#
# The binaries go to a cache directory that survives between runs on one
# machine ($GES_TOOLS_DIR, default $HOME/.cache/ges-tools/bin); a binary that is
# already there at the pinned version is reused. Prints the directory last, so
# callers can do:  PATH="$(bash scripts/ops-tools.sh | tail -n1):$PATH"
set -euo pipefail

HELM_VERSION=v3.22.0
PROMTOOL_VERSION=v0.316.0 # github.com/prometheus/prometheus module version (Prometheus 3.x)

bin="${GES_TOOLS_DIR:-$HOME/.cache/ges-tools/bin}"
mkdir -p "$bin"

# Building outside the project keeps its go.mod out of the picture; the local
# toolchain is used as is (no toolchain download).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

# install_tool NAME PACKAGE VERSION: builds PACKAGE@VERSION into $bin unless the
# stamp file says that exact version is already there.
install_tool() {
  local name=$1 pkg=$2 version=$3
  local stamp="$bin/.$name.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version" ]; then
    echo "ops-tools: $name $version cached in $bin" >&2
    return
  fi
  echo "ops-tools: building $name $version (once per machine)" >&2
  local start=$SECONDS
  (cd "$work" && GOBIN="$bin" go install -trimpath -ldflags='-s -w' "$pkg@$version")
  echo "$pkg@$version" >"$stamp"
  echo "ops-tools: $name built in $((SECONDS - start))s" >&2
}

# The two builds share the module download and build caches; running them one
# after the other keeps memory use modest on a small machine.
install_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
install_tool promtool github.com/prometheus/prometheus/cmd/promtool "$PROMTOOL_VERSION"

"$bin/helm" version --short >&2
"$bin/promtool" --version 2>&1 | head -n1 >&2
echo "$bin"
