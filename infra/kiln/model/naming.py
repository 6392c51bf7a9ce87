"""Names and tags shared by the program, the CLI and the tests.

Operations that bypass Pulumi (rollback, status) find resources by these tags, so the tag
keys are part of kiln's interface: renaming one is a breaking change.
"""

from __future__ import annotations

TAG_SERVICE = "kiln:service"
TAG_STACK = "kiln:stack"
TAG_COLOUR = "kiln:colour"
TAG_RELEASE = "kiln:release"
TAG_SIGNATURE = "kiln:signature"
TAG_IMAGE = "kiln:image"
TAG_CONTAINER = "kiln:container"
TAG_ROLE = "kiln:role"
TAG_INPUT_HASH = "kiln:input-hash"
TAG_COMMIT = "kiln:commit"
TAG_NAME = "kiln:name"
TAG_SIGNATURE_KEY = "kiln:signature-key"
TAG_COPY_OF = "kiln:copy-of"

# Roles let tag lookups tell apart resources of the same type (e.g. the two security groups).
ROLE_ALB = "alb"
ROLE_INSTANCES = "instances"
ROLE_PUBLIC = "public"
ROLE_PRIVATE = "private"
ROLE_LISTENER = "listener"


def base_tags(service: str, stack: str) -> dict[str, str]:
    """Tags on every resource kiln creates."""
    return {TAG_SERVICE: service, TAG_STACK: stack}


def colour_tags(service: str, stack: str, colour: str) -> dict[str, str]:
    return {**base_tags(service, stack), TAG_COLOUR: colour}


def child(parent: str, *parts: str) -> str:
    """Logical name of a component's child: ``child("web", "blue", "lt")`` → ``web-blue-lt``."""
    return "-".join((parent, *parts))
