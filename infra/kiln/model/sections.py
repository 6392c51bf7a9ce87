"""The parsers of a stack's object-valued settings (``service``, ``network``, ``blue`` and
``green``, ``trustedKeys``, ``environments``): each reads one value and raises a one-line
:class:`~kiln.model.fields.SettingsError` naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kiln.model.fields import (
    Obj,
    SettingsError,
    choice,
    cidr_network,
    integer,
    key,
    match,
    repeated,
    show,
)
from kiln.model.stack import (
    AMI_ID,
    AZ_COUNT_RANGE,
    CONTAINER_REF,
    HEALTH_PATH,
    INSTANCE_TYPE,
    KEY_ID,
    KEY_TYPES,
    MAX_SUBNET_PREFIX,
    RECORD_DIGEST,
    SERVICE_NAME,
    STACK_NAME,
    SUBNET_ID,
    VPC_ID,
    VPC_PREFIX_RANGE,
    Capacity,
    ExistingVpc,
    Network,
    NewVpc,
    Release,
    Service,
    TrustedKey,
)

SERVICE_KEYS = ("name", "port", "healthPath", "instanceType", "capacity", "minHealthy",
                "rootVolumeGb", "container")
CAPACITY_KEYS = ("min", "desired", "max")
NEW_VPC_KEYS = ("cidr", "azCount")
EXISTING_VPC_KEYS = ("vpcId", "publicSubnetIds", "privateSubnetIds")
RELEASE_KEYS = ("image", "release", "signature")
TRUSTED_KEY_KEYS = ("id", "type", "publicKey")
PEM_BEGIN = "-----BEGIN PUBLIC KEY-----"
PEM_END = "-----END PUBLIC KEY-----"

NETWORK_DEFAULTS: dict[str, Any] = {"cidr": "10.0.0.0/16", "azCount": 2}
SERVICE_DEFAULTS: dict[str, Any] = {
    "port": 8080,
    "healthPath": "/healthz",
    "instanceType": "t3.micro",
    "capacity": {"min": 1, "desired": 1, "max": 1},
    "rootVolumeGb": 20,
}


def parse_capacity(value: Any) -> Capacity:
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


def parse_service(value: Any) -> Service:
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
    capacity = parse_capacity(obj.get("capacity", SERVICE_DEFAULTS["capacity"]))
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


def parse_network(value: Any) -> Network:
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
    az_count = integer(obj.get("azCount", NETWORK_DEFAULTS["azCount"]), obj.key("azCount"),
                    *AZ_COUNT_RANGE, "an availability-zone count")
    if subnet_prefix(cidr.prefixlen, az_count) > MAX_SUBNET_PREFIX:
        raise SettingsError(where, f"{cidr_text!r} is too small for {az_count} public and "
                            f"{az_count} private subnets (each at most /{MAX_SUBNET_PREFIX})")
    return NewVpc(cidr_text, az_count)


def subnet_prefix(vpc_prefix: int, az_count: int) -> int:
    """Prefix length of each subnet when a VPC is cut into public + private per AZ."""
    return vpc_prefix + (2 * az_count - 1).bit_length()


def parse_release(colour: str, value: Any) -> Release:
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


def parse_trusted_keys(value: Any, name: str = "trustedKeys") -> tuple[TrustedKey, ...]:
    """A list of public keys (``kiln:trustedKeys``, or ``kiln:ledgerKeys`` by ``name``)."""
    if not isinstance(value, list | tuple):
        raise SettingsError(key(name), f"{show(value)} is not allowed; expected a "
                            "list of {id, type, publicKey}")
    keys = []
    for index, item in enumerate(value):
        obj = Obj(item, (name, index), TRUSTED_KEY_KEYS)
        kid = match(obj.require("id", "the key's id"), KEY_ID, obj.key("id"),
                     "a key id (letters, digits, ._:/-)")
        ktype = choice(obj.require("type", "ed25519 or ecdsa-p256"), KEY_TYPES,
                        obj.key("type"))
        public = obj.require("publicKey", "the PEM public key")
        check_public_pem(public, ktype, obj.key("publicKey"), kid)
        keys.append(TrustedKey(kid, ktype, public))
    twice = repeated([k.id for k in keys])
    if twice:
        raise SettingsError(key(name), f"lists key id {twice!r} twice")
    return tuple(keys)


def check_public_pem(public: Any, key_type: str, where: str, key_id: str) -> None:
    """``public`` is one PEM public key of ``key_type``: a verifier must never meet a
    trusted key it cannot load, nor a key of another type than the file says."""
    expected = "expected a PEM public key (-----BEGIN PUBLIC KEY----- … END PUBLIC KEY-----)"
    if not isinstance(public, str) or not public.strip().startswith(PEM_BEGIN) \
            or not public.strip().endswith(PEM_END) or public.count(PEM_BEGIN) != 1:
        raise SettingsError(where, f"{show(public)} is not allowed for key {key_id!r}; "
                            f"{expected}")
    try:
        loaded = serialization.load_pem_public_key(public.encode("utf-8"))
    except (ValueError, TypeError, UnicodeError):
        raise SettingsError(where, f"key {key_id!r} is not a readable PEM public key "
                            "(damaged or truncated?)") from None
    if isinstance(loaded, ed25519.Ed25519PublicKey):
        actual = "ed25519"
    elif isinstance(loaded, ec.EllipticCurvePublicKey):
        actual = "ecdsa-p256" if isinstance(loaded.curve, ec.SECP256R1) \
            else f"ecdsa {loaded.curve.name}"
    else:
        actual = type(loaded).__name__.removesuffix("PublicKey").lower()
    if actual != key_type:
        raise SettingsError(where, f"key {key_id!r} is declared {key_type} but its PEM is "
                            f"an {actual} key")


def parse_environments(value: Any) -> tuple[str, ...]:
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
