#!/bin/sh
# Container image: make the service runnable and prove it serves its release id before the
# image is committed. Runs under busybox sh in the base image. Input: KILN_RELEASE.
# busybox sh supports pipefail; POSIX sh does not define it.
# shellcheck disable=SC3040
set -euo pipefail

release="${KILN_RELEASE:?KILN_RELEASE is required}"
chmod 0755 /app/serve.sh
mkdir -p /tmp
chmod 1777 /tmp

# A scratch web root, removed again: the image's /tmp must stay empty and writable for
# the unprivileged user the service runs as.
scratch=/tmp/kiln-selftest
PORT=18080 WWW="$scratch" KILN_RELEASE="$release" /app/serve.sh &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$scratch"' EXIT

body=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    body="$(wget -q -O - http://127.0.0.1:18080/healthz 2>/dev/null || true)"
    [ -n "$body" ] && break
    sleep 0.2
done
if [ "$body" != "$release" ]; then
    echo "container: /healthz served '$body', expected '$release'" >&2
    exit 1
fi
echo "container: /healthz serves $release"
