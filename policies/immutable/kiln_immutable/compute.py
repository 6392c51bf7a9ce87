"""Instances are cattle: no key pairs, no user-data patches, IMDSv2, private, encrypted.

User data is the classic patch channel — a script that runs at boot can change what the
signed image is. It must be empty or byte-identical to a bootstrap whose SHA-256 is pinned
in the pack config (``allowedUserDataSha256``), in every form the provider accepts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator, Mapping

from .rulebook import Resource, resource_rule
from .tokens import INSTANCE, KEY_PAIR, LAUNCH_CONFIGURATION, LAUNCH_TEMPLATE, SPOT_REQUEST
from .values import listed, mapping, present, truthy

KEY_REMEDIATION = ("Remove the key pair. Nobody logs into an instance; debug from logs and "
                   "metrics, and ship fixes as a new image.")
USER_DATA_CONFIG = {
    "allowedUserDataSha256": {
        "type": "array", "default": [],
        "items": {"type": "string", "pattern": "^(sha256:)?[0-9a-f]{64}$"},
        "description": "SHA-256 (hex) of each bootstrap allowed as user data, byte for byte.",
    },
}
USER_DATA_REMEDIATION = ("Bake the change into the image. If the fleet needs a fixed "
                         "bootstrap, pin its SHA-256 in the pack config's "
                         "allowedUserDataSha256.")


def _allowed(resource: Resource) -> set[str]:
    hashes = resource.config.get("allowedUserDataSha256") or []
    return {str(h).lower().removeprefix("sha256:") for h in hashes}


def _decode(value: str) -> bytes | None:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def user_data_messages(resource: Resource, plain_keys: tuple[str, ...],
                       base64_keys: tuple[str, ...]) -> Iterator[str]:
    """Violations for user data given as plain text or base64 under the given keys."""
    allowed = _allowed(resource)
    forms = [(k, False) for k in plain_keys] + [(k, True) for k in base64_keys]
    for key, encoded in forms:
        value = resource.props.get(key)
        if not present(value):
            continue
        if not isinstance(value, str):
            yield f"{key} is not a string ({type(value).__name__}); it cannot be verified"
            continue
        data = _decode(value) if encoded else value.encode("utf-8")
        if data is None:
            yield f"{key} is not valid base64, so it cannot match an allow-listed bootstrap"
            continue
        if not data:
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest not in allowed:
            yield (f"{key} ({len(data)} bytes, sha256 {digest[:12]}…) is not an allow-listed "
                   "bootstrap; user data would patch the image at boot")


def _key_name(resource: Resource) -> Iterator[str]:
    value = resource.props.get("keyName")
    if present(value):
        yield f"keyName {value!r} installs an SSH key pair on every instance"


@resource_rule(
    "kiln-ec2-keypair-disallowed", types=(KEY_PAIR,), severity="critical",
    description="No EC2 key pairs are created.", remediation=KEY_REMEDIATION)
def key_pair_disallowed(resource: Resource) -> Iterator[str]:
    name = resource.props.get("keyName") or resource.props.get("keyNamePrefix") or resource.name
    yield f"key pair {name!r} would allow SSH logins to instances"


@resource_rule(
    "kiln-ec2-launchtemplate-no-key-pair", types=(LAUNCH_TEMPLATE,), severity="critical",
    description="Launch templates name no EC2 key pair.", remediation=KEY_REMEDIATION)
def launch_template_no_key_pair(resource: Resource) -> Iterator[str]:
    yield from _key_name(resource)


@resource_rule(
    "kiln-ec2-instance-no-key-pair", types=(INSTANCE, SPOT_REQUEST), severity="critical",
    description="Instances and spot requests name no EC2 key pair.",
    remediation=KEY_REMEDIATION)
def instance_no_key_pair(resource: Resource) -> Iterator[str]:
    yield from _key_name(resource)


@resource_rule(
    "kiln-ec2-launchconfiguration-no-key-pair", types=(LAUNCH_CONFIGURATION,),
    severity="critical", description="Launch configurations name no EC2 key pair.",
    remediation=KEY_REMEDIATION)
def launch_configuration_no_key_pair(resource: Resource) -> Iterator[str]:
    yield from _key_name(resource)


@resource_rule(
    "kiln-ec2-launchtemplate-user-data-pinned", types=(LAUNCH_TEMPLATE,), severity="high",
    description="Launch template user data is empty or an allow-listed bootstrap.",
    remediation=USER_DATA_REMEDIATION, config=USER_DATA_CONFIG)
def launch_template_user_data(resource: Resource) -> Iterator[str]:
    # Launch templates carry user data base64-encoded (the EC2 API's own form).
    yield from user_data_messages(resource, (), ("userData",))


@resource_rule(
    "kiln-ec2-instance-user-data-pinned", types=(INSTANCE, SPOT_REQUEST), severity="high",
    description="Instance user data is empty or an allow-listed bootstrap.",
    remediation=USER_DATA_REMEDIATION, config=USER_DATA_CONFIG)
def instance_user_data(resource: Resource) -> Iterator[str]:
    yield from user_data_messages(resource, ("userData",), ("userDataBase64",))


@resource_rule(
    "kiln-ec2-launchconfiguration-user-data-pinned", types=(LAUNCH_CONFIGURATION,),
    severity="high",
    description="Launch configuration user data is empty or an allow-listed bootstrap.",
    remediation=USER_DATA_REMEDIATION, config=USER_DATA_CONFIG)
def launch_configuration_user_data(resource: Resource) -> Iterator[str]:
    yield from user_data_messages(resource, ("userData",), ("userDataBase64",))


@resource_rule(
    "kiln-ec2-launchtemplate-imdsv2-required", types=(LAUNCH_TEMPLATE,), severity="high",
    description="Launch templates require IMDSv2 (metadataOptions.httpTokens = required).",
    remediation="Set metadataOptions {httpTokens: required, httpPutResponseHopLimit: 1}.")
def launch_template_imdsv2(resource: Resource) -> Iterator[str]:
    options = resource.props.get("metadataOptions")
    if not isinstance(options, Mapping):
        yield "metadataOptions is missing, so IMDSv1 (no session token) stays enabled"
        return
    tokens = options.get("httpTokens")
    if str(tokens or "").strip().lower() != "required":
        yield f"metadataOptions.httpTokens is {tokens!r}, not 'required'"


@resource_rule(
    "kiln-ec2-launchtemplate-no-public-ip", types=(LAUNCH_TEMPLATE,), severity="high",
    description="Launch templates give instances no public IP address.",
    remediation="Set associatePublicIpAddress to false; only the load balancer is public.")
def launch_template_no_public_ip(resource: Resource) -> Iterator[str]:
    for index, nic in enumerate(listed(resource.props.get("networkInterfaces"))):
        value = mapping(nic).get("associatePublicIpAddress")
        if truthy(value):
            yield f"networkInterfaces[{index}].associatePublicIpAddress is {value!r}"


@resource_rule(
    "kiln-ec2-launchtemplate-ebs-encrypted", types=(LAUNCH_TEMPLATE,), severity="high",
    description="Launch templates declare every EBS volume encrypted.",
    remediation="Declare the root volume in blockDeviceMappings with ebs.encrypted = true.")
def launch_template_ebs_encrypted(resource: Resource) -> Iterator[str]:
    volumes = [(i, ebs) for i, ebs in
               ((i, mapping(m).get("ebs")) for i, m in
                enumerate(listed(resource.props.get("blockDeviceMappings"))))
               if isinstance(ebs, Mapping)]
    if not volumes:
        yield "no EBS block device mapping, so the root volume's encryption is left to the AMI"
    for index, ebs in volumes:
        if not truthy(ebs.get("encrypted")):
            yield (f"blockDeviceMappings[{index}].ebs.encrypted is "
                   f"{ebs.get('encrypted')!r}, not true")


def _pet(kind: str) -> Iterator[str]:
    yield (f"a standalone {kind} is a pet: it is patched and repaired in place instead of "
           "being replaced")


PET_REMEDIATION = ("Run the workload in an autoscaling group from a launch template with a "
                   "signed image (a kiln fleet).")


@resource_rule(
    "kiln-ec2-instance-disallowed", types=(INSTANCE,), severity="high",
    description="No standalone EC2 instances.", remediation=PET_REMEDIATION)
def instance_disallowed(resource: Resource) -> Iterator[str]:
    yield from _pet("EC2 instance")


@resource_rule(
    "kiln-ec2-spotinstancerequest-disallowed", types=(SPOT_REQUEST,), severity="high",
    description="No standalone spot instance requests.", remediation=PET_REMEDIATION)
def spot_request_disallowed(resource: Resource) -> Iterator[str]:
    yield from _pet("spot instance request")


@resource_rule(
    "kiln-ec2-launchconfiguration-disallowed", types=(LAUNCH_CONFIGURATION,), severity="high",
    description="No launch configurations (they cannot be pinned by version).",
    remediation="Use a launch template and pin the ASG to its explicit version.")
def launch_configuration_disallowed(resource: Resource) -> Iterator[str]:
    yield "launch configurations are superseded by launch templates and cannot be versioned"

