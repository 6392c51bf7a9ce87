"""Hypothesis properties of kiln.model.settings: every valid config round-trips through
to_config, and breaking any required field is refused naming that field's key."""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kiln.model.sections import subnet_prefix
from kiln.model.settings import SettingsError, from_pulumi_config, parse, to_config
from kiln.model.stack import (
    AMI_ID,
    RECORD_DIGEST,
    SERVICE_NAME,
    Capacity,
    ExistingVpc,
    NewVpc,
    Release,
    StackSettings,
    TrustedKey,
)

PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA2PrPueQyKdZE/DRtvBlqwE+m2/Whyr6H8ggk6komGkA=\n"
    "-----END PUBLIC KEY-----\n"
)
# The ALB needs public subnets of /27 or larger; keep generated VPCs inside that bound so
# the strategy stays valid (settings.py refuses smaller subnets).
ALB_MIN_SUBNET_PREFIX = 27

LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
ALNUM = LOWER + LOWER.upper() + DIGITS


def hex_text(size: int) -> st.SearchStrategy[str]:
    """``size`` lowercase hex digits (one integer draw: much cheaper than text())."""
    return st.integers(0, 16**size - 1).map(lambda n: f"{n:0{size}x}")


def random_bytes(size: int) -> st.SearchStrategy[bytes]:
    """``size`` arbitrary bytes (one integer draw: cheaper than binary())."""
    return st.integers(0, 256**size - 1).map(lambda n: n.to_bytes(size, "big"))


def _joined(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    return st.builds("{}{}".format, st.sampled_from(first),
                     st.text(rest, max_size=max_size))


# --- valid values ---------------------------------------------------------------------

service_names = _joined(LOWER, LOWER + DIGITS + "-", 19)
ports = st.integers(1, 65535).filter(lambda p: p not in (22, 3389))
health_paths = st.text(ALNUM + "._~!$&'()*+,;=:@/%-", max_size=60).map("/{}".format)
instance_types = st.builds(
    "{}{}{}.{}".format,
    st.sampled_from(["t", "m", "c", "r", "x", "i"]),
    st.integers(1, 8),
    st.sampled_from(["", "g", "i", "a", "gn", "id"]),
    st.sampled_from(["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge",
                     "metal"]),
)
amis = st.one_of(hex_text(8), hex_text(17)).map("ami-{}".format)
digests = hex_text(64).map("sha256:{}".format)
signatures = random_bytes(64).map(lambda b: base64.b64encode(b).decode())
regions = st.sampled_from(["eu-west-1", "eu-central-1", "us-east-1", "us-west-2",
                           "ap-southeast-2", "us-gov-west-1", "cn-north-1"])
certificates = st.builds(
    "arn:aws:acm:{}:{:012d}:certificate/{}".format,
    regions, st.integers(0, 10**12 - 1), st.uuids().map(str))
containers = st.builds(
    "{}/{}{}".format,
    st.sampled_from(["123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ghcr.io",
                     "registry.example.com", "localhost:5000"]),
    st.lists(st.text(LOWER + DIGITS + "._-", min_size=1, max_size=10), min_size=1,
             max_size=3).map("/".join),
    st.one_of(_joined(ALNUM + "_", ALNUM + "._-", 20).map(":{}".format),
              digests.map("@{}".format)),
)
stack_names = st.text(ALNUM + "_.-", min_size=1, max_size=20)
key_ids = _joined(ALNUM, ALNUM + "._:/-", 30)


@st.composite
def capacities(draw: st.DrawFn) -> tuple[dict[str, int], int | None]:
    desired = draw(st.integers(1, 50))
    low = draw(st.integers(0, desired))
    high = draw(st.integers(desired, 100))
    min_healthy = draw(st.none() | st.integers(1, desired))
    return {"min": low, "desired": desired, "max": high}, min_healthy


@st.composite
def new_vpcs(draw: st.DrawFn) -> dict[str, Any]:
    az_count = draw(st.integers(2, 6))
    prefix = draw(st.integers(16, 24).filter(
        lambda p: subnet_prefix(p, az_count) <= ALB_MIN_SUBNET_PREFIX))
    address = draw(st.integers(0, 2**32 - 1))
    cidr = str(ipaddress.IPv4Network((address, prefix), strict=False))
    network: dict[str, Any] = {"cidr": cidr}
    if az_count != 2 or draw(st.booleans()):
        network["azCount"] = az_count
    return network


@st.composite
def existing_vpcs(draw: st.DrawFn) -> dict[str, Any]:
    n_public = draw(st.integers(2, 4))
    n_private = draw(st.integers(2, 4))
    numbers = draw(st.lists(st.integers(0, 2**32 - 1), min_size=n_public + n_private,
                            max_size=n_public + n_private, unique=True))
    long_form = draw(st.booleans())  # subnet-<8 hex> or subnet-<17 hex>
    ids = [f"subnet-{n:017x}" if long_form else f"subnet-{n:08x}" for n in numbers]
    return {
        "vpcId": draw(st.one_of(hex_text(8), hex_text(17)).map("vpc-{}".format)),
        "publicSubnetIds": ids[:n_public],
        "privateSubnetIds": ids[n_public:],
    }


P256_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzp7sZEbe9S0Xir7qZHznCwZ/LMJ9\n"
    "u49pGQxIPyrvN00yIjeDtP+C10B/YRDHh83zBuTc9qWiHkpPmHQHEQvz5g==\n"
    "-----END PUBLIC KEY-----\n"
)
PEM_OF_TYPE = {"ed25519": PEM, "ecdsa-p256": P256_PEM}

trusted_keys = st.lists(
    st.builds(lambda kid, ktype: {"id": kid, "type": ktype, "publicKey": PEM_OF_TYPE[ktype]},
              key_ids, st.sampled_from(sorted(PEM_OF_TYPE))),
    max_size=3, unique_by=lambda k: k["id"])


def release() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({"image": amis, "release": digests, "signature": signatures})


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    """An arbitrary valid stack config; optional keys are sometimes left out."""
    capacity, min_healthy = draw(capacities())
    service: dict[str, Any] = {"name": draw(service_names)}
    optional_service = {
        "port": ports, "healthPath": health_paths, "instanceType": instance_types,
        "rootVolumeGb": st.integers(8, 16384),
    }
    for name, strategy in optional_service.items():
        if draw(st.booleans()):
            service[name] = draw(strategy)
    if capacity != {"min": 1, "desired": 1, "max": 1} or draw(st.booleans()):
        service["capacity"] = capacity
    if min_healthy is not None:
        service["minHealthy"] = min_healthy
    container = draw(st.none() | containers)
    if container is not None:
        service["container"] = container

    config: dict[str, Any] = {
        "aws:region": draw(regions),
        "kiln:service": service,
        "kiln:blue": draw(release()),
        "kiln:green": draw(release()),
    }
    optional_top = {
        "kiln:network": st.one_of(new_vpcs(), existing_vpcs()),
        "kiln:live": st.sampled_from(["blue", "green"]),
        "kiln:traffic": st.integers(1, 100),
        "kiln:standby": st.sampled_from(["hot", "warm", "cold"]),
        "kiln:certificateArn": certificates,
        "kiln:trustedKeys": trusted_keys,
        "kiln:environments": st.lists(stack_names, min_size=1, max_size=4, unique=True),
    }
    for name, strategy in optional_top.items():
        if draw(st.booleans()):
            config[name] = draw(strategy)
    return config


# --- (a) valid configs parse, reflect their input and round-trip ------------------------


def engine_form(config: dict[str, Any]) -> dict[str, str]:
    """The Pulumi engine's form: objects/arrays as JSON strings, scalars as strings."""
    return {k: json.dumps(v) if isinstance(v, dict | list | bool) else str(v)
            for k, v in config.items()}


def _assert_reflects(parsed: StackSettings, config: dict[str, Any]) -> None:
    """Every parsed field is the input value, or the documented default when absent."""
    service = config["kiln:service"]
    assert parsed.region == config["aws:region"]
    assert parsed.service.name == service["name"]
    assert parsed.service.port == service.get("port", 8080)
    assert parsed.service.health_path == service.get("healthPath", "/healthz")
    assert parsed.service.instance_type == service.get("instanceType", "t3.micro")
    assert parsed.service.root_volume_gb == service.get("rootVolumeGb", 20)
    capacity = service.get("capacity", {"min": 1, "desired": 1, "max": 1})
    assert parsed.service.capacity == Capacity(capacity["min"], capacity["desired"],
                                               capacity["max"])
    assert parsed.service.min_healthy == service.get("minHealthy", max(capacity["min"], 1))
    assert 1 <= parsed.service.min_healthy <= parsed.service.capacity.desired
    assert parsed.service.container == service.get("container")
    for colour in ("blue", "green"):
        given_release = config[f"kiln:{colour}"]
        assert parsed.release(colour) == Release(given_release["image"],
                                                 given_release["release"],
                                                 given_release["signature"])
    assert parsed.live == config.get("kiln:live", "blue")
    assert parsed.idle != parsed.live
    assert parsed.traffic == config.get("kiln:traffic", 100)
    assert parsed.standby == config.get("kiln:standby", "hot")
    assert parsed.certificate_arn == config.get("kiln:certificateArn")
    assert parsed.trusted_keys == tuple(TrustedKey(k["id"], k["type"], k["publicKey"])
                                        for k in config.get("kiln:trustedKeys", []))
    assert list(parsed.environments) == \
        config.get("kiln:environments", ["dev", "staging", "prod"])
    network = config.get("kiln:network", {"cidr": "10.0.0.0/16", "azCount": 2})
    if "vpcId" in network:
        assert parsed.network == ExistingVpc(network["vpcId"],
                                             tuple(network["publicSubnetIds"]),
                                             tuple(network["privateSubnetIds"]))
    else:
        assert parsed.network == NewVpc(network["cidr"], network.get("azCount", 2))


@PROPERTY
@given(valid_configs(), stack_names)
def test_valid_config_round_trips(config: dict[str, Any], stack: str) -> None:
    original = copy.deepcopy(config)
    parsed = parse(config, stack)
    assert config == original, "parse must not mutate its input"
    assert parsed.stack == stack
    _assert_reflects(parsed, config)

    again = to_config(parsed)
    assert parse(again, stack) == parsed
    assert to_config(parse(again, stack)) == again
    # through JSON (stack-file editor) and the engine's string map, nothing is lost
    assert parse(json.loads(json.dumps(again)), stack) == parsed
    assert from_pulumi_config(engine_form(config), stack) == parsed
    assert from_pulumi_config(engine_form(again), stack) == parsed


# --- (b) required fields: deleted or invalid → SettingsError naming the key --------------

def _junk(pattern: re.Pattern[str]) -> st.SearchStrategy[Any]:
    """Anything at all that ``pattern`` refuses: odd text, numbers, lists, ''."""
    return st.one_of(
        st.text(max_size=80).filter(lambda t: not pattern.fullmatch(t)),
        st.integers(),
        st.booleans(),
        st.lists(st.text(max_size=5), max_size=3),
        st.just(""),
    )


def _invalid(pattern: re.Pattern[str], *near_misses: st.SearchStrategy[str]
             ) -> st.SearchStrategy[Any]:
    """Half junk, half near misses (values that look right but are not)."""
    near = st.one_of(*near_misses).filter(lambda v: not pattern.fullmatch(v))
    return st.booleans().flatmap(lambda pick_near: near if pick_near else _junk(pattern))


def _bad_signature(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return not 32 <= len(base64.b64decode(value, validate=True)) <= 192
    except (binascii.Error, ValueError):
        return True


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


bad_names = _invalid(
    SERVICE_NAME,
    st.text(LOWER, min_size=21, max_size=30),                       # too long
    _joined(DIGITS + "-", LOWER + DIGITS + "-", 10),                  # bad first character
    st.builds("{}{}{}".format, service_names, st.sampled_from("_.A /"), service_names),
)
bad_images = _invalid(
    AMI_ID,
    st.one_of(hex_text(7), hex_text(9), hex_text(16), hex_text(18)).map("ami-{}".format),
    hex_text(17).map("AMI-{}".format),
    hex_text(17).map(str.upper).map("ami-{}".format),
    hex_text(16).map("ami-{}g".format),
    hex_text(17).map("ami{}".format),
)
bad_records = _invalid(
    RECORD_DIGEST,
    st.one_of(hex_text(63), hex_text(65)).map("sha256:{}".format),
    hex_text(64).map("sha1:{}".format),
    hex_text(64).map("sha256-{}".format),
    hex_text(64).map(str.upper).map("sha256:{}".format),
    hex_text(64),
)
bad_signatures = st.booleans().flatmap(lambda pick_near: st.one_of(
    st.binary(max_size=31).map(_b64),                                # too short
    st.binary(min_size=193, max_size=260).map(_b64),                 # too long
    st.binary(min_size=64, max_size=64).map(_b64).map(lambda s: s.rstrip("=")[:-1]),
    st.binary(min_size=64, max_size=64).map(_b64).map(lambda s: s[:40] + "!" + s[41:]),
) if pick_near else st.one_of(
    st.text(max_size=100), st.integers(), st.just(""),
)).filter(_bad_signature)
bad_objects = st.one_of(st.text(max_size=20), st.integers(), st.booleans(),
                        st.lists(st.integers(), max_size=3), st.floats(allow_nan=False))

# field → (path into the config, key named in the error, strategy of invalid values)
REQUIRED: dict[str, tuple[tuple[str, ...], str, st.SearchStrategy[Any]]] = {
    "service.name": (("kiln:service", "name"), "kiln:service.name", bad_names),
    "blue.image": (("kiln:blue", "image"), "kiln:blue.image", bad_images),
    "blue.release": (("kiln:blue", "release"), "kiln:blue.release", bad_records),
    "blue.signature": (("kiln:blue", "signature"), "kiln:blue.signature", bad_signatures),
    "green.image": (("kiln:green", "image"), "kiln:green.image", bad_images),
    "green.release": (("kiln:green", "release"), "kiln:green.release", bad_records),
    "green.signature": (("kiln:green", "signature"), "kiln:green.signature",
                        bad_signatures),
    "service": (("kiln:service",), "kiln:service", bad_objects),
    "blue": (("kiln:blue",), "kiln:blue", bad_objects),
    "green": (("kiln:green",), "kiln:green", bad_objects),
}


def _assert_refused(config: dict[str, Any], full_key: str) -> str:
    try:
        parse(config, "dev")
    except SettingsError as err:
        message = str(err)
        assert err.key == full_key, message
        assert message.startswith(f"{full_key}: "), message
        assert "\n" not in message, message
        return message
    raise AssertionError(f"{full_key}: accepted {config!r}")


@settings(PROPERTY, max_examples=60)
@given(valid_configs(), st.sampled_from(sorted(REQUIRED)), st.sampled_from(["delete", "null"]))
def test_missing_required_field_is_refused(config: dict[str, Any], field: str,
                                           how: str) -> None:
    path, full_key, _ = REQUIRED[field]
    target = config
    for part in path[:-1]:
        target = target[part]
    if how == "delete":
        del target[path[-1]]
    else:
        target[path[-1]] = None
    assert "is missing" in _assert_refused(config, full_key)


@pytest.mark.parametrize("field", sorted(REQUIRED))
@settings(PROPERTY, max_examples=25)
@given(config=valid_configs(), data=st.data())
def test_invalid_required_field_is_refused(field: str, config: dict[str, Any],
                                           data: st.DataObject) -> None:
    path, full_key, bad = REQUIRED[field]
    value = data.draw(bad, label=f"invalid {field}")
    target = config
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    message = _assert_refused(config, full_key)
    if value == "" and len(path) > 1:
        assert "is missing" in message  # '' counts as unset inside an object
    else:
        assert "is not allowed" in message
        assert repr(value)[:50] in message


# --- a few more invariants, on a fixed valid config (cheap) -----------------------------

FIXED = {
    "aws:region": "eu-west-1",
    "kiln:service": {"name": "web"},
    "kiln:blue": {"image": "ami-a0a13b4485099631d", "release": "sha256:" + "1" * 64,
                  "signature": base64.b64encode(bytes(64)).decode()},
    "kiln:green": {"image": "ami-6f34dccf0103b0267", "release": "sha256:" + "2" * 64,
                   "signature": base64.b64encode(bytes(range(64))).decode()},
}
SMALL = settings(max_examples=60, deadline=None)


@SMALL
@given(st.integers(max_value=0) | st.integers(min_value=101))
def test_traffic_out_of_range_is_refused(traffic: int) -> None:
    for value in (traffic, str(traffic)):
        message = _assert_refused(dict(FIXED, **{"kiln:traffic": value}), "kiln:traffic")
        assert f"{traffic} is not allowed" in message
        assert "1–100" in message


@SMALL
@given(st.integers(1, 100))
def test_traffic_as_string_equals_int(traffic: int) -> None:
    as_int = parse(dict(FIXED, **{"kiln:traffic": traffic}), "dev")
    as_str = parse(dict(FIXED, **{"kiln:traffic": str(traffic)}), "dev")
    assert as_int == as_str
    assert as_str.traffic == traffic


@SMALL
@given(_joined(LOWER + LOWER.upper(), ALNUM + "_", 11))
def test_unknown_top_level_key_is_refused(name: str) -> None:
    assume(name not in {"service", "network", "blue", "green", "live", "traffic", "standby",
                        "trustedKeys", "certificateArn", "environments"})
    message = _assert_refused(dict(FIXED, **{f"kiln:{name}": 1}), f"kiln:{name}")
    assert "unknown key" in message
