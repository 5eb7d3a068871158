#!/usr/bin/env bash
# With DATABASE_URL naming a server (scripts/with-postgres.sh starts one): the event-store contract
# and tamper suites on PostgreSQL, then the whole end-to-end suite with the service on EVENT_STORE=postgres.
set -euo pipefail
npx jest --selectProjects postgres --runInBand
# full-disk.e2e-spec fills a tmpfs under DATA_DIR's event log, which with PostgreSQL is not on that disk:
# it runs in npm test, on SQLite.
EVENT_STORE=postgres npx jest --selectProjects e2e --testPathIgnorePatterns 'full-disk\.e2e-spec\.ts'
