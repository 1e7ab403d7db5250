#!/usr/bin/env bash
# Installs ddrouter on Debian 12 as the Debian package (a thin wrapper; see docs/operations.md,
# Install). Run as root from the repository:
#   deploy/install.sh                              make deb, then install that package
#   deploy/install.sh ddrouter_0.1.0_amd64.deb     install a package built elsewhere (no Swift needed)
# apt-get pulls the dependencies (librabbitmq4, libsqlite3-0, ...). The package never
# overwrites an edited /etc/ddrouter/ddrouter.yaml (a conffile) or /etc/credstore/store-key,
# and does not start the service: give the broker credential first (below).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if (($# > 0)); then
    deb="$(realpath "$1")"
else
    make deb
    deb="$(realpath "$(cat var/deb/deb-path)")"
fi
echo "==> apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb"

cat <<'NEXT'

Next steps (docs/operations.md has the details):
  1. Edit /etc/ddrouter/ddrouter.yaml: broker host/port/vhost/user, TLS files, the directory
     (municipalities, clinics and whom they serve, broker users), the phasing calendar.
  2. The broker password of broker.user as a credential (not needed with certificate login):
       (umask 077; printf '%s' 'the-password' > /etc/credstore/broker-password)
     The package created the store key /etc/credstore/store-key: back it up apart from the store.
  3. Check:  CREDENTIALS_DIRECTORY=/etc/credstore ddrouter check-config --config /etc/ddrouter/ddrouter.yaml
  4. Broker: ddrouter topology --definitions --config /etc/ddrouter/ddrouter.yaml --output definitions.json
  5. Start:  systemctl enable --now ddrouter && systemctl status ddrouter
  6. Watch:  journalctl -u ddrouter -f
  7. Admin:  sudo ddrouter-admin report   (cases, explain, audit, dlq: see docs/operations.md)
NEXT
