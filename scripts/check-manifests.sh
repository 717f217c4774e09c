#!/usr/bin/env bash
# Runs the independent manifest checkers on a directory of rendered Kubernetes YAML, offline:
# strict schema validation (kubernetes-validate), kube-score and checkov's Kubernetes checks.
# Exceptions live only in checks/ (one reason each); see docs/guardrails.md.
#
# Usage: scripts/check-manifests.sh [--install] [--only TOOLS] [--k8s-version X.Y] DIR
#        scripts/check-manifests.sh --install-only
#
# Checks every *.yaml / *.yml under DIR and prints a table (tool, checks run, passed, failed,
# excepted). Exits 0 only when no checker reports a failure.
#
#   --install        install missing checkers first (scripts/checkers-tools.sh)
#   --install-only   install the checkers and exit
#   --only TOOLS     run only these, comma-separated: schema, kube-score, checkov (default: all)
#   --k8s-version    Kubernetes version for the schema check (default 1.36)
#   -h, --help       show this help
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
install=false
install_only=false
k8s_version=1.36
dir=""
only="schema,kube-score,checkov"
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --install) install=true ;;
    --install-only) install_only=true ;;
    --k8s-version)
      [ $# -ge 2 ] || usage_error "--k8s-version needs a value such as 1.36"
      [[ "$2" =~ ^[0-9]+\.[0-9]+$ ]] || usage_error "--k8s-version '$2' is not X.Y (for example 1.36)"
      k8s_version="$2"; shift ;;
    --only)
      [ $# -ge 2 ] || usage_error "--only needs a comma-separated list of: schema, kube-score, checkov"
      for tool in ${2//,/ }; do
        case "$tool" in schema | kube-score | checkov) ;; *) usage_error "--only: unknown checker '$tool'; allowed: schema, kube-score, checkov" ;; esac
      done
      only="$2"; shift ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      [ -z "$dir" ] || usage_error "only one DIR is accepted, got '$dir' and '$1'"
      dir="$1" ;;
  esac
  shift
done

if $install_only; then
  [ -z "$dir" ] || usage_error "--install-only takes no DIR"
  exec bash "$ROOT/scripts/checkers-tools.sh"
fi
[ -n "$dir" ] || usage_error "missing DIR: the directory of rendered manifests to check"
[ -d "$dir" ] || usage_error "'$dir' is not a directory; render the manifests first or pass the right path"
if [ -z "$(find "$dir" -type f \( -name '*.yaml' -o -name '*.yml' \) -print -quit)" ]; then
  usage_error "no *.yaml or *.yml files under '$dir'"
fi

# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
VENV="$API_STACK_CACHE/venv"
$install && bash "$ROOT/scripts/checkers-tools.sh"
needed=("$VENV/bin/python")
[[ ",$only," == *,schema,* ]] && needed+=("$VENV/bin/kubernetes-validate")
[[ ",$only," == *,kube-score,* ]] && needed+=("$API_STACK_BIN/kube-score")
[[ ",$only," == *,checkov,* ]] && needed+=("$VENV/bin/checkov")
for tool in "${needed[@]}"; do
  [ -x "$tool" ] || die "$tool is not installed" "run scripts/checkers-tools.sh (or pass --install)"
done

start=$SECONDS
set +e
"$VENV/bin/python" "$ROOT/scripts/check-manifests/run_checkers.py" \
  --dir "$dir" --only "$only" --checks "$ROOT/checks" --k8s-version "$k8s_version" \
  --kubernetes-validate "$VENV/bin/kubernetes-validate" --kube-score "$API_STACK_BIN/kube-score" \
  --checkov "$VENV/bin/checkov" \
  --polaris-note "not run: its Go module is not served by the module proxy here (docs/guardrails.md)"
status=$?
set -e
echo "check-manifests: $dir checked in $((SECONDS - start))s, $([ $status -eq 0 ] && echo 'no failures' || echo 'FAILURES above')"
exit $status
