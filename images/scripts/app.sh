#!/usr/bin/env bash
# App image: pull the app container once, by digest, and run it from a systemd unit pinned
# to that digest. Inputs: CONTAINER_IMAGE (repository@sha256:<digest>), APP_PORT.
set -euo pipefail

image="${CONTAINER_IMAGE:?CONTAINER_IMAGE is required (repository@sha256:<digest>)}"
port="${APP_PORT:?APP_PORT is required}"
if [[ "$image" != *@sha256:* ]]; then
    echo "app: CONTAINER_IMAGE must name a digest (repository@sha256:...), got $image" >&2
    exit 1
fi

systemctl start docker.service
docker pull --quiet "$image"

cat > /etc/systemd/system/kiln-app.service <<UNIT
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
systemctl enable kiln-app.service
echo "app: kiln-app.service runs $image on port $port"
