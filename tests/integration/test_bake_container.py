"""The container bake against a local dockerd and docker-oci."""

from __future__ import annotations

import os
import subprocess
import urllib.request

import pytest

from kiln.bake import oci, runner
from kiln.records import keys, verify
from kiln.release.ledger import FileLedger

from .conftest import BakeProject, Docker

pytestmark = pytest.mark.integration


def served_digest(registry_address: str, path: str, tag: str) -> str:
    request = urllib.request.Request(
        f"http://{registry_address}/v2/{path}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def run_docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          timeout=60, env=os.environ).stdout.strip()


def test_container_bake_pushes_records_the_served_digest_and_caches(
        aws: str, bake_project: BakeProject, docker: Docker) -> None:
    repository = f"{docker.registry}/kiln/web"
    first = runner.bake("container", bake_project.root, {"repository": repository})
    assert not first.cached
    tag = oci.input_tag(first.input_hash)
    digest = served_digest(docker.registry, "kiln/web", tag)
    assert first.image == f"{repository}@{digest}"
    assert first.record_path is not None
    verified = verify.record_file(first.record_path,
                                  keys.explicit_keys([str(bake_project.public)]))
    assert verified.record.images == {"repository": repository, "digest": digest}
    assert verified.record.inputs["base"] == docker.base_id
    assert "app/serve.sh" in verified.record.inputs["files"]
    # By digest reference too.
    assert verify.container(f"{repository}@{digest}", bake_project.root,
                            keys.explicit_keys([str(bake_project.public)])).digest == \
        verified.digest

    second = runner.bake("container", bake_project.root, {"repository": repository})
    assert second.cached and second.image == first.image and second.record == first.record
    assert [e.details.get("cache") for e in FileLedger(bake_project.ledger).entries()] == \
        ["miss", None, "hit"]

    # The image runs and serves its release id (no network: ask from inside the container).
    container = run_docker("run", "-d", "--network", "none", f"{repository}:{tag}")
    try:
        body = ""
        for _ in range(50):
            probe = subprocess.run(["docker", "exec", container, "wget", "-q", "-O", "-",
                                    "http://127.0.0.1:8080/healthz"], capture_output=True,
                                   text=True, check=False)
            if probe.returncode == 0:
                body = probe.stdout.strip()
                break
        assert body == "web-1.0.0"
        assert run_docker("exec", container, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/") \
            == "web-1.0.0"
        assert run_docker("inspect", "--format", "{{.Config.User}}", container) == "65534"
    finally:
        run_docker("rm", "-f", container)


def test_app_bake_takes_the_newest_container_record_by_digest(
        aws: str, bake_project: BakeProject, docker: Docker) -> None:
    repository = f"{docker.registry}/kiln/web"
    golden = runner.bake("golden", bake_project.root)
    container = runner.bake("container", bake_project.root, {"repository": repository})
    app = runner.bake("app", bake_project.root)
    assert app.base == golden.image
    assert app.record_path is not None
    verified = verify.record_file(app.record_path,
                                  keys.explicit_keys([str(bake_project.public)]))
    assert verified.record.inputs["container"]["digest"] == container.image.split("@")[1]
    assert verified.record.inputs["variables"]["container_image"] == container.image
