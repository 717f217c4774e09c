#!/usr/bin/env bash
# The container tier of `npm test`: starts (or reuses) the Docker engine, makes the base images, then runs
# test/container/*.test.ts against them. An engine this run started is stopped again at the end, so no
# test relies on a daemon left running and nothing is left behind.
#
# Usage: scripts/test-container.sh [--grep <pattern>] [test/container/<file>.test.ts ...]
#   --grep <pattern>  run only the tests whose title matches (mocha's --grep).
#   -h, --help        this text.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mocha_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --grep)
      [ $# -ge 2 ] || usage_error "--grep needs a pattern"
      mocha_args+=(--grep "$2")
      shift
      ;;
    test/container/*.test.ts) [ -f "$1" ] || usage_error "no such test file: '$1'"; mocha_args+=("$1") ;;
    *) usage_error "unknown argument '$1' (allowed: --grep <pattern>, test/container/<file>.test.ts)" ;;
  esac
  shift
done

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
wait "$compose_tool" || die "docker compose is not ready (see above)" "fix what scripts/compose-tool.sh said, then rerun"
# A plugin built just now: env.sh points the docker CLI at it.
. "$root/scripts/env.sh"
cd "$root"
case " ${mocha_args[*]:-} " in
  *" test/container/"*) ;;
  *) mocha_args+=(test/container/*.test.ts) ;;
esac
"$root/node_modules/.bin/mocha" --timeout 1200000 "${mocha_args[@]}"
