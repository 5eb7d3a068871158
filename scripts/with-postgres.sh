#!/usr/bin/env bash
# Runs a command with a real PostgreSQL server: starts one on 127.0.0.1 (scripts/postgres.sh) unless
# DATABASE_URL is already set, exports DATABASE_URL, and stops the server it started afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${DATABASE_URL:-}" ]; then exec "$@"; fi
export DATABASE_URL
DATABASE_URL="$(bash "$here/postgres.sh" start)"
status=0
"$@" || status=$?
bash "$here/postgres.sh" stop
exit $status
