"""Images are signed, unrevoked and pinned; registries keep what they were given.

A launch template names its image three times: ``imageId``, and the tags ``kiln:image``,
``kiln:release`` (record digest) and ``kiln:signature``. The signature must verify over the
release statement built from ``imageId`` itself — so re-tagging an unsigned image with a
signed image's tags fails — in the template's region, with a key trusted by the pack config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from . import signing
from .registry import Resource, resource_rule
from .tokens import ECR_REPOSITORY, ECS_TASK_DEFINITION, LAMBDA_FUNCTION, LAUNCH_TEMPLATE
from .values import by_digest, listed, mapping, present, tag

TAG_IMAGE = "kiln:image"
TAG_RELEASE = "kiln:release"
TAG_SIGNATURE = "kiln:signature"
TAG_CONTAINER = "kiln:container"
RECORD_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

TRUSTED_KEYS_SCHEMA = {
    "type": "array", "default": [],
    "description": "Public keys whose release signatures are accepted.",
    "items": {"type": "object", "required": ["id", "type", "publicKey"], "properties": {
        "id": {"type": "string"}, "type": {"type": "string", "enum": list(signing.KEY_TYPES)},
        "publicKey": {"type": "string"}}},
}
REVOKED_SCHEMA = {
    "type": "array", "default": [],
    "description": "Revoked images: [{image: ami-…, release: sha256:…, reason}] (either id).",
    "items": {"type": "object", "properties": {
        "image": {"type": "string"}, "release": {"type": "string"},
        "reason": {"type": "string"}}},
}


@resource_rule(
    "kiln-ec2-launchtemplate-signed-image", types=(LAUNCH_TEMPLATE,), severity="critical",
    description="Launch templates run an image whose kiln release statement is signed by a "
                "trusted key.",
    remediation="Deploy a released image with `kiln promote`/`kiln deploy`, which write image, "
                "release and signature together; trust the signer's key in the pack config.",
    config={"trustedKeys": TRUSTED_KEYS_SCHEMA})
def launch_template_signed(resource: Resource) -> Iterator[str]:
    props = resource.props
    image = props.get("imageId")
    tags = props.get("tags")
    claimed, record = tag(tags, TAG_IMAGE), tag(tags, TAG_RELEASE)
    signature = signing.decode_signature(tag(tags, TAG_SIGNATURE))
    if not isinstance(image, str) or not image:
        yield "imageId is not set, so there is no image to verify"
        return
    if claimed != image:
        yield f"tag {TAG_IMAGE} is {claimed!r} but imageId is {image!r}"
    if not isinstance(record, str) or not RECORD_DIGEST.match(record):
        yield f"tag {TAG_RELEASE} is {record!r}, not a record digest sha256:<64 hex>"
        return
    if signature is None:
        yield f"tag {TAG_SIGNATURE} is missing or not base64: image {image} is unsigned"
        return
    if not resource.region:
        yield "the template's region is unknown (no region input, provider or aws:region)"
        return
    try:
        keys = signing.trusted_keys(listed(resource.config.get("trustedKeys")))
    except signing.KeyConfigError as error:
        yield f"pack config: {error}"
        return
    if not keys:
        yield "the pack config trusts no keys (trustedKeys), so no signature can verify"
        return
    message = signing.statement("ami", image, resource.region, record)
    if signing.verify(signature, message, keys) is None:
        yield (f"the signature over release {record[:19]}… of {image} in {resource.region} "
               f"does not verify with any trusted key ({', '.join(k.id for k in keys)})")


@resource_rule(
    "kiln-ec2-launchtemplate-image-not-revoked", types=(LAUNCH_TEMPLATE,), severity="critical",
    description="Launch templates run no revoked image or release.",
    remediation="Roll back or promote another release; revoked images never run again.",
    config={"revoked": REVOKED_SCHEMA})
def launch_template_not_revoked(resource: Resource) -> Iterator[str]:
    image = resource.props.get("imageId")
    record = tag(resource.props.get("tags"), TAG_RELEASE)
    for item in listed(resource.config.get("revoked")):
        entry = mapping(item)
        hit = ((present(entry.get("image")) and entry.get("image") == image)
               or (present(entry.get("release")) and entry.get("release") == record))
        if hit:
            reason = entry.get("reason") or "no reason given"
            yield f"image {image} (release {record}) is revoked: {reason}"


@resource_rule(
    "kiln-ecr-repository-immutable-tags", types=(ECR_REPOSITORY,), severity="medium",
    description="ECR repositories keep tags immutable.",
    remediation="Set imageTagMutability = IMMUTABLE.")
def repository_immutable(resource: Resource) -> Iterator[str]:
    value = resource.props.get("imageTagMutability")
    if str(value or "").strip().upper() != "IMMUTABLE":
        yield f"imageTagMutability is {value!r} (MUTABLE when unset): a tag can be re-pointed"


@resource_rule(
    "kiln-ecr-repository-scan-on-push", types=(ECR_REPOSITORY,), severity="medium",
    description="ECR repositories scan images on push.",
    remediation="Set imageScanningConfiguration.scanOnPush = true.")
def repository_scan_on_push(resource: Resource) -> Iterator[str]:
    config = resource.props.get("imageScanningConfiguration")
    value = mapping(config).get("scanOnPush")
    if value is not True and str(value).lower() != "true":
        yield f"imageScanningConfiguration.scanOnPush is {value!r}, not true"


DIGEST_REMEDIATION = "Reference the image as repository@sha256:<digest>, never by tag."


@resource_rule(
    "kiln-ec2-launchtemplate-container-by-digest", types=(LAUNCH_TEMPLATE,), severity="high",
    description="The container a launch template runs is referenced by digest.",
    remediation=DIGEST_REMEDIATION)
def launch_template_container_digest(resource: Resource) -> Iterator[str]:
    reference = tag(resource.props.get("tags"), TAG_CONTAINER)
    if present(reference) and reference != "none" and not by_digest(reference):
        yield f"tag {TAG_CONTAINER} is {reference!r}, a reference that can move"


@resource_rule(
    "kiln-ecs-taskdefinition-image-by-digest", types=(ECS_TASK_DEFINITION,), severity="high",
    description="ECS task definitions reference container images by digest.",
    remediation=DIGEST_REMEDIATION)
def task_definition_digest(resource: Resource) -> Iterator[str]:
    raw = resource.props.get("containerDefinitions")
    try:
        containers = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        yield "containerDefinitions is not valid JSON"
        return
    for index, container in enumerate(listed(containers)):
        image = mapping(container).get("image")
        if not by_digest(image):
            name = mapping(container).get("name") or index
            yield f"container {name!r} image {image!r} is not pinned by digest"


@resource_rule(
    "kiln-lambda-function-image-by-digest", types=(LAMBDA_FUNCTION,), severity="high",
    description="Lambda container images are referenced by digest.",
    remediation=DIGEST_REMEDIATION)
def lambda_digest(resource: Resource) -> Iterator[str]:
    uri: Any = resource.props.get("imageUri")
    if present(uri) and not by_digest(uri):
        yield f"imageUri {uri!r} is not pinned by digest"

