#!/bin/sh
# Make a local CA, a server certificate and client certificates for a TEST
# installation of Trygg's Mosquitto (a municipality uses its own PKI).
#
#   make-certs.sh OUT_DIR SERVER_NAME [CLIENT_NAME ...]
#
# OUT_DIR/ca.crt          give to every client (TRYGG_MQTT_CA_FILE on the hub)
# OUT_DIR/ca.key          keep offline; signs new certificates
# OUT_DIR/server.{crt,key}  mosquitto's certfile/keyfile (SAN: SERVER_NAME, localhost, 127.0.0.1)
# OUT_DIR/clients/NAME.{crt,key}  optional client certificates (require_certificate true)
# Keys are created 0600. Certificates last DAYS days (default 825).
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 OUT_DIR SERVER_NAME [CLIENT_NAME ...]" >&2
    exit 2
fi
out=$1
server=$2
shift 2
days=${DAYS:-825}
umask 077
mkdir -p "$out/clients"

if [ ! -f "$out/ca.key" ]; then
    openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days "$days" \
        -keyout "$out/ca.key" -out "$out/ca.crt" -subj "/CN=Trygg test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
fi

sign() {  # sign NAME SUBJECT EXTFILE_CONTENT KEY CRT
    openssl req -new -newkey rsa:2048 -nodes -keyout "$4" -out "$4.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$3" > "$4.ext"
    openssl x509 -req -in "$4.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
        -days "$days" -sha256 -extfile "$4.ext" -out "$5" 2>/dev/null
    rm -f "$4.csr" "$4.ext"
}

sign server "/CN=$server" \
    "subjectAltName=DNS:$server,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment" \
    "$out/server.key" "$out/server.crt"

for client in "$@"; do
    sign "$client" "/CN=$client" \
        "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment" \
        "$out/clients/$client.key" "$out/clients/$client.crt"
done
chmod 644 "$out/ca.crt" "$out/server.crt"
echo "certificates in $out (CA: $out/ca.crt)"
