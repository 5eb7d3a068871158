#!/usr/bin/env bash
# With DATABASE_URL naming a server (scripts/with-postgres.sh starts one): the event-store contract
# and tamper suites on PostgreSQL, then the whole end-to-end suite with the service on EVENT_STORE=postgres.
set -euo pipefail
npx jest --selectProjects postgres --runInBand
EVENT_STORE=postgres npx jest --selectProjects e2e
