#!/usr/bin/env bash
# The fast test tier, for the edit-test loop (npm run test:fast): lint of the three packages, the
# program's unit tests, the API service's tests on a private PostgreSQL (scripts/pg-test.sh), and the
# policy pack's unit tests. No Pulumi engine, cluster or image build: `npm test` runs everything.
#
# The tiers run side by side, each into its own log; one line per tier says whether it passed and how
# long it took, and the log of a tier that failed is printed in full. It exits 1 when any tier failed.
#
# Usage: scripts/test-fast.sh [--serial] [--help]
#   --serial     run the tiers one after the other (easier to read on a very busy machine).
#   -h, --help   this text.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

serial=false
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --serial) serial=true ;;
    *) usage_error "unknown option '$1'" ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
for dir in . app policy; do
  [ -d "$dir/node_modules" ] || die "$dir/node_modules is missing" "run npm run setup (or npm ci --ignore-scripts in $dir)"
done

# The app's image test builds the image's steps for real (about 2 minutes on 2 cores); it belongs to
# `npm test`. Named by its title: if the title changes, say so instead of silently running it.
APP_IMAGE_TEST="builds with its own steps and serves when started like CMD"
grep -rqF "$APP_IMAGE_TEST" app/test || die "no app test is titled '$APP_IMAGE_TEST' any more" \
  "put the new title of the app's image-build test in APP_IMAGE_TEST in scripts/test-fast.sh"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# The tiers. The lint tier already lints app/ and policy/, so the app tier only type-checks, builds and
# runs the app's tests; the policy pack's mocha skips its own type check, as its `tsc --noEmit` runs first.
tiers=(lint unit app policy)
tier_command() {
  case "$1" in
    lint) npm run --silent lint ;;
    unit) npm run --silent test:unit ;;
    app) (cd app && npm run --silent typecheck && npm run --silent build && npx mocha --invert --grep "$APP_IMAGE_TEST") ;;
    policy) TS_NODE_TRANSPILE_ONLY=true npm --prefix policy test ;;
  esac
}

run_tier() ( # run_tier <name>: runs it into its log and records its status, seconds and CPU seconds
  t0=$SECONDS status=0
  tier_command "$1" >"$logs/$1.log" 2>&1 </dev/null || status=$?
  # CPU time (user + system) of the tier's processes, from the second line of `times` ("0m27.5s 0m1.2s"):
  # on a busy machine it says how much of the wall time was the tier's own work. Not in a $(...): a
  # subshell's `times` starts from zero.
  times >"$logs/$1.times"
  cpu="$(awk 'NR == 2 { split($0, t, /[ ms]+/); printf "%.0f", t[1] * 60 + t[2] + t[3] * 60 + t[4] }' "$logs/$1.times")"
  echo "$status $((SECONDS - t0)) $cpu" >"$logs/$1.result"
)

say "running ${tiers[*]} ($($serial && echo 'one after the other' || echo 'side by side'); logs in $logs)"
for tier in "${tiers[@]}"; do
  if $serial; then run_tier "$tier"; else run_tier "$tier" & fi
done
wait

failed=()
total_cpu=0
for tier in "${tiers[@]}"; do
  read -r status took cpu <"$logs/$tier.result"
  total_cpu=$((total_cpu + cpu))
  if [ "$status" -eq 0 ]; then
    say "$(printf '%-7s passed in %ss (CPU %ss)' "$tier" "$took" "$cpu")"
  else
    failed+=("$tier")
    say "$(printf '%-7s FAILED (exit %s) in %ss; its log:' "$tier" "$status" "$took")"
    sed 's/^/    /' "$logs/$tier.log" >&2
  fi
done
[ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]}" "fix what the log above shows, then rerun npm run test:fast (or that tier alone)"
say "all passed in ${SECONDS}s (CPU ${total_cpu}s on $(nproc) cores)"
