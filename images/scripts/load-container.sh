#!/usr/bin/env bash
# App image, on the bake host: put the app container into the Docker image store of the
# image being baked, which is mounted at KILN_MOUNT and never booted. A temporary dockerd
# on this host takes the image's /var/lib/docker as its data root (exec root, pid file and
# socket stay in a temporary directory; no host network changes), pulls the container by
# digest, proves the digest and is stopped by its pid. Nothing runs inside the image.
# Inputs: KILN_MOUNT (root of the mounted image), CONTAINER_IMAGE (repository@sha256:<digest>),
# STORAGE_DRIVER (optional; the image's own dockerd must find the same driver),
# DOCKER_CONFIG (optional; registry credentials, e.g. the ECR credential helper).
set -euo pipefail

mount="${KILN_MOUNT:?KILN_MOUNT is required (the mounted image root)}"
image="${CONTAINER_IMAGE:?CONTAINER_IMAGE is required (repository@sha256:<digest>)}"
driver="${STORAGE_DRIVER:-}"
mount="${mount%/}"

fail() {
    echo "load-container: $*" >&2
    exit 1
}

if [[ ! "$image" =~ ^[^@[:space:]]+@sha256:[0-9a-f]{64}$ ]]; then
    fail "CONTAINER_IMAGE must be repository@sha256:<64 hex>, got $image"
fi
if [[ ! -d "$mount/etc" ]]; then
    fail "$mount is not the root of a mounted image (no etc/)"
fi

data="$mount/var/lib/docker"
work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-load.XXXXXX")"
host="unix://$work/docker.sock"
pid=""

last_log_line() {
    tail -n 1 "$work/dockerd.log" 2>/dev/null || true
}

wait_gone() {
    local target="$1" tries="$2"
    while ((tries-- > 0)) && kill -0 "$target" 2>/dev/null; do
        sleep 0.1
    done
    ! kill -0 "$target" 2>/dev/null
}

stop_daemon() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        if ! wait_gone "$pid" 300; then
            kill -KILL "$pid" 2>/dev/null || true
            # dockerd killed hard leaves its containerd behind: stop that by its pid too.
            local containerd
            containerd="$(cat "$work/exec/containerd/containerd.pid" 2>/dev/null || true)"
            if [[ "$containerd" =~ ^[0-9]+$ ]]; then
                kill -TERM "$containerd" 2>/dev/null || true
            fi
        fi
        wait "$pid" 2>/dev/null || true
    fi
    pid=""
}

finish() {
    stop_daemon
    rm -rf "$work"
}
trap finish EXIT

install -d -m 0710 "$data"
args=(--data-root "$data" --exec-root "$work/exec" --pidfile "$work/docker.pid"
    -H "$host" --iptables=false --ip-forward=false --bridge=none)
if [[ -n "$driver" ]]; then
    args+=(--storage-driver "$driver")
fi
dockerd "${args[@]}" >"$work/dockerd.log" 2>&1 &
pid=$!

ready=""
for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        pid=""
        fail "dockerd exited before it was ready: $(last_log_line)"
    fi
    if docker -H "$host" version >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.1
done
[[ -n "$ready" ]] || fail "dockerd was not ready within 60 s: $(last_log_line)"

if ! output="$(docker -H "$host" pull --quiet "$image" 2>&1)"; then
    fail "pull $image failed: $(tr '\n' ' ' <<<"$output")"
fi
# Docker checks pulled content against the digest; check the store kept that reference.
digests="$(docker -H "$host" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \
    "$image" 2>&1)" || fail "$image is not in the store after the pull: $digests"
if ! grep -qxF -- "$image" <<<"$digests"; then
    fail "the store has $(tr '\n' ' ' <<<"$digests")but not $image"
fi
image_id="$(docker -H "$host" image inspect --format '{{.Id}}' "$image")"
stop_daemon

# This daemon's identity and network state are not the image's: the image's own dockerd
# makes them fresh on each instance's first boot.
rm -f "$data/engine-id" "$data/network/files/local-kv.db"
echo "load-container: $image ($image_id) is in $data"
