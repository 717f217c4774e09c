#!/usr/bin/env bash
# A local Kubernetes cluster: etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as
# plain processes (kwokctl, binary runtime), with one real node (kubelet, containerd, kube-proxy;
# scripts/cluster-node.sh) where pods run, and simulated nodes (KWOK) for scale: tainted, so that only
# pods that tolerate the taint go there.
#
# Usage: scripts/cluster.sh <command> [options]
#   up [--nodes N] [--simulated-only] [--no-network-policy]
#                    start the cluster (or check the running one) with the real node and N simulated
#                    nodes (default 3), a `local-static` StorageClass and PersistentVolumes; idempotent.
#                    --simulated-only: no real node (and no taint); also the fallback where the machine
#                    cannot run one (no root, cgroups or iptables).
#                    --no-network-policy: the real node without NetworkPolicy enforcement (kube-router
#                    stopped, its rules removed): to tell whether a policy is what blocks traffic. A
#                    later `up` without it enforces them again.
#   load-images REF...  import images from the Docker engine into the real node's runtime, where pods
#                    with imagePullPolicy IfNotPresent find them (no registry is reachable).
#   recycle-volumes  empty the volumes whose claim was deleted and make them Available again, as `up`
#                    does: for tools that delete stacks between runs (the deploy benchmark).
#   down             stop every process of the cluster (checked by pid) and remove its data.
#   status           say whether it is up, where the kubeconfig is and how many nodes are Ready;
#                    exits 1 when the cluster is down.
#   -h, --help       this text.
#
# `up` refuses, before it starts anything, while another checkout's node holds the bridge or the node's
# ports (one real node per machine); a failed `up` removes what it started itself.
# Environment, to diagnose the real node: API_STACK_NODE_READY_SECONDS (how long `up` waits for it to be
# Ready, default 90), API_STACK_KUBELET_ARGS (flags added to the kubelet's, e.g. "--v=4").
#
# Kubeconfig: $API_STACK_KUBECONFIG (.local-cluster/kubeconfig); everything listens on 127.0.0.1 only.
# Binaries come from PATH or are built once by scripts/cluster-tools.sh. More: docs/local-cluster.md.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command=""
images=()
nodes=3
real_node=true
network_policy=true
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    up | down | status | load-images | recycle-volumes)
      [ -z "$command" ] || usage_error "only one command at a time (got '$command' and '$1')"
      command="$1" ;;
    --nodes)
      [ $# -ge 2 ] || usage_error "--nodes needs a number"
      nodes="$2"; shift ;;
    --nodes=*) nodes="${1#--nodes=}" ;;
    --simulated-only) real_node=false ;;
    --no-network-policy) network_policy=false ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      [ "$command" = load-images ] || usage_error "unknown command '$1' (commands: up, down, status, load-images, recycle-volumes)"
      images+=("$1") ;;
  esac
  shift
done
[ -n "$command" ] || usage_error "missing command: up, down, status, load-images or recycle-volumes"
[ "$command" != load-images ] || [ "${#images[@]}" -gt 0 ] || usage_error "load-images needs at least one image reference, e.g. api-stack/api:<tag>"
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || usage_error "--nodes must be a positive whole number, got '$nodes'"
[ "$nodes" = 3 ] || [ "$command" = up ] || usage_error "--nodes only applies to 'up'"
$real_node || [ "$command" = up ] || usage_error "--simulated-only only applies to 'up'"
$network_policy || [ "$command" = up ] || usage_error "--no-network-policy only applies to 'up'"
$network_policy || $real_node || usage_error "--no-network-policy needs the real node (it enforces the policies); drop --simulated-only"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

CLUSTER_NAME="$API_STACK_CLUSTER_NAME"
export KWOK_WORKDIR="$API_STACK_CLUSTER_DIR/kwok"
CLUSTER_WORKDIR="$KWOK_WORKDIR/clusters/$CLUSTER_NAME"
SERVICE_CIDR="10.96.0.0/16"
CLUSTER_DNS_IP="10.96.0.10"
VOLUMES_DIR="$API_STACK_CLUSTER_DIR/volumes"
# shellcheck source=scripts/cluster-net.sh
. "$API_STACK_ROOT/scripts/cluster-net.sh"
# shellcheck source=scripts/cluster-node.sh
. "$API_STACK_ROOT/scripts/cluster-node.sh"
KUBECONFIG_PATH="$API_STACK_KUBECONFIG"
STORAGE_CLASS="$API_STACK_STORAGE_CLASS"
PV_COUNT=12
PV_SIZE="20Gi"

start=$SECONDS

api_answers() { [ -s "$KUBECONFIG_PATH" ] && kc get --raw /readyz --request-timeout=5s >/dev/null 2>&1; }

# Pids of this checkout's cluster: those in kwokctl's pid files plus any process of ours left over
# by an interrupted run; ours means that its command line points into our cluster folder (pid_is_ours).
cluster_pids() {
  local f pid
  {
    for f in "$CLUSTER_WORKDIR"/pids/*.pid; do
      [ -f "$f" ] || continue
      pid="$(tr -dc '0-9' <"$f")"
      if pid_is_ours "$pid" "$CLUSTER_WORKDIR/"; then echo "$pid"; fi
    done
    for f in /proc/[0-9]*; do
      pid="${f#/proc/}"
      [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || ! pid_is_ours "$pid" "$CLUSTER_WORKDIR/" || echo "$pid"
    done
  } | sort -un
}

ready_nodes() {
  kc get nodes --no-headers 2>/dev/null | awk '$2 == "Ready" {n++} END {print n + 0}'
}

cmd_status() {
  if api_answers; then
    local total ready server version
    total="$(kc get nodes --no-headers 2>/dev/null | wc -l)"
    ready="$(ready_nodes)"
    server="$(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}' 2>/dev/null)"
    version="$(kc get --raw /version 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')"
    echo "cluster: up"
    echo "  kubeconfig: $KUBECONFIG_PATH"
    echo "  server:     $server (Kubernetes $version)"
    echo "  nodes:      $ready Ready of $total"
    echo "  real node:  $(real_node_summary)"
    echo "  policies:   $(network_policy_summary)"
    echo "  processes:  $(cluster_pids | tr '\n' ' ')$(node_pids | tr '\n' ' ')"
    echo "  use:        export KUBECONFIG=$KUBECONFIG_PATH"
    return 0
  fi
  echo "cluster: down"
  echo "  kubeconfig: $KUBECONFIG_PATH ($([ -s "$KUBECONFIG_PATH" ] && echo "present, API not answering" || echo "absent"))"
  local left
  left="$(cluster_pids | tr '\n' ' ')"
  [ -z "$left" ] || echo "  leftover processes: $left (scripts/cluster.sh down stops them)"
  echo "  start it:   npm run cluster:up"
  return 1
}

real_node_summary() {
  if ! kc get node "$NODE_NAME" >/dev/null 2>&1; then
    echo "none ($([ -d "$NODE_DIR" ] && echo "its processes: $(node_pids | tr '\n' ' ')" || echo "simulated nodes only"))"
    return
  fi
  echo "$NODE_NAME $(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.addresses[?(@.type=="InternalIP")].address} {.status.nodeInfo.containerRuntimeVersion} {.status.nodeInfo.kubeletVersion}' 2>/dev/null), $(kc get pods -A --field-selector "spec.nodeName=$NODE_NAME,status.phase=Running" --no-headers 2>/dev/null | wc -l) pods running"
}

network_policy_summary() {
  local pid
  if pid="$(net_policy_pid "$NODE_DIR/netpol")"; then
    echo "NetworkPolicies enforced (kube-router pid $pid)"
  else
    echo "NetworkPolicies NOT enforced (no kube-router: simulated nodes only, or up --no-network-policy)"
  fi
}

cmd_down() {
  local pids left pid
  pids="$(cluster_pids | tr '\n' ' ')"
  if [ -z "$pids" ] && [ ! -e "$API_STACK_CLUSTER_DIR/kwok" ] && [ ! -e "$KUBECONFIG_PATH" ] && [ ! -e "$NODE_DIR" ] && [ -z "$(node_pids)" ]; then
    say "nothing to do: no cluster processes and no cluster data"
    return 0
  fi
  if [ -e "$NODE_DIR" ] || [ -n "$(node_pids)" ]; then
    say "stopping the real node (kubelet, kube-proxy, containerd and its pods)"
    node_down
    say "real node removed: processes, mounts, bridge $NODE_BRIDGE, iptables chain $NODE_FORWARD_CHAIN, $NODE_DIR"
  fi
  say "stopping cluster '$CLUSTER_NAME' (pids: ${pids:-none})"
  if [ -d "$CLUSTER_WORKDIR" ] && type -P kwokctl >/dev/null; then
    kwokctl delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG_PATH" >"$API_STACK_CLUSTER_DIR/delete.log" 2>&1 ||
      say "kwokctl delete cluster failed (see $API_STACK_CLUSTER_DIR/delete.log); stopping processes directly"
  fi
  # Whatever kwokctl left: TERM, then KILL, each by pid, and only while the pid is still ours.
  for pid in $pids $(cluster_pids); do if pid_is_ours "$pid" "$CLUSTER_WORKDIR/"; then kill -TERM "$pid" 2>/dev/null || true; fi; done
  for _ in $(seq 1 20); do
    left="$(for pid in $pids $(cluster_pids); do if pid_is_ours "$pid" "$CLUSTER_WORKDIR/"; then echo "$pid"; fi; done | sort -u | tr '\n' ' ')"
    [ -z "${left// /}" ] && break
    sleep 0.5
  done
  if [ -n "${left// /}" ]; then
    say "still running after TERM: $left; sending KILL"
    for pid in $left; do if pid_is_ours "$pid" "$CLUSTER_WORKDIR/"; then kill -KILL "$pid" 2>/dev/null || true; fi; done
    sleep 1
  fi
  left="$(for pid in $pids $(cluster_pids); do if pid_is_ours "$pid" "$CLUSTER_WORKDIR/"; then echo "$pid"; fi; done | sort -u | tr '\n' ' ')"
  [ -z "${left// /}" ] || die "processes $left are still running" "inspect them with 'ps -o pid,cmd -p ${left// /,}' and stop them by pid"
  say "all cluster processes stopped (checked pids: ${pids:-none})"
  rm -rf "$API_STACK_CLUSTER_DIR/kwok" "$KUBECONFIG_PATH" "$API_STACK_CLUSTER_DIR"/*.log "$API_STACK_CLUSTER_DIR"/*.yaml "$VOLUMES_DIR"
  say "removed cluster data under $API_STACK_CLUSTER_DIR"
}

# With the real node, each volume is a directory under the cluster folder on that node, open to every
# uid as a local-path provisioner makes them (PostgreSQL runs as 999, backups as another uid); without
# it, a hostPath that is never written.
storage_manifest() {
  local on_real_node="$1"
  cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  labels: {app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}
  # Default class, as on most clusters: claims that name no class bind here too.
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
EOF
  local i path affinity=""
  if $on_real_node; then
    affinity="  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}]}]}}"
  fi
  for i in $(seq 1 "$PV_COUNT"); do
    path="/tmp/api-stack-local-pv/pv-$i"
    if $on_real_node; then
      path="$VOLUMES_DIR/pv-$i"
      mkdir -p "$path" && chmod 0777 "$path"
    fi
    cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $STORAGE_CLASS-pv-$i
  labels: {app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}
spec:
  storageClassName: $STORAGE_CLASS
  capacity: {storage: $PV_SIZE}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $path, type: DirectoryOrCreate}
$affinity
EOF
  done
}

# Released volumes (their claim was deleted) are emptied and made Available again, so a destroy + up
# cycle always finds free volumes, and a new claim never finds another stack's data (a PostgreSQL data
# directory initialised with another password).
recycle_released_volumes() {
  local pv path
  for pv in $(kc get pv -l "app.kubernetes.io/managed-by=$API_STACK_CLUSTER_MANAGER" \
    -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}'); do
    path="$(kc get pv "$pv" -o jsonpath='{.spec.hostPath.path}')"
    if [[ "$path" == "$VOLUMES_DIR/"* ]] && [ -d "$path" ]; then
      find "$path" -mindepth 1 -delete
    fi
    kc patch pv "$pv" --type json -p '[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null
    say "volume $pv was Released; made it Available again"
  done
}

wait_for() {  # $1 what, $2 timeout seconds, rest: test command
  local what="$1" timeout="$2" t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $((SECONDS - t0)) -lt "$timeout" ] || return 1
    sleep 1
  done
  say "$what ($((SECONDS - t0))s)"
}

# Every volume of ours has left Pending (the PV controller saw it): Available, or Bound to a claim.
volumes_settled() {
  [ "$(kc get pv -l "app.kubernetes.io/managed-by=$API_STACK_CLUSTER_MANAGER" --no-headers 2>/dev/null |
    awk '$5 == "Available" || $5 == "Bound"' | wc -l)" -ge "$PV_COUNT" ]
}

# KWOK's node template reports CPU, memory and pods but no ephemeral-storage, so a pod that requests
# ephemeral storage (ours do, as real clusters expect) would never schedule. Real nodes report it:
# give every simulated node what a modest real node has. The kwok controller leaves the field alone.
NODE_EPHEMERAL_STORAGE="100Gi"
give_nodes_ephemeral_storage() {
  local node patch
  patch="{\"status\":{\"capacity\":{\"ephemeral-storage\":\"$NODE_EPHEMERAL_STORAGE\"},\"allocatable\":{\"ephemeral-storage\":\"$NODE_EPHEMERAL_STORAGE\"}}}"
  for node in $(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.allocatable.ephemeral-storage}{"\n"}{end}' | awk 'NF == 1 {print $1}'); do
    kc patch node "$node" --subresource=status --type=merge -p "$patch" >/dev/null ||
      die "could not give node $node its ephemeral storage" "rerun npm run cluster:up"
  done
}

enough_ready_nodes() { [ "$(ready_nodes)" -ge "$nodes" ]; }

cmd_up() {
  say "checking cluster tools (scripts/cluster-tools.sh; first run builds them, see docs/local-cluster.md)"
  local tools_env
  tools_env="$("$API_STACK_ROOT/scripts/cluster-tools.sh" --print-env)" ||
    die "the cluster tools are not ready" "read the cluster-tools lines above, fix, then rerun npm run cluster:up"
  set -a; eval "$tools_env"; set +a
  mkdir -p "$API_STACK_CLUSTER_DIR"
  if $real_node; then
    local conflict
    conflict="$(node_conflict)"
    [ -z "$conflict" ] || die "cannot start the real node: $conflict; nothing was started" \
      "stop the other node first, or run npm run cluster:up -- --simulated-only for a cluster without one"
  fi
  # A failed `up` takes down what it started itself (never a cluster that ran before it).
  up_started_cluster=false
  up_started_node=false
  trap 'up_failed $?' EXIT

  if api_answers; then
    say "cluster '$CLUSTER_NAME' is already up"
  else
    if [ -n "$(cluster_pids)" ] || [ -d "$CLUSTER_WORKDIR" ]; then
      say "found a stale cluster (processes or data, but the API does not answer); removing it first"
      cmd_down
      mkdir -p "$API_STACK_CLUSTER_DIR"
    fi
    # The cluster's processes outlive this script: they must not inherit our lock (fd 8), hence the
    # `8>&-` on kwokctl below.
    # Loopback only: kwokctl's default bind address is 0.0.0.0 and has no flag, only this option.
    # Component flags go here: kwokctl 0.8's --extra-args mixes up components when one gets several.
    # The API server: Pod Security admission; a Service range of our own; it reaches the real node's
    # kubelet by its InternalIP (not its name, which does not resolve) and with a client certificate
    # that the kubelet checks. The kwok controller: only the nodes it simulates, never the real one.
    cat >"$API_STACK_CLUSTER_DIR/kwokctl.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
componentsPatches:
- name: kube-apiserver
  extraArgs:
  - {key: enable-admission-plugins, value: PodSecurity}
  - {key: service-cluster-ip-range, value: "$SERVICE_CIDR"}
  - {key: kubelet-preferred-address-types, value: InternalIP}
  - {key: kubelet-client-certificate, value: "$CLUSTER_WORKDIR/pki/admin.crt"}
  - {key: kubelet-client-key, value: "$CLUSTER_WORKDIR/pki/admin.key"}
- name: kwok-controller
  extraArgs:
  - {key: manage-all-nodes, value: "false"}
  - {key: manage-nodes-with-annotation-selector, value: "kwok.x-k8s.io/node=fake"}
EOF
    say "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok-controller (Kubernetes $KWOK_KUBE_VERSION)"
    up_started_cluster=true
    if ! kwokctl create cluster --name "$CLUSTER_NAME" --runtime binary \
      --config "$API_STACK_CLUSTER_DIR/kwokctl.yaml" \
      --kube-apiserver-binary "$KWOK_KUBE_APISERVER_BINARY" \
      --kube-controller-manager-binary "$KWOK_KUBE_CONTROLLER_MANAGER_BINARY" \
      --kube-scheduler-binary "$KWOK_KUBE_SCHEDULER_BINARY" \
      --etcd-binary "$KWOK_ETCD_BINARY" \
      --kwok-controller-binary "$KWOK_CONTROLLER_BINARY" \
      --kube-authorization=true --kube-admission=true \
      --kubeconfig "$KUBECONFIG_PATH" \
      --wait 3m >"$API_STACK_CLUSTER_DIR/create.log" 2>&1 8>&-; then
      tail -n 20 "$API_STACK_CLUSTER_DIR/create.log" >&2
      die "kwokctl create cluster failed (full log: $API_STACK_CLUSTER_DIR/create.log; component logs: $CLUSTER_WORKDIR/logs/)" \
        "fix the cause shown above, then 'npm run cluster:down' and 'npm run cluster:up'"
    fi
    wait_for "API server answers at $(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}')" 120 api_answers ||
      die "the API server does not answer" "see $CLUSTER_WORKDIR/logs/kube-apiserver.log, then npm run cluster:down && npm run cluster:up"
  fi

  local total
  total="$(kc get nodes --no-headers 2>/dev/null | wc -l)"
  if [ "$total" -lt "$nodes" ]; then
    say "adding simulated nodes: $total -> $nodes"
    kwokctl scale node --name "$CLUSTER_NAME" --replicas "$nodes" >"$API_STACK_CLUSTER_DIR/scale.log" 2>&1 ||
      die "kwokctl scale node failed (log: $API_STACK_CLUSTER_DIR/scale.log)" "rerun npm run cluster:up"
  fi
  wait_for "$nodes simulated node(s) Ready" 120 enough_ready_nodes ||
    die "nodes are not Ready after 120s ($(ready_nodes) Ready)" "see $CLUSTER_WORKDIR/logs/kwok-controller.log"
  give_nodes_ephemeral_storage

  if $real_node; then
    local why_not
    why_not="$(node_preflight)"
    if [ -n "$why_not" ]; then
      say "no real node: $why_not"
      say "continuing with simulated nodes only: pods are scheduled but never run (npm run cluster:up -- --simulated-only skips this check)"
      real_node=false
    else
      node_running kubelet || up_started_node=true
      # shellcheck disable=SC2153 # the *_BINARY paths come from cluster-tools.sh --print-env (eval above)
      node_up "$SERVICE_CIDR" "$CLUSTER_DNS_IP" "$CLUSTER_WORKDIR/pki/ca.crt" "$PAUSE_BINARY" "$KUBELET_BINARY" "$KUBE_PROXY_BINARY" "$network_policy"
      node_dns_up "$COREDNS_BINARY" "$CLUSTER_DNS_IP"
      # Ordinary pods belong on the real node; the scale benchmark's pods tolerate this taint.
      kc taint nodes -l type=kwok "$SIMULATED_TAINT=true:NoSchedule" --overwrite >/dev/null ||
        die "could not taint the simulated nodes" "rerun npm run cluster:up"
    fi
  fi

  storage_manifest "$real_node" | kc apply -f - >/dev/null ||
    die "could not create the $STORAGE_CLASS StorageClass and volumes" "rerun npm run cluster:up"
  recycle_released_volumes
  wait_for "storage: StorageClass $STORAGE_CLASS, $PV_COUNT volumes of $PV_SIZE" 30 volumes_settled ||
    say "warning: some volumes are not Available or Bound yet: $(kc get pv --no-headers | awk '{print $1 "=" $5}' | tr '\n' ' ')"
  say "volumes: $(kc get pv -l "app.kubernetes.io/managed-by=$API_STACK_CLUSTER_MANAGER" --no-headers | awk '{n[$5]++} END {for (p in n) printf "%s %d  ", p, n[p]}')"
  wait_for "default ServiceAccount exists" 60 kc get serviceaccount default -n default ||
    die "the default ServiceAccount was not created" "see $CLUSTER_WORKDIR/logs/kube-controller-manager.log"

  say "cluster '$CLUSTER_NAME' is up in $((SECONDS - start))s"
  trap - EXIT
  cmd_status
}

# The EXIT trap of cmd_up: after a failure, stop what this run started, so that nothing is left half-up.
up_failed() {
  local status="$1"
  [ "$status" != 0 ] || return 0
  if $up_started_cluster; then
    say "up failed: removing the cluster this run started"
    cmd_down || true
  elif $up_started_node; then
    say "up failed: removing the real node this run started"
    node_down || true
  fi
  exit "$status"
}

# One up/down at a time per checkout (tests and a user may both run `cluster:up`).
if [ "$command" != status ]; then
  mkdir -p "$API_STACK_CLUSTER_DIR"
  hold_lock 8 "$API_STACK_CLUSTER_DIR/.lock" 600
fi

cmd_load_images() {
  node_running containerd || die "the local cluster has no real node to load images into" "start it with npm run cluster:up (see its message if the machine cannot run one)"
  local ref
  for ref in "${images[@]}"; do
    node_import_docker_images "$ref"
    say "loaded $ref into $NODE_NAME"
  done
}

cmd_recycle_volumes() {
  api_answers || die "the local cluster is not running" "start it with npm run cluster:up"
  recycle_released_volumes
}

case "$command" in
  up) cmd_up ;;
  load-images) cmd_load_images ;;
  recycle-volumes) cmd_recycle_volumes ;;
  down) cmd_down ;;
  status) cmd_status ;;
esac
