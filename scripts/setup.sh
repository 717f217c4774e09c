#!/usr/bin/env bash
# Installs everything the tests and the main job need, on a fresh machine: the npm packages of the
# program, app/ and policy/, and the tools built from Go modules or Python packages (Pulumi engine,
# local cluster, manifest checkers). Every step is skipped when already done, so a second run takes
# seconds. PostgreSQL is installed by scripts/pg-test.sh when a test first starts it.
#
# Usage: scripts/setup.sh [--help]
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

takes_no_arguments "$@"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$API_STACK_ROOT"

# npm ci only when the lockfile is newer than the last install of that folder (npm writes
# node_modules/.package-lock.json on every install). Install scripts are skipped: the Pulumi
# provider packages' scripts try to download plugins, which toolchain.sh provides.
npm_ci() {
  local dir="$1"
  if [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    return
  fi
  say "npm ci in $dir"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || die "npm ci in $dir failed" "check that the npm registry is reachable, then rerun"
}

npm_ci .
npm_ci app
npm_ci policy
say "Pulumi toolchain"
bash scripts/toolchain.sh || die "scripts/toolchain.sh failed" "read its message above"
say "local cluster tools"
bash scripts/cluster-tools.sh || die "scripts/cluster-tools.sh failed" "read its message above"
say "manifest checkers"
bash scripts/checkers-tools.sh || die "scripts/checkers-tools.sh failed" "read its message above"
say "ready"
