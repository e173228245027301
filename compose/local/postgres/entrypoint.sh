#!/bin/sh
# First start on an empty volume: create the cluster, the user (a password for
# TCP, trust on the local socket) and the database, as the official image does.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file="$(mktemp)"
  printf '%s' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --username="$POSTGRES_USER" --pwfile="$password_file" \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # Set up with no TCP listener and a private socket, so that neither clients
  # nor the pg_isready health check take the half-made server for the real one.
  pg_ctl --wait --silent -o "-c listen_addresses='' -c unix_socket_directories=/tmp" start
  if [ "$POSTGRES_DB" != postgres ]; then
    psql --host=/tmp --username="$POSTGRES_USER" --dbname=postgres --quiet \
      --set=ON_ERROR_STOP=1 --set=db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  pg_ctl --wait --silent --mode=fast stop
  echo "entrypoint: database $POSTGRES_DB created for $POSTGRES_USER"
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
