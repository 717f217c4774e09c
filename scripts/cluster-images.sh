#!/usr/bin/env bash
# Builds the images the local cluster runs and loads them into its real node: the API image (content
# tag, layer cache; scripts/api-image.ts) and the PostgreSQL image (the stand-in of
# scripts/images-base.sh where the official one cannot be pulled). No registry is reachable, so the
# node's runtime gets them from the Docker engine (scripts/cluster.sh load-images).
#
# Usage: scripts/cluster-images.sh [--help]
# Prints API_IMAGE=<ref> and POSTGRES_IMAGE=<ref> on stdout; progress goes to stderr.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

takes_no_arguments "$@"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$API_STACK_ROOT"

bash scripts/docker.sh up >&2 || die "no Docker engine for the images" "see the engine's message above (npm run docker:up)"
# docker.sh up may have just started this checkout's engine: take its DOCKER_HOST.
. scripts/env.sh
base_images=$(bash scripts/images-base.sh) || die "the base images are not ready" "see the message of npm run images:base above"
eval "export ${base_images//$'\n'/ }"
say "building the API image (content tag; an unchanged app/ builds nothing)"
api_image=$(node -r ts-node/register/transpile-only scripts/api-image.ts) ||
  die "the API image did not build" "fix the failing step shown above, then rerun"
if [ -S "$API_STACK_CLUSTER_DIR/node/containerd/containerd.sock" ]; then
  bash scripts/cluster.sh load-images "$api_image" "$POSTGRES_IMAGE" >&2 ||
    die "could not load the images into the local cluster's node" "see the message above"
else
  say "the local cluster has no real node (see npm run cluster:status): images built, not loaded"
fi
printf 'API_IMAGE=%s\nPOSTGRES_IMAGE=%s\n' "$api_image" "$POSTGRES_IMAGE"
