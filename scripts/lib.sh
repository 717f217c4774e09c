# Helpers that every script in scripts/ sources, so that messages, --help, exit codes and the names the
# scripts share are written once:   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Sourcing only defines functions and names; it has no side effects.
#
# Messages start with the script's name ("toolchain: ...") and go to stderr. Exit codes: 2 for a bad
# command line (usage_error), 1 or the code given for any other failure (die).

API_STACK_SCRIPT="$(basename -- "$0" .sh)"

# Names that the local cluster's scripts share. stacks/local-cluster.ts repeats the StorageClass for the
# program (TypeScript cannot source this file); test/scripts/lib.test.ts keeps the two equal.
API_STACK_STORAGE_CLASS="local-static"
API_STACK_CLUSTER_NAME="api-stack"
# Value of app.kubernetes.io/managed-by on what scripts/cluster.sh creates in the cluster.
API_STACK_CLUSTER_MANAGER="api-stack-local-cluster"
# Name of the local cluster's real node (scripts/cluster-node.sh), where pods run.
API_STACK_NODE_NAME="api-stack-node"

# The comment block at the top of the running script (shebang excluded, up to the first line that is
# not a comment), without the leading "# ". That block is the script's --help, whatever its length.
usage() {
  awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

# say <message>: a progress line with the seconds since the script started.
say() { printf '%s: [%4ss] %s\n' "$API_STACK_SCRIPT" "$SECONDS" "$*" >&2; }

# die <what failed> [what to do next] [exit code, default 1]
die() {
  echo "$API_STACK_SCRIPT: $1" >&2
  [ -z "${2:-}" ] || echo "$API_STACK_SCRIPT: next: $2" >&2
  exit "${3:-1}"
}

# usage_error <what is wrong with the command line>: exit code 2 and a pointer to --help.
usage_error() {
  echo "$API_STACK_SCRIPT: $1" >&2
  echo "$API_STACK_SCRIPT: see 'scripts/$API_STACK_SCRIPT.sh --help'" >&2
  exit 2
}

# takes_no_arguments "$@": for a script whose only option is --help; anything else is a usage error.
takes_no_arguments() {
  [ $# -gt 0 ] || return 0
  case "$1" in
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (the only option is --help)" ;;
  esac
}

# takes_only_pending_modules "$@": for a tool script whose options are --help and --pending-modules (list the
# Go modules of the builds that are due, for scripts/setup.sh to download; build nothing). Sets pending_only.
takes_only_pending_modules() {
  pending_only=false
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    --pending-modules) pending_only=true ;;
    "") ;;
    *) usage_error "unknown option '$1' (the options are --help and --pending-modules)" ;;
  esac
}

# hold_lock <fd> <lock file> [timeout seconds]: keeps the lock until the script exits, so that two runs
# never write the same files at once. A second run says whom it waits for, then waits (for ever, or up to
# the timeout); once it holds the lock it must check again what the first run already did.
hold_lock() {
  local fd="$1" file="$2" timeout="${3:-}"
  eval "exec $fd>\"\$file\""
  flock -n "$fd" && return 0
  say "another run holds $file; waiting for it${timeout:+ (up to ${timeout}s)} ..."
  if ! flock ${timeout:+-w "$timeout"} "$fd"; then
    die "still locked after ${timeout}s: $file" "find the other run with 'ps -ef | grep scripts/', let it finish or stop it by its pid"
  fi
  say "lock $file is free; continuing"
}

# pid_is_ours <pid> <marker> [--exact]: true when process <pid> runs and its command line carries <marker>,
# a path inside this checkout's state: within any of its arguments, or with --exact as one whole argument.
# A pid file alone could name a recycled pid or, for a process found by scanning /proc, another
# checkout's; their command lines never carry our paths.
pid_is_ours() {
  local args arg
  [[ "$1" =~ ^[0-9]+$ ]] && [ -r "/proc/$1/cmdline" ] || return 1
  mapfile -d '' args <"/proc/$1/cmdline" 2>/dev/null || return 1
  if [ "${3:-}" = --exact ]; then
    for arg in "${args[@]}"; do [ "$arg" != "$2" ] || return 0; done
    return 1
  fi
  [[ "${args[*]}" == *"$2"* ]]
}

# The kubectl that fits the local cluster: $KUBECTL (set by scripts/cluster-tools.sh --print-env), the
# one built into the cache, or the one on PATH.
kubectl_bin() {
  local candidate
  for candidate in "${KUBECTL:-}" "$API_STACK_BIN/kubectl" "$(type -P kubectl || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return
    fi
  done
  echo kubectl
}

# kubectl on the local cluster.
kc() { "$(kubectl_bin)" --kubeconfig "$API_STACK_KUBECONFIG" "$@"; }
