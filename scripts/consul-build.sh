#!/usr/bin/env bash
# Builds a real Consul agent (service discovery of ORS/URS nodes with region
# affinity, KV) from the Go module proxy, since no Debian package ships it.
#
#   scripts/consul-build.sh        build once, then reuse; prints the binary's path
#   scripts/consul-build.sh -f     rebuild even if a binary is there
#
# The binary goes to ${GES_TOOLS:-$HOME/.cache/ges-tools}/bin/consul. The build
# happens in a throw-away module under a temporary directory, so the project's
# go.mod never sees Consul's dependencies. Expect a few minutes on two cores.
# Only the path goes to stdout; progress goes to stderr.
set -euo pipefail

CONSUL_VERSION=${CONSUL_VERSION:-1.13.9}
TOOLS=${GES_TOOLS:-$HOME/.cache/ges-tools}
BIN="$TOOLS/bin/consul"

force=0
for arg in "$@"; do
  case $arg in
    -f|--force) force=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "consul-build: unknown option $arg" >&2; exit 2 ;;
  esac
done

# have reports whether BIN is the wanted version ("Consul v1.13.9" on its
# first line of `consul version`).
have() {
  local out
  [ -x "$BIN" ] || return 1
  out=$("$BIN" version 2>/dev/null) || return 1
  [ "${out%%$'\n'*}" = "Consul v$CONSUL_VERSION" ]
}

if [ "$force" = 0 ] && have; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "consul-build: the go command is not in PATH" >&2; exit 1; }
mkdir -p "$TOOLS/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/consul-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

start=$(date +%s)
echo "consul-build: building github.com/hashicorp/consul v$CONSUL_VERSION in $work" >&2
(
  cd "$work"
  export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
  go mod init ges.local/consul-build >/dev/null 2>&1
  go get "github.com/hashicorp/consul@v$CONSUL_VERSION" >&2
  # Consul's release build stamps these variables; an empty prerelease keeps
  # `consul version` from calling it a dev build.
  pkg=github.com/hashicorp/consul/version
  go build -trimpath -o "$work/consul" \
    -ldflags "-s -w -X $pkg.GitCommit=v$CONSUL_VERSION -X $pkg.VersionPrerelease= -X $pkg.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    github.com/hashicorp/consul >&2
)
mv -f "$work/consul" "$BIN"
if ! have; then
  echo "consul-build: built $BIN but it does not report Consul v$CONSUL_VERSION:" >&2
  "$BIN" version >&2 || true
  exit 1
fi
echo "consul-build: done in $(( $(date +%s) - start ))s" >&2
echo "$BIN"
