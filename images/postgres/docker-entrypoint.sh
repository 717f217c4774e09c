#!/bin/bash
# Entrypoint of the PostgreSQL stand-in image (scripts/images-base.sh). It keeps the contract of the
# official image that the program and docker-compose.yml rely on:
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: the user), and POSTGRES_PASSWORD or
#   POSTGRES_PASSWORD_FILE; PGDATA is initialised only when it holds no cluster yet, never again;
#   the server runs as uid 999 and writes only to PGDATA, /var/run/postgresql and /tmp.
# Unlike the official image, SIGTERM (what Kubernetes and `docker stop` send) means a fast shutdown:
# open sessions are cut and the server stops at once, instead of waiting for every client to leave.
set -euo pipefail

say() { echo "postgres-entrypoint: $*" >&2; }
die() { say "$1"; exit 1; }

# `docker run <image> bash` and the like run as given; only the server gets the set-up.
if [ "${1:-postgres}" != postgres ]; then
  exec "$@"
fi
[ "${1:-}" != postgres ] || shift

[ "$(id -u)" != 0 ] || die "runs as uid 999 (the image's USER), not as root; drop --user 0 / runAsUser: 0"

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  [ -z "${POSTGRES_PASSWORD:-}" ] || die "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, not both"
  [ -r "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE is '$POSTGRES_PASSWORD_FILE', which cannot be read"
  POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
fi
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
: "${PGDATA:?PGDATA must name the data directory}"

mkdir -p "$PGDATA"
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -z "$(ls -A "$PGDATA")" ] ||
    die "PGDATA ($PGDATA) holds files but no database cluster; empty it or point PGDATA at an empty directory"
  [ -n "${POSTGRES_PASSWORD:-}" ] ||
    die "the database is not initialised and no password is set: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE"
  say "initialising $PGDATA for user '$POSTGRES_USER' and database '$POSTGRES_DB'"
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
  # As in the official image: password authentication from any address (the network policy limits who).
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.auto.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    # A private server on the socket only, to create the database before anyone can connect.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres -q \
      --set=db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  say "initialised"
fi

postgres "$@" &
server=$!
trap 'kill -INT "$server" 2>/dev/null || true' TERM INT
# The first wait returns when the server exits or a signal arrives; the second one then waits for the
# shutdown to finish (bash keeps the exit status of a child that already ended).
wait "$server" || true
status=0
wait "$server" || status=$?
exit "$status"
