#!/usr/bin/env bash
# npm run test:browser: the console in a real browser against the started service (test/browser).
# Debian's Chromium, driven by playwright-core: no browser download. Installed here when missing.
set -euo pipefail
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "test:browser: $CHROMIUM is missing; installing Debian's chromium with apt-get" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
export CHROMIUM_PATH="$CHROMIUM"
# Screenshots go to dist/console-screenshots; CONSOLE_SCREENSHOTS=docs/console refreshes the committed set.
exec npx jest --selectProjects browser --runInBand "$@"
