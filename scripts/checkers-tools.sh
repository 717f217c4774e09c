#!/usr/bin/env bash
# Installs the manifest checkers used by scripts/check-manifests.sh, offline-capable after the first run:
#   - kubernetes-validate and checkov (checks/requirements.txt) in "$API_STACK_CACHE/venv"
#   - kube-score, built from the Go module pinned in tools/checkers, into "$API_STACK_BIN"
# Idempotent: each part is skipped when its stamp matches the pinned versions, so running it again is
# quick. The cache paths are set by scripts/env.sh.
#
# Usage: scripts/checkers-tools.sh [--pending-modules] [--help]
#   --pending-modules  print tools/checkers when kube-score is due to be built, and install nothing
#                (scripts/setup.sh downloads its Go modules ahead of the build).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

takes_only_pending_modules "$@"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
VENV="$API_STACK_CACHE/venv"
# One run at a time per cache: a second run waits, then finds the first one's installs up to date.
# Listing what is due only reads, so it never waits.
$pending_only || hold_lock 9 "$API_STACK_CACHE/checkers-tools.lock"
# From the files' contents alone: every clone that shares the cache computes the same stamp.
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# Python checkers.
want="$(stamp_of "$ROOT/checks/requirements.txt")"
stamp="$VENV/.api-stack-checkers"
if $pending_only; then
  :
elif [ -x "$VENV/bin/checkov" ] && [ -x "$VENV/bin/kubernetes-validate" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  say "python checkers: up to date in $VENV"
else
  start=$SECONDS
  command -v python3 >/dev/null || die "python3 is required" "apt-get install python3 python3-venv"
  [ -x "$VENV/bin/python" ] || { say "creating venv $VENV"; python3 -m venv "$VENV"; }
  say "installing $(grep -v '^#' "$ROOT/checks/requirements.txt" | xargs) (about 2 minutes the first time)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/checks/requirements.txt"
  echo "$want" >"$stamp"
  say "python checkers: installed in $((SECONDS - start))s"
fi

# kube-score, from the wrapper module's pinned version.
want="$(stamp_of "$ROOT/tools/checkers/go.mod" "$ROOT/tools/checkers/go.sum")"
stamp="$API_STACK_BIN/.kube-score.stamp"
if [ -x "$API_STACK_BIN/kube-score" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  say "kube-score: up to date in $API_STACK_BIN"
elif $pending_only; then
  echo tools/checkers
else
  start=$SECONDS
  command -v go >/dev/null || die "go is required to build kube-score" "install Go 1.25 or later, then rerun"
  say "building kube-score from tools/checkers (2-4 minutes on 2 cores)"
  mkdir -p "$API_STACK_CACHE/logs"
  if ! (cd "$ROOT/tools/checkers" && go build -trimpath -ldflags "-s -w" -o "$API_STACK_BIN/kube-score.tmp" github.com/zegl/kube-score/cmd/kube-score) \
    >"$API_STACK_CACHE/logs/kube-score-build.log" 2>&1; then
    die "kube-score build failed; see $API_STACK_CACHE/logs/kube-score-build.log" "read the log; if a download failed, check that 'go env GOPROXY' is reachable and rerun"
  fi
  mv "$API_STACK_BIN/kube-score.tmp" "$API_STACK_BIN/kube-score"
  echo "$want" >"$stamp"
  say "kube-score: built in $((SECONDS - start))s"
fi
$pending_only && exit 0
say "ready: $VENV/bin/kubernetes-validate, $VENV/bin/checkov, $API_STACK_BIN/kube-score"
