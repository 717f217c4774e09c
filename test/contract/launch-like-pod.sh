#!/usr/bin/env bash
# Starts a command the way a Kubernetes container spec would run it, as far as one machine allows:
# in a private mount namespace, with the root filesystem read-only, /tmp a fresh tmpfs (the
# emptyDir), a Secret's keys mounted as files (mode 0440, group = fsGroup) at the spec's mount path,
# as the spec's numeric uid/gid with no new privileges and only the spec's environment, in a
# read-only copy of --workdir (the image's WORKDIR) mounted at /run/workdir, and the folder of the
# node binary (--node-dir) mounted at /run/node, as an image has its node where any uid reaches it.
#
# Usage (as root): launch-like-pod.sh --uid N --gid N --secret-dir DIR --secret-mount PATH
#                    --workdir DIR --node-dir DIR --tmp-size SIZE [--env NAME=VALUE]... -- COMMAND [ARG]...
# The secret DIR holds one file per Secret key; it is copied, so it may live anywhere. --workdir
# and --node-dir are bind-mounted, so they may live under /tmp even though /tmp is replaced, or under a
# home folder that the uid may not enter (Node.js 24 in ~/.cache/api-stack/node, for root's 0700 home).
set -euo pipefail

die() { echo "launch-like-pod: $1" >&2; exit 2; }
uid="" gid="" secret_dir="" secret_mount="" workdir="" node_dir="" tmp_size="64m"
envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --uid) uid="$2"; shift ;;
    --gid) gid="$2"; shift ;;
    --secret-dir) secret_dir="$2"; shift ;;
    --secret-mount) secret_mount="$2"; shift ;;
    --tmp-size) tmp_size="$2"; shift ;;
    --workdir) workdir="$2"; shift ;;
    --node-dir) node_dir="$2"; shift ;;
    --env) envs+=("$2"); shift ;;
    --) shift; break ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
[ $# -gt 0 ] || die "no command given after --"
[[ "$uid" =~ ^[1-9][0-9]*$ && "$gid" =~ ^[1-9][0-9]*$ ]] || die "--uid and --gid must be non-zero numbers, got '$uid' and '$gid'"
[ -d "$secret_dir" ] || die "--secret-dir '$secret_dir' is not a directory"
[ -d "$workdir" ] || die "--workdir '$workdir' is not a directory"
[ -x "$node_dir/node" ] || die "--node-dir '$node_dir' holds no executable node"
[[ "$secret_mount" == /run/* || "$secret_mount" == /var/run/* ]] || die "--secret-mount must be under /run or /var/run (a tmpfs is mounted there), got '$secret_mount'"
[ "$(id -u)" -eq 0 ] || die "must run as root: it needs a mount namespace and to drop to --uid"

exec unshare --mount --propagation private bash -s -- "$uid" "$gid" "$secret_dir" "$secret_mount" "$workdir" "$node_dir" "$tmp_size" "${#envs[@]}" "${envs[@]}" "$@" <<'INNER'
set -euo pipefail
uid="$1" gid="$2" secret_dir="$3" secret_mount="${4/#\/var\/run/\/run}" workdir="$5" node_dir="$6" tmp_size="$7" env_count="$8"
shift 8
envs=("${@:1:$env_count}")
shift "$env_count"
# Secrets: a private /run holding only the mounted keys, readable by the fsGroup.
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p "$secret_mount"
cp "$secret_dir"/* "$secret_mount"/
chgrp -R "$gid" "$secret_mount"
chmod 0440 "$secret_mount"/*
# The working directory, before /tmp (where a checkout may live) is replaced; read-only.
mkdir -p /run/workdir
mount --bind "$workdir" /run/workdir
mount -o remount,bind,ro /run/workdir
mkdir -p /run/node
mount --bind "$node_dir" /run/node
mount -o remount,bind,ro /run/node
# The emptyDir at /tmp, then everything else read-only.
mount -t tmpfs -o "size=$tmp_size,mode=1777" tmpfs /tmp
awk '{print $5}' /proc/self/mountinfo | grep -vE '^/(proc|sys|dev|run|tmp)(/|$)' | while read -r mountpoint; do
  mount -o remount,bind,ro "$mountpoint" 2>/dev/null || true
done
cd /run/workdir
exec setpriv --reuid "$uid" --regid "$gid" --clear-groups --no-new-privs env -i "${envs[@]}" "$@"
INNER
