#!/usr/bin/env bash
# Installs ddrouter as a systemd service on Debian 12. Run as root from the repository:
#   deploy/install.sh            build (release, static Swift runtime) and install
#   DESTDIR=/tmp/root deploy/install.sh   install into a staging root (no systemctl calls)
#   DDROUTER_BIN=path deploy/install.sh   install that binary instead of building one
# An existing /etc/ddrouter/ddrouter.yaml is never overwritten.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DESTDIR="${DESTDIR:-}"

if [[ -z "$DESTDIR" ]]; then
    echo "==> Runtime packages (librabbitmq4)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade librabbitmq4 >/dev/null
fi

if [[ -n "${DDROUTER_BIN:-}" ]]; then
    bin="$DDROUTER_BIN"          # an already built binary (tests stage the debug build)
else
    echo "==> Building release"
    swift build -c release --static-swift-stdlib
    bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/ddrouter"
fi

echo "==> Installing"
install -D -m 0755 "$bin" "$DESTDIR/usr/local/bin/ddrouter"
install -D -m 0755 deploy/ddrouter-admin "$DESTDIR/usr/local/sbin/ddrouter-admin"
install -D -m 0644 deploy/ddrouter.service "$DESTDIR/etc/systemd/system/ddrouter.service"
install -d -m 0755 "$DESTDIR/etc/ddrouter"
# Credentials (LoadCredential=broker-password, store-key, broker-tls-key) live in systemd's
# credential store; only root reads it.
install -d -m 0700 "$DESTDIR/etc/credstore"
if [[ -e "$DESTDIR/etc/ddrouter/ddrouter.yaml" ]]; then
    echo "    keeping existing /etc/ddrouter/ddrouter.yaml (the shipped one is Config/ddrouter.yaml)"
else
    install -m 0644 Config/ddrouter.yaml "$DESTDIR/etc/ddrouter/ddrouter.yaml"
fi
if [[ -z "$DESTDIR" ]]; then
    systemctl daemon-reload
fi

cat <<'NEXT'

Next steps (docs/operations.md has the details):
  1. Edit /etc/ddrouter/ddrouter.yaml: broker host/port/vhost/user, TLS files, the directory
     (municipalities, clinics and whom they serve, broker users), the phasing calendar.
     Remove the dev password and store.dev_key lines; the secrets come from credentials:
  2. Credentials (mode 0600, owner root) in /etc/credstore/:
       broker-password   the broker password of broker.user
       store-key         the store master key:  (umask 077; openssl rand -hex 32 > /etc/credstore/store-key)
       broker-tls-key    the TLS client key, if broker.tls is used
     Back up store-key separately from the store: without it the audit trail cannot be verified.
  3. Check:  /usr/local/bin/ddrouter check-config --config /etc/ddrouter/ddrouter.yaml
     (as the service sees them: CREDENTIALS_DIRECTORY=/etc/credstore DDROUTER_STORE_PATH=/var/lib/ddrouter/ddrouter.sqlite)
  4. Broker: ddrouter topology --definitions --config /etc/ddrouter/ddrouter.yaml --output definitions.json
  5. Start:  systemctl enable --now ddrouter && systemctl status ddrouter
  6. Watch:  journalctl -u ddrouter -f
  7. Admin:  sudo ddrouter-admin report   (cases, explain, audit, dlq: see docs/operations.md)
NEXT
