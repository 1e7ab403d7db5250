#!/bin/bash
# Runs inside the make systemd-test guest (Debian 12, systemd as PID 1, rabbitmq-server and
# the ddrouter package installed), started by ddrouter-systemd-test.service after boot.
# Checks the packaged service with systemd itself and reports on the serial console, one
# line "DDRTEST ok|FAIL <check>" per check and "DDRTEST RESULT PASS|FAIL", then powers off.
set -u
export LANG=C.UTF-8
unit=ddrouter.service
conf=/etc/ddrouter/ddrouter.yaml
pass=0 failed=0
say() { echo "DDRTEST $*"; }
ok() { say "ok   $*"; pass=$((pass + 1)); }
bad() { say "FAIL $*"; failed=$((failed + 1)); }
expect() { # DESCRIPTION COMMAND...
    local what="$1"; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
prop() { systemctl show -P "$1" "$unit"; }
state() { echo "$(prop ActiveState)/$(prop SubState)"; }
wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
    local until=$((SECONDS + $1)); shift
    while ((SECONDS < until)); do "$@" && return 0; sleep 1; done
    "$@"
}
is_running() { [[ "$(state)" == active/running ]]; }
finish() {
    say "RESULT $([[ $failed == 0 ]] && echo PASS || echo FAIL) ($pass passed, $failed failed, ${SECONDS}s in the guest)"
    sync
    systemctl poweroff --no-block
    exit 0
}
journal_since() { journalctl -u "$unit" -o cat --no-pager --since "@$1"; }

say "guest: $(uname -r), $(systemctl --version | head -1), $(dpkg-query -W -f='${Package} ${Version}' ddrouter), rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server)"
say "boot: $(systemd-analyze time 2>&1 | head -1)"
systemd-analyze blame 2>/dev/null | head -3 | sed 's/^ */DDRTEST   slowest: /'
expect "the package did not start the service" test "$(state)" = inactive/dead

# The broker: ddrouter's definitions, passwords for ddrouter and one municipality.
systemctl start rabbitmq-server
rabbitmqctl -q await_startup || { bad "rabbitmq-server starts"; finish; }
# (rabbitmqctl runs as the rabbitmq user: the file must be readable by it.)
ddrouter topology --definitions --config "$conf" --output /tmp/definitions.json && chmod 644 /tmp/definitions.json &&
    rabbitmqctl -q import_definitions /tmp/definitions.json >/dev/null || { bad "broker definitions imported"; finish; }
pw="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
pw851="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
rabbitmqctl -q change_password ddrouter "$pw" >/dev/null
rabbitmqctl -q change_password municipality-851 "$pw851" >/dev/null
(umask 077; printf '%s' "$pw" > /etc/credstore/broker-password; printf '%s' "$pw851" > /root/municipality-851-password)

# 1. active (running) only after READY=1: with the broker down (its AMQP listener closed by
#    stop_app, quicker to undo than a full stop under emulation) the start job waits
#    (activating), and the service becomes active only once it is connected and consuming.
rabbitmqctl -q stop_app
t0=$(date +%s)
systemctl start --no-block "$unit"
sleep 12
s="$(state)"
expect "broker down: 12 s after start the service is still activating/start, not running (was $s)" test "$s" = activating/start
rabbitmqctl -q start_app; rabbitmqctl -q await_startup
wait_for 60 is_running
expect "broker up: active/running (now $(state), status \"$(prop StatusText)\")" is_running
expect "READY=1 came with the daemon's ready log line" sh -c "journalctl -u $unit -o cat --since @$t0 | grep -q 'ready: connected'"
say "status: $(systemctl status "$unit" --no-pager 2>&1 | sed -n '1,4p' | tr -s ' ' | paste -sd '|' -)"

# 2. Credentials from /etc/credstore, seen by the running daemon.
pid="$(prop MainPID)"
credir="$(tr '\0' '\n' < "/proc/$pid/environ" | sed -n 's/^CREDENTIALS_DIRECTORY=//p')"
expect "credentials: \$CREDENTIALS_DIRECTORY=$credir holds broker-password and store-key" \
    sh -c "test -f '$credir/broker-password' && test -f '$credir/store-key'"
expect "credentials: the daemon logged in with broker-password (the packaged ddrouter.yaml has none)" \
    sh -c "! grep -qE '^ *password:' $conf && rabbitmqctl -q list_connections user | grep -qx ddrouter"

# 3. systemctl stop: clean, within TimeoutStopSec.
limit="$(prop TimeoutStopUSec)"
t=$SECONDS
systemctl stop "$unit"
took=$((SECONDS - t))
expect "systemctl stop took ${took}s (TimeoutStopSec $limit), result $(prop Result), exit status $(prop ExecMainStatus)" \
    test "$took" -lt 45 -a "$(prop Result)" = success -a "$(prop ExecMainStatus)" = 0

# 4. kill -9: restarted (Restart=on-failure).
systemctl start "$unit"
pid="$(prop MainPID)"; n="$(prop NRestarts)"
kill -9 "$pid"
restarted() { [[ "$(prop NRestarts)" -gt "$n" && "$(prop MainPID)" != "$pid" ]] && is_running; }
wait_for 40 restarted
expect "kill -9: restarted (NRestarts $n -> $(prop NRestarts), $(state))" restarted

# 5. Watchdog: a daemon that stops answering (SIGSTOP) is killed and restarted.
pid="$(prop MainPID)"; n="$(prop NRestarts)"; t=$(date +%s)
kill -STOP "$pid"
wait_for 150 restarted
expect "SIGSTOP: the watchdog restarted it (NRestarts $n -> $(prop NRestarts), $(state))" restarted
expect "SIGSTOP: systemd logged the watchdog timeout" sh -c "journalctl -u $unit --since @$t --no-pager | grep -q 'Watchdog timeout'"

# 6. Hardening, seen from inside the service: a probe as ExecStartPost= runs in the
#    service's sandbox (user, namespaces, seccomp) and writes what it sees to the journal.
mkdir -p /run/systemd/system/$unit.d
printf '[Service]\nExecStartPost=/usr/local/sbin/ddrouter-probe\n' > /run/systemd/system/$unit.d/probe.conf
systemctl daemon-reload
t=$(date +%s)
systemctl restart "$unit"
sleep 1
probe="$(journal_since "$t" | grep '^probe ')"
echo "$probe" | sed 's/^/DDRTEST   /'
has() { local l; for l in "$@"; do grep -qxF "$l" <<<"$probe" || return 1; done; }
expect "hardening: runs as a dynamic user, not root, no capabilities" \
    eval 'has "probe caps: 0000000000000000" && ! has "probe uid: 0" && test -n "$probe"'
expect "hardening: /home is not visible (ProtectHome=yes)" has "probe no: cat /home/alice/notes"
expect "hardening: cannot write /etc, /usr, /root (ProtectSystem=strict, ProtectHome=yes)" \
    has "probe no: touch /etc/probe" "probe no: touch /usr/probe" "probe no: touch /root/probe"
expect "hardening: writes its state directory and its own /tmp (PrivateTmp=yes)" \
    has "probe yes: touch /var/lib/ddrouter/probe" "probe yes: touch /tmp/probe"
expect "hardening: its /tmp is not the host's" test ! -e /tmp/probe
expect "hardening: cannot read the credential store, other processes, block devices" \
    has "probe no: cat /etc/credstore/store-key" "probe no: test -e /proc/1" "probe no: test -e /dev/vda"
rm -r /run/systemd/system/$unit.d; systemctl daemon-reload
rm -f /var/lib/private/ddrouter/probe

# 7. A list published inside the VM is routed.
systemctl restart "$unit"
ddrouter publish --type municipal-list --sender municipality:851 --password-file /root/municipality-851-password \
    --config "$conf" /root/examples/municipal-list.json > /root/publish.out 2>&1
rc=$?
expect "ddrouter publish: the broker confirmed the list (exit $rc)" test "$rc" = 0
# Routed: a message for a clinic, Central Visitation or the journal (not only the receipt
# in the municipality's inbox).
routed() { rabbitmqctl -q list_queues -p ddrouter name messages | awk '$1 ~ /^dd\.(clinic|cv|journal)\./ && $2 > 0 { n++ } END { exit !(n > 0) }'; }
wait_for 30 routed
rabbitmqctl -q list_queues -p ddrouter name messages | awk 'NR > 1 && $2 > 0 { print "DDRTEST   queue " $1 " " $2 }'
none_dead() { ! rabbitmqctl -q list_queues -p ddrouter name messages | awk '($1 == "ddrouter.dead" || $1 == "dd.dead") && $2 > 0 { f = 1 } END { exit !f }'; }
expect "the list was routed: messages in the recipients' queues, none dead" eval 'routed && none_dead'

# 8. The store key file replaced while the daemon runs (docs/operations.md, Change the store
#    key file): the running daemon keeps the copy systemd made at its start; its next start
#    is refused (the store now has cases written with the old key): exit 78, not restarted;
#    with the store's key back it runs.
cp /etc/credstore/store-key /root/store-key.good
pid="$(prop MainPID)"
(umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > /etc/credstore/store-key)
sleep 3
expect "store key replaced while running: still running (same PID), its credential copy unchanged" \
    eval 'is_running && test "$(prop MainPID)" = "$pid" && cmp -s /run/credentials/'"$unit"'/store-key /root/store-key.good'
t=$(date +%s)
systemctl restart "$unit"
sleep 15
expect "store key replaced: the next start is refused ($(state), result $(prop Result), exit status $(prop ExecMainStatus))" \
    test "$(prop ActiveState)" = failed -a "$(prop ExecMainStatus)" = 78
expect "store key replaced: the journal says why" \
    sh -c "journalctl -u $unit --since @$t -o cat | grep -q 'the store key does not match the store'"
n="$(prop NRestarts)"; sleep 12
expect "store key replaced: not restarted (NRestarts $n -> $(prop NRestarts), $(state))" \
    test "$(prop NRestarts)" = "$n" -a "$(prop ActiveState)" = failed
install -m 0600 /root/store-key.good /etc/credstore/store-key
systemctl reset-failed "$unit"
systemctl start "$unit"
expect "store key put back: running" is_running

# 9. store.dev_key is refused under systemd (exit 78): with the store-key credential gone
#    the daemon does not fall back to it; and exit 78 is not restarted.
cp "$conf" /root/ddrouter.yaml.good
mv /etc/credstore/store-key /root/store-key.away
sed -i '/^store:/a\  dev_key: "ddrouter-DEVELOPMENT-ONLY-store-key-do-not-use-in-production"' "$conf"
t=$(date +%s)
systemctl restart "$unit"
sleep 15
expect "store.dev_key: refused ($(state), result $(prop Result))" test "$(prop ActiveState)" = failed
expect "store.dev_key: the journal says why" sh -c "journalctl -u $unit --since @$t -o cat | grep -q 'store.dev_key is for development only'"
n="$(prop NRestarts)"; sleep 12
expect "exit 78: not restarted (NRestarts $n -> $(prop NRestarts), $(state))" test "$(prop NRestarts)" = "$n" -a "$(prop ActiveState)" = failed
cp /root/ddrouter.yaml.good "$conf"
mv /root/store-key.away /etc/credstore/store-key
systemctl reset-failed "$unit"

# 10. A broken configuration (unknown key) likewise: exit 78, failed, no restart loop.
printf 'brokr:\n  host: x\n' >> "$conf"
systemctl reset-failed "$unit"
systemctl restart "$unit"
sleep 15
n="$(prop NRestarts)"; sleep 12
expect "broken config: failed, not restarted ($(state), NRestarts $n -> $(prop NRestarts))" \
    test "$(prop ActiveState)" = failed -a "$(prop NRestarts)" = "$n"
cp /root/ddrouter.yaml.good "$conf"
systemctl reset-failed "$unit"
systemctl start "$unit"
expect "good config again: running" is_running

finish
