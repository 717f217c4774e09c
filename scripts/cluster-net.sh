# shellcheck shell=bash
# NetworkPolicy enforcement for the local cluster's real node: kube-router's network-policy controller
# alone (no routing, no service proxy), a process of this checkout, with its pid file and log in a state
# folder that the caller names. (Cluster DNS runs as CoreDNS pods: scripts/cluster-node.sh.)
# Sourced after scripts/lib.sh (it uses say/die); sourcing only defines functions.
# docs/local-cluster.md ("Cluster DNS and NetworkPolicy") says why these two and these flags.
#
#   net_policy_start  <state-dir> <kubeconfig> <node-name> <service-cidr> [<node-port-range>]
#                     starts kube-router, waits until its first sync has put every policy in force.
#   net_policy_stop   <state-dir>        stops kube-router, then removes its chains and ipsets.
#   net_policy_rules                     kube-router's chains and ipsets on this host, one a line.
#   net_policy_pid    <state-dir>        the pid of our kube-router, if it runs (else status 1).
#
# Binary: $KUBE_ROUTER_BINARY (scripts/cluster-tools.sh --print-env), else PATH.
# Every stop is safe to run twice and when nothing was started.

# kube-router's names are fixed in its code (pkg/controllers/netpol): three top-level chains hooked
# from INPUT, FORWARD and OUTPUT (comment "kube-router netpol - <hash>"), one chain per pod and per
# policy, and ipsets per policy. Nothing else on the host uses these prefixes (kube-proxy's chains are KUBE-SERVICES,
# KUBE-FORWARD, KUBE-PROXY-*, KUBE-NODEPORTS, ...; the kubelet's KUBE-FIREWALL, KUBE-KUBELET-CANARY).
NET_POLICY_CHAIN_PATTERN='^(KUBE-ROUTER-(INPUT|FORWARD|OUTPUT)|KUBE-POD-FW-[A-Z0-9]+|KUBE-NWPLCY-[A-Z0-9]+)$'
NET_POLICY_IPSET_PATTERN='^KUBE-(SRC|DST)-[A-Z0-9]+$'

# --- shared process handling ---------------------------------------------------------------------

# net_pid_of <pid-file> <marker>: the recorded pid, if that process still runs and one of its arguments
# is exactly <marker> (it names a path inside the state folder; pid_is_ours --exact).
net_pid_of() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  pid_is_ours "$pid" "$2" --exact || return 1
  echo "$pid"
}

# net_spawn <pid-file> <log> <command...>: starts a daemon in its own session, detached from our
# terminal and from the lock descriptors of scripts/cluster.sh (8) and cluster-tools.sh (9), which it
# would otherwise hold for its whole life.
net_spawn() {
  local pidfile="$1" log="$2"
  shift 2
  setsid "$@" </dev/null >"$log" 2>&1 8>&- 9>&- &
  echo "$!" >"$pidfile"
}

# net_stop_pid <pid-file> <marker> <name>: TERM, up to 10 s, then KILL; only while the pid is ours.
net_stop_pid() {
  local pidfile="$1" marker="$2" name="$3" pid
  if ! pid="$(net_pid_of "$pidfile" "$marker")"; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do
    net_pid_of "$pidfile" "$marker" >/dev/null || break
    sleep 0.5
  done
  if net_pid_of "$pidfile" "$marker" >/dev/null; then
    say "$name (pid $pid) still runs 10 s after TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  ! net_pid_of "$pidfile" "$marker" >/dev/null ||
    die "$name (pid $pid) does not stop" "inspect it with 'ps -o pid,cmd -p $pid' and stop it by its pid"
  rm -f "$pidfile"
  say "stopped $name (pid $pid)"
}

# net_fail_start <log> <what failed> <next step>: prints the end of the daemon's log, then dies.
net_fail_start() {
  say "last lines of $1:"
  tail -n 20 "$1" >&2 || true
  die "$2 (full log: $1)" "$3"
}

# --- kube-router, network-policy controller only -------------------------------------------------

# Pids of every kube-router in our network namespace, ours or not: its chain names are fixed, so two of
# them would rewrite each other's rules (one in another namespace has its own tables). One that has
# exited but is not reaped yet (empty command line) is gone.
net_policy_all_pids() {
  local f pid netns
  netns="$(readlink /proc/self/ns/net)"
  for f in /proc/[0-9]*/comm; do
    pid="${f#/proc/}" && pid="${pid%/comm}"
    [ "$(cat "$f" 2>/dev/null)" = kube-router ] && [ -n "$(tr -d '\0' <"/proc/$pid/cmdline" 2>/dev/null)" ] &&
      [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$netns" ] && echo "$pid"
  done
  return 0
}

net_policy_rules() {
  iptables-save -t filter 2>/dev/null | sed -n 's/^:\([^ ]*\) .*/\1/p' | grep -E "$NET_POLICY_CHAIN_PATTERN" | sed 's/^/chain /' || true
  ipset list -n 2>/dev/null | grep -E "$NET_POLICY_IPSET_PATTERN" | sed 's/^/ipset /' || true
}

# Deletes the hooks from INPUT/FORWARD/OUTPUT, then flushes and deletes kube-router's chains, in one
# iptables-restore --noflush so that no other table or chain is rewritten; then destroys its ipsets
# (only possible once no rule refers to them).
net_policy_remove_rules() {
  local chains set
  mapfile -t chains < <(net_policy_rules | sed -n 's/^chain //p')
  if [ "${#chains[@]}" -gt 0 ]; then
    {
      echo "*filter"
      iptables-save -t filter | grep -E -- "^-A (INPUT|FORWARD|OUTPUT) .*-j KUBE-ROUTER-(INPUT|FORWARD|OUTPUT)( |$)" | sed 's/^-A /-D /'
      printf -- '-F %s\n' "${chains[@]}"
      printf -- '-X %s\n' "${chains[@]}"
      echo "COMMIT"
    } | iptables-restore --noflush ||
      die "could not remove kube-router's chains (${chains[*]})" "list them with 'iptables-save -t filter | grep -E \"KUBE-(ROUTER|POD-FW|NWPLCY)\"'"
    say "removed kube-router's chains: ${#chains[@]}, and their hooks in INPUT/FORWARD/OUTPUT"
  fi
  for set in $(net_policy_rules | sed -n 's/^ipset //p'); do
    ipset destroy "$set" || die "could not destroy ipset $set" "see 'ipset list $set'; a rule may still refer to it"
  done
}

# kube-router hooks its chains first and fills them in its first full sync, one iptables-restore that
# ends each top-level chain with the rule below; once that rule is there, every policy is in force.
net_policy_synced() {
  local rules chain
  rules="$(iptables-save -t filter 2>/dev/null)"
  for chain in INPUT FORWARD OUTPUT; do
    grep -qE -- "^-A $chain .*-j KUBE-ROUTER-$chain( |\$)" <<<"$rules" || return 1
    grep -qE -- "^-A KUBE-ROUTER-$chain .*rule to explicitly ACCEPT traffic that comply to network policies" <<<"$rules" || return 1
  done
}

net_policy_start() {
  [ $# -eq 4 ] || [ $# -eq 5 ] || die "net_policy_start: expected <state-dir> <kubeconfig> <node-name> <service-cidr> [<node-port-range>], got $# argument(s)"
  local dir="$1" kubeconfig="$2" node="$3" service_cidr="$4" node_ports="${5:-30000-32767}"
  local bin="${KUBE_ROUTER_BINARY:-kube-router}" pidfile="$1/kube-router.pid" log="$1/kube-router.log"
  local marker="--kubeconfig=$1/kubeconfig" pid other tool
  [ -s "$kubeconfig" ] || die "net_policy_start: kubeconfig '$kubeconfig' is missing or empty" "start the control plane first"
  [[ "$service_cidr" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] ||
    die "net_policy_start: service-cidr '$service_cidr' is not an IPv4 CIDR" "give the API server's --service-cluster-ip-range, e.g. 10.96.0.0/12"
  [[ "$node_ports" =~ ^[0-9]+-[0-9]+$ ]] ||
    die "net_policy_start: node-port-range '$node_ports' is not <first>-<last>" "give the API server's --service-node-port-range, e.g. 30000-32767"
  for tool in iptables-save iptables-restore ipset; do
    type -P "$tool" >/dev/null || die "net_policy_start: '$tool' is not installed; kube-router runs it" "apt-get install ipset iptables"
  done
  mkdir -p "$dir"
  if pid="$(net_pid_of "$pidfile" "$marker")"; then
    say "kube-router already runs (pid $pid)"
    return 0
  fi
  other="$(net_policy_all_pids | tr '\n' ' ')"
  [ -z "${other// /}" ] ||
    die "another kube-router runs in this network namespace (pid $other); its chains (KUBE-ROUTER-*) would clash with ours" \
      "stop the other checkout's node ('ps -o pid,cmd -p ${other// /,}'), then rerun"
  # No kube-router runs, so chains of that name are left over from a run that died: start clean.
  net_policy_remove_rules
  # kube-router has no config file; it reads the kubeconfig through a link in the state folder, so its
  # command line names that folder and net_policy_stop can tell it apart from any other process.
  ln -sfn "$kubeconfig" "$dir/kubeconfig"
  # --health-port=0: its health server would listen on every address (":port"); we watch the hooks
  # instead. --metrics-port=0 and no --enable-pprof for the same reason (pprof binds 0.0.0.0:6060).
  net_spawn "$pidfile" "$log" "$bin" \
    "$marker" --hostname-override="$node" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-cni=false --enable-ipv4=true --enable-ipv6=false \
    --service-cluster-ip-range="$service_cidr" --service-node-port-range="$node_ports" \
    --health-port=0 --metrics-port=0 --v=1
  local t0=$SECONDS
  until net_policy_synced; do
    net_pid_of "$pidfile" "$marker" >/dev/null ||
      net_fail_start "$log" "kube-router exited at start" "if it cannot find node '$node', start the kubelet first; otherwise fix what the log names and rerun"
    if [ $((SECONDS - t0)) -ge 60 ]; then
      net_policy_stop "$dir"
      net_fail_start "$log" "kube-router did not apply the policies within 60 s" "check that the API server in $kubeconfig answers and node '$node' exists"
    fi
    sleep 0.5
  done
  say "kube-router enforces NetworkPolicies on node $node, pid $(cat "$pidfile") ($((SECONDS - t0))s; log $log)"
}

net_policy_pid() {
  net_pid_of "$1/kube-router.pid" "--kubeconfig=$1/kubeconfig"
}

net_policy_stop() {
  [ $# -eq 1 ] || die "net_policy_stop: expected <state-dir>"
  # Nothing of ours was started from this folder: the host's rules, if any, belong to someone else.
  [ -e "$1/kube-router.pid" ] || [ -L "$1/kubeconfig" ] || return 0
  net_stop_pid "$1/kube-router.pid" "--kubeconfig=$1/kubeconfig" kube-router
  # Its chains outlive it (kube-router does not remove them on TERM); without them pods are open again.
  if [ -z "$(net_policy_all_pids)" ]; then
    net_policy_remove_rules
  else
    say "another kube-router runs (pid $(net_policy_all_pids | tr '\n' ' ')); its chains are left to it"
  fi
  rm -f "$1/kubeconfig"
}
