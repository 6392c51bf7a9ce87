#!/usr/bin/env bash
# The image checks itself before it is captured; any failed check fails the bake.
# Inputs: KILN_ROOT (the filesystem to check, default /), CONTAINER_IMAGE (app images:
# the unit must run exactly this digest, and the image store must hold it).
set -euo pipefail

root="${KILN_ROOT:-/}"
root="${root%/}"
failures=0
shopt -s nullglob

fail() {
    echo "validate: FAIL: $*" >&2
    failures=$((failures + 1))
}

enabled() {
    local state
    state="$(systemctl --root="${root:-/}" is-enabled "$1" 2>/dev/null || true)"
    [[ "$state" == enabled || "$state" == enabled-runtime || "$state" == static ]]
}

# Read Docker's image store from its files: no daemon runs in the bake's chroot. The
# reference store maps repository@digest to an image id whose config must be present.
in_store() {
    local reference="$1" refs content id
    for refs in "$root"/var/lib/docker/image/*/repositories.json; do
        content="$(<"$refs")"
        [[ "$content" == *"\"$reference\":\"sha256:"* ]] || continue
        id="${content#*"\"$reference\":\"sha256:"}"
        id="${id:0:64}"
        if [[ "$id" =~ ^[0-9a-f]{64}$ && -s "${refs%/*}/imagedb/content/sha256/$id" ]]; then
            return 0
        fi
    done
    return 1
}

# Every way into a running instance: sshd, the SSM agent (Session Manager, Run Command) and
# EC2 Instance Connect. Disabled is not enough (anything can start a disabled unit, and a
# package update can enable it again): each unit the image holds must be masked.
state() {
    systemctl --root="${root:-/}" is-enabled "$1" 2>/dev/null || true
}

for unit in sshd.service sshd.socket amazon-ssm-agent.service \
        snap.amazon-ssm-agent.amazon-ssm-agent.service ec2-instance-connect.service \
        ec2-instance-connect-hostkey-harvesting.service; do
    current="$(state "$unit")"
    case "$current" in
        "" | masked | masked-runtime) ;;
        *) fail "$unit is $current, not masked (no shell access to immutable instances)" ;;
    esac
done

# Instance Connect also works through sshd's AuthorizedKeysCommand.
for conf in "$root"/etc/ssh/sshd_config "$root"/etc/ssh/sshd_config.d/*.conf; do
    if grep -Eqis '^[[:space:]]*AuthorizedKeysCommand[[:space:]]+[^[:space:]]*eic' "$conf"; then
        fail "${conf#"$root"} runs EC2 Instance Connect's AuthorizedKeysCommand"
    fi
done

for keys in "$root"/root/.ssh/authorized_keys* "$root"/home/*/.ssh/authorized_keys*; do
    if [[ -s "$keys" ]]; then
        fail "authorized keys present: ${keys#"$root"}"
    fi
done

if [[ -e "$root/etc/cloud/cloud.cfg" ]]; then
    if ! grep -Eqs '^allow_userdata:[[:space:]]*false' "$root"/etc/cloud/cloud.cfg.d/*.cfg; then
        fail "cloud-init would run user data (allow_userdata: false is not set)"
    fi
fi

for timer in dnf-makecache.timer dnf-automatic.timer dnf-automatic-install.timer; do
    if enabled "$timer"; then
        fail "$timer is enabled (no patching at boot)"
    fi
done

if ! enabled docker.service; then
    fail "docker.service is not enabled (the image needs its container runtime)"
fi

if [[ -n "${CONTAINER_IMAGE:-}" ]]; then
    unit="$root/etc/systemd/system/kiln-app.service"
    if ! grep -qsF -- "--pull=never" "$unit" || ! grep -qsF -- "$CONTAINER_IMAGE" "$unit"; then
        fail "kiln-app.service does not run $CONTAINER_IMAGE with --pull=never"
    fi
    if ! enabled kiln-app.service; then
        fail "kiln-app.service is not enabled"
    fi
    # The image's own root (live, or the bake's chroot) must hold the container; a root
    # given as a directory is checked when it has an image store.
    if [[ -z "$root" || -d "$root/var/lib/docker" ]] && ! in_store "$CONTAINER_IMAGE"; then
        fail "$CONTAINER_IMAGE is not in the image store (${root}/var/lib/docker)"
    fi
fi

if ((failures)); then
    echo "validate: $failures check(s) failed" >&2
    exit 1
fi
echo "validate: ok"
