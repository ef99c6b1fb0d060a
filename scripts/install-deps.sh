#!/usr/bin/env bash
# Installs the Debian packages that the tests and `make run` need, and only
# those that are missing: redis-server and PostgreSQL, plus, with
# --build-tools, make and a C toolchain (go test -race needs cgo).
set -euo pipefail

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
      ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
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
