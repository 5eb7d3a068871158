#!/usr/bin/env bash
# Runs a command with a real PostgreSQL server: starts one on 127.0.0.1 (scripts/postgres.sh) unless
# DATABASE_URL is already set, exports DATABASE_URL, and stops the server it started afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${DATABASE_URL:-}" ]; then exec "$@"; fi
# A server already running (a developer's) is used and left running.
already=0
if bash "$here/postgres.sh" status >/dev/null 2>&1; then already=1; fi
export DATABASE_URL
DATABASE_URL="$(bash "$here/postgres.sh" start)"
status=0
"$@" || status=$?
if [ "$already" = 0 ]; then bash "$here/postgres.sh" stop; fi
exit $status
