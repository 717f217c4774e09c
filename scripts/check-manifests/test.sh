#!/usr/bin/env bash
# Tests scripts/check-manifests.sh end to end: the good fixtures pass, the bad ones fail, and every
# bad argument gives a clear message and exit status 2. Needs the checkers (scripts/checkers-tools.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHECK=(bash "$ROOT/scripts/check-manifests.sh")
FIXTURES="$ROOT/test/fixtures/manifests"
passed=0
failed=0
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# expect NAME STATUS PATTERN ARGS...: the run exits STATUS and its output matches PATTERN.
expect() {
  local name="$1" want="$2" pattern="$3" status=0
  shift 3
  "${CHECK[@]}" "$@" >"$out" 2>&1 || status=$?
  if [ "$status" -eq "$want" ] && grep -Eq -- "$pattern" "$out"; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name (exit $status, wanted $want and /$pattern/)"; sed 's/^/     /' "$out"
  fi
}

expect "good fixtures pass" 0 "failed=0" "$FIXTURES/good"
expect "bad fixtures fail: latest image" 1 "container-image-tag|CKV_K8S_14" "$FIXTURES/bad"
expect "bad fixtures fail: no limits" 1 "CKV_K8S_11" "$FIXTURES/bad"
expect "bad fixtures fail: root container" 1 "CKV_K8S_23" "$FIXTURES/bad"
expect "--help" 0 "Usage: scripts/check-manifests.sh" --help
expect "no DIR" 2 "missing DIR" 
expect "unknown flag" 2 "unknown option '--bogus'" --bogus "$FIXTURES/good"
expect "missing directory" 2 "is not a directory" "$FIXTURES/does-not-exist"
expect "directory without YAML" 2 "no \*\.yaml" "$ROOT/scripts/check-manifests"
expect "two directories" 2 "only one DIR" "$FIXTURES/good" "$FIXTURES/bad"
expect "--only schema" 0 "schema .* 13 +13 +0" --only schema "$FIXTURES/good"
expect "--only unknown checker" 2 "unknown checker 'polaris'" --only schema,polaris "$FIXTURES/good"
expect "bad --k8s-version" 2 "is not X.Y" --k8s-version latest "$FIXTURES/good"

echo "check-manifests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
