"""No ``ignoreChanges`` on what makes a fleet: image, user data, launch template.

Ignoring a change to the image or the template lets the stack say one thing while the fleet
runs another, and turns the next real change into an in-place edit.
"""

from __future__ import annotations

from collections.abc import Iterator

from .rulebook import Resource, resource_rule
from .tokens import ASG, LAUNCH_TEMPLATE
from .values import path_head

REMEDIATION = "Remove the property from ignoreChanges; let a change replace the fleet."


def _ignored(resource: Resource, properties: tuple[str, ...]) -> Iterator[str]:
    wanted = {p.lower() for p in properties}
    for path in resource.ignore_changes:
        head = path_head(path)
        if head and set(head) == {"*"}:
            yield "ignoreChanges ['*'] ignores every property, including the image"
        elif head in wanted:
            yield f"ignoreChanges includes {path!r}"


@resource_rule(
    "kiln-ec2-launchtemplate-no-ignore-changes", types=(LAUNCH_TEMPLATE,), severity="high",
    description="Launch templates do not ignore changes to imageId, userData, keyName, "
                "iamInstanceProfile or metadataOptions.",
    remediation=REMEDIATION)
def launch_template_ignore_changes(resource: Resource) -> Iterator[str]:
    yield from _ignored(resource, ("imageId", "userData", "keyName", "iamInstanceProfile",
                                   "metadataOptions"))


@resource_rule(
    "kiln-autoscaling-group-no-ignore-changes", types=(ASG,), severity="high",
    description="Autoscaling groups do not ignore changes to their launch template.",
    remediation=REMEDIATION)
def asg_ignore_changes(resource: Resource) -> Iterator[str]:
    yield from _ignored(resource, ("launchTemplate", "mixedInstancesPolicy"))
