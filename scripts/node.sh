#!/usr/bin/env bash
# Puts Node.js 24 first on PATH for everything this project runs: the program (the Pulumi language
# host starts `node` from PATH), the tests and the scripts. Source it (`. scripts/node.sh`); it is
# sourced by scripts/env.sh and by scripts/npm-shell.sh, npm's script shell for this project.
#
# Why: Node 20 is past its end of life, and @pulumi/pulumi and the app's dependencies need 22 or
# later. A machine whose own `node` is 24 or later keeps it. On an older one, Node.js 24.21.0
# (the official build, published on the npm registry as node-<os>-<arch>) is installed once with
# `npm pack` into $API_STACK_CACHE/node and put first on PATH; later runs only check it.
#
# Usage: scripts/node.sh [--help]   installs it if needed and prints the node that is used.

export API_STACK_CACHE="${API_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/api-stack}"
API_STACK_NODE=24.21.0

api_stack_node_major() { # the major version of the node on PATH, empty when there is none
  local v
  v="$(node --version 2>/dev/null)" || return 0
  v="${v#v}"
  echo "${v%%.*}"
}

api_stack_node_install() { # installs Node.js $API_STACK_NODE into $1, once
  local dir="$1" os arch tmp start=$SECONDS
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) os=linux arch=x64 ;;
    Linux-aarch64) os=linux arch=arm64 ;;
    Darwin-arm64) os=darwin arch=arm64 ;;
    Darwin-x86_64) os=darwin arch=x64 ;;
    *)
      echo "node: no Node.js $API_STACK_NODE build for $(uname -s) $(uname -m) on the npm registry" >&2
      echo "node: next: install Node.js 24 yourself and put it first on PATH, then rerun" >&2
      return 1 ;;
  esac
  command -v npm >/dev/null || {
    echo "node: Node.js $API_STACK_NODE must be installed and there is no npm on PATH to fetch it" >&2
    echo "node: next: install Node.js 24 (with npm) and rerun" >&2
    return 1
  }
  echo "node: $(node --version 2>/dev/null || echo 'no node') on PATH is older than 24; installing Node.js $API_STACK_NODE (npm package node-$os-$arch, about 50 MB) into $dir" >&2
  mkdir -p "$(dirname "$dir")"
  tmp="$(mktemp -d "$dir.XXXXXX")"
  # npm pack checks the package's integrity against the registry's metadata.
  if ! (cd "$tmp" && npm pack "node-$os-$arch@$API_STACK_NODE" --silent --no-fund >/dev/null 2>"$tmp/npm-pack.log") ||
    ! tar -xzf "$tmp/node-$os-$arch-$API_STACK_NODE.tgz" -C "$tmp" package/bin/node package/LICENSE ||
    [ "$("$tmp/package/bin/node" --version 2>/dev/null)" != "v$API_STACK_NODE" ]; then
    sed 's/^/    /' "$tmp/npm-pack.log" >&2 2>/dev/null || true
    rm -rf "$tmp"
    echo "node: installing Node.js $API_STACK_NODE failed (above: npm's message, if any)" >&2
    echo "node: next: check that 'npm view node-$os-$arch@$API_STACK_NODE version' reaches the npm registry (proxy, CA certificates), then rerun; or install Node.js 24 yourself" >&2
    return 1
  fi
  # A rename, so that a concurrent run or an interrupted download never leaves a half-written node.
  if ! mv -T "$tmp/package" "$dir" 2>/dev/null && [ ! -x "$dir/bin/node" ]; then
    rm -rf "$tmp"
    echo "node: could not move Node.js $API_STACK_NODE into $dir" >&2
    echo "node: next: check that $(dirname "$dir") is writable, or set API_STACK_CACHE to a writable folder" >&2
    return 1
  fi
  rm -rf "$tmp"
  echo "node: Node.js $API_STACK_NODE installed in $((SECONDS - start))s" >&2
}

api_stack_node_path() { # puts a Node.js >= 24 first on PATH
  local major dir="$API_STACK_CACHE/node/$API_STACK_NODE"
  major="$(api_stack_node_major)"
  [ -n "$major" ] && [ "$major" -ge 24 ] && return 0
  [ -x "$dir/bin/node" ] || api_stack_node_install "$dir" || return 1
  export PATH="$dir/bin:$PATH"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  # Run directly, it is a user's script and takes its helpers from the library; sourced, it defines
  # nothing but the functions above.
  # shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
  takes_no_arguments "$@"
  api_stack_node_path
  echo "$(command -v node) $(node --version)"
else
  api_stack_node_path
fi
