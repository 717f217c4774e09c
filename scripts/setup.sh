#!/usr/bin/env bash
# Installs everything the tests and the main job need, on a fresh machine: the npm packages of the
# program, app/ and policy/, and the tools built from Go modules or Python packages (Pulumi engine,
# local cluster, manifest checkers). Every step is skipped when already done, so a second run takes
# seconds. PostgreSQL is installed by scripts/pg-test.sh when a test first starts it.
#
# On a fresh machine the Go builds take most of the time, and one `go build` leaves a core idle much
# of the time. So they run in two lanes at once: lane A builds the Pulumi toolchain
# (scripts/toolchain.sh), lane B the local cluster's tools and then the manifest checkers
# (scripts/cluster-tools.sh, scripts/checkers-tools.sh). Meanwhile the Go modules of every build that
# is due, and of the docker compose plugin that scripts/test-container.sh builds, are downloaded
# SETUP_PREFETCH_JOBS (default 3) at a time, so that the network works while the compilers do.
# Each line of a lane starts with "A |" or "B |"; each build still logs to its own file in
# $API_STACK_CACHE/logs, and each lane's output is copied to setup-lane-<A|B>.log there. When a lane
# fails, the other is stopped and setup exits 1 with the failing lane's last lines (the build's log
# and what to do next); SIGINT or SIGTERM stops both lanes and every build they started (exit 130 or 143).
#
# Usage: scripts/setup.sh [--help]
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

takes_no_arguments "$@"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$API_STACK_ROOT"

prefetch_jobs="${SETUP_PREFETCH_JOBS:-3}"
[[ "$prefetch_jobs" =~ ^[1-9][0-9]*$ ]] || die "SETUP_PREFETCH_JOBS is '$prefetch_jobs'; it must be a whole number of 1 or more" "unset it (default 3) or set e.g. SETUP_PREFETCH_JOBS=2"
LOG_DIR="$API_STACK_CACHE/logs"
mkdir -p "$LOG_DIR"

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

# The Go modules of the builds that are due: a tools/ folder, or module@version for a `go install`.
pending_modules() {
  local script
  for script in toolchain cluster-tools checkers-tools compose-tool; do
    bash "scripts/$script.sh" --pending-modules 2>>"$LOG_DIR/prefetch.log" ||
      say "prefetch: 'scripts/$script.sh --pending-modules' failed (see $LOG_DIR/prefetch.log); its builds download for themselves"
  done
}

# download <tools/folder | module@version>: fills the module cache with what that build needs. A
# `go install module@version` builds with the module's own go.mod, so its requirements are downloaded
# from a copy of that go.mod and go.sum.
download() {
  local spec="$1" work dir
  case "$spec" in
    *@*)
      work="$API_STACK_CACHE/build/prefetch-${spec//[\/@]/_}"
      dir="$(go mod download -json "$spec" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
      [ -n "$dir" ] || return 1
      rm -rf "$work" && mkdir -p "$work"
      cp "$dir/go.mod" "$dir/go.sum" "$work/"
      (cd "$work" && go mod download)
      rm -rf "$work"
      ;;
    *) (cd "$API_STACK_ROOT/$spec" && go mod download) ;;
  esac
}

# Downloads the pending modules, $prefetch_jobs at a time. Only a head start: a failed download is
# reported, and the build that needs the module downloads it again and fails with its own log.
prefetch() {
  local specs=() spec start=$SECONDS
  # The CLI and the language host share one wrapper: each module once.
  mapfile -t specs < <(pending_modules | awk 'NF && !seen[$0]++')
  [ ${#specs[@]} -gt 0 ] || return 0
  say "prefetch: downloading the Go modules of ${specs[*]} ($prefetch_jobs at a time; log: $LOG_DIR/prefetch.log)"
  for spec in "${specs[@]}"; do
    while [ "$(jobs -pr | wc -l)" -ge "$prefetch_jobs" ]; do wait -n || true; done
    (
      local step_start=$SECONDS
      if download "$spec" >>"$LOG_DIR/prefetch.log" 2>&1; then
        say "prefetch: $spec in $((SECONDS - step_start))s"
      else
        say "prefetch: $spec failed after $((SECONDS - step_start))s (see $LOG_DIR/prefetch.log); its build will download it again"
      fi
    ) &
  done
  wait
  say "prefetch: done in $((SECONDS - start))s"
}

# lane <letter> <command...>: the command's output, each line prefixed with the lane's letter, and
# copied (unprefixed) to the lane's log for the summary of a failure. The lane ends with the command,
# even when something the command left running still holds its output (then setup stops it).
lane() {
  local letter="$1" rc=0 printer tries=20
  shift
  "$@" </dev/null > >(tee "$LOG_DIR/setup-lane-$letter.log" | sed -u "s/^/$letter | /" >&2) 2>&1 || rc=$?
  printer=$!
  while [ $tries -gt 0 ] && kill -0 "$printer" 2>/dev/null; do
    sleep 0.1
    tries=$((tries - 1))
  done
  return "$rc"
}
cluster_and_checkers() { bash scripts/cluster-tools.sh && bash scripts/checkers-tools.sh; }

# Background jobs by pid, each in a process group of its own (set -m), so that stopping one with
# `kill -- -<pid>` also stops every build it started.
declare -A job_name=()
start_job() { # start_job <name> <command...>
  local name="$1"
  shift
  set -m
  "$@" &
  set +m
  job_name[$!]="$name"
}
any_job_running() {
  local pid
  for pid in "${!job_name[@]}"; do
    kill -0 -- "-$pid" 2>/dev/null && return 0
  done
  return 1
}
# Asks each job's process group to stop, gives it 10 s, then kills what is left; returns once the jobs
# have ended, so that no build outlives setup.
stop_jobs() {
  local pid tries=50
  for pid in "${!job_name[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  while [ $tries -gt 0 ] && any_job_running; do
    sleep 0.2
    tries=$((tries - 1))
  done
  for pid in "${!job_name[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "job_name[$pid]"
  done
}
trap stop_jobs EXIT
trap 'say "interrupted: stopping the builds"; exit 130' INT
trap 'say "terminated: stopping the builds"; exit 143' TERM

npm_ci .
npm_ci app
npm_ci policy
: >"$LOG_DIR/prefetch.log"
start_job prefetch prefetch
prefetch_pid=$!
start_job "lane A (Pulumi toolchain: scripts/toolchain.sh)" lane A bash scripts/toolchain.sh
lane_a=$!
start_job "lane B (cluster tools and checkers: scripts/cluster-tools.sh, scripts/checkers-tools.sh)" lane B cluster_and_checkers
lane_b=$!
say "building in two lanes: A the Pulumi toolchain, B the cluster tools and the manifest checkers"

declare -A letter_of=([$lane_a]=A [$lane_b]=B)
while [ ${#letter_of[@]} -gt 0 ]; do
  set +e
  wait -n -p done_pid "${!letter_of[@]}"
  rc=$?
  set -e
  name="${job_name[$done_pid]}"
  letter="${letter_of[$done_pid]}"
  unset "job_name[$done_pid]" "letter_of[$done_pid]"
  # Anything the lane left behind in its group (a build of a script that has failed) goes with it.
  kill -TERM -- "-$done_pid" 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    stop_jobs
    say "$name failed (exit $rc); every other build is stopped. Its last lines:"
    tail -n 8 "$LOG_DIR/setup-lane-$letter.log" | sed 's/^/    /' >&2
    die "$name failed; its whole output is in $LOG_DIR/setup-lane-$letter.log" \
      "read the failing build's log named above, fix what it says, then rerun 'npm run setup' (finished builds are kept)"
  fi
  say "$name: done"
done
wait "$prefetch_pid" || true
unset "job_name[$prefetch_pid]"
say "ready"
