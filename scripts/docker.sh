#!/usr/bin/env bash
# A Docker engine for the project's builds and container tests.
#
# Usage: scripts/docker.sh <command>
#   up       reuse the engine that `docker info` reaches; otherwise install Debian's docker.io if it is
#            missing and start dockerd with its data, pid file and socket in .docker-engine/; idempotent.
#            (`npm run docker:up` also makes `docker compose` ready: scripts/compose-tool.sh.)
#   down     stop the dockerd that `up` started (by its recorded pid) and remove the bridges and
#            iptables rules it added; an engine that `up` only reused is left alone. Safe to run twice.
#   status   say which engine the project's scripts use; exits 1 when none answers.
#   -h, --help  this text.
#
# scripts/env.sh exports DOCKER_HOST for the engine of this checkout once it runs. The engine's own
# bridge (apistack0) and address pool keep it apart from any other engine on the host.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || usage_error "expected one command: up, down or status"
case "$1" in
  -h | --help) usage; exit 0 ;;
  up | down | status) command="$1" ;;
  *) usage_error "unknown command '$1' (allowed: up, down, status)" ;;
esac

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

dir="$API_STACK_DOCKER_DIR"
socket="$dir/docker.sock"
pidfile="$dir/dockerd.pid"
bridge="apistack0"
bridge_cidr="10.213.0.1/24"
# Networks that compose creates come from this pool, so their bridges are ours to remove on `down`.
address_pool="base=10.214.0.0/16,size=24"

# The pid `up` recorded, if that process is still our dockerd (a recycled pid is not ours).
our_pid() {
  local pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--data-root $dir/data" || return 1
  echo "$pid"
}

engine_answers() { docker ${1:+-H "$1"} info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

# iptables rules that name one of our bridges, as delete commands (-A becomes -D).
our_rules() {
  local table="$1" pattern="$2"
  iptables-save -t "$table" 2>/dev/null | grep -E -- "^-A .*(-i|-o) ($pattern)( |$)" | sed 's/^-A /-D /' || true
}

# What builds need besides the engine: the CA of a TLS-inspecting proxy if the host trusts one
# (scripts/env.sh exports it as EXTRA_CA_CERTS for app/Dockerfile and docker-compose.yml).
finish_up() {
  if [ -d "$API_STACK_ROOT/node_modules/ts-node" ]; then
    mkdir -p "$dir"
    (cd "$API_STACK_ROOT" && node -r ts-node/register/transpile-only scripts/api-image.ts --print-extra-ca) >"$dir/extra-ca.pem"
  fi
}

case "$command" in
  status)
    if engine_answers; then
      version=$(docker info --format '{{.ServerVersion}}')
      if pid=$(our_pid); then
        echo "docker: dockerd $version started by this checkout (pid $pid), DOCKER_HOST=${DOCKER_HOST:-}"
      else
        echo "docker: dockerd $version reused (not started by this checkout), DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}"
      fi
      exit 0
    fi
    echo "docker: no engine answers; run 'npm run docker:up'" >&2
    exit 1
    ;;

  up)
    if engine_answers; then
      say "an engine already answers (DOCKER_HOST=${DOCKER_HOST:-default}): reusing it"
      finish_up
      exit 0
    fi
    # Another engine serving our socket is reused above; a dead socket file is only a leftover.
    if [ -S "$socket" ] && ! engine_answers "unix://$socket"; then
      our_pid >/dev/null && die "dockerd (pid $(cat "$pidfile")) runs but does not answer on $socket" \
        "read $dir/dockerd.log, then 'npm run docker:down' and up again"
      rm -f "$socket"
    fi
    # Another checkout of this project may run its engine on our bridge already: share it rather than fight
    # over the bridge and Docker's iptables chains. A link to its socket is all that is ours to remove.
    other=$(pgrep -a -x dockerd | grep -- "--bridge $bridge " | sed -nE 's#.*--host unix://([^ ]+).*#\1#p' | head -n1 || true)
    if [ -n "$other" ] && engine_answers "unix://$other"; then
      mkdir -p "$dir"
      ln -sfn "$other" "$socket"
      say "reusing the engine of another checkout of this project ($other)"
      finish_up
      exit 0
    fi
    if ! type -P dockerd >/dev/null; then
      [ "$(id -u)" = 0 ] || die "dockerd is not installed and installing it needs root" "run 'apt-get install docker.io' as root, then rerun"
      say "installing Debian's docker.io (apt-get)"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=600 docker.io; } >&2 ||
        die "could not install docker.io with apt-get" "check that Debian's package mirror is reachable, or install Docker yourself and set DOCKER_HOST"
    fi
    [ "$(id -u)" = 0 ] || die "starting dockerd needs root" "run as root, or start an engine yourself and set DOCKER_HOST"
    mkdir -p "$dir/data" "$dir/exec"
    # Only a bridge that was not there before is ours to delete later.
    if ! ip link show "$bridge" >/dev/null 2>&1; then
      ip link add "$bridge" type bridge || die "could not create the bridge $bridge" "check that this machine allows network bridges"
      touch "$dir/bridge.ours"
    fi
    ip addr show dev "$bridge" | grep -q "inet $bridge_cidr" || ip addr add "$bridge_cidr" dev "$bridge"
    ip link set "$bridge" up
    # Docker's own chains existing before `up` belong to another engine; `down` must leave them.
    iptables -t filter -S DOCKER >/dev/null 2>&1 || touch "$dir/chains.ours"
    say "starting dockerd (data in $dir, log $dir/dockerd.log)"
    nohup dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidfile" \
      --host "unix://$socket" --bridge "$bridge" --default-address-pool "$address_pool" \
      --storage-driver overlay2 >"$dir/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
      engine_answers "unix://$socket" && break
      sleep 1
    done
    engine_answers "unix://$socket" || die "dockerd did not answer on $socket within 60s" "read $dir/dockerd.log, then 'npm run docker:down'"
    say "dockerd $(docker -H "unix://$socket" info --format '{{.ServerVersion}}') is up; scripts use DOCKER_HOST=unix://$socket"
    finish_up
    ;;

  down)
    if ! pid=$(our_pid); then
      # A link to another engine's socket is ours; that engine and its socket are not.
      if [ -L "$socket" ]; then
        rm -f "$socket"
        say "no dockerd started by this checkout is running; the engine it reused stays up"
        exit 0
      fi
      if [ -S "$socket" ] && engine_answers "unix://$socket"; then
        say "no dockerd started by this checkout is running; the engine on $socket stays up"
        exit 0
      fi
      say "no dockerd started by this checkout is running"
    else
      # Bridges of the networks our engine made (compose's), named br-<first 12 of the id>.
      networks=$(docker -H "unix://$socket" network ls --filter driver=bridge --format '{{.ID}}' 2>/dev/null | cut -c1-12 | sed 's/^/br-/' | tr '\n' ' ')
      echo "$networks" >"$dir/network-bridges"
      say "stopping dockerd (pid $pid)"
      kill -TERM "$pid"
      for _ in $(seq 1 60); do
        [ -d "/proc/$pid" ] || break
        sleep 1
      done
      [ ! -d "/proc/$pid" ] || die "dockerd (pid $pid) did not stop within 60s" "run 'kill -KILL $pid', then rerun down"
    fi
    bridges="$bridge $(cat "$dir/network-bridges" 2>/dev/null || true)"
    pattern=$(echo "$bridges" | xargs | tr ' ' '|')
    for table in filter nat; do
      our_rules "$table" "$pattern" | while read -r rule; do
        # shellcheck disable=SC2086 # the rule is a word list
        iptables -t "$table" $rule 2>/dev/null || true
      done
    done
    # Docker's chains go only when we made them and no other engine is left to use them.
    if [ -f "$dir/chains.ours" ] && ! pgrep -x dockerd >/dev/null; then
      for table in filter nat; do
        iptables-save -t "$table" | grep -E '^-A [A-Z]+ .*-j DOCKER' | sed 's/^-A /-D /' | while read -r rule; do
          # shellcheck disable=SC2086
          iptables -t "$table" $rule 2>/dev/null || true
        done
        for chain in DOCKER DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2; do
          iptables -t "$table" -F "$chain" 2>/dev/null || true
        done
        for chain in DOCKER DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2; do
          iptables -t "$table" -X "$chain" 2>/dev/null || true
        done
      done
      rm -f "$dir/chains.ours"
    fi
    for link in $(cat "$dir/network-bridges" 2>/dev/null || true); do
      ip link delete "$link" 2>/dev/null || true
    done
    if [ -f "$dir/bridge.ours" ]; then
      ip link delete "$bridge" 2>/dev/null || true
      rm -f "$dir/bridge.ours"
    fi
    rm -f "$dir/network-bridges" "$socket" "$pidfile"
    say "down (images and volumes stay in $dir/data; delete that folder to drop them)"
    ;;
esac
