"""Stack configuration → frozen settings.

Every check on a stack's ``kiln:`` configuration lives here (generic value readers in
:mod:`kiln.fields`), and every failure is a :class:`SettingsError` whose message is one line
naming the key, the bad value and what is allowed. Nothing here imports Pulumi: the CLI,
the stack-file editor and the Pulumi program all parse through :func:`parse`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

from kiln.fields import (
    NAMESPACE,
    Obj,
    SettingsError,
    boolean,
    choice,
    cidr_network,
    integer,
    key,
    match,
    repeated,
    show,
    suggest,
)

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
REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$")
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


# --- the schema: top-level keys, whether required, and their nested keys -------------------

TOP_LEVEL: dict[str, bool] = {
    "service": True,
    "network": False,
    "blue": True,
    "green": True,
    "live": False,
    "traffic": False,
    "standby": False,
    "trustedKeys": False,
    "certificateArn": False,
    "environments": False,
    "retired": False,
}
SERVICE_KEYS = ("name", "port", "healthPath", "instanceType", "capacity", "minHealthy",
                "rootVolumeGb", "container")
CAPACITY_KEYS = ("min", "desired", "max")
NEW_VPC_KEYS = ("cidr", "azCount")
EXISTING_VPC_KEYS = ("vpcId", "publicSubnetIds", "privateSubnetIds")
RELEASE_KEYS = ("image", "release", "signature")
TRUSTED_KEY_KEYS = ("id", "type", "publicKey")
OBJECT_KEYS = frozenset({"service", "network", "blue", "green"})
ARRAY_KEYS = frozenset({"trustedKeys", "environments"})
INTEGER_KEYS = frozenset({"traffic"})
BOOLEAN_KEYS = frozenset({"retired"})

DEFAULTS: dict[str, Any] = {
    "network": {"cidr": "10.0.0.0/16", "azCount": 2},
    "live": "blue",
    "traffic": 100,
    "standby": "hot",
    "trustedKeys": [],
    "certificateArn": "",
    "environments": list(DEFAULT_ENVIRONMENTS),
    "retired": True,
}
SERVICE_DEFAULTS: dict[str, Any] = {
    "port": 8080,
    "healthPath": "/healthz",
    "instanceType": "t3.micro",
    "capacity": {"min": 1, "desired": 1, "max": 1},
    "rootVolumeGb": 20,
}


def _parse_capacity(value: Any) -> Capacity:
    obj = Obj(value, ("service", "capacity"), CAPACITY_KEYS)
    numbers = {n: integer(obj.require(n, "an instance count"), obj.key(n), 0, 1000)
               for n in CAPACITY_KEYS}
    cap = Capacity(**numbers)
    if not cap.min <= cap.desired <= cap.max:
        raise SettingsError(key("service", "capacity"),
                            f"min {cap.min}, desired {cap.desired}, max {cap.max} is not "
                            "allowed; expected min ≤ desired ≤ max")
    if cap.desired < 1:
        raise SettingsError(obj.key("desired"), "0 is not allowed; the live colour needs at "
                            "least one instance")
    return cap


def _parse_service(value: Any) -> Service:
    obj = Obj(value, ("service",), SERVICE_KEYS)
    name = match(obj.require("name", "the service name, e.g. web"), SERVICE_NAME,
                  obj.key("name"), "lowercase letters, digits and '-', starting with a "
                  "letter, at most 20 characters")
    port = integer(obj.get("port", SERVICE_DEFAULTS["port"]), obj.key("port"), 1, 65535,
                "a port")
    if port in (22, 3389):
        raise SettingsError(obj.key("port"), f"{port} is not allowed; SSH and RDP ports "
                            "are never opened (choose another service port)")
    health = match(obj.get("healthPath", SERVICE_DEFAULTS["healthPath"]), HEALTH_PATH,
                    obj.key("healthPath"), "an HTTP path starting with '/'")
    if len(health) > 1024:
        raise SettingsError(obj.key("healthPath"), "is longer than 1024 characters")
    itype = match(obj.get("instanceType", SERVICE_DEFAULTS["instanceType"]), INSTANCE_TYPE,
                   obj.key("instanceType"), "an EC2 instance type such as t3.micro")
    capacity = _parse_capacity(obj.get("capacity", SERVICE_DEFAULTS["capacity"]))
    min_healthy = integer(obj.get("minHealthy", max(capacity.min, 1)), obj.key("minHealthy"),
                       1, capacity.desired, "a healthy-instance count within desired:")
    root = integer(obj.get("rootVolumeGb", SERVICE_DEFAULTS["rootVolumeGb"]),
                obj.key("rootVolumeGb"), 8, 16384, "a size in GiB")
    container = None
    if obj.has("container"):
        container = match(obj.get("container"), CONTAINER_REF, obj.key("container"),
                           "a registry image reference such as "
                           "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.0 or "
                           "…/web@sha256:<64 hex>")
    return Service(name, port, health, itype, capacity, min_healthy, root, container)


def _id_list(value: Any, where: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise SettingsError(where, f"{show(value)} is not allowed; expected a list of at "
                            f"least two {what} ids in different availability zones")
    for index, item in enumerate(value):
        match(item, pattern, f"{where}[{index}]", f"a {what} id such as "
               f"{what}-0123456789abcdef0")
    twice = repeated(value)
    if twice:
        raise SettingsError(where, f"lists {twice!r} twice")
    return tuple(value)


def _parse_network(value: Any) -> Network:
    if isinstance(value, Mapping) and any(k in value for k in EXISTING_VPC_KEYS):
        obj = Obj(value, ("network",), EXISTING_VPC_KEYS)
        vpc = match(obj.require("vpcId", "an existing VPC id"), VPC_ID, obj.key("vpcId"),
                     "a VPC id such as vpc-0123456789abcdef0")
        public = _id_list(obj.require("publicSubnetIds", "the ALB's subnet ids"),
                          obj.key("publicSubnetIds"), SUBNET_ID, "subnet")
        private = _id_list(obj.require("privateSubnetIds", "the instances' subnet ids"),
                           obj.key("privateSubnetIds"), SUBNET_ID, "subnet")
        shared = sorted(set(public) & set(private))
        if shared:
            raise SettingsError(obj.key("privateSubnetIds"),
                                f"{shared[0]!r} is also in publicSubnetIds; instances belong "
                                "in private subnets only")
        return ExistingVpc(vpc, public, private)
    obj = Obj(value, ("network",), NEW_VPC_KEYS + EXISTING_VPC_KEYS)
    cidr_text = obj.require("cidr", "the new VPC's IPv4 CIDR, e.g. 10.0.0.0/16 (or give "
                            "vpcId and subnet ids)")
    where = obj.key("cidr")
    cidr = cidr_network(cidr_text, where, VPC_PREFIX_RANGE)
    az_count = integer(obj.get("azCount", DEFAULTS["network"]["azCount"]), obj.key("azCount"),
                    *AZ_COUNT_RANGE, "an availability-zone count")
    if subnet_prefix(cidr.prefixlen, az_count) > MAX_SUBNET_PREFIX:
        raise SettingsError(where, f"{cidr_text!r} is too small for {az_count} public and "
                            f"{az_count} private subnets (each at most /{MAX_SUBNET_PREFIX})")
    return NewVpc(cidr_text, az_count)


def subnet_prefix(vpc_prefix: int, az_count: int) -> int:
    """Prefix length of each subnet when a VPC is cut into public + private per AZ."""
    return vpc_prefix + (2 * az_count - 1).bit_length()


def _parse_release(colour: str, value: Any) -> Release:
    if value is None:
        raise SettingsError(key(colour), f"is missing; set {colour}.image, {colour}.release "
                            f"and {colour}.signature (the {colour} colour's signed release)")
    obj = Obj(value, (colour,), RELEASE_KEYS)
    image = match(obj.require("image", "an AMI id"), AMI_ID, obj.key("image"),
                   "an AMI id such as ami-0123456789abcdef0")
    record = match(obj.require("release", "the artifact record digest"), RECORD_DIGEST,
                    obj.key("release"), "a record digest sha256:<64 hex>")
    signature = obj.require("signature", "the release signature (base64)")
    try:
        raw = base64.b64decode(signature, validate=True) if isinstance(signature, str) \
            else b""
    except (binascii.Error, ValueError):
        raw = b""
    if not 32 <= len(raw) <= 192:
        raise SettingsError(obj.key("signature"), f"{show(signature)} is not allowed; "
                            "expected a base64 signature (Ed25519 or ECDSA P-256)")
    return Release(image, record, signature)


def _parse_trusted_keys(value: Any) -> tuple[TrustedKey, ...]:
    if not isinstance(value, list | tuple):
        raise SettingsError(key("trustedKeys"), f"{show(value)} is not allowed; expected a "
                            "list of {id, type, publicKey}")
    keys = []
    for index, item in enumerate(value):
        obj = Obj(item, ("trustedKeys", index), TRUSTED_KEY_KEYS)
        kid = match(obj.require("id", "the key's id"), KEY_ID, obj.key("id"),
                     "a key id (letters, digits, ._:/-)")
        ktype = choice(obj.require("type", "ed25519 or ecdsa-p256"), KEY_TYPES,
                        obj.key("type"))
        public = obj.require("publicKey", "the PEM public key")
        if not isinstance(public, str) or "BEGIN PUBLIC KEY" not in public:
            raise SettingsError(obj.key("publicKey"), f"{show(public)} is not allowed; "
                                "expected a PEM public key (-----BEGIN PUBLIC KEY-----)")
        keys.append(TrustedKey(kid, ktype, public))
    twice = repeated([k.id for k in keys])
    if twice:
        raise SettingsError(key("trustedKeys"), f"lists key id {twice!r} twice")
    return tuple(keys)


def _parse_environments(value: Any) -> tuple[str, ...]:
    where = key("environments")
    if not isinstance(value, list | tuple) or not value:
        raise SettingsError(where, f"{show(value)} is not allowed; expected the ordered "
                            "list of stacks, e.g. [dev, staging, prod]")
    for index, item in enumerate(value):
        match(item, STACK_NAME, f"{where}[{index}]", "a stack name")
    twice = repeated(value)
    if twice:
        raise SettingsError(where, f"lists stack {twice!r} twice")
    return tuple(value)


def parse(config: Mapping[str, Any], stack: str) -> StackSettings:
    """Parse a stack's configuration (``{"kiln:service": {...}, "aws:region": ...}``).

    Values are native (YAML) types; use :func:`from_pulumi_config` for the string map the
    Pulumi engine hands a program.
    """
    match(stack, STACK_NAME, "stack", "a stack name (letters, digits, '_', '.', '-')")
    prefix = f"{NAMESPACE}:"
    raw: dict[str, Any] = {}
    for full, value in config.items():
        if not full.startswith(prefix):
            continue
        name = full[len(prefix):]
        if name not in TOP_LEVEL:
            raise SettingsError(full, f"unknown key; {suggest(name, list(TOP_LEVEL))}")
        raw[name] = value
    for name, required in TOP_LEVEL.items():
        if required and raw.get(name) is None:
            if name in COLOURS:
                _parse_release(name, None)
            raise SettingsError(key(name), "is missing; it has no default and must be set "
                                "in the stack file")

    def value_of(name: str) -> Any:
        value = raw.get(name)
        return DEFAULTS.get(name) if value is None else value

    region = config.get("aws:region")
    match(region, REGION, "aws:region", "an AWS region such as eu-west-1")
    certificate = value_of("certificateArn") or None
    if certificate is not None:
        match(certificate, CERT_ARN, key("certificateArn"), "an ACM certificate ARN")
    settings = StackSettings(
        stack=stack,
        region=cast(str, region),
        service=_parse_service(value_of("service")),
        network=_parse_network(value_of("network")),
        blue=_parse_release("blue", raw.get("blue")),
        green=_parse_release("green", raw.get("green")),
        live=cast(Colour, choice(value_of("live"), COLOURS, key("live"))),
        traffic=integer(value_of("traffic"), key("traffic"), 1, 100,
                     "a percentage for the live colour:"),
        standby=cast(Standby, choice(value_of("standby"), STANDBY_MODES, key("standby"))),
        trusted_keys=_parse_trusted_keys(value_of("trustedKeys")),
        certificate_arn=certificate,
        environments=_parse_environments(value_of("environments")),
        retired=boolean(value_of("retired"), key("retired")),
    )
    return settings


def from_pulumi_config(config: Mapping[str, str], stack: str) -> StackSettings:
    """Parse the engine's config map, where objects and arrays arrive as JSON strings."""
    import json

    decoded: dict[str, Any] = {}
    for full, value in config.items():
        name = full.split(":", 1)[1] if full.startswith(f"{NAMESPACE}:") else None
        if name in OBJECT_KEYS or name in ARRAY_KEYS:
            try:
                decoded[full] = json.loads(value)
            except (TypeError, ValueError):
                raise SettingsError(full, f"{show(value)} is not valid JSON") from None
        else:
            decoded[full] = value
    return parse(decoded, stack)


def to_config(settings: StackSettings) -> dict[str, Any]:
    """The stack-file form of ``settings`` (inverse of :func:`parse`)."""
    svc = settings.service
    service: dict[str, Any] = {
        "name": svc.name,
        "port": svc.port,
        "healthPath": svc.health_path,
        "instanceType": svc.instance_type,
        "capacity": {"min": svc.capacity.min, "desired": svc.capacity.desired,
                     "max": svc.capacity.max},
        "minHealthy": svc.min_healthy,
        "rootVolumeGb": svc.root_volume_gb,
    }
    if svc.container:
        service["container"] = svc.container
    net = settings.network
    network: dict[str, Any] = (
        {"cidr": net.cidr, "azCount": net.az_count} if isinstance(net, NewVpc) else
        {"vpcId": net.vpc_id, "publicSubnetIds": list(net.public_subnet_ids),
         "privateSubnetIds": list(net.private_subnet_ids)})
    config: dict[str, Any] = {
        "aws:region": settings.region,
        key("service"): service,
        key("network"): network,
        key("live"): settings.live,
        key("traffic"): settings.traffic,
        key("standby"): settings.standby,
        key("environments"): list(settings.environments),
        key("trustedKeys"): [{"id": k.id, "type": k.type, "publicKey": k.public_key}
                             for k in settings.trusted_keys],
        key("retired"): settings.retired,
    }
    for colour in COLOURS:
        rel = settings.release(colour)
        config[key(colour)] = {"image": rel.image, "release": rel.record,
                               "signature": rel.signature}
    if settings.certificate_arn:
        config[key("certificateArn")] = settings.certificate_arn
    return config
