#!/usr/bin/env bash
# Makes the Pulumi engine runnable here without downloads: the `pulumi` CLI, the Node.js language
# host `pulumi-language-nodejs` and the provider plugins `pulumi-resource-kubernetes` and
# `pulumi-resource-random`, at the versions that package-lock.json locks, registered in PULUMI_HOME.
#
# Usage: scripts/toolchain.sh [options]        (or: npm run toolchain)
#   --force      rebuild every binary even when the one in the cache is current.
#   --versions   check that the wrapper modules build the locked versions, print them, build nothing.
#   --pending-modules  print the tools/ folder of each binary that is due to be built, one a line, and
#                build nothing (scripts/setup.sh downloads their Go modules ahead of the builds).
#   -h, --help   this text.
#
# A `pulumi` of the pinned version already on PATH (outside the cache) is used as it is: the CLI is
# not built, and it installs upstream's plugins where it can download them. Everything else is built
# once with `go build` from the wrapper modules under tools/ into $API_STACK_BIN (CLI, language host)
# and $API_STACK_CACHE/providers (plugins), a per-user cache outside the clone (see scripts/env.sh);
# a second run only checks. Logs: $API_STACK_CACHE/logs. More: docs/toolchain.md.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=false
print_versions=false
pending_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --force) force=true ;;
    --versions) print_versions=true ;;
    --pending-modules) pending_only=true ;;
    *) usage_error "unknown option '$1'" ;;
  esac
  shift
done

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

command -v node >/dev/null || die "node is not on PATH" "install Node.js 24 or later"

# The versions come from package-lock.json and from nowhere else: the Automation API checks that the
# CLI is @pulumi/pulumi's version, and the engine loads each plugin by the version its SDK package asks
# for (which is the package's version). The wrapper modules must build exactly those (checked below).
locked() { # locked <npm package>: the version package-lock.json installs
  node -e 'const l = require(process.argv[1]); const p = l.packages["node_modules/" + process.argv[2]];
    process.stdout.write(p ? p.version : "")' "$API_STACK_ROOT/package-lock.json" "$1"
}
CLI_VERSION="$(locked @pulumi/pulumi)"
KUBERNETES_VERSION="$(locked @pulumi/kubernetes)"
RANDOM_VERSION="$(locked @pulumi/random)"

# wrapper_builds <npm package> <version>: the module and version its wrapper under tools/ must
# require to build that release; empty when no wrapper builds it.
wrapper_builds() {
  case "$1@$2" in
    @pulumi/pulumi@*) echo "github.com/pulumi/pulumi/pkg/v3 v$2" ;;
    # Upstream's tag v4.25.0 is commit f47bc2d6f199; the module proxy serves it only under this
    # pseudo-version. Moving @pulumi/kubernetes means finding the served commit of the new tag.
    @pulumi/kubernetes@4.25.0) echo "github.com/pulumi/pulumi-kubernetes/provider/v4 v4.0.0-20260115033456-f47bc2d6f199" ;;
    # Our stand-in serves the 4.x resource tokens of @pulumi/random and is stamped with the version.
    @pulumi/random@4.*) echo "github.com/pulumi/pulumi/sdk/v3 any" ;;
  esac
}
check_wrapper() { # check_wrapper <npm package> <version> <wrapper dir>
  local want module version got
  [ -n "$2" ] || die "package-lock.json has no $1" "run 'npm install' so that it locks $1"
  want="$(wrapper_builds "$1" "$2")"
  [ -n "$want" ] || die "package-lock.json locks $1 $2, which no wrapper module under tools/ builds" \
    "lock the version that $3 builds (see 'scripts/toolchain.sh --versions' and docs/toolchain.md), or move $3 and wrapper_builds() in scripts/toolchain.sh to $2"
  read -r module version <<<"$want"
  got="$(awk -v m="$module" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$API_STACK_ROOT/$3/go.mod")"
  [ -n "$got" ] && { [ "$version" = any ] || [ "$got" = "$version" ]; } ||
    die "$3/go.mod requires $module '${got:-nothing}', but $1 $2 needs $version" \
      "run 'go get $module@$version && go mod tidy' in $3, or lock the $1 version that it builds"
}
check_wrapper @pulumi/pulumi "$CLI_VERSION" tools/pulumi
check_wrapper @pulumi/kubernetes "$KUBERNETES_VERSION" tools/pulumi-kubernetes
check_wrapper @pulumi/random "$RANDOM_VERSION" tools/pulumi-random
if $print_versions; then
  printf 'pulumi %s\nkubernetes %s\nrandom %s\n' "$CLI_VERSION" "$KUBERNETES_VERSION" "$RANDOM_VERSION"
  exit 0
fi

LOG_DIR="$API_STACK_CACHE/logs"
STAMP_DIR="$API_STACK_CACHE/stamps"
# Provider binaries stay off PATH: the engine prefers a pulumi-resource-* found on PATH over the
# registered plugin and warns about it on every run.
PROVIDER_DIR="$API_STACK_CACHE/providers"
mkdir -p "$LOG_DIR" "$STAMP_DIR" "$PROVIDER_DIR"
# One run at a time per cache: a second run waits, then finds the first one's binaries up to date.
# Listing what is due only reads, so it never waits for a build.
$pending_only || hold_lock 9 "$API_STACK_CACHE/toolchain.lock"

# stamp_of <name> <wrapper dir> <package> <version>: what the binary was built from. A change of the
# wrapper's go.mod/go.sum, of the Go files of the package it builds (tests aside), of the version or of the Go
# version makes it stale. A package of another module (the CLI) has no Go files here: only go.mod/go.sum count,
# so a change of the language host, which shares the CLI's wrapper, rebuilds the host alone.
stamp_of() {
  local dir="$API_STACK_ROOT/$2" sources=()
  case "$3" in .* | ./*) sources=("$3") ;; esac
  {
    echo "$1 $4 $(go env GOVERSION)"
    (cd "$dir" && { ls go.mod go.sum; [ ${#sources[@]} -eq 0 ] || find "${sources[@]}" -name '*.go' ! -name '*_test.go'; } | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -d' ' -f1
}

# build <name> <wrapper dir> <package> <ldflags> <version> [prepare-function]
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" version="$5" prepare="${6:-}"
  local out="$API_STACK_BIN/$name" log="$LOG_DIR/$name.log" stamp
  case "$name" in pulumi-resource-*) out="$PROVIDER_DIR/$name" ;; esac
  stamp="$(stamp_of "$name" "$dir" "$pkg" "$version")"
  if ! $force && [ -x "$out" ] && [ "$(cat "$STAMP_DIR/$name" 2>/dev/null)" = "$stamp" ]; then
    say "$name $version: up to date"
    return
  fi
  if $pending_only; then
    echo "$dir"
    return
  fi
  local step_start=$SECONDS
  say "$name $version: building from $dir (log: $log; a first build takes minutes)"
  if ! (
    cd "$API_STACK_ROOT/$dir"
    [ -z "$prepare" ] || "$prepare"
    GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg"
  ) >"$log" 2>&1; then
    rm -f "$out.tmp"
    tail -n 15 "$log" | sed 's/^/    /' >&2
    die "building $name failed after $((SECONDS - step_start))s; the whole log is $log" \
      "read the log; if a download failed, check that 'go env GOPROXY' is reachable and rerun 'npm run toolchain'; if the wrapper in $dir is at fault, fix it and rerun"
  fi
  mv -f "$out.tmp" "$out"
  echo "$stamp" >"$STAMP_DIR/$name"
  say "$name $version: built in $((SECONDS - step_start))s"
}

# The Kubernetes provider's main embeds its schema; upstream generates the embedded files, the module
# zip carries them as schema.json and terraform-mapping.json. Copy them next to our main (ignored).
prepare_kubernetes() {
  local moddir
  go mod download github.com/pulumi/pulumi-kubernetes/provider/v4
  moddir="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)"
  install -m 0644 "$moddir/cmd/pulumi-resource-kubernetes/schema.json" schema.json
  install -m 0644 "$moddir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" terraform-mapping.json
}

need_go() {
  command -v go >/dev/null || die "go is not on PATH and a binary must be built" \
    "install Go 1.26.6 or later (the wrapper modules ask for it), or put pulumi $CLI_VERSION on PATH"
}

# 1. The CLI and the language host: a compatible install on PATH wins.
external_pulumi=""
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  [ -n "$d" ] && [ "$d" != "$API_STACK_BIN" ] && [ -x "$d/pulumi" ] || continue
  if [ "$("$d/pulumi" version 2>/dev/null)" = "v$CLI_VERSION" ]; then
    external_pulumi="$d/pulumi"
    break
  fi
done
if [ -n "$external_pulumi" ]; then
  say "pulumi $CLI_VERSION: using $external_pulumi (nothing to build)"
  PULUMI="$external_pulumi"
  if [ -x "$API_STACK_BIN/pulumi" ]; then
    say "note: $API_STACK_BIN/pulumi comes first on PATH after 'source scripts/env.sh'; it is the same version"
  fi
else
  need_go
  build pulumi tools/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" "$CLI_VERSION"
  # The engine looks for language hosts next to the `pulumi` binary first.
  build pulumi-language-nodejs tools/pulumi ./pulumi-language-nodejs \
    "-X main.version=$CLI_VERSION" "$CLI_VERSION"
  PULUMI="$API_STACK_BIN/pulumi"
  if ! $pending_only; then
    got="$("$PULUMI" version)"
    [ "$got" = "v$CLI_VERSION" ] || die "$PULUMI reports $got, not v$CLI_VERSION" "rerun with --force"
  fi
fi

# 2. The provider plugins, registered in PULUMI_HOME so that the engine finds them by name and
#    version and never tries a download.
register() { # register <plugin name> <version>: our build; skipped when the installed copy is identical
  ! $pending_only || return 0
  local name="$1" version="$2" bin="$PROVIDER_DIR/pulumi-resource-$1"
  local installed="$PULUMI_HOME/plugins/resource-$name-v$version/pulumi-resource-$name"
  if [ -f "$installed" ] && cmp -s "$bin" "$installed"; then
    say "plugin resource $name $version: registered"
    return
  fi
  local log="$LOG_DIR/plugin-install-$name.log"
  if ! "$PULUMI" plugin install resource "$name" "$version" --file "$bin" --reinstall >"$log" 2>&1; then
    sed 's/^/    /' "$log" >&2
    die "registering plugin $name $version failed; log: $log" \
      "check that PULUMI_HOME ($PULUMI_HOME) is writable, then rerun 'npm run toolchain'"
  fi
  say "plugin resource $name $version: registered in $PULUMI_HOME"
}

# With an installed pulumi (a machine with internet), upstream's own plugin is tried first: a
# registered plugin of that version is kept, a missing one is downloaded; offline, that fails fast
# and the plugin is built like everywhere else.
upstream_plugin() { # upstream_plugin <plugin name> <version>: 0 when upstream's plugin is in place
  local name="$1" version="$2"
  [ -n "$external_pulumi" ] || return 1
  if [ -d "$PULUMI_HOME/plugins/resource-$name-v$version" ]; then
    say "plugin resource $name $version: already in $PULUMI_HOME"
    return 0
  fi
  # A download may still fail: its wrapper's modules are worth having at hand.
  ! $pending_only || return 1
  if timeout 300 "$PULUMI" plugin install resource "$name" "$version" >"$LOG_DIR/plugin-download-$name.log" 2>&1; then
    say "plugin resource $name $version: downloaded by $PULUMI"
    return 0
  fi
  say "plugin resource $name $version: no download possible (log: $LOG_DIR/plugin-download-$name.log); building it"
  return 1
}

if ! upstream_plugin kubernetes "$KUBERNETES_VERSION"; then
  need_go
  build pulumi-resource-kubernetes tools/pulumi-kubernetes . \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION" \
    "$KUBERNETES_VERSION" prepare_kubernetes
  register kubernetes "$KUBERNETES_VERSION"
fi
if ! upstream_plugin random "$RANDOM_VERSION"; then
  need_go
  build pulumi-resource-random tools/pulumi-random . "-X main.version=$RANDOM_VERSION" "$RANDOM_VERSION"
  register random "$RANDOM_VERSION"
fi

$pending_only && exit 0
say "ready: $PULUMI ($("$PULUMI" version)); use it after '. scripts/env.sh' (PATH, PULUMI_HOME, backend)"
