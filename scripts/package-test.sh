#!/usr/bin/env bash
# make package-test: installs ddrouter_<version>_amd64.deb into a clean Debian 12 root
# (debootstrap minbase, no Swift; scripts/debian-root.sh, cached under var/debian-root/) and
# checks it there in a chroot, as an administrator would use it:
#   - apt installs it with the dependencies it declares; nothing of Swift is on the root,
#     and the binary finds every library it needs;
#   - ddrouter --version; the postinst's store key (0600, 64 hex digits);
#   - ddrouter check-config: no broker password before the operator gives the credential,
#     passes with it, exit 78 without the store key; ddrouter topology --definitions;
#   - a reinstall keeps the operator's ddrouter.yaml and the store key;
#   - remove keeps the state and the key, purge deletes them (and the conffile), and keeps
#     the credential the operator gave.
#   scripts/package-test.sh DEB
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deb="${1:?usage: package-test.sh DEB}"
[[ -f "$deb" ]] || { echo "package-test: $deb not found (make deb)" >&2; exit 1; }
root=var/package-test/root
started=$SECONDS
failures=0
heading() { printf '\n==> %s\n' "$*"; }
ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }
check() { # DESCRIPTION COMMAND...: the command (run in the root) succeeds
    local what="$1"; shift
    if in_root "$@" >"$root.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/        /' "$root.out"; fi
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"; }

cleanup() {
    umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT

heading "A clean Debian 12 root in $root"
scripts/debian-root.sh unpack "$root"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No service starts inside the chroot (Debian's policy-rc.d convention).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
name="$(basename "$deb")"
cp "$deb" "$root/tmp/$name"
version="$(dpkg-deb --field "$deb" Version)"

heading "apt-get install ./$name (its Depends: from the mirror)"
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "/tmp/$name" | tail -15

heading "Checks"
check "package installed" dpkg-query -W -f='${Status}\n' ddrouter
if in_root sh -c 'command -v swift swiftc; ls /usr/lib/swift /usr/share/swift' >/dev/null 2>&1; then
    bad "no Swift toolchain on the root"
else
    ok "no Swift toolchain on the root"
fi
in_root ldd /usr/bin/ddrouter > "$root.ldd" 2>&1 || true
if grep -q 'not found' "$root.ldd"; then bad "ldd: every library found"; cat "$root.ldd"; else ok "ldd: every library found"; fi
if grep -qi 'swift' "$root.ldd"; then bad "no shared Swift runtime"; cat "$root.ldd"; else ok "no shared Swift runtime (linked statically)"; fi
if [[ "$(in_root ddrouter --version)" == "$version" ]]; then ok "ddrouter --version = $version"; else bad "ddrouter --version = $version"; fi
check "store key: 0600 root, 64 hex digits" sh -c \
    '[ "$(stat -c %a:%U /etc/credstore/store-key)" = 600:root ] && [ "$(stat -c %a /etc/credstore)" = 700 ] && grep -qxE "[0-9a-f]{64}" /etc/credstore/store-key'
check "unit, admin wrapper, man pages, completions installed" sh -c \
    'test -f /lib/systemd/system/ddrouter.service && test -x /usr/sbin/ddrouter-admin && test -f /usr/share/man/man1/ddrouter.1.gz &&
     test -f /usr/share/man/man8/ddrouter-admin.8.gz && test -f /usr/share/bash-completion/completions/ddrouter &&
     test -f /usr/share/zsh/vendor-completions/_ddrouter && grep -qx /etc/ddrouter/ddrouter.yaml /var/lib/dpkg/info/ddrouter.conffiles'
check "the service is neither enabled nor started by the installation" sh -c \
    '! ls /etc/systemd/system/*.wants/ddrouter.service 2>/dev/null'

# check-config as the service sees it (docs/operations.md, Credentials).
svc=(env CREDENTIALS_DIRECTORY=/etc/credstore DDROUTER_STORE_PATH=/var/lib/ddrouter/ddrouter.sqlite)
# check-config does not require a password (certificate login has none): it shows where
# each value comes from, so before the credential the password is "(not set)".
if in_root "${svc[@]}" ddrouter check-config --config /etc/ddrouter/ddrouter.yaml 2>&1 | grep -qx 'broker.password = (not set)  # default'; then
    ok "before the operator gives it, there is no broker password (the packaged file has none)"
else
    bad "before the operator gives it, there is no broker password"
fi
in_root sh -c "umask 077; printf '%s' 'package-test-password' > /etc/credstore/broker-password"
check "check-config with the credentials: exit 0, the password from the credential" sh -c \
    'env CREDENTIALS_DIRECTORY=/etc/credstore DDROUTER_STORE_PATH=/var/lib/ddrouter/ddrouter.sqlite ddrouter check-config --config /etc/ddrouter/ddrouter.yaml |
     grep -qx "broker.password = (redacted)  # credential broker-password"'
# Without the store key, check-config refuses (exit 78): no fallback to a development key.
in_root mv /etc/credstore/store-key /etc/credstore/store-key.away
set +e
in_root "${svc[@]}" ddrouter check-config --config /etc/ddrouter/ddrouter.yaml > "$root.out" 2>&1
rc=$?
set -e
in_root mv /etc/credstore/store-key.away /etc/credstore/store-key
if [[ $rc == 78 ]]; then ok "check-config without the store key: exit 78"; else bad "check-config without the store key: exit 78 (got $rc)"; tail -5 "$root.out"; fi
check "topology --definitions writes the broker definitions" sh -c \
    'ddrouter topology --definitions --config /etc/ddrouter/ddrouter.yaml --output /tmp/definitions.json &&
     grep -q "\"dd.in.municipality.851\"" /tmp/definitions.json && grep -q "\"ddrouter.inbound\"" /tmp/definitions.json'

heading "Reinstall, remove, purge"
key="$(cat "$root/etc/credstore/store-key")"
echo "# the operator's own line" >> "$root/etc/ddrouter/ddrouter.yaml"
in_root env DEBIAN_FRONTEND=noninteractive dpkg -i "/tmp/$name" >/dev/null
if [[ "$(cat "$root/etc/credstore/store-key")" == "$key" ]]; then ok "reinstall keeps the store key"; else bad "reinstall keeps the store key"; fi
if grep -qx "# the operator's own line" "$root/etc/ddrouter/ddrouter.yaml"; then ok "reinstall keeps the edited conffile"; else bad "reinstall keeps the edited conffile"; fi
# The state the service would have written (DynamicUser=: /var/lib/private/ddrouter).
mkdir -p "$root/var/lib/private/ddrouter"; chmod 700 "$root/var/lib/private"
echo state > "$root/var/lib/private/ddrouter/ddrouter.sqlite"
ln -sfn private/ddrouter "$root/var/lib/ddrouter"
in_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q ddrouter >/dev/null
check "remove: binary gone" sh -c '! test -e /usr/bin/ddrouter'
check "remove keeps the state, the store key and the conffile" sh -c \
    'test -f /var/lib/ddrouter/ddrouter.sqlite && test -f /etc/credstore/store-key && test -f /etc/ddrouter/ddrouter.yaml'
in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge ddrouter >/dev/null
check "purge deletes the state, the store key and the conffile" sh -c \
    '! test -e /var/lib/private/ddrouter && ! test -e /var/lib/ddrouter && ! test -e /etc/credstore/store-key && ! test -e /etc/ddrouter'
check "purge keeps the operator's broker credential" test -f /etc/credstore/broker-password

heading "package-test: $((SECONDS - started)) s, $failures failure(s)"
((failures == 0))
