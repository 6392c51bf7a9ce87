#!/usr/bin/env bash
# Golden image: take away every way to change a running instance. sshd, the SSM agent
# (Session Manager, Run Command) and EC2 Instance Connect off and masked, cloud-init ignores
# user data, no package timers and no repositories to patch from.
set -euo pipefail

for unit in sshd.service sshd.socket amazon-ssm-agent.service \
        snap.amazon-ssm-agent.amazon-ssm-agent.service ec2-instance-connect.service \
        ec2-instance-connect-hostkey-harvesting.service; do
    systemctl disable "$unit" 2>/dev/null || true
    systemctl mask "$unit"
done
# Instance Connect's AuthorizedKeysCommand would fetch keys pushed through the API.
rm -f /etc/ssh/sshd_config.d/*ec2-instance-connect*.conf

# User data is the classic in-place patch path: cloud-init must not run any of it.
install -d -m 0755 /etc/cloud/cloud.cfg.d
cat > /etc/cloud/cloud.cfg.d/99-kiln-immutable.cfg <<'CFG'
# kiln: immutable instances take no user data and no SSH keys.
allow_userdata: false
disable_root: true
ssh_pwauth: false
ssh_deletekeys: true
CFG

for timer in dnf-makecache.timer dnf-automatic.timer dnf-automatic-install.timer; do
    systemctl disable "$timer" 2>/dev/null || true
    systemctl mask "$timer"
done
# Without repository definitions there is nothing to install or update from at boot.
rm -f /etc/yum.repos.d/*.repo
echo "harden: sshd, SSM agent and Instance Connect masked, user data ignored, package timers" \
    "masked, repositories removed"
