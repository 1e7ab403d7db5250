#!/usr/bin/env bash
# scripts/broker.sh — a private RabbitMQ node for ddrouter development and tests.
#
#   scripts/broker.sh start | stop | restart | status | reset | wait | env | install | logs | list [RUN]
#   scripts/broker.sh ctl ARGS...      (rabbitmqctl -n <node> ARGS, with the node's cookie)
#
# The node runs as a plain background process (no systemd), as the invoking user,
# bound to 127.0.0.1 only, with every file under the repository's ignored
# var/broker/<instance>/. See docs/broker-dev.md for ports, users, TLS and
# troubleshooting.
#
# Environment (read when the instance is started; a running instance keeps the
# settings it was started with, recorded in var/broker/<instance>/settings.env):
#   DDR_BROKER_INSTANCE  instance name                     (default: dev)
#   DDR_NODE_NAME        Erlang node name                  (default: ddrouter-<instance>@localhost)
#   DDR_AMQP_PORT        AMQP listener on 127.0.0.1        (default: 5682)
#   DDR_AMQPS_PORT       AMQPS listener on 127.0.0.1       (default: 5681; only with DDR_TLS_DIR)
#   DDR_DIST_PORT        Erlang distribution port          (default: 25682)
#   DDR_TLS_DIR          directory with ca.pem, server.pem, server-key.pem: enables TLS
#   DDR_AMQP_EXTRA_ADDRESSES  further IPv4 addresses of this host, space-separated, where the
#                        AMQP listener also listens (same port): the namespace lab's host end
#                        for `make test-faults` (scripts/netns-lab.sh); default none
#   DDR_BROKER_START_TIMEOUT  seconds to wait for the node (default: 120)
#
# Exit status: 0 success; 1 failure; status: 3 when the instance is not running.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/broker.sh"
RMQ_BIN=/usr/lib/rabbitmq/bin
EPMD_PORT="${ERL_EPMD_PORT:-4369}"

INSTANCE="${DDR_BROKER_INSTANCE:-dev}"
if [[ ! "$INSTANCE" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]]; then
    echo "broker.sh: invalid DDR_BROKER_INSTANCE '$INSTANCE' (letters, digits, '-', '_')" >&2
    exit 1
fi
BASE="$ROOT/var/broker"
DIR="$BASE/$INSTANCE"
PID_FILE="$DIR/pid"
WRAPPER_PID_FILE="$DIR/wrapper.pid"
SETTINGS_FILE="$DIR/settings.env"
EPMD_PID_FILE="$BASE/epmd.pid"
START_TIMEOUT="${DDR_BROKER_START_TIMEOUT:-120}"

APT_PACKAGES=(rabbitmq-server librabbitmq-dev openssl zlib1g-dev)

say() { printf 'broker[%s]: %s\n' "$INSTANCE" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- settings

# Settings of the instance: the recorded ones while it runs, otherwise from the
# environment with defaults.
load_settings() {
    if [[ "${1:-}" != requested ]] && beam_alive && [[ -f "$SETTINGS_FILE" ]]; then
        # shellcheck source=/dev/null
        . "$SETTINGS_FILE"
        return
    fi
    NODE="${DDR_NODE_NAME:-ddrouter-$INSTANCE@localhost}"
    AMQP_PORT="${DDR_AMQP_PORT:-5682}"
    AMQPS_PORT="${DDR_AMQPS_PORT:-5681}"
    DIST_PORT="${DDR_DIST_PORT:-25682}"
    TLS_DIR="${DDR_TLS_DIR:-}"
    EXTRA_ADDRESSES="${DDR_AMQP_EXTRA_ADDRESSES:-}"
    local a
    for a in $EXTRA_ADDRESSES; do
        [[ "$a" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ && "$a" != 0.0.0.0 ]] || die "DDR_AMQP_EXTRA_ADDRESSES: '$a' is not one IPv4 address"
    done
    if [[ -n "$TLS_DIR" ]]; then
        TLS_DIR="$(cd "$TLS_DIR" 2>/dev/null && pwd)" || die "DDR_TLS_DIR '$DDR_TLS_DIR' is not a directory"
    fi
    for p in "$AMQP_PORT" "$AMQPS_PORT" "$DIST_PORT"; do
        [[ "$p" =~ ^[0-9]+$ ]] || die "port '$p' is not a number"
    done
}

write_settings() {
    {
        printf 'NODE=%q\n' "$NODE"
        printf 'AMQP_PORT=%q\n' "$AMQP_PORT"
        printf 'AMQPS_PORT=%q\n' "$AMQPS_PORT"
        printf 'DIST_PORT=%q\n' "$DIST_PORT"
        printf 'TLS_DIR=%q\n' "$TLS_DIR"
        printf 'EXTRA_ADDRESSES=%q\n' "$EXTRA_ADDRESSES"
        # Set by `make test` so that it can stop what its tests left running.
        printf 'STARTED_BY=%q\n' "${DDR_TEST_RUN:-}"
    } >"$SETTINGS_FILE"
}

# Environment shared by the server and rabbitmqctl: same HOME (so the same
# private Erlang cookie), epmd on loopback, no system-wide rabbitmq-env.conf.
rmq_env() {
    export HOME="$DIR/home"
    export ERL_EPMD_ADDRESS=127.0.0.1
    export ERL_EPMD_PORT="$EPMD_PORT"
    export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
    export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_CRASH_DUMP="$DIR/log/erl_crash.dump"
    unset RABBITMQ_ERLANG_COOKIE RABBITMQ_NODENAME ERL_LIBS
}

ctl_raw() {
    ( rmq_env; cd "$DIR"; exec "$RMQ_BIN/rabbitmqctl" -n "$NODE" "$@" )
}

# ---------------------------------------------------------------- processes

read_pid() { [[ -f "$1" ]] && tr -dc '0-9' <"$1" || true; }

# The pid recorded in var/broker/<instance>/pid is a live beam process of this instance.
beam_alive() {
    local pid
    pid="$(read_pid "$PID_FILE")"
    [[ -n "$pid" ]] && is_our_beam "$pid"
}

is_our_beam() {
    local pid="$1"
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'beam' || return 1
    # The marker variable guards against a recycled pid.
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "DDR_BROKER_DIR=$DIR"
}

port_open() { # port → 0 when something accepts TCP on 127.0.0.1:port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to $2 seconds for pid $1 to exit.
wait_exit() {
    local pid="$1" n=$(($2 * 10))
    while kill -0 "$pid" 2>/dev/null && ((n-- > 0)); do sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null
}

any_instance_running() {
    local d pid
    for d in "$BASE"/*/; do
        [[ -f "$d/pid" ]] || continue
        pid="$(read_pid "$d/pid")"
        [[ -n "$pid" ]] || continue
        if kill -0 "$pid" 2>/dev/null &&
            tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "DDR_BROKER_DIR=${d%/}"; then
            return 0
        fi
    done
    return 1
}

# epmd: reuse one that is already listening (shared with other instances or
# the system); otherwise start one bound to loopback and remember its pid so
# that the last instance to stop can end it.
ensure_epmd() {
    port_open "$EPMD_PORT" && return 0
    mkdir -p "$BASE"
    setsid epmd -address 127.0.0.1 -port "$EPMD_PORT" </dev/null >>"$BASE/epmd.log" 2>&1 9>&- &
    echo $! >"$EPMD_PID_FILE"
    local n=50
    while ! port_open "$EPMD_PORT"; do
        ((n-- > 0)) || die "epmd did not start on 127.0.0.1:$EPMD_PORT (see $BASE/epmd.log)"
        sleep 0.1
    done
}

maybe_stop_epmd() {
    local pid
    pid="$(read_pid "$EPMD_PID_FILE")"
    [[ -n "$pid" ]] || return 0
    if ! kill -0 "$pid" 2>/dev/null || ! grep -q epmd "/proc/$pid/comm" 2>/dev/null; then
        rm -f "$EPMD_PID_FILE"
        return 0
    fi
    any_instance_running && return 0
    # Leave it if some other Erlang node (not ours) still uses it.
    local names
    names="$(ERL_EPMD_PORT="$EPMD_PORT" epmd -names 2>/dev/null | grep -c '^name ' || true)"
    if [[ "${names:-0}" != 0 ]]; then
        say "leaving epmd (pid $pid) running: other Erlang nodes are registered"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$EPMD_PID_FILE"
    say "stopped epmd (pid $pid)"
}

# ---------------------------------------------------------------- install

missing_packages() {
    local missing=()
    [[ -x "$RMQ_BIN/rabbitmq-server" && -x "$RMQ_BIN/rabbitmqctl" ]] || missing+=(rabbitmq-server)
    if ! { command -v pkg-config >/dev/null && pkg-config --exists librabbitmq; } &&
        ! dpkg-query -W -f='${Status}' librabbitmq-dev 2>/dev/null | grep -q 'ok installed'; then
        missing+=(librabbitmq-dev)
    fi
    command -v openssl >/dev/null || missing+=(openssl)
    # zlib's headers, for the store's compressed blobs (Sources/CZlib).
    [[ -f /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
    echo "${missing[@]}"
}

cmd_install() {
    local missing
    missing="$(missing_packages)"
    if [[ -z "$missing" ]]; then
        return 0
    fi
    say "installing missing packages: $missing"
    "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "${APT_PACKAGES[@]}" || die "installing $missing failed"
    missing="$(missing_packages)"
    [[ -z "$missing" ]] || die "still missing after apt-get: $missing"
}

# ---------------------------------------------------------------- start

write_config() {
    mkdir -p "$DIR/home" "$DIR/mnesia" "$DIR/log" "$DIR/conf.d"
    chmod 700 "$DIR/home"
    local cookie="$DIR/home/.erlang.cookie"
    if [[ ! -s "$cookie" ]]; then
        (umask 077; head -c 64 /dev/urandom | od -An -tx1 | tr -dc 'a-f0-9' | head -c 40 >"$cookie")
    fi
    chmod 400 "$cookie"
    : >"$DIR/rabbitmq-env.conf"

    local conf="$DIR/rabbitmq.conf"
    {
        echo "# generated by scripts/broker.sh for instance '$INSTANCE'; edits are overwritten"
        echo "listeners.tcp.1 = 127.0.0.1:$AMQP_PORT"
        local a n=2
        for a in ${EXTRA_ADDRESSES:-}; do
            echo "listeners.tcp.$n = $a:$AMQP_PORT"
            n=$((n + 1))
        done
        echo "loopback_users = none"
        echo "log.file.level = info"
        echo "log.console = false"
        # First boot seeds the ddrouter vhost/user instead of guest; start()
        # then makes sure of all users and permissions on every start.
        echo "default_vhost = ddrouter"
        echo "default_user = ddrouter"
        echo "default_pass = ddrouter-dev"
        echo "default_user_tags.administrator = true"
        echo "default_user_tags.impersonator = true"
        echo "default_permissions.configure = .*"
        echo "default_permissions.read = .*"
        echo "default_permissions.write = .*"
    } >"$conf"
    if [[ -n "$TLS_DIR" ]]; then
        local f
        for f in ca.pem server.pem server-key.pem; do
            [[ -r "$TLS_DIR/$f" ]] || die "DDR_TLS_DIR=$TLS_DIR has no readable $f (see scripts/gen-test-certs.sh)"
        done
        # A private copy: the node reads it later (per connection), the test's
        # directory may be gone by then.
        rm -rf "$DIR/tls"
        mkdir -p "$DIR/tls"
        cp "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem" "$TLS_DIR/server-key.pem" "$DIR/tls/"
        chmod 600 "$DIR/tls/server-key.pem"
        {
            echo "listeners.ssl.1 = 127.0.0.1:$AMQPS_PORT"
            echo "ssl_options.cacertfile = $DIR/tls/ca.pem"
            echo "ssl_options.certfile = $DIR/tls/server.pem"
            echo "ssl_options.keyfile = $DIR/tls/server-key.pem"
            echo "ssl_options.verify = verify_peer"
            echo "ssl_options.fail_if_no_peer_cert = false"
            echo "auth_mechanisms.1 = PLAIN"
            echo "auth_mechanisms.2 = AMQPLAIN"
            echo "auth_mechanisms.3 = EXTERNAL"
            echo "ssl_cert_login_from = common_name"
        } >>"$conf"
        echo "[rabbitmq_auth_mechanism_ssl]." >"$DIR/enabled_plugins"
    else
        rm -rf "$DIR/tls" "$DIR/tls.restart"
        echo "[]." >"$DIR/enabled_plugins"
    fi
}

show_logs() {
    local f
    for f in "$DIR/log/startup.log" "$DIR/log/rabbit.log"; do
        [[ -s "$f" ]] || continue
        echo "----- last lines of $f -----" >&2
        tail -n "${1:-30}" "$f" >&2
    done
}

# Kill what a failed start left behind.
kill_started() {
    local pid w
    pid="$(read_pid "$PID_FILE")"
    w="$(read_pid "$WRAPPER_PID_FILE")"
    for p in $pid $w; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $pid $w; do wait_exit "$p" 10 || kill -KILL "$p" 2>/dev/null || true; done
    rm -f "$PID_FILE" "$WRAPPER_PID_FILE"
    maybe_stop_epmd
}

# Waits until the node has booted and accepts AMQP (and AMQPS) connections.
wait_ready() {
    local deadline=$((SECONDS + $1)) w
    w="$(read_pid "$WRAPPER_PID_FILE")"
    while :; do
        if ! beam_alive && [[ -n "$w" ]] && ! kill -0 "$w" 2>/dev/null; then
            say "the node exited during start"
            return 1
        fi
        if port_open "$AMQP_PORT" && { [[ -z "$TLS_DIR" ]] || port_open "$AMQPS_PORT"; }; then
            break
        fi
        ((SECONDS < deadline)) || { say "timed out after $1 s waiting for 127.0.0.1:$AMQP_PORT"; return 1; }
        sleep 0.25
    done
    local left=$((deadline - SECONDS))
    ((left > 5)) || left=5
    ctl_raw await_startup --timeout "$left" >/dev/null || { say "await_startup failed"; return 1; }
    port_open "$AMQP_PORT" || { say "127.0.0.1:$AMQP_PORT stopped accepting"; return 1; }
}

provision() {
    local users vhosts
    vhosts="$(ctl_raw list_vhosts --quiet --no-table-headers name)"
    grep -qx ddrouter <<<"$vhosts" || ctl_raw add_vhost ddrouter >/dev/null
    users="$(ctl_raw list_users --quiet --no-table-headers | awk '{print $1}')"
    if ! grep -qx ddrouter <<<"$users"; then
        ctl_raw add_user ddrouter ddrouter-dev >/dev/null
    fi
    if ! grep -qx ddrouter-client <<<"$users"; then
        # x509/EXTERNAL only: created with a throw-away password, then cleared.
        ctl_raw add_user ddrouter-client "$(head -c 24 /dev/urandom | od -An -tx1 | tr -dc 'a-f0-9')" >/dev/null
        ctl_raw clear_password ddrouter-client >/dev/null
    fi
    # impersonator: `ddrouter dlq requeue` publishes as ddrouter with the sender's original
    # user_id, which the broker allows only a user with this tag (the generated definitions
    # give it to the service user too). Set on every start: this replaces all tags.
    ctl_raw set_user_tags ddrouter administrator impersonator >/dev/null
    ctl_raw set_permissions -p ddrouter ddrouter '.*' '.*' '.*' >/dev/null
    ctl_raw set_permissions -p ddrouter ddrouter-client '.*' '.*' '.*' >/dev/null
    # ddrouter declares the recipients' dd.* queues quorum; an older version declared them
    # classic, and the declare of another type fails. A dev/test broker holds test data
    # only, so such queues are deleted here and declared anew (production: the drain and
    # delete of docs/operations.md, Upgrade).
    local queue
    for queue in $(ctl_raw list_queues -p ddrouter --quiet --no-table-headers name type \
        | awk '$1 ~ /^dd\./ && $2 == "classic" {print $1}'); do
        ctl_raw delete_queue -p ddrouter "$queue" >/dev/null
    done
    if grep -qx guest <<<"$users"; then
        ctl_raw delete_user guest >/dev/null
    fi
}

# A TLS handshake against the node, verifying its certificate with the CA:
# the node loads certificate and key lazily, so a bad pair shows only here.
tls_probe() {
    local out
    if ! out="$(timeout 15 openssl s_client -connect "127.0.0.1:$AMQPS_PORT" -servername localhost \
        -CAfile "$DIR/tls/ca.pem" -verify_return_error </dev/null 2>&1)"; then
        say "TLS probe of 127.0.0.1:$AMQPS_PORT failed:"
        grep -E ':error:|alert|errno|refused|unable' <<<"$out" | head -5 >&2 || true
        return 1
    fi
}

check_port_free() {
    if port_open "$1"; then
        die "127.0.0.1:$1 ($2) is already in use by another process; set $3 to a free port (instance '$INSTANCE')"
    fi
}

# Prints how the settings explicitly requested in the environment (DDR_* set)
# differ from those the running instance was started with; nothing when they
# match. Unset variables mean "whatever it runs with".
settings_differ() {
    local node="$NODE" amqp="$AMQP_PORT" amqps="$AMQPS_PORT" dist="$DIST_PORT" tls="$TLS_DIR" extra="${EXTRA_ADDRESSES:-}"
    (
        load_settings requested
        [[ -z "${DDR_NODE_NAME:-}" || "$NODE" == "$node" ]] || echo "node $node -> $NODE"
        [[ -z "${DDR_AMQP_PORT:-}" || "$AMQP_PORT" == "$amqp" ]] || echo "amqp port $amqp -> $AMQP_PORT"
        [[ -z "${DDR_DIST_PORT:-}" || "$DIST_PORT" == "$dist" ]] || echo "dist port $dist -> $DIST_PORT"
        [[ -z "${DDR_AMQP_EXTRA_ADDRESSES+set}" || "$EXTRA_ADDRESSES" == "$extra" ]] || echo "extra addresses '$extra' -> '$EXTRA_ADDRESSES'"
        if [[ -n "$TLS_DIR" ]]; then
            if [[ -z "$tls" ]]; then
                echo "TLS off -> $TLS_DIR"
            else
                [[ -z "${DDR_AMQPS_PORT:-}" || "$AMQPS_PORT" == "$amqps" ]] || echo "amqps port $amqps -> $AMQPS_PORT"
                local f
                for f in ca.pem server.pem server-key.pem; do
                    cmp -s "$TLS_DIR/$f" "$DIR/tls/$f" || { echo "other TLS material in $TLS_DIR"; break; }
                done
            fi
        fi
    ) | paste -sd ';' -
}

cmd_start() {
    load_settings
    if beam_alive; then
        local why
        why="$(settings_differ)"
        if [[ -n "$why" ]]; then
            # E.g. a TLS instance left over from an interrupted test run, while the
            # new run generated new certificates: restart rather than hand back a
            # node that does not match what the caller asked for.
            say "running with other settings ($why); restarting"
            # What the caller did not set stays as it was.
            export DDR_NODE_NAME="${DDR_NODE_NAME:-$NODE}" DDR_AMQP_PORT="${DDR_AMQP_PORT:-$AMQP_PORT}"
            export DDR_AMQPS_PORT="${DDR_AMQPS_PORT:-$AMQPS_PORT}" DDR_DIST_PORT="${DDR_DIST_PORT:-$DIST_PORT}"
            cmd_stop
            load_settings requested
        fi
    fi
    if beam_alive; then
        if port_open "$AMQP_PORT"; then
            say "already running (pid $(read_pid "$PID_FILE"), node $NODE, amqp 127.0.0.1:$AMQP_PORT)"
            return 0
        fi
        say "node is running but not accepting AMQP yet; waiting"
        wait_ready 60 || { show_logs; die "node $NODE runs but does not accept AMQP (app stopped? try: $SELF ctl start_app, or $SELF reset)"; }
        return 0
    fi
    cmd_install
    [[ -x "$RMQ_BIN/rabbitmq-server" ]] || die "$RMQ_BIN/rabbitmq-server not found"

    # Leftovers of an earlier run (crash, kill -9): the wrapper may linger.
    local w
    w="$(read_pid "$WRAPPER_PID_FILE")"
    if [[ -n "$w" ]] && kill -0 "$w" 2>/dev/null && grep -q "$DIR" "/proc/$w/environ" 2>/dev/null; then
        kill -TERM "$w" 2>/dev/null || true
        wait_exit "$w" 5 || kill -KILL "$w" 2>/dev/null || true
    fi
    rm -f "$PID_FILE" "$WRAPPER_PID_FILE"

    check_port_free "$AMQP_PORT" "AMQP" DDR_AMQP_PORT
    check_port_free "$DIST_PORT" "Erlang distribution" DDR_DIST_PORT
    [[ -z "$TLS_DIR" ]] || check_port_free "$AMQPS_PORT" "AMQPS" DDR_AMQPS_PORT

    mkdir -p "$DIR"
    write_config
    write_settings
    ensure_epmd

    say "starting node $NODE (amqp 127.0.0.1:$AMQP_PORT${EXTRA_ADDRESSES:+ and ${EXTRA_ADDRESSES// /, }}${TLS_DIR:+, amqps 127.0.0.1:$AMQPS_PORT}, dist $DIST_PORT) in $DIR"
    : >"$DIR/log/startup.log"
    (
        rmq_env
        export DDR_BROKER_DIR="$DIR"
        export RABBITMQ_NODENAME="$NODE"
        export RABBITMQ_USE_LONGNAME=false
        export RABBITMQ_DIST_PORT="$DIST_PORT"
        export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
        export RABBITMQ_CONFIG_FILES="$DIR/conf.d"
        export RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
        export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
        export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
        export RABBITMQ_LOG_BASE="$DIR/log"
        export RABBITMQ_LOGS="$DIR/log/rabbit.log"
        export RABBITMQ_PID_FILE="$PID_FILE"
        export RABBITMQ_MOTD_FILE="$DIR/motd"
        export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        unset RABBITMQ_NODE_IP_ADDRESS RABBITMQ_NODE_PORT RABBITMQ_ENABLED_PLUGINS
        cd "$DIR"
        # Run the real script, not Debian's /usr/sbin wrapper: that one su's to
        # the rabbitmq user (other HOME, other cookie, no access to var/).
        exec setsid "$RMQ_BIN/rabbitmq-server" </dev/null >>"$DIR/log/startup.log" 2>&1 9>&-
    ) &
    echo $! >"$WRAPPER_PID_FILE"

    if ! wait_ready "$START_TIMEOUT"; then
        show_logs 40
        kill_started
        die "node $NODE did not start"
    fi
    if ! beam_alive; then
        show_logs 40
        kill_started
        die "node accepts connections but its pid file $PID_FILE is missing"
    fi
    if [[ -n "$TLS_DIR" ]] && ! tls_probe; then
        show_logs 20
        kill_started
        die "the TLS listener on 127.0.0.1:$AMQPS_PORT does not complete a handshake with $TLS_DIR (check server.pem/server-key.pem/ca.pem)"
    fi
    if ! provision; then
        show_logs 20
        die "could not create the vhost/users (node left running; see $SELF ctl list_users)"
    fi
    say "running: pid $(read_pid "$PID_FILE"), amqp://ddrouter:ddrouter-dev@127.0.0.1:$AMQP_PORT/ddrouter"
}

# ---------------------------------------------------------------- stop etc.

cmd_stop() {
    load_settings
    local pid w
    pid="$(read_pid "$PID_FILE")"
    w="$(read_pid "$WRAPPER_PID_FILE")"
    if beam_alive; then
        say "stopping node $NODE (pid $pid)"
        timeout 60 "$SELF" ctl stop >/dev/null 2>&1 || say "rabbitmqctl stop failed; signalling pid $pid"
        if ! wait_exit "$pid" 30; then
            kill -TERM "$pid" 2>/dev/null || true
            if ! wait_exit "$pid" 15; then
                say "pid $pid ignored TERM; sending KILL"
                kill -KILL "$pid" 2>/dev/null || true
                wait_exit "$pid" 5 || die "could not stop pid $pid"
            fi
        fi
    else
        say "not running"
    fi
    if [[ -n "$w" ]] && kill -0 "$w" 2>/dev/null && grep -q "$DIR" "/proc/$w/environ" 2>/dev/null; then
        wait_exit "$w" 5 || kill -TERM "$w" 2>/dev/null || true
    fi
    rm -f "$PID_FILE" "$WRAPPER_PID_FILE"
    maybe_stop_epmd
}

# Stop and start again with the settings the instance runs with, or last ran with (node,
# ports, TLS material), whatever the environment says; data, users and queues are kept, and
# start provisions the users again as on every start. Never started: the same as start.
cmd_restart() {
    load_settings
    if ! beam_alive; then
        if [[ ! -f "$SETTINGS_FILE" ]]; then
            cmd_start
            return
        fi
        # shellcheck source=/dev/null
        . "$SETTINGS_FILE"
    fi
    export DDR_NODE_NAME="$NODE" DDR_AMQP_PORT="$AMQP_PORT" DDR_AMQPS_PORT="$AMQPS_PORT" DDR_DIST_PORT="$DIST_PORT"
    export DDR_AMQP_EXTRA_ADDRESSES="${EXTRA_ADDRESSES:-}"
    export DDR_TEST_RUN="${STARTED_BY:-}"
    if [[ -n "$TLS_DIR" ]]; then
        # The copy the node uses: the directory it came from may be gone by now.
        rm -rf "$DIR/tls.restart"
        cp -R "$DIR/tls" "$DIR/tls.restart"
        export DDR_TLS_DIR="$DIR/tls.restart"
    else
        unset DDR_TLS_DIR
    fi
    say "restarting node $NODE"
    cmd_stop
    cmd_start
}

cmd_status() {
    load_settings
    if beam_alive; then
        local state="accepting AMQP"
        port_open "$AMQP_PORT" || state="NOT accepting AMQP (booting, or app stopped)"
        echo "instance $INSTANCE: running, pid $(read_pid "$PID_FILE"), node $NODE, amqp 127.0.0.1:$AMQP_PORT${EXTRA_ADDRESSES:+ (and ${EXTRA_ADDRESSES// /, } at that port)}${TLS_DIR:+, amqps 127.0.0.1:$AMQPS_PORT}, $state"
        return 0
    fi
    echo "instance $INSTANCE: not running"
    return 3
}

cmd_reset() {
    cmd_stop
    case "$DIR" in
        "$ROOT"/var/broker/?*) rm -rf -- "$DIR" ;;
        *) die "refusing to delete $DIR" ;;
    esac
    say "deleted $DIR"
}

cmd_ctl() {
    load_settings
    beam_alive || die "instance '$INSTANCE' is not running (start it with: DDR_BROKER_INSTANCE=$INSTANCE $SELF start)"
    rmq_env
    cd "$DIR"
    exec "$RMQ_BIN/rabbitmqctl" -n "$NODE" "$@"
}

dq() { # escape for use inside double quotes
    local v="$1"
    v="${v//\\/\\\\}"; v="${v//\"/\\\"}"; v="${v//\$/\\\$}"; v="${v//\`/\\\`}"
    printf '%s' "$v"
}

cmd_env() {
    load_settings
    printf 'export DDR_BROKER_INSTANCE=%q\n' "$INSTANCE"
    printf 'export DDR_AMQP_HOST=127.0.0.1\n'
    printf 'export DDR_AMQP_PORT=%q\n' "$AMQP_PORT"
    printf 'export DDR_AMQPS_PORT=%q\n' "$AMQPS_PORT"
    printf 'export DDR_AMQP_VHOST=ddrouter\n'
    printf 'export DDR_AMQP_USER=ddrouter\n'
    printf 'export DDR_AMQP_PASSWORD=ddrouter-dev\n'
    printf 'export DDR_BROKER_CTL="%s"\n' "$(dq "$SELF") ctl"
    printf 'export DDR_BROKER_SCRIPT="%s"\n' "$(dq "$SELF")"
    if [[ -n "$TLS_DIR" ]]; then
        printf 'export DDR_TLS_DIR=%q\n' "$TLS_DIR"
    fi
}

cmd_wait() {
    load_settings
    beam_alive || die "instance '$INSTANCE' is not running"
    wait_ready "${1:-60}" || { show_logs; die "node $NODE is not accepting AMQP"; }
    say "accepting AMQP on 127.0.0.1:$AMQP_PORT"
}

# Names of the instances under var/broker/ whose node is running; with RUN,
# only those started with DDR_TEST_RUN=RUN in the environment.
cmd_list() {
    local d run="${1:-}"
    for d in "$BASE"/*/; do
        [[ -d "$d" ]] || continue
        d="${d%/}"
        if [[ -n "$run" ]]; then
            grep -qxF "STARTED_BY=$(printf '%q' "$run")" "$d/settings.env" 2>/dev/null || continue
        fi
        (DDR_BROKER_INSTANCE="${d##*/}" "$SELF" status >/dev/null 2>&1) && echo "${d##*/}"
    done
    return 0
}

with_lock() {
    mkdir -p "$BASE"
    exec 9>"$BASE/.$INSTANCE.lock"
    flock -w 300 9 || die "another broker.sh holds $BASE/.$INSTANCE.lock"
    "$@"
}

usage() {
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start) with_lock cmd_start ;;
    stop) with_lock cmd_stop ;;
    restart) with_lock cmd_restart ;;
    reset) with_lock cmd_reset ;;
    status) cmd_status ;;
    ctl) cmd_ctl "$@" ;;
    env) cmd_env ;;
    wait) cmd_wait "$@" ;;
    list) cmd_list "$@" ;;
    install) cmd_install ;;
    logs) load_settings; show_logs "${1:-50}" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
