#!/bin/sh
# make systemd-test: run inside ddrouter.service's sandbox as an ExecStartPost= (guest.sh
# adds it with a drop-in for one start) and writes what it can see and do to the journal.
p() { if "$@" >/dev/null 2>&1; then r=yes; else r=no; fi; echo "probe $r: $*"; }
echo "probe uid: $(id -u)"
echo "probe caps: $(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)"
p cat /home/alice/notes
p touch /etc/probe
p touch /usr/probe
p touch /root/probe
p touch /var/lib/ddrouter/probe
p touch /tmp/probe
p cat /etc/credstore/store-key
p test -e /proc/1
p test -e /dev/vda
exit 0
