#!/usr/bin/env bash
# Finds or builds `docker compose` (v2): the plugin the docker CLI already has when it answers, otherwise
# one built from the Go module of tools/compose into $API_STACK_CACHE/docker-config/cli-plugins, which
# scripts/env.sh hands to the docker CLI through DOCKER_CONFIG. A first build takes minutes; later runs
# only check the version.
#
# Usage: scripts/compose-tool.sh [--pending-modules] [--help]
#   --pending-modules  print tools/compose when the plugin is due to be built, and build nothing
#                (scripts/setup.sh downloads its Go modules ahead of the build).
# Log: $API_STACK_CACHE/logs/compose.log
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

takes_only_pending_modules "$@"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

plugin_dir="$API_STACK_CACHE/docker-config/cli-plugins"
log="$API_STACK_CACHE/logs/compose.log"
mkdir -p "$plugin_dir"
# Two runs at once would write the same plugin binary. Listing what is due only reads.
$pending_only || hold_lock 9 "$plugin_dir/.lock"

if docker compose version --short 2>/dev/null | grep -q '^v\{0,1\}2\.'; then
  say "docker compose $(docker compose version --short) is ready"
  exit 0
fi
if $pending_only; then
  echo tools/compose
  exit 0
fi
version=$(sed -nE 's#^\s*github.com/docker/compose/v2 (v[0-9.]+).*#\1#p' "$API_STACK_ROOT/tools/compose/go.mod")
type -P go >/dev/null || die "Go is needed to build docker compose $version" "install Go 1.26, then rerun"
mkdir -p "$plugin_dir" "$(dirname "$log")"
say "building docker compose $version from its Go module (minutes on a cold Go cache; log: $log)"
(cd "$API_STACK_ROOT/tools/compose" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
  -o "$plugin_dir/docker-compose.part" github.com/docker/compose/v2/cmd) >"$log" 2>&1 ||
  { tail -n 15 "$log" >&2; die "the build of docker compose $version failed" "read $log (is the Go module proxy reachable?)"; }
mv -f "$plugin_dir/docker-compose.part" "$plugin_dir/docker-compose"
say "built docker compose $version"
