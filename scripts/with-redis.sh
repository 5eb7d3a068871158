#!/usr/bin/env bash
# Runs a command with a real Redis server: starts one on 127.0.0.1 (scripts/redis.sh) unless
# RATE_LIMIT_REDIS_URL is already set, exports RATE_LIMIT_REDIS_URL, and stops the server it started afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${RATE_LIMIT_REDIS_URL:-}" ]; then exec "$@"; fi
# A server already running (a developer's) is used and left running.
already=0
if bash "$here/redis.sh" status >/dev/null 2>&1; then already=1; fi
export RATE_LIMIT_REDIS_URL
RATE_LIMIT_REDIS_URL="$(bash "$here/redis.sh" start)"
status=0
"$@" || status=$?
if [ "$already" = 0 ]; then bash "$here/redis.sh" stop; fi
exit $status
