"""ECR: the digest behind a tag, for the container bake cache on AWS."""

from __future__ import annotations

from kiln.aws.clients import client
from kiln.aws.errors import AwsError, calling


def digest_for_tag(registry_id: str, repository: str, tag: str, region: str) -> str | None:
    """The image digest ECR holds for ``repository:tag``, or None when there is none."""
    ecr = client("ecr", region)
    try:
        with calling(f"ecr DescribeImages {repository}:{tag}"):
            found = ecr.describe_images(registryId=registry_id, repositoryName=repository,
                                        imageIds=[{"imageTag": tag}])["imageDetails"]
    except AwsError as error:
        if error.code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None
        raise
    return str(found[0]["imageDigest"]) if found else None
