"""Container registries: which digest a tag points at, and the local base image id.

ECR repositories (``<account>.dkr.ecr.<region>.amazonaws.com/<name>``) are asked through
the ECR API; any other registry through the Registry HTTP API v2 with Docker's credentials
(``registry_auth``; plain HTTP only for loopback, as Docker itself allows). Both answer the
question the bake cache asks: does this repository already hold a tag named after these
inputs?
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

from kiln.aws import ecr as ecr_api
from kiln.bake import registry_auth
from kiln.errors import BakeError

ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
REPOSITORY = re.compile(r"^(?P<host>[a-z0-9.-]+(?::\d+)?)/"
                        r"(?P<path>[a-z0-9._-]+(?:/[a-z0-9._-]+)*)$")
MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
))
TIMEOUT = 10


@dataclass(frozen=True)
class Repository:
    host: str
    path: str

    def __str__(self) -> str:
        return f"{self.host}/{self.path}"

    @property
    def loopback(self) -> bool:
        return registry_auth.loopback(self.host)


def parse_repository(text: str) -> Repository:
    match = REPOSITORY.fullmatch(text or "")
    if not match:
        raise BakeError(f"repository {text!r} is not allowed; expected <registry host>[:port]"
                        "/<path>, e.g. 127.0.0.1:5000/kiln/web")
    return Repository(match["host"], match["path"])


def input_tag(input_hash: str) -> str:
    """The registry tag that names an input hash (tags are at most 128 characters)."""
    return "in-" + input_hash.removeprefix("sha256:")


def digest_for_tag(repository: Repository, tag: str) -> str | None:
    """The manifest digest the registry serves for ``tag``, or None when there is no such tag."""
    ecr = ECR_HOST.match(repository.host)
    if ecr:
        return ecr_api.digest_for_tag(ecr["account"], repository.path, tag, ecr["region"])
    return registry_auth.manifest_digest(repository.host, repository.path, tag, MANIFEST_TYPES)


def local_image_id(reference: str) -> str | None:
    """The id of ``reference`` in the local Docker image store, or None when it is absent."""
    try:
        proc = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Id}}",
                               reference], capture_output=True, text=True, timeout=30,
                              check=False)
    except FileNotFoundError:
        raise BakeError("docker not found on PATH (the container bake needs the Docker "
                        "CLI and a daemon: DOCKER_HOST)") from None
    except subprocess.TimeoutExpired:
        raise BakeError("docker image inspect timed out (is the daemon at DOCKER_HOST "
                        "up?)") from None
    if proc.returncode != 0:
        message = " ".join(proc.stderr.split())
        if "No such image" in message or "No such object" in message:
            return None
        raise BakeError(f"docker image inspect {reference}: {message or 'failed'}")
    return str(json.loads(proc.stdout))
