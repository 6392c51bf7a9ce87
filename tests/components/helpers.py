"""Build the service's components under the recording mocks and index what they made."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kiln.model.stack import StackSettings
from kiln.preview import capture
from kiln.preview.plan import (  # noqa: F401 (re-exported for the component tests)
    ASG,
    INGRESS_RULE,
    LAUNCH_TEMPLATE,
    LISTENER,
    SECURITY_GROUP,
    TARGET_GROUP,
)
from kiln.program.components.bluegreen import BlueGreenArgs, BlueGreenService


def build_service(settings: StackSettings, **changes: Any) -> capture.Capture:
    """Run BlueGreenService alone, on fixed network ids, for ``settings`` with ``changes``."""
    settings = replace(settings, **changes)

    def body() -> None:
        BlueGreenService(settings.service.name, BlueGreenArgs(
            settings=settings, vpc_id="vpc-0123456789abcdef0",
            public_subnet_ids=["subnet-0a", "subnet-0b"],
            private_subnet_ids=["subnet-1a", "subnet-1b"],
            instance_profile_arn="arn:aws:iam::123456789012:instance-profile/web"))

    return capture.run(body, "kiln", settings.stack, {"aws:region": settings.region})


def colour_of(res: capture.CapturedResource) -> str:
    tags = res.inputs.get("tags")
    if isinstance(tags, list):  # ASG tags are a list of {key, value, propagateAtLaunch}
        tags = {t["key"]: t["value"] for t in tags}
    return tags["kiln:colour"]


def by_colour(cap: capture.Capture, type_: str) -> dict[str, capture.CapturedResource]:
    return {colour_of(r): r for r in cap.by_type(type_)}


def listener_weights(cap: capture.Capture) -> dict[str, int]:
    """Weights of the forwarding listener, keyed by the colour of each target group."""
    arn_colour = {r.outputs["arn"]: colour for colour, r in by_colour(cap, TARGET_GROUP).items()}
    forwarding = [r for r in cap.by_type(LISTENER)
                  if r.inputs["defaultActions"][0]["type"] == "forward"]
    assert len(forwarding) == 1
    groups = forwarding[0].inputs["defaultActions"][0]["forward"]["targetGroups"]
    return {arn_colour[g["arn"]]: int(g["weight"]) for g in groups}
