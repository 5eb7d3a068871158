#!/usr/bin/env bash
# Runs a command with a real Kafka broker: starts one on 127.0.0.1 (scripts/kafka.sh) unless
# KAFKA_BROKERS is already set, exports KAFKA_BROKERS (PLAINTEXT) and the KAFKA_SECURE_* variables of
# its SASL_SSL listener (scripts/kafka.sh secure-env), and stops the broker it started afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${KAFKA_BROKERS:-}" ]; then exec "$@"; fi
export KAFKA_BROKERS
KAFKA_BROKERS="$(bash "$here/kafka.sh" start)"
while IFS='=' read -r name value; do export "$name=$value"; done < <(bash "$here/kafka.sh" secure-env)
status=0
"$@" || status=$?
bash "$here/kafka.sh" stop
exit $status
