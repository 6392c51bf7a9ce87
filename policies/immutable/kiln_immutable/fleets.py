"""Instances outside a kiln fleet: spot fleets, EC2 fleets, Lightsail, the aws-native provider.

Each launches instances from a specification the pack does not check like a kiln launch
template (signed image, no key, no user data, pinned version), so none is allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

from .compute import PET_REMEDIATION
from .rulebook import Resource, resource_rule
from .tokens import EC2_FLEET, LIGHTSAIL_INSTANCE, LIGHTSAIL_PORTS, NATIVE_INSTANCE, SPOT_FLEET


@resource_rule(
    "kiln-ec2-fleet-disallowed", types=(SPOT_FLEET, EC2_FLEET), severity="high",
    description="No spot fleet requests or EC2 fleets (they launch instances outside a "
                "kiln fleet).",
    remediation=PET_REMEDIATION)
def fleet_disallowed(resource: Resource) -> Iterator[str]:
    yield f"{resource.type.rsplit(':', 1)[-1]} launches instances outside kiln's blue/green fleets"


@resource_rule(
    "kiln-lightsail-instance-disallowed", types=(LIGHTSAIL_INSTANCE, LIGHTSAIL_PORTS),
    severity="high",
    description="No Lightsail instances or public ports (SSH is open by default).",
    remediation=PET_REMEDIATION)
def lightsail_disallowed(resource: Resource) -> Iterator[str]:
    yield "a Lightsail instance is a pet with SSH open by default"


@resource_rule(
    "kiln-awsnative-instance-disallowed", types=(NATIVE_INSTANCE,), severity="high",
    description="No standalone aws-native EC2 instances.",
    remediation=PET_REMEDIATION)
def native_instance_disallowed(resource: Resource) -> Iterator[str]:
    yield "a standalone aws-native EC2 instance is a pet"
