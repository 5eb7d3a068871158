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
#   scripts/kafka.sh secure-env   print the SASL_SSL listener's address, CA, client certificate and
#                                 credentials as KAFKA_SECURE_*=value lines (for `eval`)
#
# Two client listeners: PLAINTEXT on KAFKA_PORT, and SASL_SSL on KAFKA_PORT+2 as managed Kafka runs
# them: TLS with a test CA made here with openssl at first start (broker certificate for 127.0.0.1 and
# localhost; clients must present a certificate of the same CA: ssl.client.auth=required), and SASL
# with SCRAM-SHA-512, SCRAM-SHA-256 (credentials stored at format time, kafka-storage format
# --add-scram) or PLAIN, for the user model-keys and a random password kept in the node folder.
#
# Environment: KAFKA_PORT (default 19092; the controller listens on KAFKA_PORT+1, SASL_SSL on
# KAFKA_PORT+2), KAFKA_CACHE_DIR (default <repo>/.ci-cache/kafka). Prints the bootstrap address on start.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT=$((PORT + 1))
SECURE_PORT=$((PORT + 2))
CACHE="${KAFKA_CACHE_DIR:-$ROOT/.ci-cache/kafka}"
LIBS="$CACHE/libs"
NODE_DIR="$CACHE/node-$PORT"
PID_FILE="$NODE_DIR/kafka.pid"
LOG_FILE="$NODE_DIR/kafka.log"
TLS_DIR="$NODE_DIR/tls"
SASL_USER="model-keys"
# Bumped when the storage must be formatted again (v2: SCRAM credentials at format time).
FORMAT_VERSION=2

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
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$SECURE_PORT") 2>/dev/null
}

# A test CA, the broker's certificate (PKCS#12 keystore; the CA as a PEM truststore) and a client
# certificate, made once per node folder. Nothing here is a secret outside the test.
tls_material() {
  if [ -f "$TLS_DIR/.complete" ]; then return 0; fi
  rm -rf "$TLS_DIR"; mkdir -p "$TLS_DIR"
  local d="$TLS_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 3650 \
    -subj "/CN=model-keys test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  sign() { # name, subject, extensions
    openssl req -newkey rsa:2048 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$3" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 3650 -out "$d/$1.pem" -extfile "$d/$1.ext" 2>/dev/null
  }
  sign broker "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
  sign client "/CN=model-keys-client" "extendedKeyUsage=clientAuth"
  openssl rand -hex 16 >"$d/keystore.password"
  openssl pkcs12 -export -in "$d/broker.pem" -inkey "$d/broker.key" -certfile "$d/ca.pem" -name broker \
    -out "$d/broker.p12" -passout "file:$d/keystore.password"
  openssl rand -hex 16 >"$d/sasl.password"
  touch "$d/.complete"
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
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT,SASL_SSL://127.0.0.1:$SECURE_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SECURE_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$(cat "$TLS_DIR/sasl.password")";
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$TLS_DIR/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$(cat "$TLS_DIR/keystore.password")
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$TLS_DIR/ca.pem
listener.name.sasl_ssl.ssl.client.auth=required
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
  tls_material
  configure
  if [ "$(cat "$NODE_DIR/data/.format-version" 2>/dev/null)" != "$FORMAT_VERSION" ]; then
    # Storage from an older version of this script lacks the SCRAM credentials: it is test data only.
    rm -rf "$NODE_DIR/data"; mkdir -p "$NODE_DIR/data"
    local cluster_id password
    cluster_id="$(java_run kafka.tools.StorageTool random-uuid)"
    password="$(cat "$TLS_DIR/sasl.password")"
    java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$NODE_DIR/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$password]" \
      --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$password]" >/dev/null
    echo "$FORMAT_VERSION" >"$NODE_DIR/data/.format-version"
  fi
  log "starting the broker on 127.0.0.1:$PORT (SASL_SSL on $SECURE_PORT; log: $LOG_FILE)"
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
  secure-env)
    tls_material
    echo "KAFKA_SECURE_BROKERS=127.0.0.1:$SECURE_PORT"
    echo "KAFKA_SECURE_CA_FILE=$TLS_DIR/ca.pem"
    echo "KAFKA_SECURE_CERT_FILE=$TLS_DIR/client.pem"
    echo "KAFKA_SECURE_KEY_FILE=$TLS_DIR/client.key"
    echo "KAFKA_SECURE_USERNAME=$SASL_USER"
    echo "KAFKA_SECURE_PASSWORD_FILE=$TLS_DIR/sasl.password"
    ;;
  reset) stop; rm -rf "$NODE_DIR" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|secure-env" >&2; exit 2 ;;
esac
