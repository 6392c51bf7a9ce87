"""Registry: the service's ECR repository, and its container image pinned to a digest.

Tags are IMMUTABLE so a tag can never be pointed at other bytes; a configured reference by
tag is resolved to its digest with pulumi-docker, so the stack records exactly what runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from kiln.model import naming
from kiln.model.stack import CONTAINER_REF


@dataclass(frozen=True)
class RegistryArgs:
    container: str | None
    tags: dict[str, str]


def pin(reference: str, digest: str) -> str:
    """``repo:tag`` + ``sha256:…`` → ``repo@sha256:…``."""
    match = CONTAINER_REF.fullmatch(reference)
    if match is None:
        raise ValueError(f"not a container reference: {reference!r}")
    return f"{match['repository']}@{digest}"


class Registry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    image: pulumi.Output[str | None]

    def __init__(self, name: str, args: RegistryArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiln:registry:Registry", name, None, opts)
        repo = aws.ecr.Repository(
            naming.child(name, "repo"),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(
                encryption_type="KMS")],
            tags=args.tags, opts=pulumi.ResourceOptions(parent=self))
        self.repository_url = repo.repository_url
        self.image = pulumi.Output.from_input(self._resolve(args.container))
        self.register_outputs({"repositoryUrl": self.repository_url, "image": self.image})

    def _resolve(self, container: str | None) -> pulumi.Input[str | None]:
        if container is None:
            return None
        match = CONTAINER_REF.fullmatch(container)
        if match is None or match["digest"]:
            return container
        found = docker.get_registry_image_output(
            name=container, opts=pulumi.InvokeOutputOptions(parent=self))
        return found.sha256_digest.apply(lambda digest: pin(container, digest))
