#!/usr/bin/env bash
# scripts/soak.sh — the soak of issue 17 (`make soak DURATION=1h`; docs/operations.md, "Soak").
#
#   scripts/soak.sh [--duration 1h] [--warmup 5m] [--rate 300] [other ddbench soak options...]
#
# 1. starts a private RabbitMQ instance (DDR_BROKER_INSTANCE, default "soak", AMQP port
#    DDR_AMQP_PORT, default 5732) unless one of that name already runs, and stops it again
#    (scripts/broker.sh stop: by its pid) at the end, on success, failure or interrupt;
# 2. creates the sender users the load plays (municipality-851, clinic-amb-syd-aalborg,
#    journal-journal-rn), each with write access to its own inbound exchange only;
# 3. builds the release daemon and the driver (swift build -c release --product ...);
# 4. runs `ddbench soak`: the daemon with a fresh store and a test clock (DDR_TEST_CLOCK_FILE),
#    a steady mixed load at --rate citizen messages per second, a sample of the daemon every
#    minute into samples.csv, the pass criteria (PASS/FAIL per criterion) and the ledger check;
# 5. plots samples.csv to soak.png (gnuplot; scripts/apt-install.sh gnuplot-nox if missing).
#
# Everything lands in var/soak/<UTC timestamp>/: samples.csv, summary.txt, soak.png, the
# daemon's log and store. Exit status: ddbench's (1 if a criterion failed).
# `scripts/soak.sh --plot DIR` only redraws DIR/soak.png from DIR/samples.csv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BROKER="$ROOT/scripts/broker.sh"
export DDR_BROKER_INSTANCE="${DDR_BROKER_INSTANCE:-soak}"
export DDR_AMQP_PORT="${DDR_AMQP_PORT:-5732}"
export DDR_AMQPS_PORT="${DDR_AMQPS_PORT:-5733}"
export DDR_DIST_PORT="${DDR_DIST_PORT:-25732}"
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

# soak.png from DIR/samples.csv (the warm-up from DIR/summary.txt).
plot() {
    local work="$1" warmup
    warmup="$(sed -n 's/^samples: .* after the \([0-9]*\) s warm-up.*/\1/p' "$work/summary.txt" 2>/dev/null || true)"
    gnuplot <<EOF || { say "gnuplot failed; no plot"; return 0; }
set terminal pngcairo size 960,720 font ",9"
set output "$work/soak.png"
set datafile separator ","
set key top left box opaque
set grid
set xlabel "minutes"
set multiplot layout 3,2 title "ddrouter soak $(basename "$work") (warm-up ${warmup:-?} s dashed)"
set arrow 1 from ${warmup:-0}/60.0, graph 0 to ${warmup:-0}/60.0, graph 1 nohead dashtype 2
set title "daemon memory (MiB)"
plot "$work/samples.csv" every ::1 using (\$1/60):2 with linespoints pt 7 ps 0.4 title "VmRSS", \
     "" every ::1 using (\$1/60):16 with lines title "RssAnon"
set title "file descriptors, threads"
plot "$work/samples.csv" every ::1 using (\$1/60):3 with linespoints pt 7 ps 0.4 title "fds", \
 "" every ::1 using (\$1/60):4 with linespoints pt 7 ps 0.4 title "threads"
set title "store and WAL (MiB)"
plot "$work/samples.csv" every ::1 using (\$1/60):5 with lines title "store", \
 "" every ::1 using (\$1/60):6 with lines title "WAL"
set title "outbox depth (sampled)"
plot "$work/samples.csv" every ::1 using (\$1/60):8 with linespoints pt 7 ps 0.4 title "outbox"
set title "probe referral: publish to receipt and request (ms)"
plot "$work/samples.csv" every ::1 using (\$1/60):9 with linespoints pt 7 ps 0.4 title "probe"
set title "machine load average (1 min)"
plot "$work/samples.csv" every ::1 using (\$1/60):11 with lines title "load1"
unset multiplot
EOF
    [[ -s "$work/soak.png" ]] && say "Plot: $work/soak.png"
    return 0
}

# `scripts/soak.sh --plot DIR`: only (re)draw DIR/soak.png.
if [[ "${1:-}" == "--plot" ]]; then
    command -v gnuplot >/dev/null || scripts/apt-install.sh gnuplot-nox
    plot "${2:?--plot needs a run directory}"
    exit 0
fi

command -v gnuplot >/dev/null || { say "Installing gnuplot-nox (for the plot)"; scripts/apt-install.sh gnuplot-nox; }

say "Building (release): ddrouter, ddbench"
swift build -c release --product ddrouter
swift build -c release --product ddbench
BIN="$(swift build -c release --show-bin-path)"

if "$BROKER" status >/dev/null 2>&1; then
    say "Using the running broker instance $DDR_BROKER_INSTANCE"
else
    say "Starting broker instance $DDR_BROKER_INSTANCE (AMQP 127.0.0.1:$DDR_AMQP_PORT)"
    started=1
    "$BROKER" start
fi
eval "$("$BROKER" env)"

say "Sender users: municipality-851, clinic-amb-syd-aalborg, journal-journal-rn"
ctl() { "$BROKER" ctl "$@" >/dev/null; }
users="$("$BROKER" ctl list_users --quiet --no-table-headers | awk '{print $1}')"
for u in municipality-851 clinic-amb-syd-aalborg journal-journal-rn; do
    grep -qx "$u" <<<"$users" || ctl add_user "$u" "$SENDER_PASSWORD"
    ctl change_password "$u" "$SENDER_PASSWORD"
done
ctl set_permissions -p ddrouter municipality-851 '^$' '^dd\.in\.municipality\.851$' '^$'
ctl set_permissions -p ddrouter clinic-amb-syd-aalborg '^$' '^dd\.in\.clinic\.amb-syd-aalborg$' '^$'
ctl set_permissions -p ddrouter journal-journal-rn '^$' '^dd\.in\.journal\.journal-rn$' '^dd\.journal\.journal-rn\.requests$'

work="var/soak/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$work"
say "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Benchmarks || echo ' (with local changes)')"
say "Soak: ddbench soak $* (work directory $work)"
status=0
DDBENCH_SENDER_PASSWORD="$SENDER_PASSWORD" "$BIN/ddbench" soak --ddrouter "$BIN/ddrouter" --work "$work" "$@" || status=$?

if [[ -s "$work/samples.csv" ]]; then plot "$work"; fi
say "Summary: $work/summary.txt; samples: $work/samples.csv; daemon log: $work/daemon/daemon.log"
exit "$status"
