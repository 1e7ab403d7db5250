#!/usr/bin/env bash
# scripts/demo.sh — `make demo`: a five-minute tour on the DEV broker (README.md).
#
# Run it after `make run` (it then uses that daemon), or alone: it then starts the dev broker
# and the daemon itself and stops both again at the end (by pid). It
#   1. refuses anything but this checkout's dev broker (instance `dev` of scripts/broker.sh,
#      127.0.0.1 on the dev instance's AMQP port, vhost ddrouter, no TLS), before it changes
#      anything;
#   2. gives every sender user a known development password, `<user>-dev`, with the users and
#      permissions of `ddrouter topology --definitions` (one `rabbitmqctl import_definitions`
#      on the dev node, which also resets ddrouter's own user to `ddrouter-dev`);
#   3. publishes the shipped examples (Config/examples) as each sender would, with
#      `ddrouter publish`: Aalborg's list 1, the journal's answers, the clinic's assessment,
#      the municipality's position, the decision meeting's outcome, and shows the case after
#      each one;
#   4. prints what arrived in which queue, what the router sent about the case, and
#      `ddrouter explain` for it.
#
# Two changes to the examples, said in the output: every run gives the examples' citizens
# fresh fictitious CPR numbers (same birth date), so that the tour can be run again on the same
# store; and the answers about the case (assessment, position, meeting outcome) quote the case
# id the router gave it, as a real clinic or municipality would (the examples carry made-up
# ids, and the position and meeting examples are about a citizen who is not on the list).
#
# Environment: CONFIG (Config/ddrouter.yaml), DEMO_BIN (.build/debug/ddrouter; `make demo`
# builds it unless DEMO_BIN is set), DDROUTER_* overrides as for `ddrouter run`,
# DDR_* of scripts/broker.sh for the dev instance's ports. Exit 2: refused (not the dev broker).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONFIG="${CONFIG:-Config/ddrouter.yaml}"
BIN="${DEMO_BIN:-$ROOT/.build/debug/ddrouter}"
BROKER="$ROOT/scripts/broker.sh"
EXAMPLES="$ROOT/Config/examples"
WORK="$ROOT/var/demo"
MUNICIPALITY=851 CLINIC=amb-syd-aalborg JOURNAL=journal-rn

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
refuse() { printf 'make demo: refused: %s\nmake demo runs only against the dev broker of this checkout (scripts/broker.sh instance dev on 127.0.0.1).\n' "$*" >&2; exit 2; }
die() { printf 'make demo: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- 1. the dev broker only

if [[ -n "${DDR_BROKER_INSTANCE:-}" && "$DDR_BROKER_INSTANCE" != dev ]]; then
    refuse "DDR_BROKER_INSTANCE=$DDR_BROKER_INSTANCE"
fi
export DDR_BROKER_INSTANCE=dev
[[ -x "$BIN" ]] || die "no ddrouter binary at $BIN (make build, or set DEMO_BIN)"
eval "$("$BROKER" env)"   # the dev instance's ports: recorded if it runs, else the environment's
DEV_PORT="$DDR_AMQP_PORT"

# The broker the daemon and `ddrouter publish` will use, as the configuration says after
# every DDROUTER_* override: check-config prints the effective values.
effective="$("$BIN" check-config --config "$CONFIG" 2>&1)" || { printf '%s\n' "$effective" >&2; die "check-config failed for $CONFIG"; }
value() { sed -n "s/^$1 = \([^ ]*\).*/\1/p" <<<"$effective" | head -1; }
host="$(value broker.host)" port="$(value broker.port)" vhost="$(value broker.vhost)"
endpoints="$(value broker.endpoints)" ca="$(value broker.tls.ca_file)"
case "$host" in 127.0.0.1 | localhost | ::1) ;; *) refuse "broker.host is $host, not this machine's loopback" ;; esac
[[ "$port" == "$DEV_PORT" ]] || refuse "broker.port is $port, but the dev broker's AMQP port is $DEV_PORT"
[[ -z "$endpoints" || "$endpoints" == "[]" ]] || refuse "broker.endpoints is set ($endpoints)"
[[ "$vhost" == ddrouter ]] || refuse "broker.vhost is $vhost, not the dev broker's ddrouter"
[[ -z "$ca" ]] || refuse "broker.tls.ca_file is set: the dev broker is plain AMQP"
[[ "$(value store.dev_key)" == "(redacted)" ]] || refuse "the configuration has no store.dev_key: not a development configuration"

# ---------------------------------------------------------------- broker and daemon

broker_started=0 daemon_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
        say "Stopping the daemon this demo started (pid $daemon_pid)"
        kill -TERM "$daemon_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$daemon_pid" 2>/dev/null && kill -KILL "$daemon_pid" 2>/dev/null || true
    fi
    if [[ "$broker_started" == 1 ]]; then
        say "Stopping the dev broker this demo started"
        "$BROKER" stop || rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ctl() { "$BROKER" ctl "$@"; }
if "$BROKER" status >/dev/null 2>&1; then
    note "dev broker: $("$BROKER" status)"
else
    say "Starting the dev broker (stopped again at the end)"
    broker_started=1
    "$BROKER" start
fi
mkdir -p "$WORK"
chmod 700 "$WORK"

consuming() { ctl list_consumers -p ddrouter --quiet --no-table-headers queue_name 2>/dev/null | grep -qx ddrouter.inbound; }
if consuming; then
    note "daemon: something already consumes ddrouter.inbound (make run); its store must be the one of $CONFIG"
else
    say "Starting the daemon: $BIN run --config $CONFIG (log $WORK/ddrouter.log; stopped again at the end)"
    "$BIN" run --config "$CONFIG" </dev/null >"$WORK/ddrouter.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 1 120); do
        grep -q '"ready: connected and consuming"\|ready: connected and consuming' "$WORK/ddrouter.log" 2>/dev/null && break
        kill -0 "$daemon_pid" 2>/dev/null || { tail -20 "$WORK/ddrouter.log" >&2; die "the daemon exited"; }
        sleep 0.5
    done
    grep -q 'ready: connected and consuming' "$WORK/ddrouter.log" || { tail -20 "$WORK/ddrouter.log" >&2; die "the daemon did not get ready within 60 s"; }
    note "daemon: pid $daemon_pid, ready"
fi

# ---------------------------------------------------------------- 2. sender passwords

say "Sender users with development passwords (<user>-dev; dev broker only)"
"$BIN" topology --definitions --config "$CONFIG" --output "$WORK/definitions.json" >/dev/null
python3 - "$WORK/definitions.json" <<'PY'
import json, sys
path = sys.argv[1]
d = json.load(open(path))
for u in d["users"]:
    u.pop("password_hash", None)
    u["password"] = "ddrouter-dev" if u["name"] == "ddrouter" else u["name"] + "-dev"
    if u["name"] == "ddrouter":
        u["tags"] = ["administrator", "impersonator"]   # as scripts/broker.sh provisions it
json.dump(d, open(path, "w"))
print("\n".join(f"    {u['name']:<28} {u['password']}" for u in d["users"] if u["name"] != "ddrouter"))
PY
ctl import_definitions "$WORK/definitions.json" >/dev/null
for who in "municipality-$MUNICIPALITY" "clinic-$CLINIC" "journal-$JOURNAL"; do
    (umask 077; printf '%s' "$who-dev" >"$WORK/$who.password")
done

# ---------------------------------------------------------------- 3. the examples

# Fresh CPR numbers for the examples' citizens (keeps the birth date and the century digit).
python3 - "$EXAMPLES" "$WORK" <<'PY'
import json, os, random, sys
examples, work = sys.argv[1:]
rng = random.SystemRandom()
mapping = {}
def fresh(cpr):
    digits = cpr.replace("-", "")
    if digits not in mapping:
        mapping[digits] = digits[:7] + f"{rng.randrange(1000):03d}"
    return mapping[digits]
def walk(v):
    if isinstance(v, dict):
        return {k: (fresh(x) if k == "cpr" and isinstance(x, str) else walk(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x) for x in v]
    return v
for name in ["municipal-list", "contact-status"]:
    body = walk(json.load(open(os.path.join(examples, name + ".json"))))
    json.dump(body, open(os.path.join(work, name + ".json"), "w"), ensure_ascii=False, indent=2)
# The citizen the tour follows: the list's first entry (consent given).
first = json.load(open(os.path.join(examples, "municipal-list.json")))["entries"][0]["cpr"]
open(os.path.join(work, "followed.cpr"), "w").write(fresh(first))
PY
chmod 600 "$WORK"/*.json "$WORK/followed.cpr"
CPR="$(cat "$WORK/followed.cpr")"

# Message ids of this run: letters only, so that the log's redaction of digit runs (a CPR
# might hide in one) leaves them readable in `explain`.
RUN="$(python3 -c 'import random, string; print("".join(random.SystemRandom().choices(string.ascii_lowercase, k=6)))')"
cases() { "$BIN" cases list --config "$CONFIG" --municipality "$MUNICIPALITY" --limit 100000 2>/dev/null | grep '^case-' || true; }
# publish TYPE KIND:ID FILE: as that sender; retried while the broker has not finished the
# import of the users (a refused login, exit 77, published nothing).
publish() {
    local user rc out
    case "$2" in municipality:*) user="municipality-${2#*:}" ;; clinic:*) user="clinic-${2#*:}" ;; journal:*) user="journal-${2#*:}" ;; esac
    for _ in $(seq 1 60); do
        rc=0
        out="$("$BIN" publish --config "$CONFIG" --type "$1" --sender "$2" --password-file "$WORK/$user.password" \
            --message-id "make-demo.$RUN.$1" "$3" 2>&1)" || rc=$?
        [[ "$rc" == 77 ]] || break
        sleep 1
    done
    [[ "$rc" == 0 ]] || die "publish $1 failed (exit $rc): $out"
    note "$out"
}
# Waits until `cases list` differs from $1 (60 s), then prints the followed case's line.
wait_change() {
    local before="$1" now=""
    for _ in $(seq 1 120); do
        now="$(cases)"
        [[ "$now" != "$before" ]] && break
        sleep 0.5
    done
    [[ "$now" != "$before" ]] || note "(no change within 60 s: was the message refused? see the daemon's log)"
}
show_case() { note "$(cases | grep "^$CASE " | awk '{print $1 "  " $2}')"; }
# JSON body of example $1 about the followed case, in $WORK/$1.json.
about_case() {
    python3 - "$EXAMPLES/$1.json" "$WORK/$1.json" "$CASE" "$CPR" <<'PY'
import json, sys
src, dst, case, cpr = sys.argv[1:]
body = json.load(open(src))
body["caseId"], body["cpr"] = case, cpr
json.dump(body, open(dst, "w"), ensure_ascii=False, indent=2)
PY
    chmod 600 "$WORK/$1.json"
}

# The queues this tour's messages reach, and what they held before it (they add up over runs).
TOUR_QUEUES="dd.clinic.$CLINIC.assessments dd.journal.$JOURNAL.requests dd.municipality.$MUNICIPALITY.inbox"
depths() {
    ctl list_queues -p ddrouter --quiet --no-table-headers name messages 2>/dev/null \
        | awk -v want="$TOUR_QUEUES" 'BEGIN {n = split(want, q, " "); for (i = 1; i <= n; i++) d[q[i]] = 0}
                                      ($1 in d) {d[$1] = $2}
                                      END {for (i = 1; i <= n; i++) printf "%s ", d[q[i]]}'
}
DEPTHS_BEFORE="$(depths)"

say "1. Aalborg ($MUNICIPALITY) sends list 1: Config/examples/municipal-list.json (2 citizens; fresh CPR numbers)"
before="$(cases)"
publish municipal-list "municipality:$MUNICIPALITY" "$WORK/municipal-list.json"
for _ in $(seq 1 120); do
    [[ "$(comm -13 <(sort <<<"$before") <(sort <<<"$(cases)") | grep -c '^case-')" -ge 2 ]] && break
    sleep 0.5
done
CASE="$("$BIN" cases show --config "$CONFIG" --cpr "$CPR" --purpose "make demo" --operator make-demo 2>/dev/null \
    | sed -n 's/^case \(case-[0-9a-f]*\).*/\1/p' | tail -1)"
[[ -n "$CASE" ]] || die "the list did not open a case for its first citizen (see the daemon's log)"
comm -13 <(sort <<<"$before") <(sort <<<"$(cases)") | awk -v c="$CASE" '{print "    " $1 "  " $2 ($1 == c ? "   <- consent given: followed below" : "   (no consent: held, R4)")}'

say "2. The journal answers the router's contact-status request: Config/examples/contact-status.json"
before="$(cases)"
publish contact-status "journal:$JOURNAL" "$WORK/contact-status.json"
wait_change "$before"; show_case

say "3. The clinic sends its assessment: Config/examples/assessment.json (caseId: $CASE)"
about_case assessment; before="$(cases)"
publish assessment "clinic:$CLINIC" "$WORK/assessment.json"
wait_change "$before"; show_case

say "4. Aalborg states its position on it: Config/examples/municipal-position.json"
about_case municipal-position; before="$(cases)"
publish municipal-position "municipality:$MUNICIPALITY" "$WORK/municipal-position.json"
wait_change "$before"; show_case

say "5. The decision meeting's outcome: Config/examples/meeting-outcome.json"
about_case meeting-outcome; before="$(cases)"
publish meeting-outcome "clinic:$CLINIC" "$WORK/meeting-outcome.json"
wait_change "$before"; show_case

# ---------------------------------------------------------------- 4. what arrived

# The outbox relay publishes the last events and receipts within moments, but the broker
# counts a quorum queue's messages on its own tick (every few seconds), not at each publish:
# wait until each of the tour's queues shows more than it held before (30 s at most).
for _ in $(seq 1 60); do
    read -r -a before_n <<<"$DEPTHS_BEFORE"
    read -r -a now_n <<<"$(depths)"
    grown=1
    for i in "${!before_n[@]}"; do
        (( ${now_n[$i]:-0} > ${before_n[$i]} )) || grown=0
    done
    (( grown )) && break
    sleep 0.5
done
say "What arrived in which queue: events and the senders' receipts (nobody reads them here: they add up over runs)"
ctl list_queues -p ddrouter --quiet --no-table-headers name messages | sort \
    | awk '$2 != 0 || $1 ~ /^ddrouter\./ {printf "    %-40s %s\n", $1, $2} $2 == 0 && $1 !~ /^ddrouter\./ {empty++}
           END {if (empty) printf "    (%d more dd.* queues, empty)\n", empty}'

say "What the router sent about the followed case (ddrouter audit citizen, \"sent\" entries)"
"$BIN" audit citizen "$CPR" --config "$CONFIG" --purpose "make demo" --operator make-demo \
    | awk '$4 == "sent" {printf "    %s  %-24s to %s\n", $2, $5, $3}'

say "ddrouter explain $CASE --purpose \"make demo\""
"$BIN" explain "$CASE" --config "$CONFIG" --purpose "make demo" --operator make-demo | sed 's/^/    /'

say "Done. Next: ${BIN#"$ROOT"/} cases list --config $CONFIG; ${BIN#"$ROOT"/} report --config $CONFIG --html var/report.html"
