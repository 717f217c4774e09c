# Shared environment for every script and test that drives the Pulumi engine or the local cluster.
# Source it (`. scripts/env.sh`); it exports variables, creates ignored folders and, once,
# installs Node.js 24 when the machine's node is older (scripts/node.sh).
#
# Why these locations: built binaries are big and slow to make, so they live in a per-user cache
# outside the clone (reused by every clone and by CI on the same machine); Pulumi state, PULUMI_HOME
# and the local cluster belong to this checkout, so they live in ignored folders inside it.

API_STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export API_STACK_ROOT

# Toolchain cache: built binaries (bin/), Node.js 24 when the machine's node is older (node/), Python
# tools (venv/), build logs (logs/). scripts/node.sh sets API_STACK_CACHE and puts Node.js 24 first on
# PATH, for the scripts and for the language host, which starts `node` from PATH.
# shellcheck source=scripts/node.sh
. "$API_STACK_ROOT/scripts/node.sh" || return 1
export API_STACK_BIN="$API_STACK_CACHE/bin"
mkdir -p "$API_STACK_BIN"
case ":$PATH:" in *":$API_STACK_BIN:"*) ;; *) export PATH="$API_STACK_BIN:$PATH" ;; esac

# Pulumi: local home and file backend unless the user already chose a backend.
export API_STACK_LOCAL="$API_STACK_ROOT/.pulumi-local"
mkdir -p "$API_STACK_LOCAL/home" "$API_STACK_LOCAL/state"
export PULUMI_HOME="${PULUMI_HOME:-$API_STACK_LOCAL/home}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$API_STACK_LOCAL/state}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Passphrase secrets provider: a random passphrase generated once per checkout, never committed.
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s "$API_STACK_LOCAL/passphrase" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$API_STACK_LOCAL/passphrase")
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$API_STACK_LOCAL/passphrase"
fi

# Local cluster (scripts/cluster.sh): data and kubeconfig inside the checkout.
export API_STACK_CLUSTER_DIR="$API_STACK_ROOT/.local-cluster"
export API_STACK_KUBECONFIG="$API_STACK_CLUSTER_DIR/kubeconfig"

# Docker engine (scripts/docker.sh): when this checkout runs its own dockerd, the project's scripts
# talk to it; otherwise DOCKER_HOST stays as the user set it (or Docker's default socket).
export API_STACK_DOCKER_DIR="$API_STACK_ROOT/.docker-engine"
if [ -S "$API_STACK_DOCKER_DIR/docker.sock" ]; then
  export DOCKER_HOST="unix://$API_STACK_DOCKER_DIR/docker.sock"
fi
# The classic builder: BuildKit would pull its frontend and helper images from a registry.
export DOCKER_BUILDKIT=0
# Base images made by scripts/images-base.sh when the official ones cannot be pulled (NODE_IMAGE,
# NODE_RUNTIME_IMAGE, POSTGRES_IMAGE), unless the user chose others.
if [ -f "$API_STACK_DOCKER_DIR/base-images.env" ]; then
  while IFS='=' read -r name value; do
    [ -n "${!name:-}" ] || export "$name=$value"
  done <"$API_STACK_DOCKER_DIR/base-images.env"
fi
# `docker compose` built by scripts/compose-tool.sh, as a CLI plugin of the docker CLI, unless the user
# keeps a docker config of their own.
if [ -z "${DOCKER_CONFIG:-}" ] && [ -x "$API_STACK_CACHE/docker-config/cli-plugins/docker-compose" ]; then
  export DOCKER_CONFIG="$API_STACK_CACHE/docker-config"
fi
# The CA of a TLS-inspecting proxy, for builds that reach a package registry (written by docker.sh up).
if [ -z "${EXTRA_CA_CERTS+set}" ] && [ -s "$API_STACK_DOCKER_DIR/extra-ca.pem" ]; then
  EXTRA_CA_CERTS="$(cat "$API_STACK_DOCKER_DIR/extra-ca.pem")"
  export EXTRA_CA_CERTS
fi
