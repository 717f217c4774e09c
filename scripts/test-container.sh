#!/usr/bin/env bash
# The container tier of `npm test`: starts (or reuses) the Docker engine, makes the base images, then runs
# test/container/*.test.ts against them. An engine this run started is stopped again at the end, so no
# test relies on a daemon left running and nothing is left behind.
#
# Usage: scripts/test-container.sh [--help] [mocha arguments...]
set -euo pipefail

case "${1:-}" in
  -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started_engine=false
if ! bash "$root/scripts/docker.sh" status >/dev/null 2>&1; then
  bash "$root/scripts/docker.sh" up
  started_engine=true
fi
stop_engine() { if $started_engine; then bash "$root/scripts/docker.sh" down; fi; }
trap stop_engine EXIT

# The compose plugin builds (minutes, once) while the base images are made.
bash "$root/scripts/compose-tool.sh" &
compose_tool=$!
# shellcheck source=scripts/env.sh
. "$root/scripts/env.sh"
base_images="$(bash "$root/scripts/images-base.sh")"
eval "export ${base_images//$'\n'/ }"
wait "$compose_tool" || { echo "test-container: docker compose is not ready (see above)" >&2; exit 1; }
# A plugin built just now: env.sh points the docker CLI at it.
. "$root/scripts/env.sh"
cd "$root"
mocha --timeout 1200000 "${@:-test/container/*.test.ts}"
