"""EC2 images: look up, find by kiln's tags, tag.

The bake cache lives in AMI tags: an AMI is a finished kiln bake when it carries
``kiln:input-hash`` and ``kiln:release`` (both written in one call after the record is
signed), so a build that failed half-way never satisfies a later cache lookup.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from kiln.aws.clients import client
from kiln.aws.errors import AwsError, calling
from kiln.model import naming

# The tags that mark a finished bake (kiln.model.naming holds every tag key).
NAME_TAG = naming.TAG_NAME
INPUT_HASH_TAG = naming.TAG_INPUT_HASH
RELEASE_TAG = naming.TAG_RELEASE
SIGNATURE_TAG = naming.TAG_SIGNATURE
SIGNATURE_KEY_TAG = naming.TAG_SIGNATURE_KEY
COMMIT_TAG = naming.TAG_COMMIT


def _ec2(region: str) -> Any:
    return client("ec2", region)


def tags_of(image: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in image.get("Tags") or []}


def _newest(images: list[dict[str, Any]]) -> dict[str, Any] | None:
    # CreationDate first (as Packer's most_recent); the id breaks ties deterministically.
    ordered = sorted(images, key=lambda i: (i.get("CreationDate", ""), i["ImageId"]))
    return ordered[-1] if ordered else None


def describe(image_id: str, region: str) -> dict[str, Any] | None:
    """The image, or None when no such image exists in ``region``."""
    ec2 = _ec2(region)
    try:
        with calling(f"ec2 DescribeImages {image_id} in {region}"):
            found = ec2.describe_images(ImageIds=[image_id])["Images"]
    except AwsError as error:
        if error.code in ("InvalidAMIID.NotFound", "InvalidAMIID.Malformed"):
            return None
        raise
    return found[0] if found else None


def newest(name_pattern: str, owner: str, region: str) -> dict[str, Any] | None:
    """The newest available image whose name matches ``name_pattern`` (``*`` wildcards)."""
    ec2 = _ec2(region)
    with calling(f"ec2 DescribeImages name={name_pattern} owner={owner} in {region}"):
        found = ec2.describe_images(
            Owners=[owner], Filters=[{"Name": "name", "Values": [name_pattern]},
                                     {"Name": "state", "Values": ["available"]}])["Images"]
    # The name filter is applied again here: not every EC2 stand-in honours wildcards alike.
    return _newest([i for i in found if fnmatch.fnmatchcase(i.get("Name", ""), name_pattern)])


def find_baked(name: str, input_hash: str, region: str) -> dict[str, Any] | None:
    """The newest finished kiln bake of ``name`` with ``input_hash`` in ``region``."""
    ec2 = _ec2(region)
    with calling(f"ec2 DescribeImages {INPUT_HASH_TAG}={input_hash} in {region}"):
        found = ec2.describe_images(
            Owners=["self"], Filters=[{"Name": f"tag:{INPUT_HASH_TAG}", "Values": [input_hash]},
                                      {"Name": f"tag:{NAME_TAG}", "Values": [name]}])["Images"]
    finished = [i for i in found if RELEASE_TAG in tags_of(i)
                and tags_of(i).get(INPUT_HASH_TAG) == input_hash
                and i.get("State", "available") == "available"]
    return _newest(finished)


def tag(image_id: str, tags: Mapping[str, str], region: str) -> None:
    """Add ``tags`` to the image in one call (all or none)."""
    ec2 = _ec2(region)
    with calling(f"ec2 CreateTags {image_id} in {region}"):
        ec2.create_tags(Resources=[image_id],
                        Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())])
