#!/usr/bin/env bash
# Checks that the local cluster (scripts/cluster.sh up) does what our Pulumi program needs:
#   1. a PVC of StorageClass local-static gets Bound (pre-created volumes, no provisioner);
#   2. a Deployment with 2 replicas becomes Available, and a pod mounting that PVC becomes Running/Ready
#      on the simulated nodes;
#   3. a namespace labelled pod-security.kubernetes.io/enforce=restricted rejects a privileged pod and
#      admits a compliant one;
#   4. a LoadBalancer Service gets no address (expected: there is no load-balancer controller).
# It works in its own namespaces (smoke-*) and deletes them, and the volume claim, even on failure.
#
# Usage: scripts/cluster-smoke.sh [--help]
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

takes_no_arguments "$@"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
kc get --raw /readyz >/dev/null 2>&1 || die "the cluster is down" "run npm run cluster:up first"

suffix="$(date +%s)"
ns_apps="smoke-apps-$suffix"
ns_restricted="smoke-restricted-$suffix"
start=$SECONDS
failures=0
# Results go to stdout: they are what this script reports.
pass() { say "PASS $*" 2>&1; }
fail() { say "FAIL $*" 2>&1; failures=$((failures + 1)); }

cleanup() {
  kc delete namespace "$ns_apps" "$ns_restricted" --ignore-not-found --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

kc create namespace "$ns_apps" >/dev/null
kc create namespace "$ns_restricted" >/dev/null
kc label namespace "$ns_restricted" pod-security.kubernetes.io/enforce=restricted >/dev/null

# A pod spec that passes the restricted profile.
restricted_container='{"name": "app", "image": "registry.invalid/app:1",
  "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 1000,
    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}'

kc apply -n "$ns_apps" -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: $API_STACK_STORAGE_CLASS
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [$restricted_container]
---
apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers: [$restricted_container]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80}]
EOF

if kc wait -n "$ns_apps" pvc/data --for=jsonpath='{.status.phase}'=Bound --timeout=60s >/dev/null 2>&1; then
  pass "PVC of class $API_STACK_STORAGE_CLASS Bound to $(kc get -n "$ns_apps" pvc data -o jsonpath='{.spec.volumeName}')"
else
  fail "PVC not Bound: $(kc get -n "$ns_apps" pvc data --no-headers 2>&1)"
fi
if kc rollout status -n "$ns_apps" deployment/web --timeout=90s >/dev/null 2>&1; then
  pass "Deployment web: $(kc get -n "$ns_apps" deploy web -o jsonpath='{.status.readyReplicas}')/2 replicas ready on nodes $(kc get -n "$ns_apps" pods -l app=web -o jsonpath='{.items[*].spec.nodeName}')"
else
  fail "Deployment web not ready: $(kc get -n "$ns_apps" deploy web --no-headers 2>&1)"
fi
if kc wait -n "$ns_apps" pod/db --for=condition=Ready --timeout=60s >/dev/null 2>&1; then
  pass "pod with the PVC is $(kc get -n "$ns_apps" pod db -o jsonpath='{.status.phase}') and Ready on $(kc get -n "$ns_apps" pod db -o jsonpath='{.spec.nodeName}')"
else
  fail "pod with the PVC not Ready: $(kc get -n "$ns_apps" pod db --no-headers 2>&1)"
fi

privileged_out="$(kc run -n "$ns_restricted" privileged --image=registry.invalid/app:1 --restart=Never \
  --overrides='{"apiVersion": "v1", "spec": {"containers": [{"name": "privileged", "image": "registry.invalid/app:1", "securityContext": {"privileged": true}}]}}' 2>&1)" && privileged_rc=0 || privileged_rc=$?
if [ "$privileged_rc" -ne 0 ] && grep -q 'violates PodSecurity "restricted' <<<"$privileged_out"; then
  pass "restricted namespace rejects a privileged pod: $(grep -o 'violates PodSecurity "[^"]*": privileged' <<<"$privileged_out" | head -n1)"
else
  fail "privileged pod was not rejected by Pod Security (rc $privileged_rc): $privileged_out"
fi
if kc apply -n "$ns_restricted" -f - >/dev/null 2>&1 <<EOF
apiVersion: v1
kind: Pod
metadata: {name: compliant}
spec:
  containers: [$restricted_container]
EOF
then
  if kc wait -n "$ns_restricted" pod/compliant --for=condition=Ready --timeout=60s >/dev/null 2>&1; then
    pass "restricted namespace admits a compliant pod (Ready)"
  else
    fail "compliant pod admitted but not Ready"
  fi
else
  fail "restricted namespace rejected a compliant pod"
fi

sleep 10
lb_address="$(kc get -n "$ns_apps" service lb -o jsonpath='{.status.loadBalancer.ingress}')"
if [ -z "$lb_address" ]; then
  pass "LoadBalancer Service has no address after $((SECONDS - start))s (expected: no load-balancer controller)"
else
  fail "LoadBalancer Service unexpectedly got an address: $lb_address"
fi

volume="$(kc get -n "$ns_apps" pvc data -o jsonpath='{.spec.volumeName}' 2>/dev/null || true)"
kc delete namespace "$ns_apps" "$ns_restricted" --wait=true --timeout=120s >/dev/null 2>&1 || true
# The volume is Retain: free it for the next claim (cluster.sh up does the same for any Released one).
[ -z "$volume" ] || kc patch pv "$volume" --type json -p '[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null 2>&1 || true
trap - EXIT
say "done: $failures failure(s)" 2>&1
[ "$failures" -eq 0 ]
