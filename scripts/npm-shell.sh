#!/usr/bin/env bash
# npm's script shell for this project (`script-shell` in .npmrc, app/.npmrc and policy/.npmrc): every
# `npm run`/`npm test` script runs with Node.js 24 first on PATH (scripts/node.sh), whatever node
# started npm. npm calls it as `npm-shell.sh -c '<script>'`, like `sh -c`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# npm hands its config to nested npm runs through the environment; an absolute path keeps this shell
# in force for `npm --prefix app test` and the like, whose working directory differs.
export npm_config_script_shell="$here/npm-shell.sh"
# shellcheck source=scripts/node.sh
. "$here/node.sh"
exec bash "$@"
