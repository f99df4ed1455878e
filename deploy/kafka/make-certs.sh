#!/usr/bin/env bash
# Create a throw-away certificate authority and a broker certificate for the
# local broker's TLS listener (dev and tests only; a bank brings its own PKI).
#
#   deploy/kafka/make-certs.sh <dir>
#
# Writes into <dir> (created if missing; files already there are kept, so a
# restarted broker keeps its identity and clients keep trusting it):
#   ca.pem            the CA certificate: what clients pass as their cafile
#   ca.key            the CA's private key (only needed to issue more certs)
#   broker.pem/.key   the broker's certificate (SAN: localhost, 127.0.0.1)
#   broker.p12        the broker's key and chain as a PKCS#12 keystore
#   store.password    the keystore's password (random, mode 600)
set -euo pipefail

DIR="${1:?usage: $0 <dir>}"
DAYS_CA=3650
DAYS_LEAF=825

die() { echo "make-certs.sh: error: $*" >&2; exit 1; }
command -v openssl >/dev/null || die "openssl not found"

mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"
umask 077

if [[ -s broker.p12 && -s ca.pem && -s store.password ]]; then
    exit 0
fi

# Quiet on success; openssl's chatter only shows up when a step fails.
run() {
    local out
    if ! out="$("$@" 2>&1)"; then
        echo "$out" >&2
        die "failed: $1 $2"
    fi
}

openssl rand -hex 24 >store.password

run openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$DAYS_CA" \
    -keyout ca.key -out ca.pem -subj "/CN=mulewatch local dev CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"

run openssl req -newkey rsa:2048 -nodes -sha256 \
    -keyout broker.key -out broker.csr -subj "/CN=localhost"

cat >broker.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF
run openssl x509 -req -sha256 -days "$DAYS_LEAF" -in broker.csr \
    -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -extfile broker.ext

run openssl pkcs12 -export -name broker -in broker.pem -inkey broker.key \
    -certfile ca.pem -out broker.p12 -passout "file:store.password"

rm -f broker.csr broker.ext ca.srl
# Clients only need to read the CA certificate.
chmod 644 ca.pem
