#!/usr/bin/env bash
# App image: run the app container from a systemd unit pinned to its digest. The container
# is already in the image store (load-container.sh put it there at bake time) and the unit
# runs it with --pull=never, so boot never reaches a registry. Only files are written — no
# systemd or Docker has to run — so this works inside the bake's chroot and on a directory.
# Inputs: CONTAINER_IMAGE (repository@sha256:<digest>), APP_PORT, KILN_ROOT (default /).
set -euo pipefail

image="${CONTAINER_IMAGE:?CONTAINER_IMAGE is required (repository@sha256:<digest>)}"
port="${APP_PORT:?APP_PORT is required}"
root="${KILN_ROOT:-/}"
root="${root%/}"
if [[ ! "$image" =~ ^[^@[:space:]]+@sha256:[0-9a-f]{64}$ ]]; then
    echo "app: CONTAINER_IMAGE must be repository@sha256:<64 hex>, got $image" >&2
    exit 1
fi
if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "app: APP_PORT must be a port number (1-65535), got $port" >&2
    exit 1
fi

units="$root/etc/systemd/system"
install -d -m 0755 "$units" "$units/multi-user.target.wants"
draft="$(mktemp "$units/.kiln-app.service.XXXXXX")"
trap 'rm -f "$draft"' EXIT
cat > "$draft" <<UNIT
[Unit]
Description=kiln app container (pinned by digest)
After=docker.service
Requires=docker.service

[Service]
# --pull=never: the image is already in the store; boot never reaches a registry.
ExecStartPre=-/usr/bin/docker rm -f kiln-app
ExecStart=/usr/bin/docker run --rm --name kiln-app --pull=never --read-only --tmpfs /tmp -p ${port}:8080 ${image}
ExecStop=/usr/bin/docker stop kiln-app
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
chmod 0644 "$draft"
mv -f "$draft" "$units/kiln-app.service"
# What `systemctl enable` writes; no systemd runs in the bake's chroot to ask.
ln -sfn /etc/systemd/system/kiln-app.service "$units/multi-user.target.wants/kiln-app.service"
echo "app: kiln-app.service runs $image on port $port (enabled)"
