#!/usr/bin/env bash
# The main job: a real `pulumi up` of a stack, from a fresh machine.
#
# Usage: scripts/deploy.sh [--stack dev|prod] [--preview | --destroy] [--yes]
#   --stack NAME   stack to deploy (default: dev).
#   --preview      only show what `pulumi up` would do.
#   --destroy      destroy the stack instead (the local cluster stays up; see npm run cluster:down).
#   -h, --help     this text.
#
# Steps: installs the npm packages if missing, prepares the Pulumi toolchain (scripts/toolchain.sh),
# and then, when Pulumi.<stack>.yaml names no cluster (no kubernetes:context or kubernetes:kubeconfig),
# starts the local simulated cluster (scripts/cluster.sh) and deploys there with the overrides of
# stacks/local-cluster.ts, through a generated config file (.pulumi-local/Pulumi.<stack>.local.yaml),
# so the committed stack file stays untouched. There it first builds the API image itself (Docker engine
# from scripts/docker.sh, base images from scripts/images-base.sh, tag contentTag(app/)) and deploys it as
# imageRef with imageBuild: false. With a cluster configured, it deploys to that cluster with the
# committed config as it is. It ends by printing the stack outputs.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="dev"
action="up"
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --stack)
      [ $# -ge 2 ] || usage_error "--stack needs a name (dev or prod)"
      stack="$2"; shift ;;
    --stack=*) stack="${1#--stack=}" ;;
    --preview) action="preview" ;;
    --destroy) action="destroy" ;;
    --yes) ;; # accepted for symmetry with pulumi; the script never prompts
    *) usage_error "unknown option '$1'" ;;
  esac
  shift
done

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$API_STACK_ROOT"
[[ "$stack" =~ ^[a-z0-9][a-z0-9-]*$ ]] || usage_error "--stack must be a stack name such as dev or prod, got '$stack'"
[ -f "Pulumi.$stack.yaml" ] || usage_error "no Pulumi.$stack.yaml: the stacks of this project are $(ls Pulumi.*.yaml | sed -n 's/^Pulumi\.\(.*\)\.yaml$/\1/p' | tr '\n' ' ')"

start=$SECONDS

# Check the stack's cluster connection before installing or starting anything.
own_cluster=false
if grep -qE '^\s*kubernetes:(context|kubeconfig):' "Pulumi.$stack.yaml"; then
  own_cluster=true
  kubeconfig=$(sed -n 's/^\s*kubernetes:kubeconfig:\s*//p' "Pulumi.$stack.yaml" | tr -d "\"'")
  if [ -n "$kubeconfig" ] && [ ! -f "${kubeconfig/#\~/$HOME}" ]; then
    die "kubernetes:kubeconfig in Pulumi.$stack.yaml is '$kubeconfig', which does not exist" \
      "point it at your cluster's kubeconfig, or remove it to use the local cluster" 2
  fi
fi

if [ ! -d node_modules/@pulumi/pulumi ] || [ ! -d node_modules/ts-node ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund >&2 || die "npm ci failed" "check the npm registry is reachable, then rerun"
fi
say "preparing the Pulumi toolchain"
bash scripts/toolchain.sh >&2 || die "the Pulumi toolchain is not ready" "see the toolchain's message above"

config_args=()
if $own_cluster; then
  say "Pulumi.$stack.yaml names a cluster: deploying there"
else
  say "no cluster configured for $stack: using the local cluster (npm run cluster:up)"
  fresh_cluster=false
  bash scripts/cluster.sh status >/dev/null 2>&1 || fresh_cluster=true
  bash scripts/cluster.sh up >&2 || die "the local cluster did not start" "see the cluster's message above, or set kubernetes:context in Pulumi.$stack.yaml"
  local_config="$API_STACK_LOCAL/Pulumi.$stack.local.yaml"
  # The local stack deploys imageBuild: false with the imageRef of the API image built here (the Docker
  # provider plugin cannot be had offline): build it first, by content tag and with the layer cache,
  # and hand it and the PostgreSQL image to the real node's runtime.
  if [ "$action" = up ]; then
    images=$(bash scripts/cluster-images.sh) || die "the images are not ready" "see the message above"
    eval "export ${images//$'\n'/ }"
    image_ref="$API_IMAGE"
    say "images on the node: $API_IMAGE, $POSTGRES_IMAGE"
  fi
  node -r ts-node/register/transpile-only scripts/local-config.ts "$stack" "$API_STACK_KUBECONFIG" "$local_config" "${POSTGRES_IMAGE:-}"
  config_args=(--config-file "$local_config")
  if [ -n "${image_ref:-}" ] && [ "$image_ref" != "$(sed -n 's/^ *api-stack:imageRef: *//p' "$local_config" | tr -d "\"'")" ]; then
    die "built $image_ref but the stack would deploy another imageRef" "report this: stacks/local-cluster.ts and scripts/api-image.ts disagree"
  fi
fi

if ! pulumi stack select "$stack" >/dev/null 2>&1; then
  say "creating stack $stack (backend: $PULUMI_BACKEND_URL)"
  if $own_cluster; then
    pulumi stack init "$stack" --secrets-provider passphrase >&2 ||
      die "could not create stack $stack" "check PULUMI_BACKEND_URL and the passphrase (scripts/env.sh)"
  else
    # `stack init` writes the passphrase's salt into Pulumi.<stack>.yaml; run it in a scratch folder
    # and move the salt into the generated config file, so the committed file stays untouched.
    scratch="$(mktemp -d)"
    cp Pulumi.yaml "$scratch/"
    (cd "$scratch" && pulumi stack init "$stack" --secrets-provider passphrase >&2) ||
      { rm -rf "$scratch"; die "could not create stack $stack" "check PULUMI_BACKEND_URL and the passphrase (scripts/env.sh)"; }
    grep '^encryptionsalt:' "$scratch/Pulumi.$stack.yaml" >>"$local_config"
    rm -rf "$scratch"
  fi
fi

# A local cluster started anew holds none of what the state remembers (cluster:down removed it), whether
# this run started it or `npm run cluster:up` did: then the stack's namespace is gone too. Reconcile the
# state with the cluster first, or the update would see nothing to do, or act on objects that are gone.
local_cluster_is_new() {
  [ "${fresh_cluster:-}" = true ] && return 0
  [ "${fresh_cluster:-}" = false ] || return 1
  local namespace
  namespace="$(pulumi stack output namespaceName --stack "$stack" 2>/dev/null)" || return 1
  [ -n "$namespace" ] && ! kc get namespace "$namespace" >/dev/null 2>&1
}
if local_cluster_is_new && [ "$(pulumi stack --stack "$stack" --show-urns 2>/dev/null | grep -c 'urn:pulumi')" -gt 1 ]; then
  say "the local cluster was recreated: refreshing the state of $stack"
  pulumi refresh --stack "$stack" --yes --skip-preview "${config_args[@]}" >&2 ||
    die "refresh failed" "run 'pulumi refresh --stack $stack ${config_args[*]}' and read its error"
fi

# On the local cluster, the API's Service is reachable from this machine at its ClusterIP (kube-proxy
# runs on the real node): show that it answers, with the body of a real readiness check.
api_answers_locally() {
  local namespace address body
  namespace="$(pulumi stack output --stack "$stack" namespaceName 2>/dev/null)" || namespace=""
  address="$(kc get service api -n "$namespace" -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}' 2>/dev/null)" || address=""
  if [ -z "$namespace" ] || [ -z "${address%:}" ]; then
    say "warning: could not find the api Service (namespace '$namespace'); check with: kubectl get service -A"
    return 0
  fi
  if ! kc get node "$API_STACK_NODE_NAME" >/dev/null 2>&1; then
    say "the local cluster has no real node (simulated only): the API is deployed but does not run"
    return 0
  fi
  body="$(curl -fsS --max-time 10 "http://$address/readyz")" ||
    die "the API does not answer at http://$address/readyz" "look at its pods: kubectl -n $namespace get pods; kubectl -n $namespace logs deploy/api"
  say "the API answers at http://$address (from this machine, through its Service)"
  say "GET http://$address/readyz -> $body"
}

case "$action" in
  preview)
    pulumi preview --stack "$stack" --diff "${config_args[@]}" || die "preview failed" "read the error above; config errors name the key to fix"
    ;;
  destroy)
    pulumi destroy --stack "$stack" --yes "${config_args[@]}" || die "destroy failed" "protected resources (prod) refuse destroy by design; see the README"
    say "destroyed $stack"
    ;;
  up)
    say "pulumi up --stack $stack"
    pulumi up --stack "$stack" --yes --skip-preview "${config_args[@]}" ||
      die "pulumi up failed" "read the error above; config errors name the key to fix, then rerun npm run deploy"
    say "done in $((SECONDS - start))s; stack outputs:"
    pulumi stack output --stack "$stack"
    $own_cluster || api_answers_locally

    ;;
esac
