#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, no ZooKeeper) on
# loopback, without Docker: the jars come from Maven Central via mvn and the
# broker runs as a plain background JVM.
#
#   deploy/kafka/broker.sh start|stop|status
#
# Environment knobs:
#   KAFKA_PORT             client (PLAINTEXT) port            default 9092
#   KAFKA_CONTROLLER_PORT  KRaft controller port              default KAFKA_PORT+1 (9093)
#   KAFKA_DATA_DIR         props, pid, logs and log segments  default .cache/kafka/data-$KAFKA_PORT
#   KAFKA_HEAP_OPTS        broker heap                        default -Xms512m -Xmx1g
#   KAFKA_READY_TIMEOUT    seconds start waits for readiness  default 90
#
# Opt-in secured listener (off unless KAFKA_SECURE_PORT is set):
#   KAFKA_SECURE_PORT          SASL_SSL port (TLS + SCRAM-SHA-512) next to PLAINTEXT
#   KAFKA_SCRAM_USER           SCRAM user created on the broker  default mulewatch
#   KAFKA_SCRAM_PASSWORD_FILE  its password (first line); created with a random
#                              password if missing   default KAFKA_DATA_DIR/secure/scram.password
# The CA clients must trust is KAFKA_DATA_DIR/secure/ca.pem (made by make-certs.sh
# on first start). The controller and inter-broker listeners stay PLAINTEXT on
# loopback; only clients use the secured one.
#
# Two brokers can run side by side by setting only KAFKA_PORT: the controller
# port follows it and the default data dir is keyed on it, so they share
# neither ports nor state.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$REPO/.cache/kafka/data-$KAFKA_PORT}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
KAFKA_SECURE_PORT="${KAFKA_SECURE_PORT:-}"
SECURE_DIR="$KAFKA_DATA_DIR/secure"
KAFKA_SCRAM_USER="${KAFKA_SCRAM_USER:-mulewatch}"
KAFKA_SCRAM_PASSWORD_FILE="${KAFKA_SCRAM_PASSWORD_FILE:-$SECURE_DIR/scram.password}"
HOST=127.0.0.1

# Shared by every broker on this checkout; fetched once.
LIBS_DIR="$REPO/.cache/kafka/libs"
LIBS_MARKER="$LIBS_DIR/.complete"

# Per-broker files, all inside the data dir.
PROPS="$KAFKA_DATA_DIR/server.properties"
PID_FILE="$KAFKA_DATA_DIR/broker.pid"
CLUSTER_ID_FILE="$KAFKA_DATA_DIR/cluster.id"
LOG_DIR="$KAFKA_DATA_DIR/logs"            # broker's own log4j output
OUT_LOG="$KAFKA_DATA_DIR/broker.out"      # JVM stdout/stderr (crashes before log4j starts)
SEGMENTS_DIR="$KAFKA_DATA_DIR/kraft"      # Kafka's log.dirs: topic data + metadata log

# Short-lived tool JVMs only need to start fast, not run fast.
TOOL_JVM_OPTS=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
               "-Dlog4j2.configurationFile=$HERE/log4j2-tools.xml")

say() { echo "broker.sh[:$KAFKA_PORT]: $*"; }
die() { echo "broker.sh[:$KAFKA_PORT]: error: $*" >&2; exit 1; }

require_tools() {
    command -v java >/dev/null || die "java not found (Kafka 4 needs Java 17+)"
    command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars)"
}

# --- jars -------------------------------------------------------------------

# The marker holds the pom's checksum: a fetch that died half-way leaves no
# marker, and editing the pom (e.g. a version bump) invalidates the cache.
pom_checksum() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

libs_ready() { [[ -f "$LIBS_MARKER" && "$(cat "$LIBS_MARKER")" == "$(pom_checksum)" ]]; }

fetch_libs() {
    libs_ready && return 0
    mkdir -p "$(dirname "$LIBS_DIR")"
    # Two brokers started at once on a cold cache must not both write libs/.
    exec 8>"$REPO/.cache/kafka/libs.lock"
    flock 8
    if ! libs_ready; then
        say "fetching Kafka jars from Maven Central into $LIBS_DIR (one time)"
        # Fetch beside libs/ and swap it in whole: a broker that is running
        # from the old libs/ keeps the jars it has open, and a failed fetch
        # changes nothing.
        local staging="$LIBS_DIR.staging" mvn_log="$REPO/.cache/kafka/mvn-fetch.log"
        rm -rf "$staging"
        if ! mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$staging" >"$mvn_log" 2>&1; then
            tail -n 30 "$mvn_log" >&2
            die "mvn could not fetch the Kafka jars (full log: $mvn_log)"
        fi
        pom_checksum >"$staging/.complete"
        rm -rf "$LIBS_DIR.old"
        if [[ -d "$LIBS_DIR" ]]; then mv "$LIBS_DIR" "$LIBS_DIR.old"; fi
        mv "$staging" "$LIBS_DIR"
        rm -rf "$LIBS_DIR.old"
    fi
    exec 8>&-
}

run_tool() { java "${TOOL_JVM_OPTS[@]}" -cp "$LIBS_DIR/*" "$@"; }

# --- configuration -----------------------------------------------------------

secure() { [[ -n "$KAFKA_SECURE_PORT" ]]; }

# The whole broker configuration lives here. The SASL_SSL listener is only
# added (and mapped, and configured) when KAFKA_SECURE_PORT is set.
write_server_properties() {
    local listeners="PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT"
    local advertised="PLAINTEXT://$HOST:$KAFKA_PORT"
    local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    if secure; then
        listeners+=",SASL_SSL://$HOST:$KAFKA_SECURE_PORT"
        advertised+=",SASL_SSL://$HOST:$KAFKA_SECURE_PORT"
        protocols+=",SASL_SSL:SASL_SSL"
    fi
    # When secured the file holds the keystore password: owner-only.
    (umask 077 && : >"$PROPS")
    cat >"$PROPS" <<EOF
# Generated by deploy/kafka/broker.sh on every start; edits are overwritten.
# Single-node KRaft: this one process is both broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER

listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
inter.broker.listener.name=PLAINTEXT

log.dirs=$SEGMENTS_DIR

# Only one broker exists, so every internal topic must live with one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Dev/test broker: consumer groups should form at once, not after 3 s.
group.initial.rebalance.delay.ms=0
num.partitions=1
auto.create.topics.enable=true
EOF
    if secure; then
        cat >>"$PROPS" <<EOF

# Clients on SASL_SSL: TLS with the broker certificate from make-certs.sh,
# then SCRAM-SHA-512 (credentials live in the KRaft metadata log).
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECURE_DIR/broker.p12
ssl.keystore.password=$(cat "$SECURE_DIR/store.password")
ssl.client.auth=none
EOF
    fi
}

# --- secured listener: certificates and the SCRAM user ---------------------------

prepare_secure() {
    "$HERE/make-certs.sh" "$SECURE_DIR" || die "could not create the TLS certificates in $SECURE_DIR"
    if [[ ! -s "$KAFKA_SCRAM_PASSWORD_FILE" ]]; then
        (umask 077 && openssl rand -hex 16 >"$KAFKA_SCRAM_PASSWORD_FILE")
        say "SCRAM password for $KAFKA_SCRAM_USER written to $KAFKA_SCRAM_PASSWORD_FILE"
    fi
}

scram_password() { head -n 1 "$KAFKA_SCRAM_PASSWORD_FILE"; }

# The password goes on a short-lived tool's command line: acceptable for a
# loopback dev broker only.
scram_spec() { echo "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$(scram_password)]"; }

# Storage formatted before the listener was enabled has no SCRAM user: add
# (or reset) it through the PLAINTEXT listener once the broker answers.
ensure_scram_user() {
    run_tool kafka.admin.ConfigCommand --bootstrap-server "$HOST:$KAFKA_PORT" --alter \
        --entity-type users --entity-name "$KAFKA_SCRAM_USER" \
        --add-config "SCRAM-SHA-512=[password=$(scram_password)]" >/dev/null \
        || die "could not create the SCRAM user $KAFKA_SCRAM_USER"
}

# A cluster id is minted once per data dir and reused, because the formatted
# storage remembers it and refuses to start under a different one.
cluster_id() {
    if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
        run_tool kafka.tools.StorageTool random-uuid >"$CLUSTER_ID_FILE.tmp"
        mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
    fi
    cat "$CLUSTER_ID_FILE"
}

# Formatting costs a JVM start, so skip it once the storage has been formatted.
# When secured, a fresh storage gets the SCRAM user at format time
# (FORMATTED_NOW=1); an older one gets it after start (ensure_scram_user).
FORMATTED_NOW=0
format_storage() {
    [[ -f "$SEGMENTS_DIR/meta.properties" ]] && return 0
    say "formatting storage in $SEGMENTS_DIR"
    local scram=()
    if secure; then scram=(--add-scram "$(scram_spec)"); fi
    run_tool kafka.tools.StorageTool format -t "$(cluster_id)" -c "$PROPS" \
        --ignore-formatted "${scram[@]}" >/dev/null
    FORMATTED_NOW=1
}

# --- process state -------------------------------------------------------------

read_pid() { if [[ -f "$PID_FILE" ]]; then cat "$PID_FILE"; fi; }

# True only if $1 is alive AND is our broker (pids get reused after a crash).
is_our_broker() {
    local pid="$1"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $PROPS"
}

# pgrep takes a regex, so the path's special characters are escaped.
pgrep_broker() {
    local pattern
    pattern="$(printf '%s' "kafka.Kafka $PROPS" | sed 's/[][\\.*^$+?(){}|]/\\&/g')"
    pgrep -f -- "$pattern" || true
}

# The pid file is the usual source; the command-line search also finds a
# broker of this data dir whose pid file was deleted.
running_pid() {
    local pid
    pid="$(read_pid)"
    if is_our_broker "$pid"; then echo "$pid"; else pgrep_broker | head -n 1; fi
}

all_broker_pids() { { running_pid; pgrep_broker; } | sort -u; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# --- readiness -------------------------------------------------------------------

# One real client round trip: BrokerApiVersionsCommand sends a metadata
# request to find the brokers, then ApiVersions to each. It only succeeds once
# the broker has joined the KRaft quorum and unfenced itself (an open port is
# not enough: the socket accepts connections before requests are processed).
client_check() {
    timeout 30 java "${TOOL_JVM_OPTS[@]}" -cp "$LIBS_DIR/*" \
        org.apache.kafka.tools.BrokerApiVersionsCommand \
        --bootstrap-server "$HOST:$KAFKA_PORT" >/dev/null 2>&1
}

# The process just launched is alive until it exits or is a zombie. Not
# is_our_broker: on a busy machine the first check can come before the child
# has exec'd java, when its command line is still this script's, and calling
# that "exited" left a broker running that nobody stops.
still_running() {
    local state
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
    [[ -n "$state" && "$state" != Z ]]
}

# Poll the TCP port from bash (cheap), then pay for a JVM-based client check;
# repeat the client check only if the broker was still warming up.
wait_until_ready() {
    local pid="$1" deadline=$((SECONDS + KAFKA_READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! still_running "$pid"; then
            rm -f "$PID_FILE"
            show_logs
            die "broker process $pid exited during startup"
        fi
        if port_open "$KAFKA_PORT" && client_check; then
            return 0
        fi
        sleep 0.5
    done
    show_logs
    say "stopping the half-started broker"
    stop_broker >/dev/null
    die "broker not ready on $HOST:$KAFKA_PORT after ${KAFKA_READY_TIMEOUT}s"
}

# server.log outlives restarts, so only what this launch wrote is shown
# (LOG_OFFSET is its size at launch); broker.out is truncated at launch.
LOG_OFFSET=0
show_logs() {
    local server_log="$LOG_DIR/server.log"
    if [[ -s "$OUT_LOG" ]]; then
        echo "---- last lines of $OUT_LOG ----" >&2
        tail -n 25 "$OUT_LOG" >&2
    fi
    if [[ -f "$server_log" ]] && (($(stat -c %s "$server_log") > LOG_OFFSET)); then
        echo "---- last lines of $server_log ----" >&2
        tail -c +$((LOG_OFFSET + 1)) "$server_log" | tail -n 25 >&2
    fi
}

# --- commands --------------------------------------------------------------------

launch_broker() {
    LOG_OFFSET="$(stat -c %s "$LOG_DIR/server.log" 2>/dev/null || echo 0)"
    # setsid: the broker must outlive this script and ignore Ctrl-C sent to
    # the terminal that started it; nohup and setsid exec, so $! is the java
    # pid. Fds 8/9 are closed so the broker does not inherit (and hold
    # forever) the flocks this script takes.
    # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of JVM flags
    nohup setsid java $KAFKA_HEAP_OPTS -server -Djava.awt.headless=true \
        "-Dkafka.logs.dir=$LOG_DIR" "-Dlog4j2.configurationFile=$HERE/log4j2.xml" \
        -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS" >"$OUT_LOG" 2>&1 </dev/null 8>&- 9>&- &
    echo $! >"$PID_FILE"
}

start_broker() {
    local t0=$SECONDS pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        echo "$pid" >"$PID_FILE"   # restores a deleted pid file
        if port_open "$KAFKA_PORT"; then
            say "already running (pid $pid) on $HOST:$KAFKA_PORT; nothing to do"
            return 0
        fi
        say "pid $pid is still starting; waiting for it"
        wait_until_ready "$pid"
        say "ready on $HOST:$KAFKA_PORT (pid $pid)"
        return 0
    fi
    if [[ -f "$PID_FILE" ]]; then
        say "removing stale pid file (process $(read_pid) is gone or is not this broker)"
        rm -f "$PID_FILE"
    fi
    # Fail clearly instead of letting the JVM die on "Address already in use".
    local port
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" $KAFKA_SECURE_PORT; do
        port_open "$port" && die "port $port is already in use by another process"
    done

    fetch_libs
    mkdir -p "$LOG_DIR" "$SEGMENTS_DIR"
    if secure; then prepare_secure; fi
    write_server_properties
    format_storage
    launch_broker
    pid="$(read_pid)"
    say "started pid $pid; waiting for it to answer clients"
    wait_until_ready "$pid"
    if secure && ((FORMATTED_NOW == 0)); then ensure_scram_user; fi
    say "ready on $HOST:$KAFKA_PORT (pid $pid, data $KAFKA_DATA_DIR) in $((SECONDS - t0))s"
    if secure; then
        say "SASL_SSL (SCRAM-SHA-512, user $KAFKA_SCRAM_USER) on $HOST:$KAFKA_SECURE_PORT, CA $SECURE_DIR/ca.pem"
    fi
}

# SIGTERM lets Kafka flush and close its logs cleanly (fast restart, no log
# recovery); SIGKILL after ~30 s guarantees nothing is left behind.
stop_broker() {
    local pids
    pids="$(all_broker_pids)"
    if [[ -z "$pids" ]]; then
        rm -f "$PID_FILE"
        say "not running"
        return 0
    fi
    say "stopping pid(s) ${pids//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
        pids="$(all_broker_pids)"
        [[ -z "$pids" ]] && break
        sleep 0.5
    done
    if [[ -n "$pids" ]]; then
        say "still alive after 30s; sending SIGKILL to ${pids//$'\n'/ }"
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$PID_FILE"
    say "stopped"
}

status_broker() {
    local pid
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        say "stopped"
        return 1
    fi
    if port_open "$KAFKA_PORT"; then
        say "running (pid $pid) on $HOST:$KAFKA_PORT, data $KAFKA_DATA_DIR"
    else
        say "running (pid $pid) but not yet listening on $HOST:$KAFKA_PORT"
    fi
}

# Serialise start/stop/status per data dir so two concurrent starts cannot
# launch two brokers on the same storage.
lock_data_dir() {
    mkdir -p "$KAFKA_DATA_DIR"
    exec 9>"$KAFKA_DATA_DIR/broker.lock"
    flock 9
}

main() {
    local cmd="${1:-}"
    case "$cmd" in
        start) require_tools; lock_data_dir; start_broker ;;
        # A data dir that was never created has no broker: do not create it.
        stop) [[ -d "$KAFKA_DATA_DIR" ]] && lock_data_dir; stop_broker ;;
        status) [[ -d "$KAFKA_DATA_DIR" ]] && lock_data_dir; status_broker ;;
        *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
    esac
}

main "$@"
