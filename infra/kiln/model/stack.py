"""What a stack is: the frozen settings of one stack file, and the shapes of their values.

:mod:`kiln.model.settings` builds these from a stack's ``kiln:`` configuration (every check
lives there); everything else reads them. Nothing here imports Pulumi or AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

COLOURS: tuple[str, ...] = ("blue", "green")
STANDBY_MODES: tuple[str, ...] = ("hot", "warm", "cold")
KEY_TYPES: tuple[str, ...] = ("ed25519", "ecdsa-p256")
DEFAULT_ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")

Colour: TypeAlias = Literal["blue", "green"]
Standby: TypeAlias = Literal["hot", "warm", "cold"]

AMI_ID = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
VPC_ID = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SUBNET_ID = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
RECORD_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[a-z0-9]+$")
HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$")
# The shape of a region name; which regions exist is botocore's list (model/regions.py).
REGION = re.compile(r"^[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}$")
CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$")
# registry/path:tag or registry/path@sha256:<64 hex> (a tag or digest is required, never an
# implicit "latest"); the registry part needs a dot or a port.
CONTAINER_REF = re.compile(
    r"^(?P<repository>[a-z0-9.-]+(?:\.[a-z0-9-]+|:\d+)(?:/[a-z0-9._-]+)+)"
    r"(?:(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))|(?:@(?P<digest>sha256:[0-9a-f]{64})))$"
)

AZ_COUNT_RANGE = (2, 6)
VPC_PREFIX_RANGE = (16, 24)
# An ALB needs a /27 or larger in each of its subnets.
MAX_SUBNET_PREFIX = 27


@dataclass(frozen=True)
class Capacity:
    min: int
    desired: int
    max: int


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    health_path: str
    instance_type: str
    capacity: Capacity
    min_healthy: int
    root_volume_gb: int
    container: str | None = None


@dataclass(frozen=True)
class NewVpc:
    cidr: str
    az_count: int


@dataclass(frozen=True)
class ExistingVpc:
    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]


Network: TypeAlias = NewVpc | ExistingVpc


@dataclass(frozen=True)
class Release:
    """What one colour runs: an image, the digest of its artifact record, its signature."""

    image: str
    record: str
    signature: str


@dataclass(frozen=True)
class TrustedKey:
    id: str
    type: str
    public_key: str


@dataclass(frozen=True)
class StackSettings:
    stack: str
    region: str
    service: Service
    network: Network
    blue: Release
    green: Release
    live: Colour
    traffic: int
    standby: Standby
    trusted_keys: tuple[TrustedKey, ...] = ()
    certificate_arn: str | None = None
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    # False right after a deploy or rollback: the idle colour keeps full size (the rollback
    # window) until `kiln retire` brings it to its standby mode.
    retired: bool = True

    @property
    def idle(self) -> Colour:
        return other(self.live)

    def release(self, colour: str) -> Release:
        return self.blue if colour == "blue" else self.green


def other(colour: str) -> Colour:
    """The colour that is not ``colour``."""
    return "green" if colour == "blue" else "blue"
