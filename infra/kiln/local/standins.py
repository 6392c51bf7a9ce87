"""Local stand-ins for bakes: the AWS emulator, a Docker daemon, a registry, a base image.

Used by the integration tests, the benchmark and operators trying bakes without AWS:

    python -m kiln.local.standins up /tmp/kiln-local    # prints the environment to export
    python -m kiln.local.standins down /tmp/kiln-local

dockerd runs with ``--iptables=false --ip-forward=false --bridge=none`` and every path
(data, exec root, pid file, socket) under the given directory, so it never touches the
host's network or its default Docker state. Containers get no network, which a build
does not need. Everything listens on 127.0.0.1 and is stopped by its own pid.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BASE_IMAGE = "kiln/busybox:1.35"
STARTUP_TIMEOUT = 60.0


class StandinError(RuntimeError):
    """A stand-in could not be started (message is one line)."""


@dataclass(frozen=True)
class Daemon:
    name: str
    pid: int
    address: str  # DOCKER_HOST for dockerd, host:port for the registry and moto

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; a daemon already gone is fine."""
        stop_pid(self.pid, timeout)


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll for its exit instead
            waited = 0
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        if waited == pid:
            return
        time.sleep(0.1)
    log.warning("pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(check: Any, what: str, proc: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise StandinError(f"{what} exited with status {proc.returncode}: {tail[0]}")
        if check():
            return
        time.sleep(0.1)
    stop_pid(proc.pid)
    raise StandinError(f"{what} did not come up within {STARTUP_TIMEOUT:.0f} s (see {log_file})")


def _spawn(args: list[str], log_file: Path) -> subprocess.Popen[bytes]:
    with open(log_file, "ab") as handle:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def start_dockerd(workdir: Path, data_root: Path | None = None) -> Daemon:
    """dockerd with its own roots under ``workdir`` (the data root elsewhere when given,
    e.g. an image's /var/lib/docker) and no changes to the host network."""
    workdir.mkdir(parents=True, exist_ok=True)
    sock = workdir / "docker.sock"
    host = f"unix://{sock}"
    log_file = workdir / "dockerd.log"
    proc = _spawn(["dockerd", "--iptables=false", "--ip-forward=false", "--bridge=none",
                   f"--data-root={data_root or workdir / 'data'}",
                   f"--exec-root={workdir / 'exec'}",
                   f"--pidfile={workdir / 'docker.pid'}", "-H", host], log_file)

    def ready() -> bool:
        return sock.exists() and subprocess.run(
            ["docker", "version"], env={**os.environ, "DOCKER_HOST": host},
            capture_output=True, check=False).returncode == 0

    _wait(ready, "dockerd", proc, log_file)
    return Daemon("dockerd", proc.pid, host)


def start_registry(workdir: Path, port: int | None = None) -> Daemon:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1 with storage under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = workdir / "registry.yml"
    # JSON is YAML: the registry reads this file as its configuration.
    config.write_text(json.dumps({
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "registry")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    log_file = workdir / "registry.log"
    proc = _spawn(["docker-registry", "serve", str(config)], log_file)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/",
                                        timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    _wait(ready, "docker-registry", proc, log_file)
    return Daemon("registry", proc.pid, f"127.0.0.1:{port}")


def base_tarball(busybox: Path) -> bytes:
    """A root filesystem of busybox-static: /bin/busybox, its applets as links, /tmp."""
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, mode in (("bin", 0o755), ("tmp", 0o1777), ("etc", 0o755)):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        data = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size, info.mode = len(passwd), 0o644
        tar.addfile(info, io.BytesIO(passwd))
    return buffer.getvalue()


def make_base_image(docker_host: str, tag: str = BASE_IMAGE,
                    busybox: Path = Path("/bin/busybox")) -> str:
    """Import the busybox-static root filesystem as ``tag``; return the image id."""
    if not busybox.exists():
        raise StandinError(f"{busybox} not found (Debian: apt-get install busybox-static)")
    proc = subprocess.run(["docker", "import", "-", tag], input=base_tarball(busybox),
                          env={**os.environ, "DOCKER_HOST": docker_host}, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        message = " ".join(proc.stderr.decode(errors="replace").split())
        raise StandinError(f"docker import {tag}: {message}")
    return proc.stdout.decode().strip()


def fix_moto_fidelity() -> None:
    """Make moto's CreateImage report an EBS root device, as AWS does for EBS-backed
    instances (moto says ``standard``, and Packer refuses such an AMI as a source)."""
    # moto is a development dependency: only the stand-ins load it.
    from moto.ec2.models.amis import AmiBackend  # noqa: PLC0415

    if getattr(AmiBackend.create_image, "_kiln_fixed", False):
        return
    original = AmiBackend.create_image

    def create_image(self: Any, *args: Any, **kwargs: Any) -> Any:
        ami = original(self, *args, **kwargs)
        ami.root_device_type = "ebs"
        return ami

    create_image._kiln_fixed = True  # type: ignore[attr-defined]
    AmiBackend.create_image = create_image  # type: ignore[method-assign]


def serve_moto(port: int) -> None:
    """Run the AWS emulator in this process until SIGTERM (``python -m … moto PORT``)."""
    # moto is a development dependency: only the stand-ins load it.
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    fix_moto_fidelity()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stopped = False

    def stop(*_: Any) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopped:
        time.sleep(0.2)
    server.stop()


def up(workdir: Path) -> dict[str, str]:
    """Start every stand-in under ``workdir``; return the environment that reaches them."""
    workdir.mkdir(parents=True, exist_ok=True)
    started: list[Daemon] = []
    try:
        port = free_port()
        log_file = workdir / "moto.log"
        proc = _spawn([sys.executable, "-m", "kiln.local.standins", "moto", str(port)], log_file)

        def moto_ready() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        _wait(moto_ready, "moto server", proc, log_file)
        started.append(Daemon("moto", proc.pid, f"127.0.0.1:{port}"))
        started.append(start_dockerd(workdir / "docker"))
        started.append(start_registry(workdir / "registry"))
        make_base_image(started[1].address)
    except BaseException:
        for daemon in reversed(started):
            daemon.stop()
        raise
    (workdir / "pids.json").write_text(json.dumps({d.name: d.pid for d in started}))
    return {"AWS_ENDPOINT_URL": f"http://{started[0].address}", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
            "DOCKER_HOST": started[1].address, "KILN_REGISTRY": started[2].address}


def down(workdir: Path) -> None:
    """Stop the stand-ins that ``up`` started in ``workdir`` (by their recorded pids)."""
    pids_file = workdir / "pids.json"
    try:
        pids = json.loads(pids_file.read_text())
    except FileNotFoundError:
        return
    for name in ("registry", "dockerd", "moto"):
        if name in pids:
            stop_pid(int(pids[name]))
    pids_file.unlink()


def main(argv: list[str]) -> int:
    usage = ("usage: python -m kiln.local.standins up DIR | down DIR | base [TAG] | "
             "moto PORT")
    if len(argv) < 2 and not (argv and argv[0] == "base"):
        print(usage, file=sys.stderr)
        return 2
    command = argv[0]
    try:
        if command == "up":
            for key, value in up(Path(argv[1])).items():
                print(f"export {key}={value}")
            print(f"# repository for `kiln bake container`: "
                  f"--var repository=$KILN_REGISTRY/kiln/web; stop: python -m "
                  f"kiln.local.standins down {argv[1]}")
        elif command == "down":
            down(Path(argv[1]))
        elif command == "base":
            print(make_base_image(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
                                  argv[1] if len(argv) > 1 else BASE_IMAGE))
        elif command == "moto":
            serve_moto(int(argv[1]))
        else:
            print(usage, file=sys.stderr)
            return 2
    except StandinError as error:
        print(f"standins: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
