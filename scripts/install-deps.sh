#!/usr/bin/env bash
# Installs the Debian packages that the tests and `make run` need, and only
# those that are missing: redis-server and PostgreSQL, plus, with
# --build-tools, make and a C toolchain (go test -race needs cgo), Chromium
# and axe-core for the Callback UI tests.
set -euo pipefail

# axe-core (the accessibility rules the UI tests inject into pages) comes
# from npm into the tools cache, never into the repository.
AXE_CORE_VERSION=4.14.1

want=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || want+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || want+=(postgresql)
for arg in "$@"; do
  case $arg in
    --build-tools)
      command -v make >/dev/null 2>&1 || want+=(make)
      command -v gcc >/dev/null 2>&1 || want+=(gcc libc6-dev)
      # the Callback UI tests drive Debian's Chromium headless
      [ -x /usr/bin/chromium ] || want+=(chromium)
      axe=1
      ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
if [ -n "${axe:-}" ]; then
  tools="${GES_TOOLS:-$HOME/.cache/ges-tools}"
  if [ "$(cat "$tools/.axe-core.version" 2>/dev/null)" != "$AXE_CORE_VERSION" ] || [ ! -f "$tools/node_modules/axe-core/axe.min.js" ]; then
    if command -v npm >/dev/null 2>&1; then
      echo "install-deps: installing axe-core $AXE_CORE_VERSION into $tools"
      mkdir -p "$tools"
      npm install --prefix "$tools" --no-save --no-audit --no-fund --silent "axe-core@$AXE_CORE_VERSION" </dev/null
      echo "$AXE_CORE_VERSION" >"$tools/.axe-core.version"
    else
      echo "install-deps: no npm to install axe-core with; the UI accessibility test fails in CI without it" >&2
    fi
  fi
fi
[ ${#want[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "install-deps: missing ${want[*]}; install them as root: apt-get install -y ${want[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing ${want[*]} and no apt-get to install them with" >&2
  exit 1
fi

echo "install-deps: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
# The packages would start their own services (a system Redis on 6379, the
# main cluster on 5432). Nothing here uses them, so keep them from starting,
# the standard Debian way, unless the machine already has a policy in place.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -qq </dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${want[@]}" </dev/null >/dev/null
