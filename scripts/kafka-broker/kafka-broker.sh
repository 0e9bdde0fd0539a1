#!/usr/bin/env bash
# A single-node Apache Kafka 4.1 broker (KRaft, broker+controller) on 127.0.0.1 for development
# and tests, built from the jars on Maven Central (pom.xml beside this script) instead of Docker or a tarball.
#
#   npm run kafka [-- start]   copy jars if needed, format, start in the background, wait until it answers
#   npm run kafka -- stop      stop the broker this state dir started (by its pid), wait for it to exit
#   npm run kafka -- status    exit 0 and print the address when it answers
#   npm run kafka -- run       run in the foreground (Ctrl-C stops it)
#   npm run kafka -- restart   stop, then start (keeps the data)
#   npm run kafka -- clean     stop, then delete the state dir (topics, offsets)
#
# Environment: KAFKA_PORT (9092; the controller listens on KAFKA_PORT+1), KAFKA_STATE_DIR
# (.kafka/broker-<port>: config, data, pid, broker.log), KAFKA_LIB_DIR (.kafka/lib),
# KAFKA_HEAP_OPTS (-Xms128m -Xmx512m), KAFKA_READY_TIMEOUT_S (120), KAFKA_STOP_TIMEOUT_S (30),
# KAFKA_OWNER_PID (optional: stop the broker when that process is gone, e.g. a killed test run).
#
# SASL_SSL variant (off unless KAFKA_SASL_SSL_PORT is set; the PLAINTEXT listener stays as it is):
#   KAFKA_SASL_SSL_PORT   adds a SASL_SSL listener on 127.0.0.1:<port> (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)
#   KAFKA_SASL_USERS      user:password,... accepted there (default streamline:streamline-secret);
#                         SCRAM credentials are written when the storage is formatted (first start)
#   KAFKA_TLS_DIR         where the JDK's keytool makes the test CA and the broker's certificate
#                         (<state>/tls; made once): clients trust <dir>/ca.pem
#   KAFKA_SSL_PORT        adds an SSL listener (no SASL) that requires a client certificate signed
#                         by the test CA: <dir>/client.pem and <dir>/client.key are made for it
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT=$((PORT + 1))
STATE_DIR="${KAFKA_STATE_DIR:-$ROOT/.kafka/broker-$PORT}"
LIB_DIR="${KAFKA_LIB_DIR:-$ROOT/.kafka/lib}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
READY_TIMEOUT_S="${KAFKA_READY_TIMEOUT_S:-120}"
STOP_TIMEOUT_S="${KAFKA_STOP_TIMEOUT_S:-30}"
PID_FILE="$STATE_DIR/broker.pid"
LOG_FILE="$STATE_DIR/broker.log"
PROPS="$STATE_DIR/server.properties"
SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-}"
SSL_PORT="${KAFKA_SSL_PORT:-}"
SASL_USERS="${KAFKA_SASL_USERS:-streamline:streamline-secret}"
TLS_DIR="${KAFKA_TLS_DIR:-$STATE_DIR/tls}"
# The keystores hold throwaway test certificates only; this password guards nothing secret.
TLS_STORE_PASSWORD="streamline-test-store"

die() { echo "kafka-broker: $*" >&2; exit 1; }
say() { echo "kafka-broker: $*" >&2; }

require_tools() {
  command -v java >/dev/null 2>&1 || die "Java is not installed (need a JRE 17+ on PATH: apt-get install openjdk-17-jre-headless)"
  if [[ ! -f "$LIB_DIR/kafka_2.13-4.1.1.jar" ]]; then
    command -v mvn >/dev/null 2>&1 || die "Maven is not installed and $LIB_DIR has no Kafka jars (apt-get install maven)"
  fi
}

# The jars are copied once into .kafka/lib (and ~/.m2); a temporary dir and a rename keep two
# concurrent first runs from seeing a half-copied lib dir.
ensure_jars() {
  [[ -f "$LIB_DIR/kafka_2.13-4.1.1.jar" ]] && return 0
  say "copying Apache Kafka jars into $LIB_DIR (Maven; first run downloads from Maven Central)"
  local tmp="$LIB_DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$LIB_DIR")"
  if ! mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -Dkafka.lib.dir="$tmp" >&2; then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed (see above)"
  fi
  if ! mv -T "$tmp" "$LIB_DIR" 2>/dev/null; then
    rm -rf "$tmp" # another run finished first
  fi
  [[ -f "$LIB_DIR/kafka_2.13-4.1.1.jar" ]] || die "no kafka_2.13 jar in $LIB_DIR after the copy"
}

# user:password pairs of KAFKA_SASL_USERS, one per line ("user password"); checked so they can go
# into a JAAS line and a --add-scram argument without quoting.
sasl_users() {
  local entry entries
  IFS=',' read -ra entries <<<"$SASL_USERS"
  for entry in "${entries[@]}"; do
    [[ "$entry" =~ ^([A-Za-z0-9._-]+):([A-Za-z0-9._-]+)$ ]] || die "KAFKA_SASL_USERS entry '$entry' is not user:password (letters, digits, . _ -)"
    echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
  done
}

# A test CA and a broker certificate for 127.0.0.1 / localhost (signed by that CA), made with
# the JDK's keytool in a temporary dir renamed into place, so concurrent starts never see half a
# set. Clients trust ca.pem; the broker reads broker.p12 (its key, its certificate, the CA).
ensure_tls() {
  [[ -f "$TLS_DIR/broker.p12" && -f "$TLS_DIR/ca.pem" ]] && return 0
  command -v keytool >/dev/null 2>&1 || die "keytool (the JDK's) is not on PATH: it makes the SASL_SSL listener's certificates"
  local tmp="$TLS_DIR.tmp.$$" pw="$TLS_STORE_PASSWORD"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  local kt=(keytool -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -J-Xshare:auto)
  {
    "${kt[@]}" -genkeypair -alias ca -keyalg EC -groupname secp256r1 -dname "CN=streamline test CA" -ext bc:c -validity 30 \
      -keystore "$tmp/ca.p12" -storetype PKCS12 -storepass "$pw" -keypass "$pw" &&
      "${kt[@]}" -exportcert -rfc -alias ca -keystore "$tmp/ca.p12" -storepass "$pw" -file "$tmp/ca.pem" &&
      "${kt[@]}" -genkeypair -alias broker -keyalg EC -groupname secp256r1 -dname "CN=localhost" -validity 30 \
        -keystore "$tmp/broker.p12" -storetype PKCS12 -storepass "$pw" -keypass "$pw" &&
      "${kt[@]}" -certreq -alias broker -keystore "$tmp/broker.p12" -storepass "$pw" -file "$tmp/broker.csr" &&
      "${kt[@]}" -gencert -alias ca -keystore "$tmp/ca.p12" -storepass "$pw" -infile "$tmp/broker.csr" -outfile "$tmp/broker.pem" -rfc -validity 30 \
        -ext SAN=dns:localhost,ip:127.0.0.1 -ext EKU=serverAuth &&
      "${kt[@]}" -importcert -alias ca -file "$tmp/ca.pem" -keystore "$tmp/broker.p12" -storepass "$pw" -noprompt &&
      "${kt[@]}" -importcert -alias broker -file "$tmp/broker.pem" -keystore "$tmp/broker.p12" -storepass "$pw" -noprompt
  } >"$tmp/keytool.log" 2>&1 || { cat "$tmp/keytool.log" >&2; rm -rf "$tmp"; die "keytool could not make the test certificates"; }
  mkdir -p "$(dirname "$TLS_DIR")"
  if ! mv -T "$tmp" "$TLS_DIR" 2>/dev/null; then
    rm -rf "$tmp" # another start made them first
  fi
}

# For the mutual-TLS listener: a truststore holding the CA, and a client certificate signed by it
# (client.pem, client.key in PEM for Node; keytool cannot write a PEM key, openssl converts it).
ensure_client_tls() {
  [[ -f "$TLS_DIR/truststore.p12" && -f "$TLS_DIR/client.key" ]] && return 0
  command -v openssl >/dev/null 2>&1 || die "openssl is not on PATH: it writes the test client key as PEM"
  local pw="$TLS_STORE_PASSWORD" tmp="$TLS_DIR/client.tmp.$$"
  local kt=(keytool -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -J-Xshare:auto)
  rm -rf "$tmp"
  mkdir -p "$tmp"
  {
    "${kt[@]}" -importcert -alias ca -file "$TLS_DIR/ca.pem" -keystore "$tmp/truststore.p12" -storetype PKCS12 -storepass "$pw" -noprompt &&
      "${kt[@]}" -genkeypair -alias client -keyalg EC -groupname secp256r1 -dname "CN=streamline-client" -validity 30 \
        -keystore "$tmp/client.p12" -storetype PKCS12 -storepass "$pw" -keypass "$pw" &&
      "${kt[@]}" -certreq -alias client -keystore "$tmp/client.p12" -storepass "$pw" -file "$tmp/client.csr" &&
      "${kt[@]}" -gencert -alias ca -keystore "$TLS_DIR/ca.p12" -storepass "$pw" -infile "$tmp/client.csr" -outfile "$tmp/client.pem" -rfc -validity 30 \
        -ext EKU=clientAuth &&
      openssl pkcs12 -in "$tmp/client.p12" -passin "pass:$pw" -nocerts -nodes -out "$tmp/client.key"
  } >"$tmp/keytool.log" 2>&1 || { cat "$tmp/keytool.log" >&2; rm -rf "$tmp"; die "could not make the test client certificate"; }
  mv "$tmp/client.pem" "$tmp/client.key" "$TLS_DIR/"
  mv "$tmp/truststore.p12" "$TLS_DIR/truststore.p12"
  rm -rf "$tmp"
}

# The SSL (mutual TLS) listener's part of server.properties (nothing without KAFKA_SSL_PORT).
ssl_config() {
  [[ -n "$SSL_PORT" ]] || return 0
  cat <<EOF

# SSL listener (KAFKA_SSL_PORT): TLS only, a client certificate signed by the test CA required.
listener.name.ssl.ssl.client.auth=required
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$TLS_DIR/broker.p12
listener.name.ssl.ssl.keystore.password=$TLS_STORE_PASSWORD
listener.name.ssl.ssl.key.password=$TLS_STORE_PASSWORD
listener.name.ssl.ssl.truststore.type=PKCS12
listener.name.ssl.ssl.truststore.location=$TLS_DIR/truststore.p12
listener.name.ssl.ssl.truststore.password=$TLS_STORE_PASSWORD
EOF
}

# The SASL_SSL listener's part of server.properties (nothing without KAFKA_SASL_SSL_PORT).
sasl_ssl_config() {
  [[ -n "$SASL_SSL_PORT" ]] || return 0
  local plain_users="" user password
  while read -r user password; do plain_users+=" user_$user=\"$password\""; done < <(sasl_users)
  cat <<EOF

# SASL_SSL listener (KAFKA_SASL_SSL_PORT): TLS with the test CA's certificate, then SASL.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$TLS_DIR/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$TLS_STORE_PASSWORD
listener.name.sasl_ssl.ssl.key.password=$TLS_STORE_PASSWORD
EOF
}

write_config() {
  mkdir -p "$STATE_DIR/data"
  local listeners="PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
  local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [[ -n "$SASL_SSL_PORT" ]]; then
    [[ "$SASL_SSL_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_SASL_SSL_PORT=$SASL_SSL_PORT is not a port"
    ensure_tls
    listeners+=",SASL_SSL://127.0.0.1:$SASL_SSL_PORT"
    protocols+=",SASL_SSL:SASL_SSL"
  fi
  if [[ -n "$SSL_PORT" ]]; then
    [[ "$SSL_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_SSL_PORT=$SSL_PORT is not a port"
    ensure_tls
    ensure_client_tls
    listeners+=",SSL://127.0.0.1:$SSL_PORT"
    protocols+=",SSL:SSL"
  fi
  cat >"$PROPS" <<EOF
# Written by scripts/kafka-broker/kafka-broker.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
listeners=$listeners
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
log.dirs=$STATE_DIR/data

# Topics are created explicitly (Log.ensureTopic), as in embedded mode.
auto.create.topics.enable=false
num.partitions=3
default.replication.factor=1

# One node: internal topics with one replica, and few partitions so they are created fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1

# Tests: no wait before the first rebalance, short session timeouts allowed, and transactions of
# a dead producer aborted within seconds instead of minutes.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=500
group.consumer.min.session.timeout.ms=1000
group.consumer.session.timeout.ms=10000
group.consumer.min.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=1000
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
transaction.remove.expired.transaction.cleanup.interval.ms=10000
transaction.max.timeout.ms=900000

# A small machine (2 cores shared by several people).
num.network.threads=2
num.io.threads=4
background.threads=4
log.cleaner.threads=1
log.cleaner.backoff.ms=1000
log.retention.check.interval.ms=60000
$(sasl_ssl_config)
$(ssl_config)
EOF
  cat >"$STATE_DIR/log4j2.properties" <<'EOF'
# Console only (the script sends it to broker.log); WARN keeps the file short, kafka.server INFO
# keeps the start/stop lines.
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
EOF
}

format_storage() {
  [[ -f "$STATE_DIR/data/meta.properties" ]] && return 0
  # A cluster id is a base64url UUID; made here to save a JVM start (StorageTool random-uuid).
  # It may start with "-", hence --cluster-id=<id> rather than -t <id>.
  local cluster_id
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  # SCRAM users live in the cluster metadata: written by the format (kafka-storage format --add-scram).
  local scram=() user password
  if [[ -n "$SASL_SSL_PORT" ]]; then
    while read -r user password; do
      scram+=(--add-scram "SCRAM-SHA-256=[name=$user,password=$password]" --add-scram "SCRAM-SHA-512=[name=$user,password=$password]")
    done < <(sasl_users)
  fi
  java -Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m \
    -Dlog4j2.configurationFile="$STATE_DIR/log4j2.properties" \
    -cp "$LIB_DIR/*" kafka.tools.StorageTool format --cluster-id="$cluster_id" --config="$PROPS" --standalone "${scram[@]}" >>"$LOG_FILE" 2>&1 ||
    { tail -n 30 "$LOG_FILE" >&2; die "formatting $STATE_DIR/data failed"; }
}

java_cmd() {
  # shellcheck disable=SC2206
  local heap=($HEAP_OPTS)
  JAVA_CMD=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent
    -Djava.awt.headless=true -Dkafka.logs.dir="$STATE_DIR"
    -Dlog4j2.configurationFile="$STATE_DIR/log4j2.properties"
    -cp "$LIB_DIR/*" kafka.Kafka "$PROPS")
}

# The pid is ours only while it is still a kafka.Kafka JVM reading this state dir's config.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $PROPS" || return 1
  echo "$pid"
}

# Readiness means the broker answers a metadata request listing itself (asked by the Node client).
wait_ready() {
  local pid="$1"
  if ! node --import tsx "$HERE/kafka-ready.ts" "127.0.0.1:$PORT" "$READY_TIMEOUT_S" "$pid"; then
    tail -n 40 "$LOG_FILE" >&2 || true
    die "broker did not answer on 127.0.0.1:$PORT (log: $LOG_FILE)"
  fi
}

start() {
  if pid="$(running_pid)"; then
    say "already running (pid $pid) on 127.0.0.1:$PORT"
    echo "127.0.0.1:$PORT"
    return 0
  fi
  require_tools
  ensure_jars
  write_config
  format_storage
  java_cmd
  # setsid: the broker outlives the shell (and the test runner's process group) that started it.
  setsid "${JAVA_CMD[@]}" </dev/null >>"$LOG_FILE" 2>&1 &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  say "started pid $pid, waiting for 127.0.0.1:$PORT"
  if [[ -n "${KAFKA_OWNER_PID:-}" ]]; then
    setsid bash "${BASH_SOURCE[0]}" watchdog "$KAFKA_OWNER_PID" </dev/null >/dev/null 2>&1 &
  fi
  wait_ready "$pid"
  say "ready on 127.0.0.1:$PORT (state $STATE_DIR)"
  echo "127.0.0.1:$PORT"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    say "not running (state $STATE_DIR)"
    return 0
  fi
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT_S * 10)); then
      say "pid $pid still running after ${STOP_TIMEOUT_S}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE"
  say "stopped pid $pid"
}

status() {
  local pid
  if pid="$(running_pid)" && node --import tsx "$HERE/kafka-ready.ts" "127.0.0.1:$PORT" 5 "$pid" 2>/dev/null; then
    echo "127.0.0.1:$PORT (pid $pid)"
    return 0
  fi
  say "not answering on 127.0.0.1:$PORT"
  return 1
}

# Stops this state dir's broker once the owner process has exited (a test run that was killed
# before its teardown), so no JVM is left behind on a shared machine. Ends with the broker.
watchdog() {
  local owner="$1"
  while running_pid >/dev/null; do
    if ! kill -0 "$owner" 2>/dev/null; then
      stop
      return 0
    fi
    sleep 2
  done
}

run_foreground() {
  require_tools
  ensure_jars
  write_config
  format_storage
  java_cmd
  exec "${JAVA_CMD[@]}"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  run) run_foreground ;;
  clean) stop; rm -rf "$STATE_DIR"; say "removed $STATE_DIR" ;;
  jars) require_tools; ensure_jars ;;
  watchdog) watchdog "${2:?owner pid}" ;;
  *) die "unknown command '$1' (start | stop | restart | status | run | clean | jars)" ;;
esac
