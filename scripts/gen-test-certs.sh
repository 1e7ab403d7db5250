#!/usr/bin/env bash
# scripts/gen-test-certs.sh DIR — throw-away TLS material for the TLS tests.
#
# Writes into DIR (created if missing):
#   ca.pem, ca-key.pem                 test CA (CN=ddrouter test CA)
#   server.pem, server-key.pem         CN=localhost, SAN DNS:localhost + IP:127.0.0.1, serverAuth
#   client.pem, client-key.pem         CN=ddrouter-client, clientAuth (EXTERNAL login)
#   other-ca.pem, other-ca-key.pem     an unrelated CA (wrong-CA test)
#   wrong-host.pem, wrong-host-key.pem CN/SAN not-this-host.example, signed by the test CA
#                                      (wrong-hostname test)
# RSA 2048, SHA-256, valid DDR_CERT_DAYS days (default 7). Certificates 0644, keys
# 0600 (the dev broker runs as the invoking user and copies what it needs).
# Non-interactive; takes about a second. Test use only.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
OUT="$1"
DAYS="${DDR_CERT_DAYS:-7}"
command -v openssl >/dev/null || { echo "$0: openssl not found (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
umask 077

cat >"$WORK/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @server_san
[ server_san ]
DNS.1 = localhost
IP.1 = 127.0.0.1
[ wrong_host_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:not-this-host.example
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

ossl() { openssl "$@" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }; }
serial() { echo "0x$(openssl rand -hex 16)"; }

# name subject ext-section
self_signed_ca() {
    ossl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days "$DAYS" \
        -config "$WORK/openssl.cnf" -extensions ca_ext -set_serial "$(serial)" \
        -subj "$2" -keyout "$WORK/$1-key.pem" -out "$WORK/$1.pem"
}

# name subject ext-section
signed_by_ca() {
    ossl req -new -newkey rsa:2048 -nodes -sha256 -config "$WORK/openssl.cnf" \
        -subj "$2" -keyout "$WORK/$1-key.pem" -out "$WORK/$1.csr"
    ossl x509 -req -in "$WORK/$1.csr" -sha256 -days "$DAYS" \
        -CA "$WORK/ca.pem" -CAkey "$WORK/ca-key.pem" -set_serial "$(serial)" \
        -extfile "$WORK/openssl.cnf" -extensions "$3" -out "$WORK/$1.pem"
}

self_signed_ca ca "/O=ddrouter tests/CN=ddrouter test CA"
self_signed_ca other-ca "/O=somebody else/CN=unrelated test CA"
signed_by_ca server "/O=ddrouter tests/CN=localhost" server_ext
signed_by_ca client "/O=ddrouter tests/CN=ddrouter-client" client_ext
signed_by_ca wrong-host "/O=ddrouter tests/CN=not-this-host.example" wrong_host_ext

for n in ca other-ca server client wrong-host; do
    [[ "$n" == other-ca ]] || ossl verify -CAfile "$WORK/ca.pem" "$WORK/$n.pem" >/dev/null
    install -m 0644 "$WORK/$n.pem" "$OUT/$n.pem"
    install -m 0600 "$WORK/$n-key.pem" "$OUT/$n-key.pem"
done
echo "test certificates written to $OUT (valid $DAYS days)" >&2
