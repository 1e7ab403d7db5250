#!/usr/bin/env bash
# scripts/netns-lab.sh — the network of `make test-faults` (docs/operations.md, Network faults):
# the daemon in a network namespace of its own, joined to a broker on this host over veth
# pairs through a middle namespace where the tests add latency.
#
#   scripts/netns-lab.sh up | down | env | status
#
#   root namespace              <lab>-m (middle)                  <lab>-d (daemon)
#   <lab>-h 10.213.7.1/30 ── veth ── <lab>-mh  [br0]  <lab>-md ── veth ── <lab>-d0 10.213.7.2/30
#
# The broker listens on the host end's address (scripts/broker.sh, DDR_AMQP_EXTRA_ADDRESSES);
# the tests run `ddrouter run` with `ip netns exec <lab>-d` and inject faults only inside the
# lab's namespaces: `ip link` on <lab>-d0, nftables netdev tables on <lab>-d0 (drop, random
# loss), and delay in <lab>-m (tc netem where the kernel has it, else a delay line in the
# test process that forwards between <lab>-mh and <lab>-md). Nothing is added to the root
# namespace but the host end <lab>-h and its address; no rule, no route beyond that /30.
#
# Environment: FAULTS_LAB (ddrf: names of namespaces and links), FAULTS_NET (10.213.7: the
# first three octets of the /30). `up` refuses a /30 that an existing address or route covers.
# Needs root, iproute2 and nftables (`make test-faults` installs them).

set -euo pipefail

LAB="${FAULTS_LAB:-ddrf}"
NET="${FAULTS_NET:-10.213.7}"
[[ "$LAB" =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "netns-lab: FAULTS_LAB '$LAB': 1-8 lower-case letters and digits" >&2; exit 2; }
[[ "$NET" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || { echo "netns-lab: FAULTS_NET '$NET' is not a.b.c" >&2; exit 2; }

NS_D="$LAB-d" NS_M="$LAB-m"
IF_H="$LAB-h" IF_MH="$LAB-mh" IF_MD="$LAB-md" IF_D="$LAB-d0"
ADDR_H="$NET.1" ADDR_D="$NET.2"

say() { printf 'netns-lab[%s]: %s\n' "$LAB" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

exists_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

cmd_down() {
    local ns
    for ns in "$NS_D" "$NS_M"; do
        if exists_ns "$ns"; then
            ip netns del "$ns"
            say "deleted namespace $ns"
        fi
    done
    # Deleting the middle namespace deletes its veth ends and so their peers; this is for a
    # host end left over from an interrupted `up`.
    # The kernel removes a deleted namespace's links asynchronously: wait for the host end.
    local n=50
    while ip link show dev "$IF_H" >/dev/null 2>&1 && ((n-- > 0)); do sleep 0.1; done
    if ip link show dev "$IF_H" >/dev/null 2>&1; then
        ip link del dev "$IF_H" 2>/dev/null || true
        say "deleted link $IF_H"
    fi
}

cmd_up() {
    [[ "$(id -u)" == 0 ]] || die "needs root (network namespaces, veth)"
    command -v ip >/dev/null || die "ip (iproute2) is missing: make test-faults installs it"
    command -v nft >/dev/null || die "nft (nftables) is missing: make test-faults installs it"
    cmd_down
    # Not a subnet this machine already uses.
    local taken
    taken="$(ip -4 -o addr show | awk -v n="$NET." 'index($4, n) == 1 {print $2, $4}')"
    [[ -z "$taken" ]] || die "$NET.0/30 overlaps an address of this host ($taken): set FAULTS_NET"
    taken="$(ip -4 route show table all match "$NET.0/30" | grep -v '^default ' | head -1 || true)"
    [[ -z "$taken" ]] || die "a route covers $NET.0/30 ($taken): set FAULTS_NET"

    trap 'rc=$?; if ((rc != 0)); then say "setup failed; removing what was made"; cmd_down; fi' EXIT
    ip netns add "$NS_D"
    ip netns add "$NS_M"
    ip link add "$IF_H" type veth peer name "$IF_MH" netns "$NS_M"
    ip -n "$NS_M" link add "$IF_MD" type veth peer name "$IF_D" netns "$NS_D"
    # No IPv6 on the lab's links: no router solicitations or DAD in the counts and traces.
    ip netns exec "$NS_M" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$NS_D" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    if [[ -e "/proc/sys/net/ipv6/conf/$IF_H/disable_ipv6" ]]; then
        echo 1 >"/proc/sys/net/ipv6/conf/$IF_H/disable_ipv6"
    fi
    # The middle: a plain bridge, until a test takes the two ports for its delay line.
    ip -n "$NS_M" link add br0 type bridge
    ip -n "$NS_M" link set "$IF_MH" master br0
    ip -n "$NS_M" link set "$IF_MD" master br0
    local l
    for l in lo br0 "$IF_MH" "$IF_MD"; do ip -n "$NS_M" link set "$l" up; done
    ip -n "$NS_D" link set lo up
    ip -n "$NS_D" addr add "$ADDR_D/30" dev "$IF_D"
    ip -n "$NS_D" link set "$IF_D" up
    ip addr add "$ADDR_H/30" dev "$IF_H"
    ip link set "$IF_H" up
    # nftables works in the daemon's namespace (the faults need a netdev table there).
    ip netns exec "$NS_D" nft list ruleset >/dev/null || die "nft cannot list the ruleset in $NS_D"
    trap - EXIT
    say "up: $IF_H $ADDR_H (root) <-> $NS_M (br0) <-> $IF_D $ADDR_D ($NS_D)"
}

# What the tests read (Tests/IntegrationTests/NetworkFaultTests.swift, NetLab).
cmd_env() {
    printf 'export DDR_NETNS_LAB=%q\n' "$LAB"
    printf 'export DDR_NETNS_DAEMON=%q\n' "$NS_D"
    printf 'export DDR_NETNS_MIDDLE=%q\n' "$NS_M"
    printf 'export DDR_NETNS_DAEMON_LINK=%q\n' "$IF_D"
    printf 'export DDR_NETNS_MIDDLE_LINKS=%q\n' "$IF_MD $IF_MH"
    printf 'export DDR_NETNS_BROKER_ADDRESS=%q\n' "$ADDR_H"
    printf 'export DDR_NETNS_DAEMON_ADDRESS=%q\n' "$ADDR_D"
}

cmd_status() {
    local ns up=0
    for ns in "$NS_D" "$NS_M"; do exists_ns "$ns" && up=$((up + 1)); done
    if ((up == 2)) && ip link show dev "$IF_H" >/dev/null 2>&1; then
        echo "lab $LAB: up ($ADDR_H <-> $ADDR_D)"
        return 0
    fi
    echo "lab $LAB: down"
    return 3
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    status) cmd_status ;;
    *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
