#!/usr/bin/env bash
# make run: GES with everything it talks to, on this machine, in the foreground.
#
#   scripts/run.sh          start (stopping a previous run first), tail the logs; Ctrl-C stops all
#   scripts/run.sh stop     stop what a previous run left running
#   scripts/run.sh clean    stop, then delete .run/ (databases included)
#
# Everything lives in .run/: a private PostgreSQL cluster, a GES Redis and a
# Voice Redis (all persistent between runs), the binaries, logs and pid files.
# The machine's own PostgreSQL and Redis are never touched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN="$ROOT/.run"
BIN="$RUN/bin"
LOGS="$RUN/logs"
PIDS="$RUN/pids"

PG_PORT=${RUN_PG_PORT:-15432}
REDIS_PORT=${RUN_REDIS_PORT:-16379}
VOICE_PORT=${RUN_VOICE_REDIS_PORT:-16380}
SIM_AUTH_PORT=${RUN_SIM_AUTH_PORT:-18080}
SIM_ENV_PORT=${RUN_SIM_ENV_PORT:-18081}
SIM_ORS_PORT=${RUN_SIM_ORS_PORT:-18082}
SIM_ADMIN_PORT=${RUN_SIM_ADMIN_PORT:-18083}
SIM_URS_PORT=${RUN_SIM_URS_PORT:-18084}
SIM_STATS_PORT=${RUN_SIM_STATS_PORT:-18085}
SIM_CONF_PORT=${RUN_SIM_CONF_PORT:-18086}
SIM_FCM_PORT=${RUN_SIM_FCM_PORT:-18087}
SIM_CAPTCHA_PORT=${RUN_SIM_CAPTCHA_PORT:-18088}
INTERNAL_PORT=${RUN_INTERNAL_PORT:-3050}
EXTERNAL_PORT=${RUN_EXTERNAL_PORT:-2050}
LOG_LEVEL=${RUN_LOG_LEVEL:-INFO}
FIXTURE=${RUN_FIXTURE:-$ROOT/deploy/gessim/demo-fixture.json}
CALLIN_GROUP=Demo_CallIn
DB_NAME=ges

log() { printf '==> %s\n' "$*"; }
die() { printf 'run: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# PostgreSQL refuses to run as root; as root, run its tools as the postgres user.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bindir() {
  local d best="" bestv=-1 v
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] || continue
    v=$(basename "$(dirname "$d")")
    v=${v%%.*}
    if [[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then best=$(dirname "$(command -v initdb)"); fi
  printf '%s' "$best"
}

# The cluster lives in .run/pg, unless the postgres user cannot reach the
# repository (a checkout under /root, say): then in a directory of its own
# under /var/tmp, named after the checkout.
pg_base() {
  local alt
  alt="/var/tmp/ges-run-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
  if [ -d "$alt" ]; then printf '%s' "$alt"; return; fi
  if ! is_root || runuser -u postgres -- test -x "$RUN" 2>/dev/null; then
    printf '%s' "$RUN/pg"
  else
    printf '%s' "$alt"
  fi
}

# pid_of NAME MATCH: the pid recorded for NAME if that process is alive and
# its command line still contains MATCH (a reused pid is not ours).
pid_of() {
  local f="$PIDS/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  printf '%s' "$pid"
}

stop_one() {
  local name=$1 match=$2 pid i
  if pid=$(pid_of "$name" "$match"); then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid"
}

stop_all() {
  # A previous `make run` still in the foreground somewhere stops its own
  # processes when asked; then whatever is left over is stopped here.
  local me
  if me=$(pid_of run "scripts/run.sh") && [ "$me" != $$ ]; then
    stop_one run "scripts/run.sh"
  fi
  stop_one ges "$BIN/ges"
  stop_one gessim "$BIN/gessim"
  stop_one redis-voice redis-server
  stop_one redis-ges redis-server
  local base pgbin
  base=$(pg_base)
  pgbin=$(pg_bindir)
  if [ -n "$pgbin" ] && [ -f "$base/data/postmaster.pid" ]; then
    log "stopping postgres"
    (cd "$base" && as_pg "$pgbin/pg_ctl" -D "$base/data" -m fast -w -t 30 stop >/dev/null 2>&1) || true
  fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_ok PORT PATH: GET answers 200 (bash only: a fresh machine may lack curl).
http_ok() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$2" "$1" >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ $line == HTTP/1.?' 200'* ]]
  ) 2>/dev/null
}

# http_put PORT PATH TOKEN CCID BODY: PUT a JSON body with a bearer token
# and a contact center; succeeds when GES answers 200 (bash only, as http_ok).
http_put() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PUT %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\nContactCenterId: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
      "$2" "$1" "$3" "$4" "${#5}" "$5" >&3
    IFS= read -r -t 5 line <&3 || exit 1
    [[ $line == HTTP/1.?' 200'* ]]
  ) 2>/dev/null
}

# wait_for NAME PID SECONDS LOGFILE CHECK...: poll CHECK every 200 ms while PID lives.
wait_for() {
  local name=$1 pid=$2 secs=$3 logfile=$4 i
  shift 4
  for ((i = 0; i < secs * 5; i++)); do
    if "$@"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$logfile" >&2 || true
      die "$name exited during start-up (log: $logfile)"
    fi
    sleep 0.2
  done
  tail -n 40 "$logfile" >&2 || true
  die "$name not ready after ${secs}s (log: $logfile)"
}

# start_bg NAME COMMAND...: start COMMAND in its own session (so Ctrl-C reaches
# only this script, which then stops everything in order), log to
# .run/logs/NAME.log, record its pid.
start_bg() {
  local name=$1
  shift
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

start_redis() {
  local name=$1 port=$2 pid
  mkdir -p "$RUN/$name"
  start_bg "$name" redis-server --port "$port" --bind 127.0.0.1 --dir "$RUN/$name" \
    --save 60 1 --appendonly no --daemonize no --logfile ""
  pid=$(cat "$PIDS/$name.pid")
  wait_for "$name" "$pid" 20 "$LOGS/$name.log" redis_ping "$port"
}

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

start_postgres() {
  local pgbin=$1 base data sock
  base=$(pg_base)
  data="$base/data"
  sock="$base/sock"
  mkdir -p "$base" "$sock"
  if is_root; then chown postgres: "$base" "$sock"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating the PostgreSQL cluster in $data"
    (cd "$base" && as_pg "$pgbin/initdb" -D "$data" -A trust -U ges -E UTF8 --locale=C --no-instructions >/dev/null)
  fi
  log "starting postgres on 127.0.0.1:$PG_PORT"
  if ! (cd "$base" && as_pg "$pgbin/pg_ctl" -D "$data" -l "$base/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -h 127.0.0.1 -k '$sock'" start >/dev/null); then
    tail -n 40 "$base/postgres.log" >&2 || true
    die "postgres did not start (log: $base/postgres.log)"
  fi
  local psql=("$pgbin/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U ges -d postgres -tA)
  if [ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    "${psql[@]}" -c "CREATE DATABASE $DB_NAME" >/dev/null
  fi
}

fixture_value() { # the first contact center id / API key of the fixture
  case $1 in
    ccid) grep -o '"id": *"[0-9a-fA-F-]\{36\}"' "$FIXTURE" | head -n 1 | grep -o '[0-9a-fA-F-]\{36\}' || true ;;
    key) tr -d '\n' <"$FIXTURE" | grep -o '"apiKeys": *\[ *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/' || true ;;
  esac
}

banner() {
  local ccid key ext="http://127.0.0.1:$EXTERNAL_PORT" int="http://127.0.0.1:$INTERNAL_PORT"
  ccid=$(fixture_value ccid)
  key=$(fixture_value key)
  cat <<TXT

GES is running. Logs: .run/logs/ (followed below). Ctrl-C stops everything.

  External API    $ext/engagement/v3
  Internal API    $int
  Metrics         $int/metrics
  Health          $int/ges/v1/health/detail  (readiness: $int/ges/v1/health/ready)
  Callback UI     $int/ges  (sign in as admin/admin, supervisor/supervisor, monitor/monitor or developer/developer)
  gessim          auth http://127.0.0.1:$SIM_AUTH_PORT  env http://127.0.0.1:$SIM_ENV_PORT  ors http://127.0.0.1:$SIM_ORS_PORT  admin http://127.0.0.1:$SIM_ADMIN_PORT  urs http://127.0.0.1:$SIM_URS_PORT
  PostgreSQL      postgres://ges@127.0.0.1:$PG_PORT/$DB_NAME
  Redis           GES 127.0.0.1:$REDIS_PORT, Voice 127.0.0.1:$VOICE_PORT

  Contact center  Demo  $ccid
  API key         $key

Book a callback:

  curl -s -X POST $ext/engagement/v3/callbacks/create -H 'x-api-key: $key' -H 'Content-Type: application/json' -d '{"serviceName":"Callback_Sales","phoneNumber":"+14155550123"}'

Book one and keep its id, then retrieve it (repeat the second command to watch
QUEUED -> ROUTING -> PROCESSING -> COMPLETED, about 2 s per step):

  ID=\$(curl -s -X POST $ext/engagement/v3/callbacks/create -H 'x-api-key: $key' -H 'Content-Type: application/json' -d '{"serviceName":"Callback_Sales","phoneNumber":"+14155550123"}' | sed -nE 's/.*"id" *: *"([^"]+)".*/\\1/p'); echo "\$ID"
  curl -s -X POST $ext/engagement/v3/callbacks/retrieve -H 'x-api-key: $key' -H 'Content-Type: application/json' -d "{\\"id\\":\\"\$ID\\"}"

Ask for a number to call in on (Click-To-Call-In group $CALLIN_GROUP, a number and
an access code held for 5 minutes):

  curl -s -X POST $ext/engagement/v3/call-in/requests/create -H 'x-api-key: $key' -H 'Content-Type: application/json' -d '{"groupName":"$CALLIN_GROUP","fromPhoneNumber":"+14155550123"}'

TXT
}

TAIL_PID=
on_exit() {
  [ -z "$TAIL_PID" ] || kill "$TAIL_PID" 2>/dev/null || true
  stop_all
  rm -f "$PIDS/run.pid"
}

cmd_stop() { stop_all; }

cmd_clean() {
  local base
  base=$(pg_base)
  stop_all
  log "removing .run/"
  rm -rf "$RUN"
  [ "$base" = "$RUN/pg" ] || rm -rf "$base"
}

cmd_start() {
  command -v go >/dev/null 2>&1 || die "go is not on PATH"
  [ -f "$FIXTURE" ] || die "fixture $FIXTURE not found"
  bash "$ROOT/scripts/install-deps.sh"
  local pgbin
  pgbin=$(pg_bindir)
  [ -n "$pgbin" ] || die "PostgreSQL binaries not found"

  mkdir -p "$RUN" "$BIN" "$LOGS" "$PIDS"
  chmod 755 "$RUN"
  stop_all

  local p
  for p in "$PG_PORT" "$REDIS_PORT" "$VOICE_PORT" "$SIM_AUTH_PORT" "$SIM_ENV_PORT" "$SIM_ORS_PORT" \
    "$SIM_ADMIN_PORT" "$INTERNAL_PORT" "$EXTERNAL_PORT"; do
    port_busy "$p" && die "port $p is already in use by another program (ports are set with RUN_*_PORT, see scripts/run.sh)"
  done

  echo $$ >"$PIDS/run.pid"
  # From here on, whatever happens, stop what was started.
  trap on_exit EXIT
  trap 'echo; exit 130' INT
  trap 'exit 143' TERM

  log "building ges and gessim into .run/bin"
  (cd "$ROOT" && go build -o "$BIN/" ./cmd/ges ./cmd/gessim)

  start_postgres "$pgbin"
  log "starting GES Redis on 127.0.0.1:$REDIS_PORT and Voice Redis on 127.0.0.1:$VOICE_PORT"
  start_redis redis-ges "$REDIS_PORT"
  start_redis redis-voice "$VOICE_PORT"

  log "starting gessim"
  start_bg gessim env -i PATH="$PATH" HOME="${HOME:-/}" LOG_LEVEL="$LOG_LEVEL" "$BIN/gessim" serve \
    --fixture "$FIXTURE" --voice-redis "127.0.0.1:$VOICE_PORT" \
    --auth-addr "127.0.0.1:$SIM_AUTH_PORT" --env-addr "127.0.0.1:$SIM_ENV_PORT" \
    --ors-addr "127.0.0.1:$SIM_ORS_PORT" --admin-addr "127.0.0.1:$SIM_ADMIN_PORT" \
    --urs-addr "127.0.0.1:$SIM_URS_PORT" --stats-addr "127.0.0.1:$SIM_STATS_PORT" \
    --conf-addr "127.0.0.1:$SIM_CONF_PORT" --fcm-addr "127.0.0.1:$SIM_FCM_PORT" \
    --captcha-addr "127.0.0.1:$SIM_CAPTCHA_PORT"
  local sim_pid
  sim_pid=$(cat "$PIDS/gessim.pid")
  wait_for gessim "$sim_pid" 30 "$LOGS/gessim.log" http_ok "$SIM_ADMIN_PORT" /sim/health

  # The admin APIs under /ges/v1 need a principal: the demo's Designer
  # (gessim publish) presents this run's service token.
  DESIGNER_API_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  # and the demo's own set-up (its Click-To-Call-In group) this admin one.
  ADMIN_API_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  log "starting ges (internal :$INTERNAL_PORT, external :$EXTERNAL_PORT)"
  start_bg ges env -i PATH="$PATH" HOME="${HOME:-/}" \
    DESIGNER_API_TOKEN="$DESIGNER_API_TOKEN" ADMIN_API_TOKEN="$ADMIN_API_TOKEN" \
    LOG_LEVEL="$LOG_LEVEL" \
    INTERNAL_PORT="$INTERNAL_PORT" EXTERNAL_PORT="$EXTERNAL_PORT" \
    INTERNAL_URL="http://127.0.0.1:$INTERNAL_PORT" \
    REDIS_HOST=127.0.0.1 REDIS_PORT="$REDIS_PORT" \
    DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_NAME="$DB_NAME" DB_USER=ges DB_PASSWORD= \
    VMCS_REDIS_HOST=127.0.0.1 VMCS_REDIS_PORT="$VOICE_PORT" \
    GWS_AUTH_URL="http://127.0.0.1:$SIM_AUTH_PORT" GWS_ENV_URL="http://127.0.0.1:$SIM_ENV_PORT" \
    GWS_CONF_URL="http://127.0.0.1:$SIM_CONF_PORT" GWS_STATS_URL="http://127.0.0.1:$SIM_STATS_PORT" \
    ORS_URL="http://127.0.0.1:$SIM_ORS_PORT" URS_URL="http://127.0.0.1:$SIM_URS_PORT" \
    FCM_URL="http://127.0.0.1:$SIM_FCM_PORT/v1" \
    CAPTCHA_VERIFY_URL="http://127.0.0.1:$SIM_CAPTCHA_PORT/recaptcha/api/siteverify" \
    AUTHENTICATION_CLIENT_ID=ges-client AUTHENTICATION_CLIENT_SECRET=ges-secret \
    "$BIN/ges"
  local ges_pid
  ges_pid=$(cat "$PIDS/ges.pid")
  wait_for ges "$ges_pid" 60 "$LOGS/ges.log" http_ok "$INTERNAL_PORT" /ges/v1/health/ready

  log "publishing CALLBACK_SETTINGS from $(basename "$FIXTURE")"
  if ! DESIGNER_API_TOKEN="$DESIGNER_API_TOKEN" "$BIN/gessim" publish --fixture "$FIXTURE" --ges "http://127.0.0.1:$INTERNAL_PORT" >>"$LOGS/publish.log" 2>&1; then
    tail -n 40 "$LOGS/publish.log" >&2 || true
    die "gessim publish failed (log: $LOGS/publish.log)"
  fi
  log "configuring the Click-To-Call-In group $CALLIN_GROUP"
  http_put "$INTERNAL_PORT" "/ges/v1/callin/groups/$CALLIN_GROUP" "$ADMIN_API_TOKEN" "$(fixture_value ccid)" \
    '{"numbers":["+18005550100","+18005550101","+18005550102"],"expirySeconds":300,"accessCodes":true,"codeLength":4}' ||
    die "could not configure the Click-To-Call-In group (log: $LOGS/ges.log)"

  banner
  tail -n 0 -F "$LOGS/ges.log" "$LOGS/gessim.log" &
  TAIL_PID=$!
  while kill -0 "$ges_pid" 2>/dev/null && kill -0 "$sim_pid" 2>/dev/null; do
    sleep 0.5
  done
  kill -0 "$ges_pid" 2>/dev/null || die "ges exited (log: $LOGS/ges.log)"
  die "gessim exited (log: $LOGS/gessim.log)"
}

case ${1:-start} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  clean) cmd_clean ;;
  *) die "usage: $0 [start|stop|clean]" ;;
esac
