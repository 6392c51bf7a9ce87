#!/usr/bin/env bash
# Golden image: install the container runtime while the package manager still works.
# Input: CONTAINER_RUNTIME (only "docker" is supported).
set -euo pipefail

runtime="${CONTAINER_RUNTIME:-docker}"
if [[ "$runtime" != docker ]]; then
    echo "install: unsupported CONTAINER_RUNTIME=$runtime (supported: docker)" >&2
    exit 1
fi

dnf -y -q install docker
systemctl enable docker.service containerd.service
echo "install: docker $(rpm -q --qf '%{VERSION}' docker) enabled"
