#!/bin/sh
# The sample service: serves its release id on / and /healthz with busybox httpd.
# Inputs: KILN_RELEASE (the release id), PORT (default 8080), WWW (default /tmp/www).
# busybox sh supports pipefail; POSIX sh does not define it.
# shellcheck disable=SC3040
set -euo pipefail

release="${KILN_RELEASE:?KILN_RELEASE is required}"
port="${PORT:-8080}"
www="${WWW:-/tmp/www}"

mkdir -p "$www"
printf '%s\n' "$release" > "$www/index.html"
printf '%s\n' "$release" > "$www/healthz"
exec busybox httpd -f -p "$port" -h "$www"
