"""Images are signed, unrevoked and pinned; registries keep what they were given.

A launch template names its image three times: ``imageId``, and the tags ``kiln:image``,
``kiln:release`` (record digest) and ``kiln:signature``. The signature must verify over the
release statement built from ``imageId`` itself — so re-tagging an unsigned image with a
signed image's tags fails — in the template's region, with a key trusted by the pack config.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from . import signing
from .contract import (
    KEY_ID,
    KEY_PEM,
    KEY_TYPE,
    KEY_TYPES,
    KIND_AMI,
    NO_CONTAINER,
    NOT_REVOKED_RULE,
    REVOKED,
    REVOKED_IMAGE,
    REVOKED_REASON,
    REVOKED_RELEASE,
    SIGNED_IMAGE_RULE,
    TAG_CONTAINER,
    TAG_IMAGE,
    TAG_RELEASE,
    TAG_SIGNATURE,
    TRUSTED_KEY_FIELDS,
    TRUSTED_KEYS,
    StatementError,
    is_record_digest,
    statement,
)
from .rulebook import Resource, resource_rule
from .tokens import ECR_REPOSITORY, ECS_TASK_DEFINITION, LAMBDA_FUNCTION, LAUNCH_TEMPLATE
from .values import by_digest, listed, mapping, present, tag

TRUSTED_KEYS_SCHEMA = {
    "type": "array", "default": [],
    "description": "Public keys whose release signatures are accepted.",
    "items": {"type": "object", "required": list(TRUSTED_KEY_FIELDS), "properties": {
        KEY_ID: {"type": "string"}, KEY_TYPE: {"type": "string", "enum": list(KEY_TYPES)},
        KEY_PEM: {"type": "string"}}},
}
REVOKED_SCHEMA = {
    "type": "array", "default": [],
    "description": "Revoked images: [{image: ami-…, release: sha256:…, reason}] (either id).",
    "items": {"type": "object", "properties": {
        REVOKED_IMAGE: {"type": "string"}, REVOKED_RELEASE: {"type": "string"},
        REVOKED_REASON: {"type": "string"}}},
}


@resource_rule(
    SIGNED_IMAGE_RULE, types=(LAUNCH_TEMPLATE,), severity="critical",
    description="Launch templates run an image whose kiln release statement is signed by a "
                "trusted key.",
    remediation="Deploy a released image with `kiln promote`/`kiln deploy`, which write image, "
                "release and signature together; trust the signer's key in the pack config.",
    config={TRUSTED_KEYS: TRUSTED_KEYS_SCHEMA})
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
    if not isinstance(record, str) or not is_record_digest(record):
        yield f"tag {TAG_RELEASE} is {record!r}, not a record digest sha256:<64 hex>"
        return
    if signature is None:
        yield f"tag {TAG_SIGNATURE} is missing or not base64: image {image} is unsigned"
        return
    yield from _verify_release(resource, image, record, signature)


def _verify_release(resource: Resource, image: str, record: str, signature: bytes
                    ) -> Iterator[str]:
    """Why ``signature`` is not a trusted key's signature over the template's statement."""
    if not resource.region:
        yield "the template's region is unknown (no region input, provider or aws:region)"
        return
    try:
        keys = signing.trusted_keys(listed(resource.config.get(TRUSTED_KEYS)))
    except signing.KeyConfigError as error:
        yield f"pack config: {error}"
        return
    if not keys:
        yield f"the pack config trusts no keys ({TRUSTED_KEYS}), so no signature can verify"
        return
    try:
        message = statement(KIND_AMI, image, resource.region, record)
    except StatementError as error:
        yield f"no release statement can be built, so nothing can verify: {error}"
        return
    if signing.verify(signature, message, keys) is None:
        yield (f"the signature over release {record[:19]}… of {image} in {resource.region} "
               f"does not verify with any trusted key ({', '.join(k.id for k in keys)})")


@resource_rule(
    NOT_REVOKED_RULE, types=(LAUNCH_TEMPLATE,), severity="critical",
    description="Launch templates run no revoked image or release.",
    remediation="Roll back or promote another release; revoked images never run again.",
    config={REVOKED: REVOKED_SCHEMA})
def launch_template_not_revoked(resource: Resource) -> Iterator[str]:
    image = resource.props.get("imageId")
    record = tag(resource.props.get("tags"), TAG_RELEASE)
    for item in listed(resource.config.get(REVOKED)):
        entry = mapping(item)
        hit = ((present(entry.get(REVOKED_IMAGE)) and entry.get(REVOKED_IMAGE) == image)
               or (present(entry.get(REVOKED_RELEASE)) and entry.get(REVOKED_RELEASE) == record))
        if hit:
            reason = entry.get(REVOKED_REASON) or "no reason given"
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
    if present(reference) and reference != NO_CONTAINER and not by_digest(reference):
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

