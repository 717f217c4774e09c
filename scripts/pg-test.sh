#!/usr/bin/env bash
# A private, throw-away PostgreSQL server for tests and benchmarks: its own data directory, a free port on
# 127.0.0.1, a random superuser password. Installs the Debian packages if no server is on the machine.
#
# Usage: scripts/pg-test.sh COMMAND
#
# Commands:
#   start    install PostgreSQL if missing, create and start the private instance, print its URL
#            (does nothing but print the URL if it is already running)
#   stop     stop the instance and delete its data (safe when nothing runs)
#   url      print the connection URL of the running instance
#   pause    stop the server but keep its data (to test what the app does when the database goes away)
#   resume   start a paused server again, on the same port
#   status   say whether the instance runs; exit 0 if it does, 3 if not
#   --help   this text
#
# Environment:
#   PG_TEST_STATE  folder that records the instance (port, password, data directory)
#                  default: <repo>/.pg-test/default; use one folder per concurrent user
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${PG_TEST_STATE:-$ROOT/.pg-test/default}"

find_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

install_postgres() {
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and this is not root: run 'sudo apt-get install -y postgresql' and try again"
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is missing: install a PostgreSQL server (initdb, pg_ctl) and try again"
  say "PostgreSQL server not found; installing the Debian package (about a minute)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed: check the package mirror, then run this again"
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    || die "apt-get install postgresql failed: see the apt output above, then run this again"
  say "PostgreSQL installed"
}

# initdb and postgres refuse to run as root: use the 'postgres' system user (or create an unprivileged one).
run_as_owner() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
  else
    runuser -u "$(owner)" -- "$@"
  fi
}

owner() {
  if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  useradd --system --no-create-home --shell /usr/sbin/nologin pgtest >/dev/null 2>&1 || true
  echo pgtest
}

is_running() {
  [ -f "$STATE/datadir" ] || return 1
  local bindir datadir
  bindir="$(cat "$STATE/bindir")"
  datadir="$(cat "$STATE/datadir")"
  [ -d "$datadir" ] && run_as_owner "$bindir/pg_ctl" status -D "$datadir" >/dev/null 2>&1
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

print_url() {
  [ -f "$STATE/port" ] || die "no instance recorded in $STATE: run 'scripts/pg-test.sh start' first"
  printf 'postgres://postgres:%s@127.0.0.1:%s/postgres\n' "$(cat "$STATE/password")" "$(cat "$STATE/port")"
}

start_server() {
  local bindir datadir
  bindir="$(cat "$STATE/bindir")"
  datadir="$(cat "$STATE/datadir")"
  run_as_owner "$bindir/pg_ctl" start -D "$datadir" -w -t 60 -l "$datadir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $(cat "$STATE/port") -k $datadir" >/dev/null \
    || die "the server did not start; its log is $datadir/server.log"
}

cmd_start() {
  if is_running; then
    print_url
    return 0
  fi
  # Leftovers of an instance that was killed or whose machine restarted: clear them and begin again.
  [ -d "$STATE" ] && cmd_stop >/dev/null 2>&1
  local bindir
  bindir="$(find_bindir)" || { install_postgres; bindir="$(find_bindir)" || die "PostgreSQL installed but initdb not found under /usr/lib/postgresql"; }
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  # The data lives in /tmp so the unprivileged server user can reach it wherever the checkout is.
  local datadir password
  datadir="$(mktemp -d /tmp/api-stack-pg.XXXXXX)"
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=\n')"
  printf '%s\n' "$bindir" >"$STATE/bindir"
  printf '%s\n' "$datadir" >"$STATE/datadir"
  printf '%s\n' "$password" >"$STATE/password"
  free_port >"$STATE/port"
  chmod 755 "$datadir"
  if [ "$(id -u)" -eq 0 ]; then chown "$(owner)" "$datadir"; fi
  say "creating a private PostgreSQL instance in $datadir (port $(cat "$STATE/port"))"
  local pwfile="$datadir/.pwfile"
  printf '%s\n' "$password" | run_as_owner tee "$pwfile" >/dev/null
  run_as_owner "$bindir/initdb" -D "$datadir/data" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 \
    || die "initdb failed; see $STATE/initdb.log"
  run_as_owner rm -f "$pwfile"
  printf '%s\n' "$datadir/data" >"$STATE/datadir"
  # Durability is not needed for a throw-away server; max_connections covers concurrent tests and benches.
  cat <<CONF | run_as_owner tee -a "$datadir/data/postgresql.conf" >/dev/null
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
  start_server
  say "started"
  print_url
}

cmd_stop() {
  if [ ! -d "$STATE" ]; then return 0; fi
  if [ -f "$STATE/datadir" ]; then
    local datadir
    datadir="$(cat "$STATE/datadir")"
    if is_running; then
      run_as_owner "$(cat "$STATE/bindir")/pg_ctl" stop -D "$datadir" -m immediate -w >/dev/null 2>&1 || true
    fi
    # The data directory is .../api-stack-pg.XXXXXX/data; remove the mktemp folder around it.
    case "$datadir" in
      /tmp/api-stack-pg.*) rm -rf "$(dirname "$datadir")" ;;
    esac
  fi
  rm -rf "$STATE"
  say "stopped and removed"
}

cmd_pause() {
  is_running || die "no running instance in $STATE: run 'scripts/pg-test.sh start' first"
  run_as_owner "$(cat "$STATE/bindir")/pg_ctl" stop -D "$(cat "$STATE/datadir")" -m fast -w >/dev/null
  say "paused"
}

cmd_resume() {
  [ -f "$STATE/datadir" ] || die "no instance in $STATE: run 'scripts/pg-test.sh start' first"
  if ! is_running; then start_server; fi
  say "resumed"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) is_running || die "no running instance in $STATE: run 'scripts/pg-test.sh start' first"; print_url ;;
  pause) cmd_pause ;;
  resume) cmd_resume ;;
  status) if is_running; then echo running; else echo "not running"; exit 3; fi ;;
  -h | --help | help) usage ;;
  *) usage_error "unknown command or option '${1:-}'" ;;
esac
