"""The digest lookup after a push, against Debian's docker-registry on 127.0.0.1 that asks
for credentials (htpasswd, bcrypt): kiln sends what Docker would — config.json ``auths``
or a credential helper — and says in one line what to do when it has nothing that works."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import requests

from kiln.bake import oci
from kiln.errors import BuildError
from kiln.local import standins

from .conftest import need

pytestmark = pytest.mark.integration

USER, PASSWORD = "kiln-ci", "s3cret-pa55"
PATH = "kiln/web"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _push_blob(base: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    auth = (USER, PASSWORD)
    started = requests.post(f"{base}/v2/{PATH}/blobs/uploads/", auth=auth, timeout=10)
    started.raise_for_status()
    location = started.headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    requests.put(f"{location}{sep}digest={digest}", data=data, auth=auth,
                 headers={"Content-Type": "application/octet-stream"},
                 timeout=10).raise_for_status()
    return digest


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(host:port, digest of the manifest tagged ``v1``) of a registry with basic auth."""
    need("docker-registry")
    workdir = tmp_path_factory.mktemp("auth-registry")
    htpasswd = workdir / "htpasswd"
    htpasswd.write_bytes(USER.encode() + b":" + bcrypt.hashpw(PASSWORD.encode(),
                                                               bcrypt.gensalt(rounds=5)) + b"\n")
    port = standins.free_port()
    config = workdir / "registry.yml"
    config.write_text(json.dumps({
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
        "auth": {"htpasswd": {"realm": "kiln-test", "path": str(htpasswd)}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    with open(workdir / "registry.log", "ab") as log:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/v2/", timeout=1).status_code == 401:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (workdir / "registry.log").read_text()
            subprocess.run(["sleep", "0.1"], check=True)
        layer = _push_blob(base, b"kiln layer")
        config_digest = _push_blob(base, b"{}")
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer, "size": 10}]}).encode()
        requests.put(f"{base}/v2/{PATH}/manifests/v1", data=manifest,
                     auth=(USER, PASSWORD), headers={"Content-Type": OCI_MANIFEST},
                     timeout=10).raise_for_status()
        yield f"127.0.0.1:{port}", "sha256:" + hashlib.sha256(manifest).hexdigest()
    finally:
        standins.stop_pid(proc.pid)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Docker config directory of this test (DOCKER_CONFIG)."""
    directory = tmp_path / "docker"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def _auths(directory: Path, host: str, user: str, password: str) -> None:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))


def test_the_lookup_sends_docker_config_credentials(registry: tuple[str, str],
                                                    docker_config: Path) -> None:
    host, digest = registry
    _auths(docker_config, host, USER, PASSWORD)
    repository = oci.parse_repository(f"{host}/{PATH}")
    assert oci.digest_for_tag(repository, "v1") == digest
    assert oci.digest_for_tag(repository, "no-such-tag") is None


def test_the_lookup_uses_docker_credential_helpers(registry: tuple[str, str],
                                                   docker_config: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    host, digest = registry
    helper = tmp_path / "bin" / "docker-credential-kiln-test"
    helper.parent.mkdir()
    # The credential-helper protocol: `get` reads the server URL on stdin, answers JSON.
    helper.write_text("#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\n"
                      f"printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\","
                      f"\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    (docker_config / "config.json").write_text(json.dumps({"credHelpers": {host: "kiln-test"}}))
    assert oci.digest_for_tag(oci.parse_repository(f"{host}/{PATH}"), "v1") == digest


def test_without_credentials_one_line_says_docker_login(registry: tuple[str, str],
                                                        docker_config: Path) -> None:
    host, _ = registry
    with pytest.raises(BuildError) as raised:
        oci.digest_for_tag(oci.parse_repository(f"{host}/{PATH}"), "v1")
    message = str(raised.value)
    assert "401" in message and f"docker login {host}" in message and "\n" not in message


def test_refused_credentials_are_reported_not_retried_forever(
        registry: tuple[str, str], docker_config: Path) -> None:
    host, _ = registry
    _auths(docker_config, host, USER, "wrong")
    with pytest.raises(BuildError, match=rf"401; check `docker login {host}`"):
        oci.digest_for_tag(oci.parse_repository(f"{host}/{PATH}"), "v1")


def test_credentials_of_another_registry_are_not_sent(registry: tuple[str, str],
                                                      docker_config: Path) -> None:
    host, _ = registry
    _auths(docker_config, "registry.example.com", USER, PASSWORD)
    with pytest.raises(BuildError, match="401"):
        oci.digest_for_tag(oci.parse_repository(f"{host}/{PATH}"), "v1")
