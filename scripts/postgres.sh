#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the tests and benchmarks, from Debian's packages.
#   scripts/postgres.sh start    installs the server if missing (apt-get), starts it, prints DATABASE_URL
#   scripts/postgres.sh stop     stops it and removes its data
#   scripts/postgres.sh status
# Only the URL goes to stdout; everything else goes to stderr.
set -euo pipefail
PORT="${PG_TEST_PORT:-55432}"
DIR="${PG_TEST_DIR:-/tmp/model-keys-postgres-$PORT}"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install() {
  if [ -n "$(bindir)" ] && [ -x "$(bindir)/postgres" ]; then return; fi
  echo "postgres.sh: installing PostgreSQL from Debian's packages..." >&2
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends postgresql >&2
}

# PostgreSQL refuses to run as root: as root, run it as the postgres user the package created.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    install
    bin="$(bindir)"
    if as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then echo "$URL"; exit 0; fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
    as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
    as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
      -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c max_connections=200" start >&2
    echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
    echo "$URL"
    ;;
  stop)
    bin="$(bindir)"
    if [ -n "$bin" ] && [ -d "$DIR/data" ]; then as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true; fi
    rm -rf "$DIR"
    ;;
  status)
    bin="$(bindir)"
    as_owner "$bin/pg_ctl" -D "$DIR/data" status >&2
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop|status" >&2
    exit 2
    ;;
esac
