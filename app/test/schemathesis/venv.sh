#!/usr/bin/env bash
# Usage: app/test/schemathesis/venv.sh [--help]
#
# Makes the Python virtual environment that test/schemathesis.test.ts runs schemathesis from, with the exact
# versions of requirements.txt next to this script, and prints the path of its `st` command.
# The environment lives in the per-user cache, ${XDG_CACHE_HOME:-~/.cache}/api-stack/schemathesis-<hash of
# requirements.txt>-py<version>; a second run finds it and returns at once. Concurrent runs wait on a lock.
# Needs python3 (3.9 or newer) with its venv module, and access to the Python package index.
set -euo pipefail

say() { printf 'schemathesis venv: %s\n' "$*" >&2; }
die() { printf 'schemathesis venv: error: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
fi
[ "$#" -eq 0 ] || die "unexpected argument '$1': run with --help for usage"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/requirements.txt"
command -v python3 >/dev/null || die "python3 is not installed: install Python 3.9 or newer (Debian: apt-get install python3 python3-venv)"
python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null \
    || die "python3 is older than 3.9 or lacks the venv module: install python3-venv (Debian) or a newer Python"

python_version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
hash="$(sha256sum "$requirements" | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/api-stack"
venv="$cache/schemathesis-$hash-py$python_version"
mkdir -p "$cache"

exec 9>"$venv.lock"
flock 9
# The stamp is written last: a venv without it is what an interrupted install left, and is made again.
if [ ! -f "$venv/.installed" ]; then
    say "installing schemathesis into $venv (a first run takes a minute)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed: see the error above"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements" \
        || die "pip install failed: check access to the Python package index, then run this again"
    touch "$venv/.installed"
    say "installed"
fi
printf '%s\n' "$venv/bin/st"
