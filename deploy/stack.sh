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
#   deploy/stack.sh replicated-up     the replicated profile: 3 Kafka KRaft nodes, a Redis Cluster of
#                                     3 masters + 3 replicas, the registry and ClickHouse
#   deploy/stack.sh replicated-down   stop all of it; no process or port left
#   deploy/stack.sh replicated-status one line per node; exit 0 only when all answer
#   deploy/stack.sh kafka-node-kill N|kafka-node-start N   SIGKILL / start again Kafka node N (1..3)
#   deploy/stack.sh kafka-node-leading TOPIC   the node id leading the most partitions of TOPIC
#   deploy/stack.sh redis-node-kill PORT|redis-node-start PORT   SIGKILL / start again a Redis node
#   deploy/stack.sh redis-masters     the ports of the current masters, one per line
#   deploy/stack.sh redis-wait-ok     wait (up to 60s) until every live node has cluster_state:ok and
#                                     every slot is served by a live master (after a kill: failed over)
#
# Everything lives under STACK_RUN_DIR (default .run/); downloaded jars under STACK_DEPS_DIR
# (default .deps/) so that `clean` does not force a re-download.
#
# The replicated profile (fault runs on replicated engines) uses ports of its own:
#   KAFKA_REPLICATED_PORTS   "27192 27292 27392": node i (node.id i) has its PLAINTEXT listener on
#                            the i-th port and its CONTROLLER listener on that port + 1
#   KAFKA_REPLICATED_HEAP    per node; default KAFKA_HEAP if set in the environment, else
#                            "-Xms256m -Xmx768m"
#   REDIS_REPLICATED_PORTS   "27401 27402 27403 27404 27405 27406" (cluster bus on port + 100)
#   REDIS_REPLICATED_NODE_TIMEOUT   cluster-node-timeout in ms, 3000
# The registry and ClickHouse keep REGISTRY_PORT, REGISTRY_TLS_PORT, CLICKHOUSE_*_PORT. Run
# directories: $STACK_RUN_DIR/kafka-r/<node id>/ and $STACK_RUN_DIR/redis-r/<port>/.
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
# the replicated profile (replicated-up): see the header
KAFKA_REPLICATED_PORTS=${KAFKA_REPLICATED_PORTS:-27192 27292 27392}
REDIS_REPLICATED_PORTS=${REDIS_REPLICATED_PORTS:-27401 27402 27403 27404 27405 27406}
REDIS_REPLICATED_NODE_TIMEOUT=${REDIS_REPLICATED_NODE_TIMEOUT:-3000}
# read before KAFKA_HEAP gets its single-node default: three nodes share two cores and the memory
KAFKA_REPLICATED_HEAP=${KAFKA_REPLICATED_HEAP:-${KAFKA_HEAP:--Xms256m -Xmx768m}}
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

# -------------------------------------------------------------------------- replicated profile
# Kafka with 3 KRaft nodes in combined mode and a Redis Cluster with a replica per master, for
# fault runs that kill single nodes. Separate from `up`: own ports, own run directories
# ($RUN/kafka-r/<node id>/, $RUN/redis-r/<port>/); the registry and ClickHouse are the same
# services `up` starts.

pid_alive() { # a killed child not yet reaped still answers kill -0: count a zombie as gone
  kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]
}

stop_many() { # stop_many SIGNAL NAME...: signal all at once, wait until gone (TERM: 30s, then KILL)
  local sig=$1 name pid pids=() names=()
  shift
  for name in "$@"; do
    if pid=$(running_pid "$name"); then
      kill "-$sig" "$pid" 2>/dev/null || true
      pids+=("$pid") names+=("$name")
    else
      rm -f "$(pid_file "$name")"
    fi
  done
  local i deadline=$((SECONDS + 30))
  for i in "${!pids[@]}"; do
    while pid_alive "${pids[i]}" && ((SECONDS < deadline)); do sleep 0.2; done
    if pid_alive "${pids[i]}"; then
      log "${names[i]} did not stop in 30s; killing"
      kill -KILL "${pids[i]}" 2>/dev/null || true
      while pid_alive "${pids[i]}"; do sleep 0.1; done
    fi
    rm -f "$(pid_file "${names[i]}")"
    log "${names[i]} stopped${sig:+ (SIG$sig)}"
  done
}

# ---- Kafka, 3 nodes

KR_PORTS=()
kr_init() {
  read -r -a KR_PORTS <<<"$KAFKA_REPLICATED_PORTS"
  ((${#KR_PORTS[@]} >= 3)) || die "KAFKA_REPLICATED_PORTS needs at least 3 ports (replication factor 3), got '$KAFKA_REPLICATED_PORTS'"
}
kr_ids() { seq 1 "${#KR_PORTS[@]}"; }
kr_port() { echo "${KR_PORTS[$1 - 1]}"; }
kr_controller_port() { echo $(($(kr_port "$1") + 1)); }
kr_check_id() {
  if ! [[ ${1:-} =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > ${#KR_PORTS[@]})); then
    die "Kafka node id must be 1..${#KR_PORTS[@]}, got '${1:-}'"
  fi
}

kr_java() { # short-lived tools (TopicCommand, StorageTool...): small heap, logs apart from the nodes'
  mkdir -p "$RUN/kafka-r/tools"
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/deploy/kafka/log4j.properties" \
    -Dkafka.logs.dir="$RUN/kafka-r/tools" -cp "$DEPS/kafka/libs/*" "$@"
}

kr_bootstrap() { # the nodes whose process runs, comma-separated (all of them if none runs)
  local id list=()
  for id in $(kr_ids); do
    running_pid "kafka-r/$id" >/dev/null && list+=("127.0.0.1:$(kr_port "$id")")
  done
  if ((${#list[@]} == 0)); then
    for id in $(kr_ids); do list+=("127.0.0.1:$(kr_port "$id")"); done
  fi
  local IFS=,
  echo "${list[*]}"
}

kr_write_config() {
  local id=$1 dir=$RUN/kafka-r/$1 voters=() i
  for i in $(kr_ids); do voters+=("$i@127.0.0.1:$(kr_controller_port "$i")"); done
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$(IFS=,; echo "${voters[*]}")
listeners=PLAINTEXT://127.0.0.1:$(kr_port "$id"),CONTROLLER://127.0.0.1:$(kr_controller_port "$id")
advertised.listeners=PLAINTEXT://127.0.0.1:$(kr_port "$id")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
log.segment.bytes=268435456
EOF
}

kr_cluster_id() { # one id for all nodes: generated once, kept next to the node directories
  local f=$RUN/kafka-r/cluster.id id m
  if [[ ! -s $f ]]; then
    # a node formatted earlier fixes the id
    for id in $(kr_ids); do
      m=$RUN/kafka-r/$id/data/meta.properties
      [[ -f $m ]] && sed -n 's/^cluster\.id=//p' "$m" >"$f" && [[ -s $f ]] && break
    done
  fi
  if [[ ! -s $f ]]; then
    kr_java kafka.tools.StorageTool random-uuid >"$f.tmp" 2>/dev/null || die "kafka random-uuid failed"
    mv "$f.tmp" "$f"
  fi
  cat "$f"
}

kr_format() {
  local id=$1 dir=$RUN/kafka-r/$1
  [[ -f $dir/data/meta.properties ]] && return 0
  kr_java kafka.tools.StorageTool format -t "$(kr_cluster_id)" -c "$dir/server.properties" \
    >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "kafka storage format of node $id failed"; }
}

kr_spawn() {
  local id=$1 dir=$RUN/kafka-r/$1
  refuse_foreign_port "kafka-r/$id" "$(kr_port "$id")"
  refuse_foreign_port "kafka-r/$id controller" "$(kr_controller_port "$id")"
  kr_write_config "$id"
  kr_format "$id"
  # server.log is checked for the start line: truncate so a previous run's line cannot count
  : >"$dir/logs/server.log"
  # shellcheck disable=SC2086
  spawn "kafka-r/$id" "$dir/stdout.log" java $KAFKA_REPLICATED_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/deploy/kafka/log4j.properties" \
    -Dkafka.logs.dir="$dir/logs" -cp "$DEPS/kafka/libs/*" kafka.Kafka "$dir/server.properties"
  log "kafka node $id starting (pid $(<"$(pid_file "kafka-r/$id")"), port $(kr_port "$id"))"
}

kr_ready() {
  port_open "$(kr_port "$1")" && grep -q 'Kafka Server started' "$RUN/kafka-r/$1/logs/server.log"
}

kr_broker_count() { # brokers the cluster's metadata lists (registered and not fenced)
  kr_java kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$(kr_bootstrap)" 2>/dev/null |
    grep -cE '\(id: [0-9]+ rack' || true
}

kr_wait_brokers() {
  local want=${#KR_PORTS[@]} n deadline=$((SECONDS + 90))
  while :; do
    n=$(kr_broker_count)
    ((n >= want)) && break
    ((SECONDS < deadline)) || die "the Kafka cluster lists $n of $want brokers after 90s; logs in $RUN/kafka-r"
    sleep 1
  done
  log "kafka cluster: $n brokers registered"
}

cmd_kafka_node_kill() {
  kr_init
  kr_check_id "${1:-}"
  running_pid "kafka-r/$1" >/dev/null || die "kafka node $1 is not running"
  stop_many KILL "kafka-r/$1"
}

cmd_kafka_node_start() {
  kr_init
  kr_check_id "${1:-}"
  local id=$1 pid t0=$SECONDS
  if pid=$(running_pid "kafka-r/$id"); then
    log "kafka node $id already running (pid $pid, port $(kr_port "$id"))"
    return 0
  fi
  [[ -f $RUN/kafka-r/$id/data/meta.properties ]] || die "kafka node $id was never formatted; run replicated-up"
  kr_spawn "$id"
  wait_until "kafka-r/$id" 120 kr_ready "$id"
  log "kafka node $id up on port $(kr_port "$id") in $((SECONDS - t0))s"
}

cmd_kafka_node_leading() {
  kr_init
  [[ -n ${1:-} ]] || die "usage: $0 kafka-node-leading TOPIC"
  local out
  out=$(kr_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(kr_bootstrap)" \
    --describe --topic "$1" 2>&1) || { printf '%s\n' "$out" >&2; die "could not describe topic $1"; }
  # "... Partition: 0  Leader: 2  Replicas: ..."; Leader: -1 (none) does not count
  printf '%s\n' "$out" | grep -oE 'Leader: [0-9]+' | awk '{n[$2]++} END {for (l in n) print n[l], l}' |
    sort -k1,1nr -k2,2n | awk 'NR == 1 {print $2; found = 1} END {exit !found}' ||
    die "topic $1 has no partition with a leader"
}

# ---- Redis Cluster, a replica per master

RR_PORTS=()
rr_init() {
  read -r -a RR_PORTS <<<"$REDIS_REPLICATED_PORTS"
  ((${#RR_PORTS[@]} >= 6 && ${#RR_PORTS[@]} % 2 == 0)) ||
    die "REDIS_REPLICATED_PORTS needs an even number (at least 6) of ports, got '$REDIS_REPLICATED_PORTS'"
}
rr_check_port() {
  local p
  for p in "${RR_PORTS[@]}"; do [[ $p == "${1:-}" ]] && return 0; done
  die "'${1:-}' is not one of REDIS_REPLICATED_PORTS ($REDIS_REPLICATED_PORTS)"
}
rr_ping() { [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]]; }

rr_spawn() {
  local port=$1 dir=$RUN/redis-r/$1 psha
  refuse_foreign_port "redis-r/$port" "$port"
  refuse_foreign_port "redis-r/$port bus" "$((port + 100))"
  psha=$(printf '%s' "$REDIS_PIPELINE_PASSWORD" | sha256sum | cut -d' ' -f1)
  mkdir -p "$dir"
  sed -e "s#@RUN@/redis#$dir#g" -e "s#@PORT@#$port#g" -e "s#@PIPELINE_SHA256@#$psha#g" \
    "$ROOT/deploy/redis/redis.conf.in" >"$dir/redis.conf"
  # the bus port defaults to port + 10000, inside the kernel's ephemeral range for our ports,
  # where an outgoing connection can hold it: keep it next to the node's own port (as cluster-up)
  printf 'cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout %s\ncluster-port %s\n' \
    "$REDIS_REPLICATED_NODE_TIMEOUT" "$((port + 100))" >>"$dir/redis.conf"
  chmod 600 "$dir/redis.conf"
  spawn "redis-r/$port" "$dir/stdout.log" redis-server "$dir/redis.conf"
}

rr_wait_ping() {
  local port=$1 deadline=$((SECONDS + 30))
  until rr_ping "$port"; do # a node replaying its AOF answers LOADING, not PONG
    running_pid "redis-r/$port" >/dev/null ||
      { tail -n 20 "$RUN/redis-r/$port/redis.log" >&2 2>/dev/null; die "redis node $port exited during start"; }
    ((SECONDS < deadline)) || die "redis node $port did not answer PING within 30s; logs in $RUN/redis-r/$port"
    sleep 0.2
  done
}

rr_live_ports() { # the nodes that run and answer
  local p
  for p in "${RR_PORTS[@]}"; do
    running_pid "redis-r/$p" >/dev/null && rr_ping "$p" && echo "$p"
  done
  return 0
}

rr_cluster_nodes() { # CLUSTER NODES as seen by the first live node
  local p
  for p in $(rr_live_ports); do
    redis-cli -p "$p" cluster nodes 2>/dev/null && return 0
  done
  die "no node of the replicated Redis cluster answers"
}

# CLUSTER NODES lines: id addr flags master ping pong epoch link slot...; addr is ip:port@bus
rr_masters() { # master ports; failed nodes (flagged fail or fail?, or whose process is gone) left out
  local nodes live
  nodes=$(rr_cluster_nodes) || return 1
  live=" $(rr_live_ports | paste -sd' ') "
  printf '%s\n' "$nodes" | awk -v live="$live" '{
    n = split($3, f, ","); m = 0; bad = 0
    for (i = 1; i <= n; i++) { if (f[i] == "master") m = 1; if (f[i] ~ /^(fail|fail\?|noaddr|handshake)$/) bad = 1 }
    a = $2; sub(/@.*/, "", a); sub(/.*:/, "", a)
    if (m && !bad && index(live, " " a " ")) print a
  }' | sort -n
}

# Settled: cluster_state:ok on every live node, and in every live node's view each slot owner is a
# live node not flagged as failing. The second half matters right after a master is killed: the
# others keep cluster_state:ok until they flag it fail (cluster-node-timeout), which is before,
# not after, a replica takes its slots over.
rr_all_ok() {
  local p n=0 live
  live=" $(rr_live_ports | paste -sd' ') "
  for p in $live; do
    redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    redis-cli -p "$p" cluster nodes 2>/dev/null | awk -v live="$live" '
      NF >= 9 {
        a = $2; sub(/@.*/, "", a); sub(/.*:/, "", a)
        if ($3 ~ /(^|,)fail\??(,|$)/ || !index(live, " " a " ")) bad = 1
      }
      END { exit bad }' || return 1
    n=$((n + 1))
  done
  ((n > 0))
}

rr_replicas_ok() { # every master has a replica whose link is up
  local m ms
  ms=$(rr_masters) || return 1
  [[ -n $ms ]] || return 1
  for m in $ms; do
    redis-cli -p "$m" info replication 2>/dev/null | grep -q '^slave[0-9]*:.*state=online' || return 1
  done
}

cmd_redis_wait_ok() {
  rr_init
  local deadline=$((SECONDS + 60)) t0=$SECONDS
  until rr_all_ok; do
    ((SECONDS < deadline)) || die "the replicated Redis cluster is not ok on every live node after 60s"
    sleep 0.2
  done
  log "redis cluster_state:ok on $(rr_live_ports | paste -sd' ') ($((SECONDS - t0))s)"
}

cmd_redis_masters() {
  rr_init
  rr_masters
}

cmd_redis_node_kill() {
  rr_init
  rr_check_port "${1:-}"
  running_pid "redis-r/$1" >/dev/null || die "redis node $1 is not running"
  stop_many KILL "redis-r/$1"
}

cmd_redis_node_start() {
  rr_init
  rr_check_port "${1:-}"
  local port=$1 pid
  if pid=$(running_pid "redis-r/$port"); then
    log "redis node $port already running (pid $pid)"
    return 0
  fi
  # nodes.conf in its directory keeps its identity: it rejoins (as a replica if failed over)
  [[ -f $RUN/redis-r/$port/nodes.conf ]] || die "redis node $port has no nodes.conf; run replicated-up"
  rr_spawn "$port"
  rr_wait_ping "$port"
  # a rejoining replica serves a failover only once it holds its master's data: wait for the
  # (full, after repl-diskless-sync-delay) sync, or for the node to be a master with slots
  local deadline=$((SECONDS + 30)) role=unknown
  while ((SECONDS < deadline)); do
    if redis-cli -p "$port" info replication 2>/dev/null | grep -q '^master_link_status:up'; then
      role=replica && break
    fi
    if redis-cli -p "$port" cluster nodes 2>/dev/null | awk '$3 ~ /myself/ && $3 ~ /master/ && NF >= 9 {f = 1} END {exit !f}'; then
      role=master && break
    fi
    sleep 0.2
  done
  [[ $role == unknown ]] && log "warning: redis node $port answers but is neither a synced replica nor a master with slots after 30s"
  log "redis node $port up ($role)"
}

rr_up() {
  local port nodes=() started=()
  for port in "${RR_PORTS[@]}"; do
    nodes+=("127.0.0.1:$port")
    running_pid "redis-r/$port" >/dev/null && continue
    rr_spawn "$port"
    started+=("$port")
  done
  for port in "${started[@]}"; do rr_wait_ping "$port"; done
  # created once: a node that knows others already belongs to the cluster
  local known=0 n
  for port in "${RR_PORTS[@]}"; do
    n=$(redis-cli -p "$port" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')
    ((n > 1)) && known=1
  done
  if ((known == 0)); then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$RUN/redis-r/create.log" 2>&1 ||
      { cat "$RUN/redis-r/create.log" >&2; die "redis-cli --cluster create failed"; }
  fi
}

rr_wait_up() {
  local deadline=$((SECONDS + 60))
  until rr_all_ok && rr_replicas_ok; do
    ((SECONDS < deadline)) || die "the replicated Redis cluster did not reach state ok with a replica per master in 60s"
    sleep 0.3
  done
  log "redis cluster ok; masters $(rr_masters | paste -sd' ')"
}

# ---- the profile

cmd_replicated_up() {
  local t0=$SECONDS id pid
  cmd_install
  mkdir -p "$RUN/kafka-r" "$RUN/redis-r"
  kr_init
  rr_init
  # the nodes form their quorum together: start all before waiting for any
  local kstarted=()
  for id in $(kr_ids); do
    if pid=$(running_pid "kafka-r/$id"); then
      log "kafka node $id already running (pid $pid, port $(kr_port "$id"))"
    else
      kr_spawn "$id"
      kstarted+=("$id")
    fi
  done
  rr_up
  # the registry does not depend on Kafka: it starts while the nodes elect a controller
  start_one registry
  start_one clickhouse
  for id in "${kstarted[@]}"; do wait_until "kafka-r/$id" 120 kr_ready "$id"; done
  kr_wait_brokers
  rr_wait_up
  log "replicated stack ready in $((SECONDS - t0))s (run directory: $RUN)"
}

cmd_replicated_down() {
  kr_init
  rr_init
  local id p names=()
  stop_one registry
  for id in $(kr_ids); do names+=("kafka-r/$id"); done
  # all nodes at once: each shuts down while the others still make a quorum
  stop_many TERM "${names[@]}"
  names=()
  for p in "${RR_PORTS[@]}"; do names+=("redis-r/$p"); done
  stop_many TERM "${names[@]}"
  stop_one clickhouse
  # a cluster's identity lives in nodes.conf: a new replicated-up starts from scratch
  rm -rf "$RUN/redis-r"
  local ports=("$REGISTRY_PORT" "$REGISTRY_TLS_PORT" "$CLICKHOUSE_HTTP_PORT" "$CLICKHOUSE_TCP_PORT" "$CLICKHOUSE_HTTPS_PORT")
  for p in "${KR_PORTS[@]}"; do ports+=("$p" "$((p + 1))"); done
  for p in "${RR_PORTS[@]}"; do ports+=("$p" "$((p + 100))"); done
  for p in "${ports[@]}"; do
    if port_open "$p"; then log "warning: port $p still answers"; fi
  done
}

cmd_replicated_status() {
  kr_init
  rr_init
  local id p pid ok=0 role
  for id in $(kr_ids); do
    if pid=$(running_pid "kafka-r/$id") && kr_ready "$id"; then
      printf '%-15s up    pid %-7s port %s (controller %s)\n' "kafka-r/$id" "$pid" "$(kr_port "$id")" "$(kr_controller_port "$id")"
    elif pid=$(running_pid "kafka-r/$id"); then
      printf '%-15s starting/unhealthy pid %s port %s\n' "kafka-r/$id" "$pid" "$(kr_port "$id")"
      ok=1
    else
      printf '%-15s down  port %s\n' "kafka-r/$id" "$(kr_port "$id")"
      ok=1
    fi
  done
  for p in "${RR_PORTS[@]}"; do
    if pid=$(running_pid "redis-r/$p") && rr_ping "$p"; then
      role=$(redis-cli -p "$p" role 2>/dev/null | head -n1)
      [[ $role == slave ]] && role=replica
      printf '%-15s up    pid %-7s port %s %s\n' "redis-r/$p" "$pid" "$p" "$role"
    elif pid=$(running_pid "redis-r/$p"); then
      printf '%-15s starting/unhealthy pid %s port %s\n' "redis-r/$p" "$pid" "$p"
      ok=1
    else
      printf '%-15s down  port %s\n' "redis-r/$p" "$p"
      ok=1
    fi
  done
  for p in registry clickhouse; do
    if pid=$(running_pid "$p") && "${p}_ready" >/dev/null 2>&1; then
      printf '%-15s up    pid %-7s port %s\n' "$p" "$pid" "$(port_of "$p")"
    else
      printf '%-15s down  port %s\n' "$p" "$(port_of "$p")"
      ok=1
    fi
  done
  return $ok
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
  replicated-up) cmd_replicated_up ;;
  replicated-down) cmd_replicated_down ;;
  replicated-status) cmd_replicated_status ;;
  kafka-node-kill) cmd_kafka_node_kill "${2:-}" ;;
  kafka-node-start) cmd_kafka_node_start "${2:-}" ;;
  kafka-node-leading) cmd_kafka_node_leading "${2:-}" ;;
  redis-node-kill) cmd_redis_node_kill "${2:-}" ;;
  redis-node-start) cmd_redis_node_start "${2:-}" ;;
  redis-masters) cmd_redis_masters ;;
  redis-wait-ok) cmd_redis_wait_ok ;;
  *)
    sed -n '2,/^# Everything lives/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
