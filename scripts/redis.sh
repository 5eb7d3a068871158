#!/usr/bin/env bash
# A throwaway Redis server on 127.0.0.1 for the tests and benchmarks (shared gateway rate limits), from
# Debian's packages.
#   scripts/redis.sh start    installs the server if missing (apt-get), starts it, prints RATE_LIMIT_REDIS_URL
#   scripts/redis.sh stop     stops it and removes its data
#   scripts/redis.sh status
# Only the URL goes to stdout; everything else goes to stderr. No persistence: the data is counters.
set -euo pipefail
PORT="${REDIS_TEST_PORT:-56379}"
DIR="${REDIS_TEST_DIR:-/tmp/model-keys-redis-$PORT}"
URL="redis://127.0.0.1:$PORT"

install() {
  if command -v redis-server >/dev/null 2>&1; then return; fi
  echo "redis.sh: installing Redis from Debian's packages..." >&2
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends redis-server >&2
}

ping() { redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; }

case "${1:-}" in
  start)
    install
    if ping; then echo "$URL"; exit 0; fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save '' --appendonly no \
      --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/server.log" >&2
    for _ in $(seq 1 100); do
      if ping; then break; fi
      sleep 0.1
    done
    if ! ping; then echo "redis.sh: Redis did not answer on 127.0.0.1:$PORT; see $DIR/server.log" >&2; exit 1; fi
    echo "redis.sh: Redis $(redis-server --version | sed -E 's/.* v=([^ ]+).*/\1/') on 127.0.0.1:$PORT" >&2
    echo "$URL"
    ;;
  stop)
    if ping; then redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >&2 || true; fi
    rm -rf "$DIR"
    ;;
  status)
    ping
    ;;
  *)
    echo "usage: scripts/redis.sh start|stop|status" >&2
    exit 2
    ;;
esac
