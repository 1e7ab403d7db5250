#!/usr/bin/env bash
# Installs ddrouter as a systemd service on Debian 12. Run as root from the repository:
#   deploy/install.sh            build (release, static Swift runtime) and install
#   DESTDIR=/tmp/root deploy/install.sh   install into a staging root (no systemctl calls)
# An existing /etc/ddrouter/ddrouter.yaml is never overwritten.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DESTDIR="${DESTDIR:-}"

if [[ -z "$DESTDIR" ]]; then
    echo "==> Runtime packages (librabbitmq4)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade librabbitmq4 >/dev/null
fi

echo "==> Building release"
swift build -c release --static-swift-stdlib
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/ddrouter"

echo "==> Installing"
install -D -m 0755 "$bin" "$DESTDIR/usr/local/bin/ddrouter"
install -D -m 0644 deploy/ddrouter.service "$DESTDIR/etc/systemd/system/ddrouter.service"
install -d -m 0755 "$DESTDIR/etc/ddrouter"
install -d -m 0700 "$DESTDIR/etc/ddrouter/credentials"
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
  1. Edit /etc/ddrouter/ddrouter.yaml: broker host/port/vhost/user, TLS files, the directory.
     Remove the dev password line; the password comes from the credential below.
  2. Put the broker password in /etc/ddrouter/credentials/broker-password (mode 0600, root).
  3. Check:  /usr/local/bin/ddrouter check-config --config /etc/ddrouter/ddrouter.yaml
  4. Start:  systemctl enable --now ddrouter && systemctl status ddrouter
  5. Watch:  journalctl -u ddrouter -f
NEXT
