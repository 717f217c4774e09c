#!/usr/bin/env bash
# Finds or builds the binaries of the local cluster (scripts/cluster.sh): kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, etcd, kwok and kwokctl; for the real node
# (scripts/cluster-node.sh) kubelet, kube-proxy and pause (tools/pause), and for its DNS and NetworkPolicy
# enforcement (scripts/cluster-net.sh) coredns and kube-router.
#
# A binary on PATH is used when its version fits (same Kubernetes minor for the control plane, kubectl
# within one minor, etcd 3.6, KWOK 0.8, kube-router 2.1); otherwise it is built from its Go module into
# $API_STACK_BIN (a per-user cache outside the clone, see scripts/env.sh). Wrapper modules: tools/kube,
# tools/etcd, tools/coredns. coredns is always ours: its plugin set is chosen in tools/coredns/main.go,
# so it is rebuilt whenever that module changes (a stamp in $API_STACK_CACHE/stamps), never taken from PATH.
# Builds are slow on a cold Go cache (tens of minutes on 2 cores); later runs only check versions.
#
# Usage: scripts/cluster-tools.sh [--print-env | --pending-modules] [--help]
#   --print-env   print the chosen paths as shell assignments on stdout (KWOK_*_BINARY, COREDNS_BINARY,
#                 KUBE_ROUTER_BINARY, ...), for eval; progress goes to stderr either way.
#   --pending-modules  print the Go module of each build that is due, one a line (a tools/ folder, or
#                 module@version for a `go install`), and build nothing (scripts/setup.sh downloads them
#                 ahead of the builds).
# Logs: $API_STACK_CACHE/logs/cluster-tools-<step>.log
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

print_env=false
pending_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    --print-env) print_env=true ;;
    --pending-modules) pending_only=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
! { $print_env && $pending_only; } || usage_error "--print-env and --pending-modules exclude each other"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# env.sh puts $API_STACK_BIN first on PATH; it is part of the lookup, so a finished build is found.

KUBE_VERSION="v1.36.3"  # also the version in tools/kube/go.mod (tools/kube/generate.sh)
KWOK_VERSION="v0.8.0"
COREDNS_VERSION="1.15.0"  # also the version in tools/coredns/go.mod
KUBE_ROUTER_VERSION="v2.1.0"
LOG_DIR="$API_STACK_CACHE/logs"
STAMP_DIR="$API_STACK_CACHE/stamps"
mkdir -p "$LOG_DIR" "$STAMP_DIR"

minor_of() { sed -nE 's/.*v?[0-9]+\.([0-9]+)\.[0-9]+.*/\1/p' <<<"$1" | head -n1; }
kube_minor="$(minor_of "$KUBE_VERSION")"

# Prints the version line a binary reports, or nothing.
reported_version() {
  case "$(basename "$1")" in
    kubectl) "$1" version --client 2>/dev/null | sed -n 's/^Client Version: //p' ;;
    etcd) "$1" --version 2>/dev/null | sed -n 's/^etcd Version: //p' ;;
    kwok | kwokctl) "$1" --version 2>/dev/null | head -n1 | grep -oE 'v?[0-9]+\.[0-9]+\.[0-9]+' | head -n1 ;;
    coredns) "$1" -version 2>/dev/null | sed -n 's/^CoreDNS-//p' ;;
    # kube-router prints its version on stderr.
    kube-router) "$1" --version 2>&1 | grep -oE ' version v[0-9]+\.[0-9]+\.[0-9]+' | sed 's/^ version //' ;;
    *) "$1" --version 2>/dev/null | sed -n 's/^Kubernetes //p' ;;
  esac
}

# True when the version reported by binary $1 is acceptable for it.
version_fits() {
  local name="$1" v="$2" minor
  [ -n "$v" ] || return 1
  minor="$(minor_of "$v")"
  [ -n "$minor" ] || return 1
  case "$name" in
    kubectl) [[ "$v" == v1.* ]] && [ $((minor - kube_minor)) -ge -1 ] && [ $((minor - kube_minor)) -le 1 ] ;;
    etcd) [[ "$v" == 3.6.* ]] ;;
    kwok | kwokctl) [[ "$v" =~ ^v?0\.([0-9]+)\. ]] && [ "${BASH_REMATCH[1]}" -ge 8 ] ;;
    kube-router) [[ "$v" == v2.1.* ]] ;;
    *) [[ "$v" == v1.* ]] && [ "$minor" -eq "$kube_minor" ] ;;
  esac
}

# Prints the path of an acceptable binary called $1 on PATH, or nothing.
find_tool() {
  local name="$1" candidate v
  while IFS= read -r candidate; do
    v="$(reported_version "$candidate")"
    if version_fits "$name" "$v"; then echo "$candidate"; return 0; fi
  done < <(type -aP "$name" 2>/dev/null | awk '!seen[$0]++')
  return 0
}

# The Go module a build step downloads: its wrapper folder, or module@version for a `go install`.
step_module() {
  case "$1" in
    kwok) echo "sigs.k8s.io/kwok@$KWOK_VERSION" ;;
    kube-router) echo "github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION" ;;
    *) echo "tools/$1" ;;
  esac
}

# Runs a build step: $1 step name, $2 what to do next on failure, rest: the command.
run_step() {
  local step="$1" hint="$2" log="$LOG_DIR/cluster-tools-$1.log" start rc
  shift 2
  if $pending_only; then
    step_module "$step"
    return
  fi
  start=$SECONDS
  say "building $step (log: $log) ..."
  set +e
  (
    set -e
    echo "# $(date -u +%FT%TZ) $*"
    "$@"
  ) >"$log" 2>&1 &
  local pid=$!
  local next_note=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next_note" ] && kill -0 "$pid" 2>/dev/null; then
      say "  ... $step still building ($((SECONDS - start))s)"
      next_note=$((SECONDS + 30))
    fi
  done
  wait "$pid"
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    say "FAILED: step '$step' exited $rc after $((SECONDS - start))s. Last lines of $log:"
    tail -n 15 "$log" >&2
    say "next: $hint"
    exit 1
  fi
  say "built $step in $((SECONDS - start))s"
}

kube_ldflags() {
  local pkg flags="-s -w" minor
  minor="$(minor_of "$KUBE_VERSION")"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  echo "$flags"
}

# One `go build` for every Kubernetes command: they share most packages, and one invocation compiles
# each of them once. Each build writes into a staging folder and moves finished binaries into place, so an interrupted
# build never leaves a half-written binary in $API_STACK_BIN.
build_kube() {
  local out="$API_STACK_CACHE/build/kube"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$API_STACK_ROOT/tools/kube" && CGO_ENABLED=0 go build -ldflags "$(kube_ldflags)" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  mv -f "$out"/* "$API_STACK_BIN/"
}

build_pause() {
  local out="$API_STACK_CACHE/build/pause"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$API_STACK_ROOT/tools/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/api-stack-pause" .)
  mv -f "$out/api-stack-pause" "$API_STACK_BIN/api-stack-pause"
}

build_etcd() {
  local out="$API_STACK_CACHE/build/etcd"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$API_STACK_ROOT/tools/etcd" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  mv -f "$out/etcd" "$API_STACK_BIN/etcd"
}

build_kwok() {
  local out="$API_STACK_CACHE/build/kwok"
  rm -rf "$out" && mkdir -p "$out"
  # No replace lines in KWOK's go.mod, so plain `go install` works; run outside our module.
  (cd "$out" && CGO_ENABLED=0 GOBIN="$out" go install -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION")
  mv -f "$out/kwok" "$out/kwokctl" "$API_STACK_BIN/"
}

# What $API_STACK_BIN/coredns was built from: the wrapper module's files, the version and the Go version.
coredns_stamp() {
  {
    echo "coredns $COREDNS_VERSION $(go env GOVERSION)"
    (cd "$API_STACK_ROOT/tools/coredns" && sha256sum go.mod go.sum main.go)
  } | sha256sum | cut -d' ' -f1
}

# Without -trimpath, like the other builds here: `go test` in tools/coredns then reuses the compiled
# packages of this build instead of compiling CoreDNS and client-go a second time.
build_coredns() {
  local out="$API_STACK_CACHE/build/coredns"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$API_STACK_ROOT/tools/coredns" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -ldflags "-s -w" -o "$out/coredns" .)
  mv -f "$out/coredns" "$API_STACK_BIN/coredns"
  coredns_stamp >"$STAMP_DIR/coredns"
}

# kube-router's go.mod has no replace lines, so `go install` builds it as its authors pinned it (like
# KWOK); its version string comes from ldflags, as in upstream's Makefile.
build_kube_router() {
  local out="$API_STACK_CACHE/build/kube-router" pkg=github.com/cloudnativelabs/kube-router/v2
  rm -rf "$out" && mkdir -p "$out"
  (cd "$out" && CGO_ENABLED=0 GOBIN="$out" go install \
    -ldflags "-s -w -X $pkg/pkg/version.Version=$KUBE_ROUTER_VERSION -X $pkg/pkg/version.BuildDate=$(date -u +%FT%TZ)" \
    "$pkg/cmd/kube-router@$KUBE_ROUTER_VERSION")
  mv -f "$out/kube-router" "$API_STACK_BIN/"
}

# One build at a time per cache (another checkout or a parallel `cluster:up` may be building). Listing
# what is due only reads, so it never waits for a build.
$pending_only || hold_lock 9 "$API_STACK_CACHE/cluster-tools.lock"

total_start=$SECONDS
declare -A path_of

need_build() {  # $@: tool names; true when any of them is missing
  local name missing=1
  for name in "$@"; do
    path_of[$name]="$(find_tool "$name")"
    [ -n "${path_of[$name]}" ] || missing=0
  done
  return $missing
}

if need_build kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; then
  run_step kube "check the Go proxy is reachable (GOPROXY=$(go env GOPROXY)) and that tools/kube/go.mod matches $KUBE_VERSION (tools/kube/generate.sh $KUBE_VERSION); then rerun" build_kube
  need_build kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy || true
fi
# Our own program, with no version to report: rebuilt when its source is newer than the binary.
if [ ! -x "$API_STACK_BIN/api-stack-pause" ] || [ "$API_STACK_ROOT/tools/pause/main.go" -nt "$API_STACK_BIN/api-stack-pause" ]; then
  run_step pause "check that Go can build tools/pause (go build there); then rerun" build_pause
fi
path_of[api-stack-pause]="$API_STACK_BIN/api-stack-pause"

if need_build etcd; then
  run_step etcd "check the Go proxy is reachable and tools/etcd/go.mod (go mod tidy there); then rerun" build_etcd
  need_build etcd || true
fi
if need_build kwok kwokctl; then
  run_step kwok "check the Go proxy is reachable and that sigs.k8s.io/kwok $KWOK_VERSION is served; then rerun" build_kwok
  need_build kwok kwokctl || true
fi
if [ ! -x "$API_STACK_BIN/coredns" ] || [ "$(cat "$STAMP_DIR/coredns" 2>/dev/null)" != "$(coredns_stamp)" ]; then
  run_step coredns "check the Go proxy is reachable and tools/coredns (go mod tidy there); then rerun" build_coredns
fi
path_of[coredns]="$API_STACK_BIN/coredns"
if need_build kube-router; then
  run_step kube-router "check the Go proxy is reachable and that github.com/cloudnativelabs/kube-router/v2 $KUBE_ROUTER_VERSION is served; then rerun" build_kube_router
  need_build kube-router || true
fi

$pending_only && exit 0
for name in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy etcd kwok kwokctl coredns kube-router; do
  if [ -z "${path_of[$name]}" ]; then
    say "FAILED: no usable $name after building (it reports '$(reported_version "$API_STACK_BIN/$name" || true)')."
    say "next: remove $API_STACK_BIN/$name and rerun, or put a fitting $name on PATH."
    exit 1
  fi
  say "$(printf '%-24s %-14s %s' "$name" "$(reported_version "${path_of[$name]}")" "${path_of[$name]}")"
done
say "all cluster tools ready ($((SECONDS - total_start))s)"

if $print_env; then
  cat <<EOF
KWOK_KUBE_VERSION=$(reported_version "${path_of[kube-apiserver]}")
KWOK_KUBE_APISERVER_BINARY=${path_of[kube-apiserver]}
KWOK_KUBE_CONTROLLER_MANAGER_BINARY=${path_of[kube-controller-manager]}
KWOK_KUBE_SCHEDULER_BINARY=${path_of[kube-scheduler]}
KWOK_KUBECTL_BINARY=${path_of[kubectl]}
KWOK_ETCD_BINARY=${path_of[etcd]}
KWOK_CONTROLLER_BINARY=${path_of[kwok]}
KWOKCTL=${path_of[kwokctl]}
KUBECTL=${path_of[kubectl]}
KUBELET_BINARY=${path_of[kubelet]}
KUBE_PROXY_BINARY=${path_of[kube-proxy]}
PAUSE_BINARY=${path_of[api-stack-pause]}
COREDNS_BINARY=${path_of[coredns]}
KUBE_ROUTER_BINARY=${path_of[kube-router]}
EOF
fi
