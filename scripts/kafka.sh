#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, one node, 127.0.0.1) for the Kafka tests and benchmarks.
# The jars come from Maven Central (scripts/kafka/pom.xml) into a cache folder; nothing is installed
# system-wide.
#
#   scripts/kafka.sh fetch     download the broker's jars (once; about 60 jars, a few seconds)
#   scripts/kafka.sh start     format storage on first use, start the broker, wait until it answers
#   scripts/kafka.sh stop      stop it (SIGTERM, then SIGKILL after 30 s); storage is kept
#   scripts/kafka.sh status    exit 0 when it is running
#   scripts/kafka.sh reset     stop it and delete its storage
#
# Environment: KAFKA_PORT (default 19092; the controller listens on KAFKA_PORT+1),
# KAFKA_CACHE_DIR (default <repo>/.ci-cache/kafka). Prints the bootstrap address on start.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT=$((PORT + 1))
CACHE="${KAFKA_CACHE_DIR:-$ROOT/.ci-cache/kafka}"
LIBS="$CACHE/libs"
NODE_DIR="$CACHE/node-$PORT"
PID_FILE="$NODE_DIR/kafka.pid"
LOG_FILE="$NODE_DIR/kafka.log"

log() { echo "kafka.sh: $*" >&2; }

fetch() {
  if [ -f "$LIBS/.complete" ]; then return 0; fi
  log "fetching the broker's jars from Maven Central into $LIBS"
  mkdir -p "$LIBS"
  # stdout carries only the bootstrap address (callers capture it): Maven writes to stderr.
  mvn -q -B -Dstyle.color=never -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
  touch "$LIBS/.complete"
}

running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

JAVA_OPTS=(-Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true)

java_run() {
  java "${JAVA_OPTS[@]}" -Dlog4j.configuration="file:$NODE_DIR/log4j.properties" -cp "$LIBS/*" "$@"
}

configure() {
  mkdir -p "$NODE_DIR/data"
  cat >"$NODE_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$NODE_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.enable=true
PROPS
  cat >"$NODE_DIR/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$NODE_DIR/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
}

start() {
  if running && listening; then echo "127.0.0.1:$PORT"; return 0; fi
  fetch
  configure
  if [ ! -f "$NODE_DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java_run kafka.tools.StorageTool random-uuid)"
    java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$NODE_DIR/server.properties" >/dev/null
  fi
  log "starting the broker on 127.0.0.1:$PORT (log: $LOG_FILE)"
  nohup java "${JAVA_OPTS[@]}" -Dlog4j.configuration="file:$NODE_DIR/log4j.properties" -cp "$LIBS/*" \
    kafka.Kafka "$NODE_DIR/server.properties" >"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 120); do
    if listening; then echo "127.0.0.1:$PORT"; return 0; fi
    if ! running; then log "the broker exited during start-up:"; tail -n 30 "$LOG_FILE" >&2; return 1; fi
    sleep 0.5
  done
  log "the broker did not listen on 127.0.0.1:$PORT within 60 s"; tail -n 30 "$LOG_FILE" >&2
  return 1
}

stop() {
  if ! running; then rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null && ! listening; then rm -f "$PID_FILE"; return 0; fi
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) running && listening ;;
  reset) stop; rm -rf "$NODE_DIR" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
