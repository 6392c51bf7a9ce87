#!/usr/bin/env bash
# Remove what the bake left behind: keys, host keys, caches, logs, identity.
set -euo pipefail

shopt -s nullglob
for dir in /root/.ssh /home/*/.ssh; do
    rm -f "$dir"/authorized_keys "$dir"/authorized_keys2
done
rm -f /etc/ssh/ssh_host_*
# The SSM agent's registration and the bake instance's identity must not travel with the image.
rm -rf /var/lib/amazon/ssm/* /etc/amazon/ssm/*.json
dnf clean all >/dev/null 2>&1 || true
rm -rf /var/cache/dnf/* /tmp/* /var/tmp/*
if command -v cloud-init >/dev/null; then
    cloud-init clean --logs
fi
journalctl --rotate >/dev/null 2>&1 || true
journalctl --vacuum-time=1s >/dev/null 2>&1 || true
# A fresh machine-id on first boot, not the build instance's.
truncate -s 0 /etc/machine-id
rm -f /root/.bash_history /home/*/.bash_history
echo "cleanup: keys, caches, logs and machine-id removed"
