#!/usr/bin/env bash
# scripts/bench.sh — the benchmark of docs/performance.md, in one command (`make bench`).
#
#   scripts/bench.sh [--quick] [ddbench options...]
#
# 1. starts a private RabbitMQ instance (DDR_BROKER_INSTANCE, default "bench", AMQP port
#    DDR_AMQP_PORT, default 5702) unless one of that name already runs, and stops it again
#    (scripts/broker.sh stop: by its pid) at the end, on success, failure or interrupt;
# 2. creates the sender users the daemon authorizes (municipality-851, municipality-810,
#    journal-journal-rn)
#    with write access to their own inbound exchange only;
# 3. builds the release daemon and the driver (swift build -c release --product ...) and the
#    C baseline relay (gcc, pkg-config librabbitmq);
# 4. runs `ddbench all`, which prints the table (also written to var/bench/table-<date>.md)
#    and a progress log on stderr.
#
# --quick: smaller counts (2,000-entry lists, 1,000 referrals, 20,000-entry big list) and 2
# repeats, for a check in a few minutes. Other options go to ddbench unchanged:
#   --repeats N   --only baseline,list,referral,latency,big,fair   --queue-types quorum,classic
#   --journal-batch N (entries per contact-status the bench's journal sends, default 500)
#   --keep-work   (leave the runs' stores in the work directory, for a look with sqlite3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BROKER="$ROOT/scripts/broker.sh"
export DDR_BROKER_INSTANCE="${DDR_BROKER_INSTANCE:-bench}"
export DDR_AMQP_PORT="${DDR_AMQP_PORT:-5702}"
export DDR_AMQPS_PORT="${DDR_AMQPS_PORT:-5703}"
export DDR_DIST_PORT="${DDR_DIST_PORT:-25702}"
SENDER_PASSWORD="ddbench-sender"

say() { printf '\n==> %s\n' "$*" >&2; }

started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ "$started" == 1 ]]; then
        say "Stopping broker instance $DDR_BROKER_INSTANCE"
        "$BROKER" stop || rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if "$BROKER" status >/dev/null 2>&1; then
    say "Using the running broker instance $DDR_BROKER_INSTANCE"
else
    say "Starting broker instance $DDR_BROKER_INSTANCE (AMQP 127.0.0.1:$DDR_AMQP_PORT)"
    started=1
    "$BROKER" start
fi
eval "$("$BROKER" env)"

say "Sender users: municipality-851, municipality-810, journal-journal-rn"
ctl() { "$BROKER" ctl "$@" >/dev/null; }
users="$("$BROKER" ctl list_users --quiet --no-table-headers | awk '{print $1}')"
for u in municipality-851 municipality-810 journal-journal-rn; do
    grep -qx "$u" <<<"$users" || ctl add_user "$u" "$SENDER_PASSWORD"
    ctl change_password "$u" "$SENDER_PASSWORD"
done
ctl set_permissions -p ddrouter municipality-851 '^$' '^dd\.in\.municipality\.851$' '^$'
ctl set_permissions -p ddrouter municipality-810 '^$' '^dd\.in\.municipality\.810$' '^$'
ctl set_permissions -p ddrouter journal-journal-rn '^$' '^dd\.in\.journal\.journal-rn$' '^dd\.journal\.journal-rn\.requests$'

say "Building (release): ddrouter, ddbench, the C baseline relay"
swift build -c release --product ddrouter
swift build -c release --product ddbench
BIN="$(swift build -c release --show-bin-path)"
mkdir -p .build/bench var/bench
gcc -O2 -Wall -Wextra -o .build/bench/relay Benchmarks/baseline-relay/relay.c $(pkg-config --cflags --libs librabbitmq)

say "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%FT%TZ)"
out="var/bench/table-$(date -u +%Y%m%dT%H%M%SZ).md"
DDBENCH_SENDER_PASSWORD="$SENDER_PASSWORD" "$BIN/ddbench" all --ddrouter "$BIN/ddrouter" --relay .build/bench/relay \
    --out "$out" "$@"
say "Table written to $out"
