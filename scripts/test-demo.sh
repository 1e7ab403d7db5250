#!/usr/bin/env bash
# scripts/test-demo.sh — `make demo` on a fresh clone, run by `make test` (issue 16, item 5).
#
# Clones this repository's committed HEAD into a temporary directory and, there:
#   1. checks that `make demo` refuses what is not the clone's dev broker, before it starts or
#      changes anything: another broker instance, a remote host, another port;
#   2. runs `make demo` with nothing running: it must start the clone's own dev broker and
#      daemon, take the case through the examples to its decision, print the queues and the
#      explanation, and stop both again.
# The clone's dev broker gets its own node name and ports (DEMO_NODE_NAME, DEMO_AMQP_PORT,
# DEMO_DIST_PORT; defaults ddrouter-demo-test@localhost, 5692, 25692), so that it never meets
# the dev broker of the checkout running the tests.
#
# Honest limit: the clone does not build ddrouter (a fresh debug build takes 15-25 minutes);
# it uses this checkout's binary, DEMO_BIN (default .build/debug/ddrouter, built by
# `make test` before this runs). Everything else (Makefile, scripts, Config, examples) is
# the clone's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${DEMO_BIN:-$ROOT/.build/debug/ddrouter}"
NODE="${DEMO_NODE_NAME:-ddrouter-demo-test@localhost}"
PORT="${DEMO_AMQP_PORT:-5692}"
DIST="${DEMO_DIST_PORT:-25692}"

fail() { echo "test-demo: FAIL: $*" >&2; exit 1; }
[[ -x "$BIN" ]] || fail "no ddrouter binary at $BIN (swift build first)"
for p in "$PORT" "$DIST"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        fail "127.0.0.1:$p is in use; set DEMO_AMQP_PORT / DEMO_DIST_PORT to free ports"
    fi
done

TMP="$(mktemp -d /tmp/ddrouter-demo-test.XXXXXX)"
CLONE="$TMP/ddrouter"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -x "$CLONE/scripts/broker.sh" ]] &&
        env -i PATH="$PATH" HOME="$HOME" DDR_BROKER_INSTANCE=dev "$CLONE/scripts/broker.sh" status >/dev/null 2>&1; then
        echo "test-demo: the clone's dev broker still runs; stopping it" >&2
        env -i PATH="$PATH" HOME="$HOME" DDR_BROKER_INSTANCE=dev "$CLONE/scripts/broker.sh" stop >&2 || true
        rc=1
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

git clone -q "$ROOT" "$CLONE"
echo "test-demo: fresh clone of $(git -C "$CLONE" rev-parse --short HEAD) in $CLONE"

# The demo's environment: nothing of the caller's broker or daemon settings, the clone's dev
# instance on the test's ports; the daemon's HTTP endpoints on any free port.
demo() {
    env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 CI="${CI:-}" \
        DDR_NODE_NAME="$NODE" DDR_AMQP_PORT="$PORT" DDR_DIST_PORT="$DIST" \
        DDROUTER_BROKER_PORT="$PORT" DDROUTER_HTTP_BIND=127.0.0.1:0 DEMO_BIN="$BIN" \
        "$@" make -C "$CLONE" --no-print-directory demo
}

# 1. Refusals: exit 2, a reason, and nothing started.
refused() {
    local why="$1" expect="$2"; shift 2
    local out rc=0
    out="$(demo "$@" 2>&1)" || rc=$?
    [[ "$rc" != 0 ]] || fail "make demo ran with $why"
    grep -q "make demo: refused: $expect" <<<"$out" || fail "make demo with $why: no refusal naming '$expect' (exit $rc): $out"
    [[ ! -e "$CLONE/var/broker/dev" && ! -e "$CLONE/var/demo" ]] || fail "make demo with $why started or wrote something before refusing"
    echo "test-demo: refused, as it must: $why"
}
refused "DDR_BROKER_INSTANCE=ops" "DDR_BROKER_INSTANCE=ops" DDR_BROKER_INSTANCE=ops
refused "a remote broker host" "broker.host is broker.example.org" DDROUTER_BROKER_HOST=broker.example.org
refused "another port" "broker.port is 5672" DDROUTER_BROKER_PORT=5672
refused "a broker cluster" "broker.endpoints is set" DDROUTER_BROKER_ENDPOINTS=127.0.0.1:5672
refused "TLS" "broker.tls.ca_file is set" DDROUTER_BROKER_TLS_CA_FILE=/etc/ssl/certs/ca-certificates.crt

# 2. The tour, starting broker and daemon itself.
start=$SECONDS
out="$(demo 2>&1)" || { printf '%s\n' "$out" >&2; fail "make demo failed"; }
printf '%s\n' "$out" | sed 's/^/test-demo| /'
expect() { grep -qE -- "$1" <<<"$out" || fail "make demo's output lacks /$1/"; }
expect "Starting the dev broker"
expect "Starting the daemon"
expect "municipality-851 +municipality-851-dev"
expect "consent given: followed below"
expect "case-[0-9a-f]{24}  workflowA.inAssessment"
expect "case-[0-9a-f]{24}  workflowA.assessed"
expect "case-[0-9a-f]{24}  workflowA.positioned"
expect "case-[0-9a-f]{24}  workflowA.coordinated"
expect "dd.clinic.amb-syd-aalborg.assessments +[1-9]"
expect "dd.journal.journal-rn.requests +[1-9]"
expect "dd.municipality.851.inbox +[1-9]"
expect "assessment-request +to clinic.amb-syd-aalborg"
expect "decision +to municipality.851"
expect "why: R5 .*coordinated"
expect "Stopping the daemon this demo started"
expect "Stopping the dev broker this demo started"
# The demo's citizens (fresh CPR numbers each run) appear nowhere in what it printed.
for cpr in $(python3 -c 'import json, sys; print(" ".join(e["cpr"] for e in json.load(open(sys.argv[1]))["entries"]))' \
    "$CLONE/var/demo/municipal-list.json"); do
    grep -qE "${cpr:0:6}-?${cpr:6:4}" <<<"$out" && fail "make demo printed a citizen's CPR number"
done
env -i PATH="$PATH" HOME="$HOME" DDR_BROKER_INSTANCE=dev "$CLONE/scripts/broker.sh" status >/dev/null 2>&1 &&
    fail "the dev broker the demo started is still running"
echo "test-demo: make demo alone passed ($((SECONDS - start)) s)"

# 3. After `make run`: the clone's dev broker and a daemon already run (what `make run` starts,
# without its build); the demo uses them, runs again on the same store, and stops neither.
start=$SECONDS
clone_env() {
    env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 DDR_BROKER_INSTANCE=dev \
        DDR_NODE_NAME="$NODE" DDR_AMQP_PORT="$PORT" DDR_DIST_PORT="$DIST" \
        DDROUTER_BROKER_PORT="$PORT" DDROUTER_HTTP_BIND=127.0.0.1:0 "$@"
}
clone_env "$CLONE/scripts/broker.sh" start >/dev/null 2>&1 || fail "the clone's dev broker did not start"
(cd "$CLONE" && exec env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 DDROUTER_BROKER_PORT="$PORT" \
    DDROUTER_HTTP_BIND=127.0.0.1:0 "$BIN" run --config Config/ddrouter.yaml </dev/null >"$TMP/run.log" 2>&1) &
daemon=$!
stop_run() {
    kill -TERM "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    clone_env "$CLONE/scripts/broker.sh" stop >/dev/null 2>&1 || true
}
for _ in $(seq 1 120); do grep -q 'ready: connected and consuming' "$TMP/run.log" && break; sleep 0.5; done
grep -q 'ready: connected and consuming' "$TMP/run.log" || { stop_run; fail "the make-run daemon did not get ready: $(tail -5 "$TMP/run.log")"; }
out="$(demo 2>&1)" || { printf '%s\n' "$out" >&2; stop_run; fail "make demo after make run failed"; }
printf '%s\n' "$out" | sed 's/^/test-demo| /'
for unwanted in "Starting the dev broker" "Starting the daemon" "Stopping the daemon" "Stopping the dev broker"; do
    grep -q "$unwanted" <<<"$out" && { stop_run; fail "make demo after make run: '$unwanted'"; }
done
for wanted in "already consumes ddrouter.inbound" "workflowA.coordinated" "why: R5 "; do
    grep -q "$wanted" <<<"$out" || { stop_run; fail "make demo after make run lacks '$wanted'"; }
done
kill -0 "$daemon" 2>/dev/null || fail "make demo stopped the make-run daemon"
stop_run
echo "test-demo: make demo after make run passed ($((SECONDS - start)) s)"
echo "test-demo: make demo on a fresh clone passed"
