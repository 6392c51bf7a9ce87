"""The Pulumi program: settings in, components built, outputs exported."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from kiln.model import naming, outputs
from kiln.model.settings import SettingsError, from_pulumi_config
from kiln.model.stack import COLOURS, StackSettings
from kiln.model.topology import weights
from kiln.program.components.bluegreen import BlueGreenArgs, BlueGreenService
from kiln.program.components.iam import InstanceIdentity, InstanceIdentityArgs
from kiln.program.components.network import Network, NetworkArgs
from kiln.program.components.repository import Registry, RegistryArgs


def engine_config() -> dict[str, str]:
    """Every config value the engine passed to this program (``namespace:key`` → string)."""

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def load_settings() -> StackSettings:
    """Parse this stack's settings; a bad value ends the run with its one-line message."""
    try:
        return from_pulumi_config(engine_config(), pulumi.get_stack())
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None


def build(settings: StackSettings) -> None:
    """Create the stack's resources and export its outputs."""
    name = settings.service.name
    tags = naming.base_tags(name, settings.stack)
    network = Network(name, NetworkArgs(settings.network, tags))
    identity = InstanceIdentity(name, InstanceIdentityArgs(tags))
    registry = Registry(name, RegistryArgs(settings.service.container, tags))
    service = BlueGreenService(name, BlueGreenArgs(
        settings=settings, vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        private_subnet_ids=network.private_subnet_ids,
        instance_profile_arn=identity.profile_arn, container=registry.image))
    fleets = service.fleets
    pulumi.export(outputs.URL, service.url)
    pulumi.export(outputs.ALB_DNS_NAME, service.dns_name)
    pulumi.export(outputs.LISTENER_ARN, service.listener_arn)
    pulumi.export(outputs.TARGET_GROUP_ARNS, {c: fleets[c].target_group_arn for c in COLOURS})
    pulumi.export(outputs.ASG_NAMES, {c: fleets[c].asg_name for c in COLOURS})
    pulumi.export(outputs.LIVE_COLOUR, settings.live)
    pulumi.export(outputs.TRAFFIC, weights(settings.live, settings.traffic))
    pulumi.export(outputs.IMAGES, {c: settings.release(c).image for c in COLOURS})
    pulumi.export(outputs.RELEASES, {c: settings.release(c).record for c in COLOURS})
    pulumi.export(outputs.REPOSITORY_URL, registry.repository_url)
    pulumi.export(outputs.CONTAINER_IMAGE, registry.image)
    pulumi.export(outputs.VPC_ID, network.vpc_id)
