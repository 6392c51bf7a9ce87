"""Fixtures for bake tests: Packer, a project copy with a signing key, dockerd and a registry.

Every daemon is started here with its state under a temporary directory, listens on
127.0.0.1 (or a unix socket), and is stopped by its pid at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiln.local import standins
from kiln.records import keys

ROOT = Path(__file__).resolve().parents[2]


def need(*tools: str) -> None:
    """Skip (saying which tool is missing) unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (.ci/run installs it)")


@pytest.fixture(scope="session")
def packer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One XDG cache for the session: Packer's version is read once, as on a workstation."""
    return tmp_path_factory.mktemp("xdg-cache")


@dataclass(frozen=True)
class BakeProject:
    root: Path
    key: Path  # private Ed25519 key that signs
    public: Path  # its public half (trusted with --key)

    @property
    def ledger(self) -> Path:
        return self.root / "ledger" / "kiln.jsonl"

    @property
    def releases(self) -> Path:
        return self.root / "releases"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def bake_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: str,
                 packer_cache: Path) -> BakeProject:
    """A committed git copy of the project's images and stacks, its own ledger and releases,
    a fresh signing key; the emulator's AMIs made faithful for Packer (see standins)."""
    need("packer")
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(ROOT / "images", root / "images")
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.email=ci@kiln.invalid", "-c", "user.name=kiln ci", "commit", "-qm",
        "project")
    key = tmp_path / "keys" / "kiln-test.pem"
    keys.generate(key)
    monkeypatch.setenv("KILN_PROJECT_DIR", str(root))
    monkeypatch.setenv("KILN_SIGNING_KEY", str(key))
    monkeypatch.setenv("XDG_CACHE_HOME", str(packer_cache))
    monkeypatch.setenv("KILN_ACTOR", "ci@test")
    for name in [k for k in os.environ if k.startswith("PKR_VAR_")]:
        monkeypatch.delenv(name)
    standins.fix_moto_fidelity()
    return BakeProject(root, key, key.with_suffix(".pub"))


@dataclass(frozen=True)
class Docker:
    host: str
    registry: str  # host:port
    base_id: str


@pytest.fixture(scope="session")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docker]:
    """dockerd (no host network changes, own roots) + docker-registry + a busybox base image."""
    need("dockerd", "docker", "docker-registry", "busybox")
    # unix socket paths are limited to 108 bytes: keep the directory short.
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"kiln-docker-{os.getpid()}"
    shutil.rmtree(workdir, ignore_errors=True)
    started: list[standins.Daemon] = []
    try:
        daemon = standins.start_dockerd(workdir / "d")
        started.append(daemon)
        registry = standins.start_registry(tmp_path_factory.mktemp("registry"))
        started.append(registry)
        base_id = standins.make_base_image(daemon.address, busybox=Path(shutil.which("busybox")
                                                                     or "/bin/busybox"))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DOCKER_HOST", daemon.address)
            yield Docker(daemon.address, registry.address, base_id)
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
