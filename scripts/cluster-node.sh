# shellcheck shell=bash
# The local cluster's real node: containerd (Debian's, with its CRI plugin), the CNI bridge, kubelet and
# kube-proxy, NetworkPolicy enforcement (kube-router's policy controller, scripts/cluster-net.sh) and
# cluster DNS (CoreDNS pods), all of this checkout, beside the simulated nodes of scripts/cluster.sh.
# Sourced by scripts/cluster.sh, which calls node_conflict, node_preflight, node_up, node_dns_up and node_down.
#
# Everything it makes is named here and removed by node_down: the processes (pid files under
# $NODE_DIR/pids, and only while their command line points into $NODE_DIR), the bridge $NODE_BRIDGE,
# the iptables chains $NODE_FORWARD_CHAIN and $NODE_PREROUTING_CHAIN (and kube-proxy's own chains, through `kube-proxy --cleanup`),
# the mounts under $NODE_DIR, the pods' network namespaces and cgroups, and the sysctls it changed.
#
# Addresses: the node is $NODE_IP on its own bridge (a kubelet refuses a loopback node IP, and this
# machine refuses dummy interfaces); pods get $POD_CIDR on that bridge. Nothing listens elsewhere:
# kubelet and containerd on $NODE_IP or unix sockets, health and metrics ports on 127.0.0.1.

NODE_NAME="$API_STACK_NODE_NAME"
NODE_DIR="$API_STACK_CLUSTER_DIR/node"
NODE_BRIDGE="apistack-pods"
NODE_IP="10.215.0.1"
POD_CIDR="10.215.0.0/24"
# The bridge's own address, fixed (locally administered, from NODE_IP). A bridge given none takes the lowest
# of its ports' addresses and changes it whenever a pod whose veth sorts lower comes or goes; every pod's
# neighbour entry for its gateway then names an address that nothing answers to until the entry expires,
# tens of seconds in which the kubelet's probes and the pods' traffic through the gateway (Services, DNS)
# are lost: CoreDNS failed its liveness probe and was restarted, and deploys stalled.
NODE_BRIDGE_MAC="02:00:0a:d7:00:01"
NODE_FORWARD_CHAIN="API-STACK-FORWARD"
NODE_PREROUTING_CHAIN="API-STACK-PREROUTING"
CONTAINERD_SOCKET="$NODE_DIR/containerd/containerd.sock"
PAUSE_IMAGE="api-stack/pause:1"
# Label that marks the real node, and the taint that keeps ordinary pods off the simulated ones.
NODE_ROLE_LABEL="api-stack.dev/node"
# shellcheck disable=SC2034 # used by scripts/cluster.sh
SIMULATED_TAINT="api-stack.dev/simulated"
# For diagnosing the node (docs/local-cluster.md): how long `up` waits for it to be Ready, and flags
# added to the kubelet's command line (later flags win over ours, e.g. --v=4).
NODE_READY_SECONDS="${API_STACK_NODE_READY_SECONDS:-90}"
[[ "$NODE_READY_SECONDS" =~ ^[1-9][0-9]{0,3}$ ]] ||
  usage_error "API_STACK_NODE_READY_SECONDS must be a whole number of seconds from 1 to 9999, got '$NODE_READY_SECONDS'"
read -r -a NODE_KUBELET_ARGS <<<"${API_STACK_KUBELET_ARGS:-}"

node_ctr() { ctr --address "$CONTAINERD_SOCKET" --namespace k8s.io "$@"; }

# The node's processes: those whose command line points into $NODE_DIR (pid_is_ours). That covers
# containerd, its shims (whose -address is our socket), kubelet and kube-proxy.
node_pids() {
  local f pid
  for f in /proc/[0-9]*; do
    pid="${f#/proc/}"
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || ! pid_is_ours "$pid" "$NODE_DIR/" || echo "$pid"
  done | sort -n
}

# Why the real node cannot run here, or nothing: root, cgroups and iptables. `up` then falls back to
# simulated nodes only.
node_preflight() {
  [ "$(id -u)" = 0 ] || { echo "the real node needs root (kubelet, containerd and iptables do)"; return; }
  [ -d /sys/fs/cgroup/cpu ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "no cgroups mounted at /sys/fs/cgroup"; return; }
  iptables -w -L FORWARD -n >/dev/null 2>&1 || { echo "iptables does not work here ($(iptables -w -L FORWARD -n 2>&1 | head -n1))"; return; }
}

# Host listeners of the node: kubelet (API, healthz), kube-proxy (metrics, healthz).
NODE_HOST_PORTS=(10250 10248 10249 10256)

# What of the node's is held by someone else (another checkout's node, most likely), or nothing. Only one
# node fits on a machine: `up` refuses, before it starts anything, rather than fight over them.
node_conflict() {
  if [ -n "$(node_pids)" ] && [ ! -d "$NODE_DIR/pids" ]; then echo "stray node processes of this checkout: $(node_pids | tr '\n' ' ')"; return; fi
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && [ ! -f "$NODE_DIR/bridge" ]; then
    echo "the bridge $NODE_BRIDGE exists but this checkout did not make it (another checkout's node?); stop that one with its 'npm run cluster:down'"
    return
  fi
  [ ! -d "$NODE_DIR/pids" ] || return 0
  local port holder
  for port in "${NODE_HOST_PORTS[@]}"; do
    holder="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)"
    if [ -n "$holder" ]; then
      echo "port $port, which the node's kubelet or kube-proxy listens on, is taken: $holder"
      return
    fi
  done
}

node_install_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v ipset >/dev/null || missing+=(ipset)
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing Debian's ${missing[*]} (apt-get)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}"; } >"$NODE_DIR/apt.log" 2>&1 ||
    die "could not install ${missing[*]} (log: $NODE_DIR/apt.log)" "check that Debian's package mirror is reachable, then rerun npm run cluster:up"
}

# Starts "$@" detached, as one of ours: its own session, log and pid file, no inherited lock fds.
node_spawn() {
  local name="$1"
  shift
  setsid "$@" >>"$NODE_DIR/logs/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$NODE_DIR/pids/$name.pid"
}

node_running() {  # $1: name of a pid file
  local pid
  pid="$(cat "$NODE_DIR/pids/$1.pid" 2>/dev/null)" || return 1
  pid_is_ours "$pid" "$NODE_DIR/"
}

# Remembers a sysctl's value before the node first changes it, so that node_down puts it back.
node_set_sysctl() {
  local key="$1" value="$2" file="/proc/sys/${1//.//}"
  [ -w "$file" ] || die "cannot set $key (no $file)" "load the kernel module that provides it (br_netfilter for net.bridge.*), then rerun"
  [ "$(cat "$file")" = "$value" ] && return 0
  grep -q "^$key=" "$NODE_DIR/sysctls" 2>/dev/null || echo "$key=$(cat "$file")" >>"$NODE_DIR/sysctls"
  echo "$value" >"$file"
}

node_network_up() {
  if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$NODE_BRIDGE" type bridge ||
      die "could not create the bridge $NODE_BRIDGE" "check that this machine allows bridges (ip link add type bridge)"
    touch "$NODE_DIR/bridge"
  fi
  ip link set "$NODE_BRIDGE" address "$NODE_BRIDGE_MAC"
  ip addr replace "$NODE_IP/${POD_CIDR#*/}" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  [ -d /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null || true
  node_set_sysctl net.ipv4.ip_forward 1
  # Pod-to-Service traffic between pods on the same bridge must pass iptables (kube-proxy, policies).
  node_set_sysctl net.bridge.bridge-nf-call-iptables 1
  # A Docker engine sets the FORWARD policy to DROP; traffic from and to our bridge is let through by
  # a chain of ours, appended so that the NetworkPolicy agent's chains come first.
  iptables -w -N "$NODE_FORWARD_CHAIN" 2>/dev/null || iptables -w -F "$NODE_FORWARD_CHAIN"
  iptables -w -A "$NODE_FORWARD_CHAIN" -i "$NODE_BRIDGE" -j ACCEPT
  iptables -w -A "$NODE_FORWARD_CHAIN" -o "$NODE_BRIDGE" -j ACCEPT
  iptables -w -C FORWARD -j "$NODE_FORWARD_CHAIN" 2>/dev/null || iptables -w -A FORWARD -j "$NODE_FORWARD_CHAIN"
  # Pods reaching beyond the node (CoreDNS's upstream) leave with the node's address.
  iptables -w -t nat -N "$NODE_FORWARD_CHAIN" 2>/dev/null || iptables -w -t nat -F "$NODE_FORWARD_CHAIN"
  iptables -w -t nat -A "$NODE_FORWARD_CHAIN" -s "$POD_CIDR" ! -o "$NODE_BRIDGE" -j MASQUERADE
  iptables -w -t nat -C POSTROUTING -j "$NODE_FORWARD_CHAIN" 2>/dev/null || iptables -w -t nat -A POSTROUTING -j "$NODE_FORWARD_CHAIN"
}

node_network_down() {
  if iptables -w -C FORWARD -j "$NODE_FORWARD_CHAIN" 2>/dev/null; then iptables -w -D FORWARD -j "$NODE_FORWARD_CHAIN"; fi
  iptables -w -F "$NODE_FORWARD_CHAIN" 2>/dev/null && iptables -w -X "$NODE_FORWARD_CHAIN" 2>/dev/null
  if iptables -w -t nat -C POSTROUTING -j "$NODE_FORWARD_CHAIN" 2>/dev/null; then iptables -w -t nat -D POSTROUTING -j "$NODE_FORWARD_CHAIN"; fi
  iptables -w -t nat -F "$NODE_FORWARD_CHAIN" 2>/dev/null && iptables -w -t nat -X "$NODE_FORWARD_CHAIN" 2>/dev/null
  if iptables -w -t nat -C PREROUTING -j "$NODE_PREROUTING_CHAIN" 2>/dev/null; then iptables -w -t nat -D PREROUTING -j "$NODE_PREROUTING_CHAIN"; fi
  iptables -w -t nat -F "$NODE_PREROUTING_CHAIN" 2>/dev/null && iptables -w -t nat -X "$NODE_PREROUTING_CHAIN" 2>/dev/null
  if [ -f "$NODE_DIR/bridge" ] && ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    # The pods' veths still on our bridge (the kernel frees a killed pod's pair only later, when it
    # clears its network namespace): every link enslaved to the bridge is one of ours.
    local link
    for link in $(ip -o link show master "$NODE_BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
      ip link del "$link" 2>/dev/null || true
    done
    ip link del "$NODE_BRIDGE"
  fi
  rm -f "$NODE_DIR/bridge"
  local line
  if [ -f "$NODE_DIR/sysctls" ]; then
    while IFS= read -r line; do
      [ -n "$line" ] && echo "${line#*=}" >"/proc/sys/$(tr . / <<<"${line%%=*}")"
    done <"$NODE_DIR/sysctls"
  fi
  rm -f "$NODE_DIR/sysctls"
}

node_write_configs() {
  local service_cidr="$1" cluster_dns="$2" ca_file="$3"
  mkdir -p "$NODE_DIR/containerd/root" "$NODE_DIR/containerd/state" "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam" \
    "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs"
  # restrict_oom_score_adj: this kernel refuses negative oom_score_adj writes, and runc fails every
  # sandbox that asks for one. disable_apparmor: no AppArmor here.
  cat >"$NODE_DIR/containerd/config.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCKET"
[ttrpc]
  address = "$CONTAINERD_SOCKET.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
EOF
  # No ipMasq and no portmap: CNI would add iptables rules of its own that only a clean CNI DEL
  # removes; the masquerade rule is ours (node_network_up) and no pod uses host ports.
  cat >"$NODE_DIR/cni/net.d/10-api-stack.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "api-stack",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_IP" }]],
        "dataDir": "$NODE_DIR/cni/ipam"
      }
    }
  ]
}
EOF
  # cgroup v1 here: kubelet 1.36 refuses it unless told, and without systemd the QoS hierarchy and
  # node-allocatable enforcement cannot be set up. The API server reaches this kubelet with its client
  # certificate, which the kubelet checks against the cluster's CA; every request is then authorized
  # by the API server (webhook), so a pod on the bridge cannot exec into its neighbours.
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $ca_file}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
evictionHard: {}
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$cluster_dns]
resolvConf: ""
podLogsDir: $NODE_DIR/pod-logs
serializeImagePulls: false
# No image garbage collection: no registry can give an image back, and this machine's thin disk
# reports 85-90% "used" (a large virtual size), which would make the kubelet delete every image that
# no pod uses at the moment, such as the next release's. npm run cluster:down removes them all.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
shutdownGracePeriod: 0s
EOF
  # kube-proxy exits as soon as its config file is written, even with the same content: a second
  # `up` must leave the file alone, and a changed one restarts kube-proxy here rather than by surprise.
  local kube_proxy_config
  kube_proxy_config="$(cat <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $API_STACK_KUBECONFIG}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
# 0: leave the machine's conntrack settings as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
)"
  if [ "$(cat "$NODE_DIR/kube-proxy.yaml" 2>/dev/null)" != "$kube_proxy_config" ]; then
    if node_running kube-proxy; then
      say "kube-proxy's configuration changed: restarting it"
      kill "$(cat "$NODE_DIR/pids/kube-proxy.pid")" 2>/dev/null || true
      rm -f "$NODE_DIR/pids/kube-proxy.pid"
    fi
    printf '%s\n' "$kube_proxy_config" >"$NODE_DIR/kube-proxy.yaml"
  fi
  echo "service CIDR $service_cidr" >"$NODE_DIR/cluster-network"
}

# An image made of one static binary, as an OCI archive, imported into the node's runtime; built here
# because no registry can be reached. $1 reference, $2 binary, rest: entrypoint arguments.
node_import_binary_image() {
  local ref="$1" binary="$2" work layer config digest size entry
  shift 2
  work="$(mktemp -d)"
  mkdir -p "$work/root" "$work/oci/blobs/sha256"
  install -m 0755 "$binary" "$work/root/$(basename "$binary")"
  tar -C "$work/root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer.tar" .
  layer="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  mv "$work/layer.tar" "$work/oci/blobs/sha256/$layer"
  entry="$(printf '"%s",' "/$(basename "$binary")" "$@")"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":[%s],"User":"65534:65534"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "${entry%,}" "$layer" >"$work/config.json"
  config="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
  size="$(stat -c %s "$work/config.json")"
  mv "$work/config.json" "$work/oci/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$size" "$layer" "$(stat -c %s "$work/oci/blobs/sha256/$layer")" >"$work/manifest.json"
  digest="$(sha256sum "$work/manifest.json" | cut -d' ' -f1)"
  size="$(stat -c %s "$work/manifest.json")"
  mv "$work/manifest.json" "$work/oci/blobs/sha256/$digest"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$digest" "$size" "$ref" "${ref##*:}" >"$work/oci/index.json"
  tar -C "$work/oci" -cf "$work/image.tar" .
  node_ctr images import --no-unpack=false "$work/image.tar" >/dev/null || { rm -rf "$work"; return 1; }
  rm -rf "$work"
}

# Imports images from the Docker engine into the node's runtime, where `IfNotPresent` finds them.
node_import_docker_images() {
  local ref id record
  mkdir -p "$NODE_DIR/images"
  for ref in "$@"; do
    id="$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null)" ||
      die "the image $ref is not in the Docker engine" "build it first (npm run image:api for the API, npm run images:base for the base images)"
    # Importing copies every layer (a minute for PostgreSQL's): skip what the node already holds.
    record="$NODE_DIR/images/$(tr '/:' '__' <<<"$ref")"
    if [ "$(cat "$record" 2>/dev/null)" = "$id" ] && node_has_image "$ref"; then
      continue
    fi
    docker save "$ref" | node_ctr images import - >/dev/null ||
      die "could not import $ref into the node's containerd" "see $NODE_DIR/logs/containerd.log"
    echo "$id" >"$record"
  done
}

node_has_image() { node_ctr images ls -q 2>/dev/null | grep -qxF "docker.io/$1"; }

node_up() {
  local service_cidr="$1" cluster_dns="$2" ca_file="$3" pause_binary="$4" kubelet="$5" kube_proxy="$6" network_policy="$7"
  mkdir -p "$NODE_DIR/pids" "$NODE_DIR/logs"
  node_install_packages
  node_network_up
  node_write_configs "$service_cidr" "$cluster_dns" "$ca_file"

  if ! node_running containerd; then
    say "starting containerd (CRI) for the real node"
    node_spawn containerd containerd --config "$NODE_DIR/containerd/config.toml"
  fi
  wait_for "containerd answers" 30 node_ctr version ||
    { tail -n 20 "$NODE_DIR/logs/containerd.log" >&2; die "containerd did not start" "read $NODE_DIR/logs/containerd.log"; }
  node_has_image "$PAUSE_IMAGE" || node_import_binary_image "$PAUSE_IMAGE" "$pause_binary" ||
    die "could not import the pause image" "see $NODE_DIR/logs/containerd.log"

  if ! node_running kubelet; then
    # The kubelet makes chains of its own; remember which already existed (another kubelet's), so that
    # node_down removes only those it made.
    [ -f "$NODE_DIR/kubelet-chains-before" ] || node_kubelet_chains >"$NODE_DIR/kubelet-chains-before"
    say "starting kubelet ($NODE_NAME at $NODE_IP)"
    node_spawn kubelet "$kubelet" --config "$NODE_DIR/kubelet.yaml" --kubeconfig "$API_STACK_KUBECONFIG" \
      --root-dir "$NODE_DIR/kubelet" --cert-dir "$NODE_DIR/kubelet/pki" --node-ip "$NODE_IP" \
      --hostname-override "$NODE_NAME" --node-labels "$NODE_ROLE_LABEL=real" "${NODE_KUBELET_ARGS[@]}"
  fi
  if ! node_running kube-proxy; then
    say "starting kube-proxy (iptables mode)"
    node_spawn kube-proxy "$kube_proxy" --config "$NODE_DIR/kube-proxy.yaml"
  fi
  wait_for "real node $NODE_NAME Ready" "$NODE_READY_SECONDS" node_ready || {
    say "kubelet log (last 30 lines of $NODE_DIR/logs/kubelet.log):"
    tail -n 30 "$NODE_DIR/logs/kubelet.log" >&2
    die "the real node did not become Ready in ${NODE_READY_SECONDS}s" "fix the cause in the kubelet log above, then npm run cluster:up"
  }
  if $network_policy; then
    net_policy_start "$NODE_DIR/netpol" "$API_STACK_KUBECONFIG" "$NODE_NAME" "$service_cidr"
  else
    net_policy_stop "$NODE_DIR/netpol"
    say "NetworkPolicies are NOT enforced (--no-network-policy): they are stored, and every pod reaches every other"
  fi
}

# Cluster DNS as real clusters run it: CoreDNS pods behind the kube-dns Service, so NetworkPolicies
# that admit DNS to pods of any namespace admit it here too. $1 CoreDNS binary (tools/coredns),
# $2 the cluster DNS address (in the Service range).
node_dns_up() {
  local coredns="$1" dns_ip="$2" api version image
  version="$("$coredns" -version 2>/dev/null | sed -n 's/^CoreDNS-//p' | head -n1)"
  image="api-stack/coredns:${version:-local}"
  node_has_image "$image" || node_import_binary_image "$image" "$coredns" -conf /etc/coredns/Corefile ||
    die "could not import the CoreDNS image" "see $NODE_DIR/logs/containerd.log"
  # The API server listens on 127.0.0.1 only and advertises a placeholder address (kwokctl's
  # 192.0.2.2, which its certificate names): pods on our bridge reach it there, through a DNAT to
  # loopback that only traffic from the bridge takes.
  api="$(kc get endpointslices -n default -l kubernetes.io/service-name=kubernetes \
    -o jsonpath='{.items[0].endpoints[0].addresses[0]}:{.items[0].ports[0].port}')"
  [[ "$api" =~ ^[0-9.]+:[0-9]+$ ]] || die "cannot tell where the API server is advertised (got '$api')" "see kubectl get endpointslices -n default"
  # A setting of our own bridge: it goes away with the bridge.
  echo 1 >"/proc/sys/net/ipv4/conf/$NODE_BRIDGE/route_localnet"
  iptables -w -t nat -N "$NODE_PREROUTING_CHAIN" 2>/dev/null || iptables -w -t nat -F "$NODE_PREROUTING_CHAIN"
  iptables -w -t nat -A "$NODE_PREROUTING_CHAIN" -i "$NODE_BRIDGE" -d "${api%:*}" -p tcp --dport "${api#*:}" -j DNAT --to-destination "127.0.0.1:${api#*:}"
  iptables -w -t nat -C PREROUTING -j "$NODE_PREROUTING_CHAIN" 2>/dev/null || iptables -w -t nat -I PREROUTING 1 -j "$NODE_PREROUTING_CHAIN"
  node_dns_manifest "$image" "$dns_ip" "$api" | kc apply -f - >/dev/null ||
    die "could not create the cluster DNS (CoreDNS)" "rerun npm run cluster:up"
  wait_for "cluster DNS (CoreDNS) Ready at $dns_ip" 90 node_dns_ready || {
    kc -n kube-system logs deploy/coredns --tail=20 >&2 || true
    die "CoreDNS did not become Ready" "read its log above (kubectl -n kube-system logs deploy/coredns)"
  }
}

node_dns_ready() {
  [ "$(kc -n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}' 2>/dev/null)" = 1 ]
}

node_dns_manifest() {
  local image="$1" dns_ip="$2" api="$3"
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system, labels: {app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "api-stack:coredns", labels: {app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}}
rules:
- {apiGroups: [""], resources: [services, namespaces, pods], verbs: [list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "api-stack:coredns", labels: {app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "api-stack:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system, labels: {app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}}
data:
  # No forward: pods of this cluster have no names to resolve beyond cluster.local.
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            kubeconfig /etc/coredns/kubeconfig local
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 5
        }
        cache 5
    }
  kubeconfig: |
    apiVersion: v1
    kind: Config
    clusters: [{name: local, cluster: {server: "https://$api", certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt}}]
    users: [{name: coredns, user: {tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}}]
    contexts: [{name: local, context: {cluster: local, user: coredns}}]
    current-context: local
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns, app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      nodeSelector: {$NODE_ROLE_LABEL: real}
      # Port 53 inside the pod too, as NetworkPolicies that admit DNS name port 53 of the DNS pods; the
      # namespaced sysctl lets a non-root process bind it, with no capability.
      securityContext:
        runAsNonRoot: true
        runAsUser: 65534
        runAsGroup: 65534
        seccompProfile: {type: RuntimeDefault}
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "53"}]
      containers:
      - name: coredns
        image: $image
        imagePullPolicy: Never
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        # Timeouts as CoreDNS's own deployment has them: with 1 s, the kubelet restarted it every few
        # minutes under the scale benchmark's load, and names stopped resolving meanwhile.
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2, timeoutSeconds: 3}
        livenessProbe: {httpGet: {path: /health, port: 8080}, initialDelaySeconds: 60, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 5}
        resources: {requests: {cpu: 20m, memory: 32Mi}, limits: {memory: 128Mi}}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns, app.kubernetes.io/managed-by: $API_STACK_CLUSTER_MANAGER}}
spec:
  clusterIP: $dns_ip
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, targetPort: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 53, protocol: TCP}
EOF
}

node_ready() {
  [ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# Stops the node's pods first, so that containerd tears their sandboxes down cleanly (network
# namespace, veth, IP address); then every process of ours, then whatever an interrupted run left.
node_down() {
  [ -d "$NODE_DIR" ] || [ -n "$(node_pids)" ] || return 0
  local netns=() containers=() pid id
  # The policy agent first: it removes its own chains and ipsets.
  net_policy_stop "$NODE_DIR/netpol"
  # kubelet next, or it would restart what we stop.
  for id in kubelet kube-proxy; do
    if node_running "$id"; then kill -TERM "$(cat "$NODE_DIR/pids/$id.pid")" 2>/dev/null || true; fi
  done
  if node_running containerd; then
    # The pods' network namespaces, before their sandboxes go: containerd mounts them outside $NODE_DIR.
    mapfile -t netns < <(for id in $(node_ctr containers ls -q 2>/dev/null); do
      node_ctr containers info "$id" 2>/dev/null | jq -r '.Spec.linux.namespaces[]? | select(.type == "network") | .path // empty'
    done | sort -u)
    mapfile -t containers < <(node_ctr containers ls -q 2>/dev/null)
    for id in $(node_ctr tasks ls -q 2>/dev/null); do node_ctr tasks kill -a -s KILL "$id" >/dev/null 2>&1 || true; done
    for _ in $(seq 1 20); do
      node_ctr tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING"' | grep -q . || break
      sleep 0.5
    done
    # Deleting a stopped task removes its cgroups and its root filesystem mount.
    for id in $(node_ctr tasks ls -q 2>/dev/null); do node_ctr tasks delete -f "$id" >/dev/null 2>&1 || true; done
  fi
  for pid in $(node_pids); do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do [ -z "$(node_pids)" ] && break; sleep 0.5; done
  for pid in $(node_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  [ -z "$(node_pids)" ] || die "node processes $(node_pids | tr '\n' ' ')survive SIGKILL" "inspect them with ps, then rerun npm run cluster:down"
  # kube-proxy removes its own iptables chains (KUBE-*); it is on PATH from the cache (env.sh).
  if type -P kube-proxy >/dev/null; then kube-proxy --cleanup >/dev/null 2>&1 || true; fi
  for id in "${netns[@]}"; do
    [[ "$id" == /var/run/netns/cni-* || "$id" == /run/netns/cni-* ]] || continue
    umount "$id" 2>/dev/null || true
    rm -f "$id"
  done
  node_unmount_under "$NODE_DIR"
  node_remove_cgroups "${containers[@]}"
  node_remove_kubelet_chains
  node_network_down
  rm -rf "$NODE_DIR"
}

# The kubelet's own iptables chains ("table chain", one a line) that exist on this host now.
NODE_KUBELET_CHAINS=("filter KUBE-FIREWALL" "filter KUBE-KUBELET-CANARY" "nat KUBE-KUBELET-CANARY" "mangle KUBE-KUBELET-CANARY" "mangle KUBE-IPTABLES-HINT")
node_kubelet_chains() {
  local entry
  for entry in "${NODE_KUBELET_CHAINS[@]}"; do
    if iptables -w -t "${entry% *}" -S "${entry#* }" >/dev/null 2>&1; then echo "$entry"; fi
  done
}

# Removes the kubelet's chains that it made (not there before up): their hooks, then the chains.
node_remove_kubelet_chains() {
  [ -f "$NODE_DIR/kubelet-chains-before" ] || return 0
  local entry table chain hook
  while IFS= read -r entry; do
    grep -qxF "$entry" "$NODE_DIR/kubelet-chains-before" && continue
    table="${entry% *}" chain="${entry#* }"
    for hook in INPUT OUTPUT FORWARD PREROUTING POSTROUTING; do
      while iptables -w -t "$table" -D "$hook" -j "$chain" 2>/dev/null; do :; done
    done
    iptables -w -t "$table" -F "$chain" 2>/dev/null || true
    iptables -w -t "$table" -X "$chain" 2>/dev/null || true
  done < <(node_kubelet_chains)
}

# Removes the cgroups of our containers (containerd names them k8s.io/<container id> in every
# hierarchy) that a killed task left behind, and k8s.io itself once it is empty.
node_remove_cgroups() {
  local id dir
  for id in "$@"; do
    for dir in /sys/fs/cgroup/*/k8s.io/"$id"; do
      if [ -d "$dir" ]; then rmdir "$dir" 2>/dev/null || true; fi
    done
  done
  for dir in /sys/fs/cgroup/*/k8s.io; do
    if [ -d "$dir" ]; then rmdir "$dir" 2>/dev/null || true; fi
  done
}

# Unmounts everything mounted under $1 (pod volumes, container root filesystems), deepest first.
node_unmount_under() {
  local mnt
  awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while IFS= read -r mnt; do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  done
}
