#!/usr/bin/env bash
# Installs the manifest checkers used by scripts/check-manifests.sh, offline-capable after the first run:
#   - kubernetes-validate and checkov (checks/requirements.txt) in "$API_STACK_CACHE/venv"
#   - kube-score, built from the Go module pinned in tools/checkers, into "$API_STACK_BIN"
# Idempotent: each part is skipped when its stamp matches the pinned versions.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/checkers-tools.sh [--help]

Installs (or confirms) the manifest checkers: kubernetes-validate and checkov in
"$API_STACK_CACHE/venv", kube-score in "$API_STACK_BIN" (see scripts/env.sh).
Running it again is quick: nothing is reinstalled unless a pin changed.
USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "checkers-tools.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
VENV="$API_STACK_CACHE/venv"
log() { printf '[checkers-tools] %s\n' "$*"; }
stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# Python checkers.
want="$(stamp_of "$ROOT/checks/requirements.txt")"
stamp="$VENV/.api-stack-checkers"
if [ -x "$VENV/bin/checkov" ] && [ -x "$VENV/bin/kubernetes-validate" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  log "python checkers: up to date in $VENV"
else
  start=$SECONDS
  command -v python3 >/dev/null || { echo "checkers-tools.sh: python3 is required (apt-get install python3 python3-venv)" >&2; exit 1; }
  [ -x "$VENV/bin/python" ] || { log "creating venv $VENV"; python3 -m venv "$VENV"; }
  log "installing $(grep -v '^#' "$ROOT/checks/requirements.txt" | xargs) (about 2 minutes the first time)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/checks/requirements.txt"
  echo "$want" >"$stamp"
  log "python checkers: installed in $((SECONDS - start))s"
fi

# kube-score, from the wrapper module's pinned version.
want="$(stamp_of "$ROOT/tools/checkers/go.mod" "$ROOT/tools/checkers/go.sum")"
stamp="$API_STACK_BIN/.kube-score.stamp"
if [ -x "$API_STACK_BIN/kube-score" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  log "kube-score: up to date in $API_STACK_BIN"
else
  start=$SECONDS
  command -v go >/dev/null || { echo "checkers-tools.sh: go is required to build kube-score" >&2; exit 1; }
  log "building kube-score from tools/checkers (2-4 minutes on 2 cores)"
  mkdir -p "$API_STACK_CACHE/logs"
  if ! (cd "$ROOT/tools/checkers" && go build -trimpath -ldflags "-s -w" -o "$API_STACK_BIN/kube-score.tmp" github.com/zegl/kube-score/cmd/kube-score) \
    >"$API_STACK_CACHE/logs/kube-score-build.log" 2>&1; then
    echo "checkers-tools.sh: kube-score build failed; see $API_STACK_CACHE/logs/kube-score-build.log" >&2
    exit 1
  fi
  mv "$API_STACK_BIN/kube-score.tmp" "$API_STACK_BIN/kube-score"
  echo "$want" >"$stamp"
  log "kube-score: built in $((SECONDS - start))s"
fi
log "ready: $VENV/bin/kubernetes-validate, $VENV/bin/checkov, $API_STACK_BIN/kube-score"
