#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft, single node), Apicurio Registry (Confluent API),
# Redis (AOF) and ClickHouse, each a plain process on ports of our own.
#
#   deploy/stack.sh up        install what is missing, start what is not running, wait until ready
#   deploy/stack.sh down      stop everything this script started; no process or port left
#   deploy/stack.sh status    one line per service; exit 0 only when all answer
#   deploy/stack.sh install   only fetch/install (apt packages, Maven jars)
#   deploy/stack.sh install-browser   Debian chromium for the dashboard browser test
#   deploy/stack.sh cluster-up|cluster-down   a Redis Cluster on REDIS_CLUSTER_PORTS (scale-out tests)
#   deploy/stack.sh clean     down, then delete the run directory (data and logs)
#   deploy/stack.sh env       print the connection variables for the processors
#   deploy/stack.sh restart-one SERVICE   stop and start one service (fault tests use this)
#
# Everything lives under STACK_RUN_DIR (default .run/); downloaded jars under STACK_DEPS_DIR
# (default .deps/) so that `clean` does not force a re-download.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# absolute: services chdir into their own directories
RUN=$(realpath -m "${STACK_RUN_DIR:-$ROOT/.run}")
DEPS=${STACK_DEPS_DIR:-$ROOT/.deps}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_SASL_PORT=${KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}
KAFKA_TLS_PORT=${KAFKA_TLS_PORT:-$((KAFKA_PORT + 3))}
KAFKA_SASL_USERNAME=${KAFKA_SASL_USERNAME:-pipeline}
KAFKA_SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-kafka-local-only}
REGISTRY_PORT=${REGISTRY_PORT:-18081}
REGISTRY_TLS_PORT=${REGISTRY_TLS_PORT:-18444}
REDIS_PORT=${REDIS_PORT:-16379}
CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-18123}
CLICKHOUSE_TCP_PORT=${CLICKHOUSE_TCP_PORT:-19000}
CLICKHOUSE_HTTPS_PORT=${CLICKHOUSE_HTTPS_PORT:-18443}
CLICKHOUSE_WRITER_PASSWORD=${CLICKHOUSE_WRITER_PASSWORD:-writer-local-only}
CLICKHOUSE_READER_PASSWORD=${CLICKHOUSE_READER_PASSWORD:-reader-local-only}
REDIS_PIPELINE_PASSWORD=${REDIS_PIPELINE_PASSWORD:-pipeline-local-only}
# Redis Cluster for scale-out tests: not part of `up`, started by `cluster-up`
REDIS_CLUSTER_PORTS=${REDIS_CLUSTER_PORTS:-16400 16401 16402}
KAFKA_HEAP=${KAFKA_HEAP:--Xms256m -Xmx1g}
REGISTRY_HEAP=${REGISTRY_HEAP:--Xms128m -Xmx512m}

SERVICES=(kafka registry redis clickhouse)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_of() {
  case $1 in
    kafka) echo "$KAFKA_PORT" ;;
    registry) echo "$REGISTRY_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    clickhouse) echo "$CLICKHOUSE_HTTP_PORT" ;;
  esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_file() { echo "$RUN/$1/pid"; }

running_pid() {
  local f
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  local pid
  pid=$(<"$f")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  return 1
}

# ---------------------------------------------------------------------------------------- install

apt_updated=0
apt_install() {
  if [[ $apt_updated == 0 ]]; then
    log "apt-get update"
    apt-get update -q >/dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

install_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v clickhouse-server >/dev/null || missing+=(clickhouse-server)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "missing ${missing[*]}; run as root or install them"
    apt_install "${missing[@]}"
  fi
}

install_kafka() {
  local dest=$DEPS/kafka
  local stamp=$dest/.complete-$(sha256sum "$ROOT/deploy/kafka/pom.xml" | cut -c1-16)
  [[ -f $stamp ]] && return 0
  log "fetching Kafka jars from Maven Central (once)"
  rm -rf "$dest" && mkdir -p "$dest"
  mvn -q -B -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$dest/libs" -DincludeScope=runtime >"$dest/mvn.log" 2>&1 ||
    { cat "$dest/mvn.log" >&2; die "maven could not fetch Kafka"; }
  touch "$stamp"
}

install_registry() {
  local dest=$DEPS/registry
  local stamp=$dest/.complete-$(sha256sum "$ROOT/deploy/registry/pom.xml" | cut -c1-16)
  [[ -f $stamp ]] && return 0
  log "fetching Apicurio Registry from Maven Central (once)"
  rm -rf "$dest" && mkdir -p "$dest/dl" "$dest/app"
  mvn -q -B -f "$ROOT/deploy/registry/pom.xml" dependency:copy \
    -DoutputDirectory="$dest/dl" >"$dest/mvn.log" 2>&1 ||
    { cat "$dest/mvn.log" >&2; die "maven could not fetch Apicurio Registry"; }
  tar xzf "$dest"/dl/*.tar.gz -C "$dest/app"
  rm -rf "$dest/dl"
  ls "$dest"/app/*-runner.jar >/dev/null 2>&1 || die "registry archive has no runner jar"
  touch "$stamp"
}

# Only the dashboard's browser test needs it, so `up` does not pull a browser onto servers.
cmd_install_browser() {
  command -v chromium >/dev/null && return 0
  [[ $(id -u) == 0 ]] || die "missing chromium; run as root or install Debian's chromium package"
  apt_install chromium
}

cmd_install() {
  install_packages
  install_kafka
  install_registry
}

# ------------------------------------------------------------------------------------------ start

spawn() { # spawn NAME LOGFILE CMD...: detached from this shell so `up` can return
  local name=$1 logfile=$2
  shift 2
  setsid nohup "$@" >"$logfile" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

wait_until() { # wait_until NAME SECONDS CHECK...
  local name=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! running_pid "$name" >/dev/null; then
      tail -n 30 "$RUN/$name"/*.log >&2 2>/dev/null || true
      die "$name exited during start; logs in $RUN/$name"
    fi
    ((SECONDS < deadline)) || die "$name did not answer within ${secs}s; logs in $RUN/$name"
    sleep 0.5
  done
}

refuse_foreign_port() { # a port held by something that is not ours would make `up` lie
  local name=$1 port=$2
  if port_open "$port"; then
    die "port $port for $name is already in use by another process; set the matching *_PORT variable"
  fi
}

kafka_java() {
  java -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/deploy/kafka/log4j.properties" \
    -Dkafka.logs.dir="$RUN/kafka/logs" -cp "$DEPS/kafka/libs/*" "$@"
}

kafka_ready() {
  port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$RUN/kafka/logs/server.log"
}

start_kafka() {
  local dir=$RUN/kafka
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT,SASL_SSL://127.0.0.1:$KAFKA_TLS_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT,SASL_SSL://127.0.0.1:$KAFKA_TLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
# clients that must authenticate use SCRAM on their own listeners (plain and TLS); the user is
# created after start
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/server-keystore.pem
log.dirs=$dir/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
log.segment.bytes=268435456
EOF
  make_kafka_tls "$dir/tls"
  if [[ ! -f $dir/data/meta.properties ]]; then
    local cluster_id
    cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid)
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
      >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "kafka storage format failed"; }
  fi
  # server.log is checked for the start line: truncate so a previous run's line cannot count
  : >"$dir/logs/server.log"
  # shellcheck disable=SC2086
  spawn kafka "$dir/stdout.log" java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/deploy/kafka/log4j.properties" \
    -Dkafka.logs.dir="$dir/logs" -cp "$DEPS/kafka/libs/*" kafka.Kafka "$dir/server.properties"
  wait_until kafka 120 kafka_ready
  add_scram_user
}

# A private CA and a server certificate for 127.0.0.1, once per run directory, used by Kafka's
# SASL_SSL listener and ClickHouse's HTTPS port. Clients trust $RUN/kafka/tls/ca.pem
# (KAFKA_SSL_CA_FILE, CLICKHOUSE_CA_FILE).
make_kafka_tls() {
  local tls=$1
  [[ -f $tls/server-keystore.pem ]] && return 0
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ecom-pipeline local CA" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile san.ext -out server.crt
    # Kafka's PEM keystore: the PKCS#8 key, then the certificate chain
    cat server.key server.crt ca.pem >server-keystore.pem
    chmod 600 ca.key server.key server-keystore.pem
  ) >"$RUN/kafka/tls.log" 2>&1 || { cat "$RUN/kafka/tls.log" >&2; die "could not make the Kafka TLS certificate"; }
}

# Idempotent: (re)sets the SCRAM credentials of the client user through the broker (KRaft keeps
# them in the metadata log), so a changed KAFKA_SASL_PASSWORD takes effect on the next start.
add_scram_user() {
  local dir=$RUN/kafka
  kafka_java kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter \
    --add-config "SCRAM-SHA-512=[iterations=4096,password=$KAFKA_SASL_PASSWORD]" \
    --entity-type users --entity-name "$KAFKA_SASL_USERNAME" >"$dir/scram.log" 2>&1 ||
    { cat "$dir/scram.log" >&2; die "could not create the Kafka SCRAM user"; }
}

registry_ready() {
  curl -fsS "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects"
}

start_registry() {
  local dir=$RUN/registry
  mkdir -p "$dir/data"
  make_kafka_tls "$RUN/kafka/tls"
  # H2 in a file, not the in-memory default: schema ids framed into Kafka messages must survive
  # a registry restart.
  # shellcheck disable=SC2086
  spawn registry "$dir/registry.log" java $REGISTRY_HEAP \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.http.ssl-port="$REGISTRY_TLS_PORT" \
    -Dquarkus.http.ssl.certificate.files="$RUN/kafka/tls/server.crt" \
    -Dquarkus.http.ssl.certificate.key-files="$RUN/kafka/tls/server.key" \
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
    -Dapicurio.datasource.url="jdbc:h2:file:$dir/data/registry" \
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
    -Dapicurio.datasource.jdbc.max-size=16 \
    -Dquarkus.log.level=WARN -Dquarkus.log.category.\"io.apicurio\".level=WARN \
    -jar "$(ls "$DEPS"/registry/app/*-runner.jar | head -n1)"
  wait_until registry 180 registry_ready
}

redis_ready() { [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

start_redis() {
  local dir=$RUN/redis
  mkdir -p "$dir"
  local psha
  psha=$(printf '%s' "$REDIS_PIPELINE_PASSWORD" | sha256sum | cut -d' ' -f1)
  sed -e "s#@RUN@#$RUN#g" -e "s#@PORT@#$REDIS_PORT#g" -e "s#@PIPELINE_SHA256@#$psha#g" \
    "$ROOT/deploy/redis/redis.conf.in" >"$dir/redis.conf"
  chmod 600 "$dir/redis.conf"
  spawn redis "$dir/stdout.log" redis-server "$dir/redis.conf"
  wait_until redis 30 redis_ready
}

clickhouse_ready() { [[ $(curl -fsS "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping") == Ok.* ]]; }

start_clickhouse() {
  local dir=$RUN/clickhouse
  mkdir -p "$dir/data" "$dir/tmp" "$dir/log" "$dir/user_files" "$dir/format_schemas"
  make_kafka_tls "$RUN/kafka/tls"
  sed -e "s#@RUN@#$RUN#g" -e "s#@HTTP_PORT@#$CLICKHOUSE_HTTP_PORT#g" \
    -e "s#@TCP_PORT@#$CLICKHOUSE_TCP_PORT#g" -e "s#@HTTPS_PORT@#$CLICKHOUSE_HTTPS_PORT#g" \
    -e "s#@TLS_DIR@#$RUN/kafka/tls#g" "$ROOT/deploy/clickhouse/config.xml.in" >"$dir/config.xml"
  local wsha rsha
  wsha=$(printf '%s' "$CLICKHOUSE_WRITER_PASSWORD" | sha256sum | cut -d' ' -f1)
  rsha=$(printf '%s' "$CLICKHOUSE_READER_PASSWORD" | sha256sum | cut -d' ' -f1)
  sed -e "s#@WRITER_SHA256@#$wsha#g" -e "s#@READER_SHA256@#$rsha#g" \
    "$ROOT/deploy/clickhouse/users.xml.in" >"$dir/users.xml"
  spawn clickhouse "$dir/stdout.log" clickhouse-server --config-file="$dir/config.xml"
  wait_until clickhouse 60 clickhouse_ready
}

start_one() {
  local name=$1
  if pid=$(running_pid "$name"); then
    log "$name already running (pid $pid, port $(port_of "$name"))"
    return 0
  fi
  refuse_foreign_port "$name" "$(port_of "$name")"
  [[ $name == kafka ]] && refuse_foreign_port kafka-controller "$KAFKA_CONTROLLER_PORT"
  [[ $name == kafka ]] && refuse_foreign_port kafka-sasl "$KAFKA_SASL_PORT"
  [[ $name == kafka ]] && refuse_foreign_port kafka-tls "$KAFKA_TLS_PORT"
  [[ $name == clickhouse ]] && refuse_foreign_port clickhouse-https "$CLICKHOUSE_HTTPS_PORT"
  [[ $name == registry ]] && refuse_foreign_port registry-tls "$REGISTRY_TLS_PORT"
  local t0=$SECONDS
  "start_$name"
  log "$name up on port $(port_of "$name") in $((SECONDS - t0))s"
}

cmd_up() {
  local t0=$SECONDS
  cmd_install
  mkdir -p "$RUN"
  local s
  for s in "${SERVICES[@]}"; do start_one "$s"; done
  log "stack ready in $((SECONDS - t0))s (run directory: $RUN)"
}

# ------------------------------------------------------------------------------------------- stop

stop_one() {
  local name=$1 pid
  if ! pid=$(running_pid "$name"); then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in 30s; killing"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$(pid_file "$name")"
  log "$name stopped"
}

cmd_down() {
  local i
  cmd_cluster_down
  # reverse order: clients of Kafka (the registry's readers) go before the broker
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_one "${SERVICES[i]}"; done
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT" "$KAFKA_TLS_PORT" "$REGISTRY_PORT" \
    "$REGISTRY_TLS_PORT" "$REDIS_PORT" "$CLICKHOUSE_HTTP_PORT" "$CLICKHOUSE_TCP_PORT" "$CLICKHOUSE_HTTPS_PORT"; do
    if port_open "$p"; then log "warning: port $p still answers"; fi
  done
}

cmd_status() {
  local s ok=0 pid
  for s in "${SERVICES[@]}"; do
    if pid=$(running_pid "$s") && "${s}_ready" >/dev/null 2>&1; then
      printf '%-11s up    pid %-7s port %s\n' "$s" "$pid" "$(port_of "$s")"
    elif pid=$(running_pid "$s"); then
      printf '%-11s starting/unhealthy pid %s port %s\n' "$s" "$pid" "$(port_of "$s")"
      ok=1
    else
      printf '%-11s down\n' "$s"
      ok=1
    fi
  done
  return $ok
}

# ------------------------------------------------------------------------------- redis cluster

cluster_node_pid() { # prints the pid of a running cluster node, fails if none
  local f=$RUN/redis-cluster/$1/pid
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

cmd_cluster_up() {
  local port dir psha nodes=()
  psha=$(printf '%s' "$REDIS_PIPELINE_PASSWORD" | sha256sum | cut -d' ' -f1)
  for port in $REDIS_CLUSTER_PORTS; do
    nodes+=("127.0.0.1:$port")
    cluster_node_pid "$port" >/dev/null && continue
    refuse_foreign_port "redis-cluster" "$port"
    dir=$RUN/redis-cluster/$port
    mkdir -p "$dir"
    sed -e "s#@RUN@/redis#$dir#g" -e "s#@PORT@#$port#g" -e "s#@PIPELINE_SHA256@#$psha#g" \
      "$ROOT/deploy/redis/redis.conf.in" >"$dir/redis.conf"
    # the bus port defaults to port + 10000, inside the kernel's ephemeral range for our ports,
    # where an outgoing connection can hold it: keep it next to the node's own port
    printf 'cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout 5000\ncluster-port %s\n' \
      "$((port + 100))" >>"$dir/redis.conf"
    chmod 600 "$dir/redis.conf"
    spawn "redis-cluster/$port" "$dir/stdout.log" redis-server "$dir/redis.conf"
    local deadline=$((SECONDS + 20))
    until [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; do
      ((SECONDS < deadline)) || die "cluster node $port did not start; logs in $dir"
      sleep 0.2
    done
  done
  local first=${nodes[0]#*:}
  if ! redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok'; then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$RUN/redis-cluster/create.log" 2>&1 ||
      { cat "$RUN/redis-cluster/create.log" >&2; die "redis-cli --cluster create failed"; }
    local deadline=$((SECONDS + 30))
    until redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok'; do
      ((SECONDS < deadline)) || die "the cluster did not reach state ok"
      sleep 0.2
    done
  fi
  log "redis cluster up on ${nodes[*]}"
}

cmd_cluster_down() {
  local port pid
  for port in $REDIS_CLUSTER_PORTS; do
    if pid=$(cluster_node_pid "$port"); then
      kill -TERM "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      log "redis cluster node $port stopped"
    fi
  done
  # a cluster's identity lives in nodes.conf: a new cluster-up starts from scratch
  rm -rf "$RUN/redis-cluster"
}

cmd_env() {
  cat <<EOF
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
# or, authenticated: KAFKA_BROKERS=127.0.0.1:$KAFKA_SASL_PORT KAFKA_SASL_MECHANISM=scram-sha-512 KAFKA_SASL_USERNAME=$KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD=...
SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
# or, over TLS: SCHEMA_REGISTRY_URL=https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7 SCHEMA_REGISTRY_CA_FILE=$RUN/kafka/tls/ca.pem
REDIS_URL=redis://pipeline:$REDIS_PIPELINE_PASSWORD@127.0.0.1:$REDIS_PORT
CLICKHOUSE_URL=http://127.0.0.1:$CLICKHOUSE_HTTP_PORT
# or, over TLS: CLICKHOUSE_URL=https://127.0.0.1:$CLICKHOUSE_HTTPS_PORT CLICKHOUSE_CA_FILE=$RUN/kafka/tls/ca.pem
EOF
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  install) cmd_install ;;
  install-browser) cmd_install_browser ;;
  clean) cmd_down && rm -rf "$RUN" && log "removed $RUN" ;;
  env) cmd_env ;;
  cluster-up) cmd_cluster_up ;;
  cluster-down) cmd_cluster_down ;;
  restart-one)
    [[ -n ${2:-} ]] || die "usage: $0 restart-one SERVICE"
    stop_one "$2" && start_one "$2"
    ;;
  stop-one)
    [[ -n ${2:-} ]] || die "usage: $0 stop-one SERVICE"
    stop_one "$2"
    ;;
  start-one)
    [[ -n ${2:-} ]] || die "usage: $0 start-one SERVICE"
    start_one "$2"
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
