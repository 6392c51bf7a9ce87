"""Table tests for kiln.model.settings: every valid shape parses to the right fields, and every
bad value is refused with a one-line SettingsError naming the full key."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kiln.model.settings import SettingsError, from_pulumi_config, key, parse, to_config
from kiln.model.stack import (
    DEFAULT_ENVIRONMENTS,
    Capacity,
    ExistingVpc,
    NewVpc,
    Release,
    Service,
    StackSettings,
    TrustedKey,
    other,
)

STACKS = Path(__file__).resolve().parents[2] / "stacks"

PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA2PrPueQyKdZE/DRtvBlqwE+m2/Whyr6H8ggk6komGkA=\n"
    "-----END PUBLIC KEY-----\n"
)
P256_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzp7sZEbe9S0Xir7qZHznCwZ/LMJ9\n"
    "u49pGQxIPyrvN00yIjeDtP+C10B/YRDHh83zBuTc9qWiHkpPmHQHEQvz5g==\n"
    "-----END PUBLIC KEY-----\n"
)
BLUE_IMAGE = "ami-a0a13b4485099631d"
BLUE_RECORD = "sha256:7202d1292935d2671fc438f98bf64970a4a21b17b4f3cf5b3804cd4c1b0c058d"
BLUE_SIG = ("xdzhPUtAYJkf8ZwyLL/hV3QZ0AMQdhD7aE3Wh4WqnvNyU5Y4xqAd7+WGrYOjrFqZOzIEyeTkB1VevPdQ"
            "uBgPDg==")
GREEN_IMAGE = "ami-6f34dccf0103b0267"
GREEN_RECORD = "sha256:2440055881d8a994e3ff179a7453ee2969b79941e5245f4d383cc09392bf2ad6"
GREEN_SIG = ("4BnmMXxnsqV7JqSBRHgZVXu4J7/9PUUTHUhEL7W9pIcOHfCFeFSKIe7PwVB6n18/yzhIEpq8pudb+Bd8"
             "tBu2Dw==")
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/5f0d2a4e-3b1c-4f7e-9a6d-8c2b1e0f4a37"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
DIGEST = "sha256:" + "ab" * 32

_BASE: dict[str, Any] = {
    "aws:region": "eu-west-1",
    "kiln:service": {
        "name": "web",
        "port": 8080,
        "healthPath": "/healthz",
        "instanceType": "t3.micro",
        "capacity": {"min": 1, "desired": 1, "max": 2},
    },
    "kiln:network": {"cidr": "10.10.0.0/16", "azCount": 2},
    "kiln:blue": {"image": BLUE_IMAGE, "release": BLUE_RECORD, "signature": BLUE_SIG},
    "kiln:green": {"image": GREEN_IMAGE, "release": GREEN_RECORD, "signature": GREEN_SIG},
    "kiln:live": "blue",
    "kiln:traffic": 100,
    "kiln:standby": "cold",
    "kiln:trustedKeys": [{"id": "kiln-release-2026", "type": "ed25519", "publicKey": PEM}],
}

DELETE = object()  # a change value meaning "remove this key"


def base_config() -> dict[str, Any]:
    """A valid config, the values of stacks/Pulumi.dev.yaml (fresh copy every call)."""
    return copy.deepcopy(_BASE)


def config_with(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base_config()`` with ``{"kiln:service.capacity.min": 3, "kiln:live": DELETE}``
    applied: the part before the first '.' is the top-level key, the rest walk objects."""
    config = base_config()
    for path, value in (changes or {}).items():
        top, *rest = path.split(".")
        target: Any = config
        parts = [top, *rest]
        for part in parts[:-1]:
            target = target[part]
        if value is DELETE:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
    return config


def sig(size: int) -> str:
    """A base64 signature of ``size`` bytes."""
    return base64.b64encode(bytes((i * 37 + 11) % 256 for i in range(size))).decode()


def error_of(config: dict[str, Any], stack: str = "dev") -> SettingsError:
    with pytest.raises(SettingsError) as info:
        parse(config, stack)
    return info.value


def assert_error(config: dict[str, Any], full_key: str, *fragments: str,
                 stack: str = "dev") -> str:
    err = error_of(config, stack)
    message = str(err)
    assert "\n" not in message, message
    assert err.key == full_key, message
    assert message.startswith(f"{full_key}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- valid shapes ---------------------------------------------------------------------


def test_dev_config_parses_to_every_field() -> None:
    assert parse(base_config(), "dev") == StackSettings(
        stack="dev",
        region="eu-west-1",
        service=Service(name="web", port=8080, health_path="/healthz",
                        instance_type="t3.micro", capacity=Capacity(1, 1, 2), min_healthy=1,
                        root_volume_gb=20, container=None),
        network=NewVpc("10.10.0.0/16", 2),
        blue=Release(BLUE_IMAGE, BLUE_RECORD, BLUE_SIG),
        green=Release(GREEN_IMAGE, GREEN_RECORD, GREEN_SIG),
        live="blue",
        traffic=100,
        standby="cold",
        trusted_keys=(TrustedKey("kiln-release-2026", "ed25519", PEM),),
        certificate_arn=None,
        environments=DEFAULT_ENVIRONMENTS,
    )


def test_settings_are_frozen() -> None:
    settings = parse(base_config(), "dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.traffic = 50  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.service.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("path", sorted(STACKS.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_shipped_stack_files_parse_and_round_trip(path: Path) -> None:
    stack = path.name.split(".")[1]
    config = yaml.safe_load(path.read_text())["config"]
    settings = parse(config, stack)
    assert settings.stack == stack
    assert settings.region == config["aws:region"]
    assert settings.service.name == config["kiln:service"]["name"]
    assert settings.blue.image == config["kiln:blue"]["image"]
    assert parse(to_config(settings), stack) == settings


@pytest.mark.parametrize(("cidr", "az_count"), [
    ("10.10.0.0/16", 2),
    ("10.30.0.0/16", 3),
    ("172.16.0.0/20", 4),
    ("192.168.0.0/24", 2),
    ("192.168.7.0/24", 4),
    ("10.0.0.0/18", 6),
])
def test_new_vpc_network(cidr: str, az_count: int) -> None:
    settings = parse(config_with({"kiln:network": {"cidr": cidr, "azCount": az_count}}), "dev")
    assert settings.network == NewVpc(cidr, az_count)


def test_new_vpc_az_count_defaults_to_two() -> None:
    settings = parse(config_with({"kiln:network": {"cidr": "10.20.0.0/16"}}), "dev")
    assert settings.network == NewVpc("10.20.0.0/16", 2)


def test_new_vpc_integers_as_strings() -> None:
    network = {"cidr": "10.20.0.0/16", "azCount": "3"}
    assert parse(config_with({"kiln:network": network}), "dev").network == \
        NewVpc("10.20.0.0/16", 3)


@pytest.mark.parametrize(("vpc_id", "public", "private"), [
    ("vpc-0123456789abcdef0",
     ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
     ["subnet-0123456789abcdef2", "subnet-0123456789abcdef3"]),
    ("vpc-01234567",
     ["subnet-aaaaaaaa", "subnet-bbbbbbbb", "subnet-cccccccc"],
     ["subnet-dddddddd", "subnet-eeeeeeee", "subnet-ffffffff"]),
    ("vpc-0123456789abcdef0",
     ["subnet-aaaaaaaa", "subnet-0123456789abcdef1"],
     ["subnet-dddddddd", "subnet-eeeeeeee", "subnet-0123456789abcdef9"]),
])
def test_existing_vpc_network(vpc_id: str, public: list[str], private: list[str]) -> None:
    network = {"vpcId": vpc_id, "publicSubnetIds": public, "privateSubnetIds": private}
    settings = parse(config_with({"kiln:network": network}), "dev")
    assert settings.network == ExistingVpc(vpc_id, tuple(public), tuple(private))
    assert isinstance(settings.network.public_subnet_ids, tuple)
    assert isinstance(settings.network.private_subnet_ids, tuple)


@pytest.mark.parametrize(("value", "expected"), [
    (CERT, CERT),
    ("arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/"
     "5f0d2a4e-3b1c-4f7e-9a6d-8c2b1e0f4a37",
     "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/"
     "5f0d2a4e-3b1c-4f7e-9a6d-8c2b1e0f4a37"),
    ("", None),
    (None, None),
    (DELETE, None),
])
def test_certificate_arn(value: Any, expected: str | None) -> None:
    changes = {} if value is DELETE else {"kiln:certificateArn": value}
    settings = parse(config_with(changes), "dev")
    assert settings.certificate_arn == expected


@pytest.mark.parametrize("container", [
    f"{ECR}:1.0",
    f"{ECR}:latest",
    f"{ECR}:v1.2.3-rc_1",
    f"{ECR}@{DIGEST}",
    "ghcr.io/acme/team/web:2024.06.01",
    "registry.example.com/web@sha256:" + "0123456789abcdef" * 4,
    "localhost:5000/web:dev",
])
def test_service_container(container: str) -> None:
    settings = parse(config_with({"kiln:service.container": container}), "dev")
    assert settings.service.container == container


@pytest.mark.parametrize("value", [DELETE, None, ""])
def test_service_without_container(value: Any) -> None:
    changes = {} if value is DELETE else {"kiln:service.container": value}
    assert parse(config_with(changes), "dev").service.container is None


@pytest.mark.parametrize("standby", ["hot", "warm", "cold"])
def test_each_standby_mode(standby: str) -> None:
    assert parse(config_with({"kiln:standby": standby}), "dev").standby == standby


@pytest.mark.parametrize(("live", "idle"), [("blue", "green"), ("green", "blue")])
def test_each_live_colour(live: str, idle: str) -> None:
    settings = parse(config_with({"kiln:live": live}), "dev")
    assert settings.live == live
    assert settings.idle == idle
    assert other(live) == idle
    assert settings.release(live).image == (BLUE_IMAGE if live == "blue" else GREEN_IMAGE)
    assert settings.release(idle).image == (GREEN_IMAGE if live == "blue" else BLUE_IMAGE)


@pytest.mark.parametrize(("value", "expected"), [
    (1, 1), (50, 50), (100, 100), ("1", 1), ("100", 100), ("37", 37),
])
def test_traffic(value: Any, expected: int) -> None:
    settings = parse(config_with({"kiln:traffic": value}), "dev")
    assert settings.traffic == expected
    assert isinstance(settings.traffic, int)


def test_release_per_colour() -> None:
    settings = parse(base_config(), "dev")
    assert settings.blue == Release(BLUE_IMAGE, BLUE_RECORD, BLUE_SIG)
    assert settings.green == Release(GREEN_IMAGE, GREEN_RECORD, GREEN_SIG)


@pytest.mark.parametrize("image", ["ami-01234567", "ami-0123456789abcdef0"])
def test_ami_id_short_and_long_forms(image: str) -> None:
    assert parse(config_with({"kiln:green.image": image}), "dev").green.image == image


@pytest.mark.parametrize("size", [32, 64, 72, 192])
def test_signature_sizes_accepted(size: int) -> None:
    signature = sig(size)
    assert parse(config_with({"kiln:blue.signature": signature}), "dev").blue.signature == \
        signature


@pytest.mark.parametrize("region", [
    "eu-west-1", "us-east-2", "ap-southeast-2", "cn-north-1", "us-gov-west-1",
    "us-iso-east-1", "us-isob-east-1",
])
def test_regions(region: str) -> None:
    assert parse(config_with({"aws:region": region}), "dev").region == region


@pytest.mark.parametrize(("path", "value", "attr", "expected"), [
    ("port", 1, "port", 1),
    ("port", 65535, "port", 65535),
    ("port", 443, "port", 443),
    ("port", "9000", "port", 9000),
    ("healthPath", "/", "health_path", "/"),
    ("healthPath", "/api/v1/health?full=1".replace("?", "/"), "health_path",
     "/api/v1/health/full=1"),
    ("healthPath", "/a" * 512, "health_path", "/a" * 512),
    ("instanceType", "m6i.large", "instance_type", "m6i.large"),
    ("instanceType", "c7gn.16xlarge", "instance_type", "c7gn.16xlarge"),
    ("instanceType", "u-6tb1.metal", "instance_type", "u-6tb1.metal"),
    ("rootVolumeGb", 8, "root_volume_gb", 8),
    ("rootVolumeGb", 16384, "root_volume_gb", 16384),
    ("rootVolumeGb", "50", "root_volume_gb", 50),
    ("name", "a", "name", "a"),
    ("name", "a" * 20, "name", "a" * 20),
    ("name", "web-2-api", "name", "web-2-api"),
])
def test_service_fields(path: str, value: Any, attr: str, expected: Any) -> None:
    service = parse(config_with({f"kiln:service.{path}": value}), "dev").service
    assert getattr(service, attr) == expected


@pytest.mark.parametrize(("capacity", "min_healthy", "expected", "expected_min_healthy"), [
    ({"min": 1, "desired": 1, "max": 1}, None, Capacity(1, 1, 1), 1),
    ({"min": 0, "desired": 1, "max": 3}, None, Capacity(0, 1, 3), 1),
    ({"min": 0, "desired": 4, "max": 4}, None, Capacity(0, 4, 4), 1),
    ({"min": 3, "desired": 6, "max": 12}, None, Capacity(3, 6, 12), 3),
    ({"min": 3, "desired": 6, "max": 12}, 4, Capacity(3, 6, 12), 4),
    ({"min": 2, "desired": 5, "max": 5}, 5, Capacity(2, 5, 5), 5),
    ({"min": "2", "desired": "2", "max": "4"}, "2", Capacity(2, 2, 4), 2),
    ({"min": 0, "desired": 1000, "max": 1000}, 1000, Capacity(0, 1000, 1000), 1000),
])
def test_capacity_and_min_healthy(capacity: dict[str, Any], min_healthy: Any,
                                  expected: Capacity, expected_min_healthy: int) -> None:
    changes: dict[str, Any] = {"kiln:service.capacity": capacity}
    if min_healthy is not None:
        changes["kiln:service.minHealthy"] = min_healthy
    service = parse(config_with(changes), "dev").service
    assert service.capacity == expected
    assert service.min_healthy == expected_min_healthy


@pytest.mark.parametrize("keys", [
    [],
    [{"id": "a", "type": "ed25519", "publicKey": PEM},
     {"id": "ci/2026:b.key", "type": "ecdsa-p256", "publicKey": P256_PEM}],
])
def test_trusted_keys(keys: list[dict[str, str]]) -> None:
    settings = parse(config_with({"kiln:trustedKeys": keys}), "dev")
    assert settings.trusted_keys == tuple(
        TrustedKey(k["id"], k["type"], k["publicKey"]) for k in keys)


@pytest.mark.parametrize("environments", [["dev"], ["dev", "prod"], ["a_1", "b.2", "C-3"]])
def test_environments(environments: list[str]) -> None:
    settings = parse(config_with({"kiln:environments": environments}), "dev")
    assert settings.environments == tuple(environments)


@pytest.mark.parametrize("stack", ["dev", "prod-eu", "feature_1.2", "A" * 100])
def test_stack_names(stack: str) -> None:
    assert parse(base_config(), stack).stack == stack


def test_aws_and_engine_namespaces_are_accepted() -> None:
    config = config_with({"aws:profile": "ops", "pulumi:tags": {"team": "ops"}})
    assert parse(config, "dev") == parse(base_config(), "dev")


@pytest.mark.parametrize("region", ["us-gov-west-1", "cn-north-1", "ap-southeast-2",
                                    "eusc-de-east-1"])
def test_regions_of_every_partition_are_accepted(region: str) -> None:
    assert parse(config_with({"aws:region": region}), "dev").region == region


# --- defaults -------------------------------------------------------------------------

MINIMAL: dict[str, Any] = {
    "aws:region": "eu-west-1",
    "kiln:service": {"name": "web"},
    "kiln:blue": {"image": BLUE_IMAGE, "release": BLUE_RECORD, "signature": BLUE_SIG},
    "kiln:green": {"image": GREEN_IMAGE, "release": GREEN_RECORD, "signature": GREEN_SIG},
}


def test_minimal_config_gets_every_default() -> None:
    assert parse(copy.deepcopy(MINIMAL), "staging") == StackSettings(
        stack="staging",
        region="eu-west-1",
        service=Service(name="web", port=8080, health_path="/healthz",
                        instance_type="t3.micro", capacity=Capacity(1, 1, 1), min_healthy=1,
                        root_volume_gb=20, container=None),
        network=NewVpc("10.0.0.0/16", 2),
        blue=Release(BLUE_IMAGE, BLUE_RECORD, BLUE_SIG),
        green=Release(GREEN_IMAGE, GREEN_RECORD, GREEN_SIG),
        live="blue",
        traffic=100,
        standby="hot",
        trusted_keys=(),
        certificate_arn=None,
        environments=("dev", "staging", "prod"),
    )


def _get(settings: StackSettings, attr: str) -> Any:
    value: Any = settings
    for part in attr.split("."):
        value = getattr(value, part)
    return value


DEFAULT_CASES = [
    ("kiln:network", "network", NewVpc("10.0.0.0/16", 2)),
    ("kiln:live", "live", "blue"),
    ("kiln:traffic", "traffic", 100),
    ("kiln:standby", "standby", "hot"),
    ("kiln:trustedKeys", "trusted_keys", ()),
    ("kiln:environments", "environments", ("dev", "staging", "prod")),
    ("kiln:certificateArn", "certificate_arn", None),
    ("kiln:service.port", "service.port", 8080),
    ("kiln:service.healthPath", "service.health_path", "/healthz"),
    ("kiln:service.instanceType", "service.instance_type", "t3.micro"),
    ("kiln:service.capacity", "service.capacity", Capacity(1, 1, 1)),
    ("kiln:service.rootVolumeGb", "service.root_volume_gb", 20),
    # minHealthy defaults to max(capacity.min, 1): capacity.min is 2 below
    ("kiln:service.minHealthy", "service.min_healthy", 2),
    ("kiln:service.container", "service.container", None),
]


@pytest.mark.parametrize("how", ["absent", "null"])
@pytest.mark.parametrize(("path", "attr", "expected"), DEFAULT_CASES,
                         ids=[c[0] for c in DEFAULT_CASES])
def test_default_when_key_absent_or_null(path: str, attr: str, expected: Any,
                                         how: str) -> None:
    # Start from a config where every optional key is set to a NON-default value, so the
    # default can only come from the key being absent (or YAML null).
    config = config_with({
        "kiln:network": {"cidr": "10.50.0.0/20", "azCount": 3},
        "kiln:live": "green",
        "kiln:traffic": 40,
        "kiln:standby": "warm",
        "kiln:environments": ["qa", "live"],
        "kiln:certificateArn": CERT,
        "kiln:service.port": 9000,
        "kiln:service.healthPath": "/ready",
        "kiln:service.instanceType": "m6i.large",
        "kiln:service.capacity": {"min": 2, "desired": 3, "max": 5},
        "kiln:service.rootVolumeGb": 40,
        "kiln:service.minHealthy": 3,
        "kiln:service.container": f"{ECR}:1.0",
    })
    before = parse(config, "dev")
    assert _get(before, attr) != expected
    changed = copy.deepcopy(config)
    top, *rest = path.split(".")
    target: Any = changed
    for part in [top, *rest][:-1]:
        target = target[part]
    if how == "absent":
        del target[[top, *rest][-1]]
    else:
        target[[top, *rest][-1]] = None
    if path == "kiln:service.capacity":
        del changed["kiln:service"]["minHealthy"]  # 3 would exceed the default desired 1
    assert _get(parse(changed, "dev"), attr) == expected


def test_min_healthy_defaults_to_capacity_min() -> None:
    config = config_with({"kiln:service.capacity": {"min": 3, "desired": 4, "max": 5}})
    assert parse(config, "dev").service.min_healthy == 3


# --- errors ---------------------------------------------------------------------------

# (id, changes, key, fragments that must appear: the bad value and what is allowed)
ERROR_CASES: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    # AMI ids
    ("ami-short", {"kiln:blue.image": "ami-123"}, "kiln:blue.image",
     ("'ami-123' is not allowed", "an AMI id such as ami-0123456789abcdef0")),
    ("ami-upper", {"kiln:blue.image": "AMI-0123456789abcdef0"}, "kiln:blue.image",
     ("'AMI-0123456789abcdef0' is not allowed", "an AMI id such as")),
    ("ami-non-hex", {"kiln:blue.image": "ami-0123456789abcdefg"}, "kiln:blue.image",
     ("'ami-0123456789abcdefg' is not allowed", "an AMI id such as")),
    ("ami-int", {"kiln:blue.image": 123}, "kiln:blue.image",
     ("123 is not allowed", "an AMI id such as")),
    ("ami-16-hex", {"kiln:green.image": "ami-0123456789abcdef"}, "kiln:green.image",
     ("'ami-0123456789abcdef' is not allowed", "an AMI id such as")),
    ("ami-upper-hex", {"kiln:green.image": "ami-0123456789ABCDEF0"}, "kiln:green.image",
     ("'ami-0123456789ABCDEF0' is not allowed", "an AMI id such as")),
    ("ami-list", {"kiln:green.image": [BLUE_IMAGE]}, "kiln:green.image",
     (f"[{BLUE_IMAGE!r}] is not allowed", "an AMI id such as")),
    # live colour
    ("live-purple", {"kiln:live": "purple"}, "kiln:live",
     ("'purple' is not allowed", "expected one of blue, green")),
    ("live-Blue", {"kiln:live": "Blue"}, "kiln:live",
     ("'Blue' is not allowed", "expected one of blue, green", "did you mean 'blue'?")),
    ("live-empty", {"kiln:live": ""}, "kiln:live",
     ("'' is not allowed", "expected one of blue, green")),
    ("live-int", {"kiln:live": 1}, "kiln:live",
     ("1 is not allowed", "expected one of blue, green")),
    # traffic
    ("traffic-0", {"kiln:traffic": 0}, "kiln:traffic", ("0 is not allowed", "1–100")),
    ("traffic-101", {"kiln:traffic": 101}, "kiln:traffic", ("101 is not allowed", "1–100")),
    ("traffic-neg", {"kiln:traffic": -5}, "kiln:traffic", ("-5 is not allowed", "1–100")),
    ("traffic-abc", {"kiln:traffic": "abc"}, "kiln:traffic",
     ("'abc' is not allowed", "1–100")),
    ("traffic-True", {"kiln:traffic": True}, "kiln:traffic",
     ("True is not allowed", "1–100")),
    ("traffic-False", {"kiln:traffic": False}, "kiln:traffic",
     ("False is not allowed", "1–100")),
    ("traffic-float", {"kiln:traffic": 50.5}, "kiln:traffic",
     ("50.5 is not allowed", "1–100")),
    ("traffic-str-0", {"kiln:traffic": "0"}, "kiln:traffic", ("0 is not allowed", "1–100")),
    # capacity
    ("cap-min-gt-desired", {"kiln:service.capacity": {"min": 3, "desired": 2, "max": 4}},
     "kiln:service.capacity", ("min 3, desired 2, max 4 is not allowed",
                               "min ≤ desired ≤ max")),
    ("cap-desired-gt-max", {"kiln:service.capacity": {"min": 1, "desired": 5, "max": 4}},
     "kiln:service.capacity", ("min 1, desired 5, max 4 is not allowed",
                               "min ≤ desired ≤ max")),
    ("cap-desired-0", {"kiln:service.capacity": {"min": 0, "desired": 0, "max": 2}},
     "kiln:service.capacity.desired", ("0 is not allowed", "at least one instance")),
    ("cap-min-neg", {"kiln:service.capacity.min": -1}, "kiln:service.capacity.min",
     ("-1 is not allowed", "0–1000")),
    ("cap-max-big", {"kiln:service.capacity.max": 1001}, "kiln:service.capacity.max",
     ("1001 is not allowed", "0–1000")),
    ("cap-max-missing", {"kiln:service.capacity.max": DELETE}, "kiln:service.capacity.max",
     ("is missing", "an instance count")),
    ("cap-not-object", {"kiln:service.capacity": 3}, "kiln:service.capacity",
     ("3 is not allowed", "object with keys min, desired, max")),
    ("cap-unknown-key", {"kiln:service.capacity.maximum": 3},
     "kiln:service.capacity.maximum", ("unknown key", "did you mean 'max'?")),
    ("min-healthy-0", {"kiln:service.minHealthy": 0}, "kiln:service.minHealthy",
     ("0 is not allowed", "1–1")),
    ("min-healthy-over-desired", {"kiln:service.capacity": {"min": 1, "desired": 2,
                                                            "max": 4},
                                  "kiln:service.minHealthy": 3},
     "kiln:service.minHealthy", ("3 is not allowed", "within desired", "1–2")),
    # CIDR
    ("cidr-33", {"kiln:network.cidr": "10.0.0.0/33"}, "kiln:network.cidr",
     ("'10.0.0.0/33' is not allowed", "IPv4 CIDR such as 10.0.0.0/16")),
    ("cidr-garbage", {"kiln:network.cidr": "not-a-cidr"}, "kiln:network.cidr",
     ("'not-a-cidr' is not allowed", "IPv4 CIDR such as 10.0.0.0/16")),
    ("cidr-int", {"kiln:network.cidr": 10}, "kiln:network.cidr",
     ("10 is not allowed", "IPv4 CIDR such as 10.0.0.0/16")),
    ("cidr-ipv6", {"kiln:network.cidr": "fd00::/48"}, "kiln:network.cidr",
     ("'fd00::/48' is not allowed", "IPv4 CIDR")),
    ("cidr-host-bits", {"kiln:network.cidr": "10.0.0.1/16"}, "kiln:network.cidr",
     ("'10.0.0.1/16'", "host bits", "did you mean '10.0.0.0/16'?")),
    ("cidr-host-bits-20", {"kiln:network.cidr": "172.16.5.0/20"}, "kiln:network.cidr",
     ("'172.16.5.0/20'", "host bits", "did you mean '172.16.0.0/20'?")),
    ("cidr-8", {"kiln:network.cidr": "10.0.0.0/8"}, "kiln:network.cidr",
     ("'10.0.0.0/8' is not allowed", "/16–/24")),
    ("cidr-15", {"kiln:network.cidr": "10.0.0.0/15"}, "kiln:network.cidr",
     ("'10.0.0.0/15' is not allowed", "/16–/24")),
    ("cidr-25", {"kiln:network.cidr": "10.0.0.0/25"}, "kiln:network.cidr",
     ("'10.0.0.0/25' is not allowed", "/16–/24")),
    ("cidr-missing", {"kiln:network": {"azCount": 2}}, "kiln:network.cidr",
     ("is missing", "IPv4 CIDR, e.g. 10.0.0.0/16")),
    ("az-1", {"kiln:network.azCount": 1}, "kiln:network.azCount",
     ("1 is not allowed", "2–6")),
    ("az-7", {"kiln:network.azCount": 7}, "kiln:network.azCount",
     ("7 is not allowed", "2–6")),
    ("az-word", {"kiln:network.azCount": "two"}, "kiln:network.azCount",
     ("'two' is not allowed", "2–6")),
    ("network-unknown-key", {"kiln:network.cdir": "10.0.0.0/16"}, "kiln:network.cdir",
     ("unknown key", "did you mean 'cidr'?")),
    ("network-not-object", {"kiln:network": "10.0.0.0/16"}, "kiln:network",
     ("'10.0.0.0/16' is not allowed", "expected an object with keys")),
    # unknown keys
    ("top-typo", {"kiln:servce": {"name": "web"}}, "kiln:servce",
     ("unknown key", "did you mean 'service'?")),
    ("top-unknown", {"kiln:foo": 1}, "kiln:foo",
     ("unknown key", "allowed: service, network, blue, green, live, traffic")),
    ("top-case", {"kiln:Traffic": 50}, "kiln:Traffic",
     ("unknown key", "did you mean 'traffic'?")),
    ("service-healthpath", {"kiln:service.healthpath": "/x"}, "kiln:service.healthpath",
     ("unknown key", "did you mean 'healthPath'?")),
    ("service-unknown", {"kiln:service.zzz": 1}, "kiln:service.zzz",
     ("unknown key", "allowed: name, port, healthPath")),
    ("release-typo", {"kiln:blue.signatur": BLUE_SIG}, "kiln:blue.signatur",
     ("unknown key", "did you mean 'signature'?")),
    # missing required keys
    ("missing-service", {"kiln:service": DELETE}, "kiln:service",
     ("is missing", "must be set in the stack file")),
    ("null-service", {"kiln:service": None}, "kiln:service",
     ("is missing", "must be set in the stack file")),
    ("missing-blue", {"kiln:blue": DELETE}, "kiln:blue",
     ("is missing", "blue.image, blue.release and blue.signature")),
    ("null-blue", {"kiln:blue": None}, "kiln:blue",
     ("is missing", "blue.image, blue.release and blue.signature")),
    ("missing-green", {"kiln:green": DELETE}, "kiln:green",
     ("is missing", "green.image, green.release and green.signature")),
    ("missing-service-name", {"kiln:service.name": DELETE}, "kiln:service.name",
     ("is missing", "the service name")),
    ("empty-service-name", {"kiln:service.name": ""}, "kiln:service.name",
     ("is missing", "the service name")),
    ("missing-blue-signature", {"kiln:blue.signature": DELETE}, "kiln:blue.signature",
     ("is missing", "signature (base64)")),
    ("missing-blue-release", {"kiln:blue.release": DELETE}, "kiln:blue.release",
     ("is missing", "artifact record digest")),
    ("missing-green-image", {"kiln:green.image": DELETE}, "kiln:green.image",
     ("is missing", "an AMI id")),
    ("service-not-object", {"kiln:service": "web"}, "kiln:service",
     ("'web' is not allowed", "expected an object with keys name, port")),
    ("blue-not-object", {"kiln:blue": BLUE_IMAGE}, "kiln:blue",
     (f"{BLUE_IMAGE!r} is not allowed", "expected an object with keys image, release, "
      "signature")),
    # service fields
    ("service-name-upper", {"kiln:service.name": "Web"}, "kiln:service.name",
     ("'Web' is not allowed", "lowercase letters, digits and '-'")),
    ("service-name-digit", {"kiln:service.name": "1web"}, "kiln:service.name",
     ("'1web' is not allowed", "starting with a letter")),
    ("service-name-long", {"kiln:service.name": "a" * 21}, "kiln:service.name",
     (f"{'a' * 21!r} is not allowed", "at most 20 characters")),
    ("service-name-underscore", {"kiln:service.name": "my_web"}, "kiln:service.name",
     ("'my_web' is not allowed", "lowercase letters")),
    ("port-22", {"kiln:service.port": 22}, "kiln:service.port",
     ("22 is not allowed", "SSH and RDP", "choose another service port")),
    ("port-3389", {"kiln:service.port": 3389}, "kiln:service.port",
     ("3389 is not allowed", "SSH and RDP")),
    ("port-22-str", {"kiln:service.port": "22"}, "kiln:service.port",
     ("22 is not allowed", "SSH and RDP")),
    ("port-0", {"kiln:service.port": 0}, "kiln:service.port",
     ("0 is not allowed", "a port 1–65535")),
    ("port-65536", {"kiln:service.port": 65536}, "kiln:service.port",
     ("65536 is not allowed", "a port 1–65535")),
    ("port-word", {"kiln:service.port": "http"}, "kiln:service.port",
     ("'http' is not allowed", "a port 1–65535")),
    ("health-no-slash", {"kiln:service.healthPath": "healthz"}, "kiln:service.healthPath",
     ("'healthz' is not allowed", "an HTTP path starting with '/'")),
    ("health-space", {"kiln:service.healthPath": "/a b"}, "kiln:service.healthPath",
     ("'/a b' is not allowed", "an HTTP path")),
    ("health-too-long", {"kiln:service.healthPath": "/" + "a" * 1024},
     "kiln:service.healthPath", ("longer than 1024 characters",)),
    ("instance-type-bare", {"kiln:service.instanceType": "micro"},
     "kiln:service.instanceType", ("'micro' is not allowed", "such as t3.micro")),
    ("instance-type-upper", {"kiln:service.instanceType": "T3.micro"},
     "kiln:service.instanceType", ("'T3.micro' is not allowed", "such as t3.micro")),
    ("root-7", {"kiln:service.rootVolumeGb": 7}, "kiln:service.rootVolumeGb",
     ("7 is not allowed", "8–16384")),
    ("root-big", {"kiln:service.rootVolumeGb": 16385}, "kiln:service.rootVolumeGb",
     ("16385 is not allowed", "8–16384")),
    ("container-no-registry", {"kiln:service.container": "nginx:latest"},
     "kiln:service.container", ("'nginx:latest' is not allowed",
                                "a registry image reference such as")),
    ("container-no-tag", {"kiln:service.container": ECR}, "kiln:service.container",
     (f"{ECR!r} is not allowed", "a registry image reference")),
    ("container-short-digest", {"kiln:service.container": f"{ECR}@sha256:abc"},
     "kiln:service.container", ("is not allowed", "@sha256:<64 hex>")),
    ("container-upper", {"kiln:service.container": "ghcr.io/Acme/web:1"},
     "kiln:service.container", ("'ghcr.io/Acme/web:1' is not allowed",)),
    # region
    ("region-no-number", {"aws:region": "eu-west"}, "aws:region",
     ("'eu-west' is not allowed", "an AWS region such as eu-west-1")),
    ("region-upper", {"aws:region": "EU-WEST-1"}, "aws:region",
     ("'EU-WEST-1' is not allowed", "an AWS region")),
    ("region-squashed", {"aws:region": "euwest1"}, "aws:region",
     ("'euwest1' is not allowed", "an AWS region")),
    ("region-az", {"aws:region": "eu-west-1a"}, "aws:region",
     ("'eu-west-1a' is not allowed", "an AWS region")),
    ("region-missing", {"aws:region": DELETE}, "aws:region",
     ("None is not allowed", "an AWS region such as eu-west-1")),
    # signature
    ("sig-not-base64", {"kiln:blue.signature": "not base64!"}, "kiln:blue.signature",
     ("'not base64!' is not allowed", "expected a base64 signature")),
    ("sig-too-short", {"kiln:blue.signature": sig(16)}, "kiln:blue.signature",
     (f"{sig(16)!r} is not allowed", "expected a base64 signature")),
    ("sig-31", {"kiln:green.signature": sig(31)}, "kiln:green.signature",
     (f"{sig(31)!r} is not allowed", "expected a base64 signature")),
    ("sig-too-long", {"kiln:green.signature": sig(193)}, "kiln:green.signature",
     (repr(sig(193))[:57] + "... is not allowed", "expected a base64 signature")),
    ("sig-bad-padding", {"kiln:blue.signature": BLUE_SIG.rstrip("=")},
     "kiln:blue.signature", ("is not allowed", "expected a base64 signature")),
    ("sig-int", {"kiln:blue.signature": 12345}, "kiln:blue.signature",
     ("12345 is not allowed", "expected a base64 signature")),
    # record digest
    ("record-short", {"kiln:blue.release": "sha256:abc"}, "kiln:blue.release",
     ("'sha256:abc' is not allowed", "a record digest sha256:<64 hex>")),
    ("record-sha512", {"kiln:blue.release": "sha512:" + "a" * 64}, "kiln:blue.release",
     ("is not allowed", "sha256:<64 hex>")),
    ("record-upper", {"kiln:green.release": "sha256:" + "A" * 64}, "kiln:green.release",
     ("is not allowed", "sha256:<64 hex>")),
    ("record-bare-hex", {"kiln:green.release": "a" * 64}, "kiln:green.release",
     ("'" + "a" * 56 + "... is not allowed", "sha256:<64 hex>")),  # shortened to 60
    # existing VPC
    ("vpc-one-public", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": ["subnet-aaaaaaaa"],
        "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.publicSubnetIds",
     ("['subnet-aaaaaaaa'] is not allowed", "at least two subnet ids")),
    ("vpc-one-private", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
        "privateSubnetIds": ["subnet-cccccccc"]}},
     "kiln:network.privateSubnetIds",
     ("['subnet-cccccccc'] is not allowed", "at least two subnet ids")),
    ("vpc-subnets-string", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": "subnet-aaaaaaaa",
        "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.publicSubnetIds",
     ("'subnet-aaaaaaaa' is not allowed", "a list of at least two subnet ids")),
    ("vpc-shared-subnet", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
        "privateSubnetIds": ["subnet-bbbbbbbb", "subnet-cccccccc"]}},
     "kiln:network.privateSubnetIds",
     ("is also in publicSubnetIds", "private subnets only")),
    ("vpc-bad-subnet-id", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-xyz"],
        "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.publicSubnetIds[1]",
     ("'subnet-xyz' is not allowed", "a subnet id such as subnet-0123456789abcdef0")),
    ("vpc-bad-private-id", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
        "privateSubnetIds": ["sn-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.privateSubnetIds[0]",
     ("'sn-cccccccc' is not allowed", "a subnet id such as")),
    ("vpc-same-subnet-twice", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-aaaaaaaa"],
        "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.publicSubnetIds", ("twice",)),
    ("vpc-bad-id", {"kiln:network": {
        "vpcId": "vpc-123",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
        "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.vpcId", ("'vpc-123' is not allowed", "a VPC id such as vpc-")),
    ("vpc-missing-id", {"kiln:network": {
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
        "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.vpcId", ("is missing", "an existing VPC id")),
    ("vpc-missing-private", {"kiln:network": {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"]}},
     "kiln:network.privateSubnetIds", ("is missing", "subnet ids")),
    ("vpc-with-cidr", {"kiln:network": {
        "cidr": "10.0.0.0/16", "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
        "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
     "kiln:network.cidr", ("unknown key", "vpcId, publicSubnetIds, privateSubnetIds")),
    # trusted keys
    ("keys-duplicate-id", {"kiln:trustedKeys": [
        {"id": "k1", "type": "ed25519", "publicKey": PEM},
        {"id": "k1", "type": "ecdsa-p256", "publicKey": P256_PEM}]},
     "kiln:trustedKeys", ("lists key id", "twice")),
    ("keys-type-mismatch", {"kiln:trustedKeys": [
        {"id": "k1", "type": "ecdsa-p256", "publicKey": PEM}]},
     "kiln:trustedKeys[0].publicKey", ("key 'k1'", "declared ecdsa-p256", "an ed25519 key")),
    ("keys-type-mismatch-other-way", {"kiln:trustedKeys": [
        {"id": "k2", "type": "ed25519", "publicKey": P256_PEM}]},
     "kiln:trustedKeys[0].publicKey", ("key 'k2'", "declared ed25519", "an ecdsa-p256 key")),
    ("keys-garbage-pem", {"kiln:trustedKeys": [
        {"id": "k3", "type": "ed25519", "publicKey":
         "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n"}]},
     "kiln:trustedKeys[0].publicKey", ("key 'k3'", "not a readable PEM public key")),
    ("keys-truncated-pem", {"kiln:trustedKeys": [
        {"id": "k4", "type": "ed25519", "publicKey": PEM[:60] + "\n-----END PUBLIC KEY-----"}]},
     "kiln:trustedKeys[0].publicKey", ("key 'k4'", "not a readable PEM public key")),
    ("keys-two-pems-glued", {"kiln:trustedKeys": [
        {"id": "k5", "type": "ed25519", "publicKey": "x" + PEM}]},
     "kiln:trustedKeys[0].publicKey", ("key 'k5'",)),
    ("keys-pem-not-string", {"kiln:trustedKeys": [
        {"id": "k6", "type": "ed25519", "publicKey": ["-----BEGIN PUBLIC KEY-----"]}]},
     "kiln:trustedKeys[0].publicKey", ("key 'k6'", "expected a PEM public key")),
    # namespaces and regions
    ("namespace-typo", {"kilm:standby": "hot"}, "kilm:standby",
     ("unknown config namespace 'kilm'", "did you mean 'kiln:'?")),
    ("namespace-case", {"Kiln:standby": "hot"}, "Kiln:standby",
     ("unknown config namespace 'Kiln'", "did you mean 'kiln:'?")),
    ("namespace-other", {"other:servce": {"x": 1}}, "other:servce",
     ("unknown config namespace 'other'", "expected one of kiln:, aws:, pulumi:")),
    ("namespace-extra-letters", {"kilnx:foo": 1}, "kilnx:foo",
     ("unknown config namespace 'kilnx'", "did you mean 'kiln:'?")),
    ("namespace-missing", {"standby": "hot"}, "standby",
     ("is not a config key", "<namespace>:<name>")),
    ("namespace-empty", {":standby": "hot"}, ":standby",
     ("unknown config namespace ''",)),
    ("region-unknown", {"aws:region": "eu-west-9"}, "aws:region",
     ("'eu-west-9' is not an AWS region", "did you mean")),
    ("region-made-up", {"aws:region": "mars-north-1"}, "aws:region",
     ("'mars-north-1' is not an AWS region",)),
    ("region-global-pseudo", {"aws:region": "aws-global"}, "aws:region",
     ("is not allowed", "an AWS region")),
    ("keys-not-pem", {"kiln:trustedKeys": [
        {"id": "k1", "type": "ed25519", "publicKey": "ssh-ed25519 AAAAC3Nza"}]},
     "kiln:trustedKeys[0].publicKey",
     ("'ssh-ed25519 AAAAC3Nza' is not allowed", "a PEM public key (-----BEGIN PUBLIC KEY")),
    ("keys-pem-int", {"kiln:trustedKeys": [
        {"id": "k1", "type": "ed25519", "publicKey": 7}]},
     "kiln:trustedKeys[0].publicKey", ("7 is not allowed", "a PEM public key")),
    ("keys-bad-type", {"kiln:trustedKeys": [
        {"id": "k1", "type": "rsa", "publicKey": PEM}]},
     "kiln:trustedKeys[0].type", ("'rsa' is not allowed", "expected one of ed25519, "
                                  "ecdsa-p256")),
    ("keys-type-case", {"kiln:trustedKeys": [
        {"id": "k0", "type": "ed25519", "publicKey": PEM},
        {"id": "k1", "type": "Ed25519", "publicKey": PEM}]},
     "kiln:trustedKeys[1].type", ("'Ed25519' is not allowed", "did you mean 'ed25519'?")),
    ("keys-missing-type", {"kiln:trustedKeys": [{"id": "k1", "publicKey": PEM}]},
     "kiln:trustedKeys[0].type", ("is missing", "ed25519 or ecdsa-p256")),
    ("keys-bad-id", {"kiln:trustedKeys": [
        {"id": "bad id", "type": "ed25519", "publicKey": PEM}]},
     "kiln:trustedKeys[0].id", ("'bad id' is not allowed", "a key id")),
    ("keys-unknown-key", {"kiln:trustedKeys": [
        {"id": "k1", "type": "ed25519", "publickey": PEM}]},
     "kiln:trustedKeys[0].publickey", ("unknown key", "did you mean 'publicKey'?")),
    ("keys-item-not-object", {"kiln:trustedKeys": [
        {"id": "k1", "type": "ed25519", "publicKey": PEM}, "k2"]},
     "kiln:trustedKeys[1]", ("'k2' is not allowed", "object with keys id, type, publicKey")),
    ("keys-not-list", {"kiln:trustedKeys": "k1"}, "kiln:trustedKeys",
     ("'k1' is not allowed", "expected a list of {id, type, publicKey}")),
    # standby, certificate, environments
    ("standby-bad", {"kiln:standby": "frozen"}, "kiln:standby",
     ("'frozen' is not allowed", "expected one of hot, warm, cold")),
    ("standby-close", {"kiln:standby": "Warm"}, "kiln:standby",
     ("'Warm' is not allowed", "hot, warm, cold", "did you mean 'warm'?")),
    ("cert-bad", {"kiln:certificateArn": "arn:aws:acm:eu-west-1:123:certificate/x"},
     "kiln:certificateArn",
     ("'arn:aws:acm:eu-west-1:123:certificate/x' is not allowed", "an ACM certificate ARN")),
    ("cert-iam", {"kiln:certificateArn": "arn:aws:iam::123456789012:server-certificate/x"},
     "kiln:certificateArn", ("is not allowed", "an ACM certificate ARN")),
    ("env-empty", {"kiln:environments": []}, "kiln:environments",
     ("[] is not allowed", "the ordered list of stacks")),
    ("env-string", {"kiln:environments": "dev"}, "kiln:environments",
     ("'dev' is not allowed", "the ordered list of stacks")),
    ("env-twice", {"kiln:environments": ["dev", "prod", "dev"]}, "kiln:environments",
     ("lists stack", "twice")),
    ("env-bad-name", {"kiln:environments": ["dev", "bad name"]}, "kiln:environments[1]",
     ("'bad name' is not allowed", "a stack name")),
]


@pytest.mark.parametrize(("changes", "full_key", "fragments"),
                         [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_error(changes: dict[str, Any], full_key: str, fragments: tuple[str, ...]) -> None:
    assert_error(config_with(changes), full_key, *fragments)


def test_error_is_a_value_error_with_key() -> None:
    err = error_of(config_with({"kiln:traffic": 0}))
    assert isinstance(err, ValueError)
    assert err.key == key("traffic") == "kiln:traffic"


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-cidr", 10, "10.0.0.1/16", "10.0.0.0/8",
                                 "10.0.0.0/25"])
def test_cidr_errors_never_pass(bad: Any) -> None:
    """Each bad CIDR also fails with a valid azCount of every size."""
    for az in range(2, 7):
        assert_error(config_with({"kiln:network": {"cidr": bad, "azCount": az}}),
                     "kiln:network.cidr", repr(bad))


def test_long_values_are_shortened_in_messages() -> None:
    message = assert_error(config_with({"kiln:blue.image": "x" * 500}), "kiln:blue.image")
    assert "x" * 100 not in message
    assert "..." in message
    assert len(message) < 200


@pytest.mark.parametrize("value", ["line1\nline2", "ami-\n0123", "\n"])
def test_newlines_in_values_stay_on_one_line(value: str) -> None:
    for path, full_key in [("kiln:blue.image", "kiln:blue.image"),
                           ("kiln:live", "kiln:live"),
                           ("kiln:service.name", "kiln:service.name"),
                           ("kiln:network.cidr", "kiln:network.cidr")]:
        assert_error(config_with({path: value}), full_key, repr(value))


@pytest.mark.parametrize(("stack", "fragment"), [
    ("bad stack", "'bad stack' is not allowed"),
    ("", "'' is not allowed"),
    ("a" * 101, "is not allowed"),
    ("dev/prod", "'dev/prod' is not allowed"),
])
def test_bad_stack_name(stack: str, fragment: str) -> None:
    assert_error(base_config(), "stack", fragment, "a stack name", stack=stack)


def test_first_required_key_reported_first() -> None:
    """With everything required missing, the message names kiln:service (checked first)."""
    config = {"aws:region": "eu-west-1"}
    assert_error(config, "kiln:service", "is missing")


# --- regressions: CIDR sizing, anchored patterns, messages naming the culprit -------------


@pytest.mark.parametrize("az_count", [5, 6])
def test_slash_24_too_small_for_five_or_six_azs(az_count: int) -> None:
    assert_error(config_with({"kiln:network": {"cidr": "10.0.0.0/24", "azCount": az_count}}),
                 "kiln:network.cidr", "'10.0.0.0/24'", "too small", f"{az_count} public")


@pytest.mark.parametrize(("changes", "full_key"), [
    ({"kiln:blue.image": BLUE_IMAGE + "\n"}, "kiln:blue.image"),
    ({"kiln:blue.release": BLUE_RECORD + "\n"}, "kiln:blue.release"),
    ({"kiln:service.name": "web\n"}, "kiln:service.name"),
    ({"kiln:service.healthPath": "/healthz\n"}, "kiln:service.healthPath"),
    ({"kiln:service.instanceType": "t3.micro\n"}, "kiln:service.instanceType"),
    ({"aws:region": "eu-west-1\n"}, "aws:region"),
    ({"kiln:certificateArn": CERT + "\n"}, "kiln:certificateArn"),
    ({"kiln:service.container": f"{ECR}:1.0\n"}, "kiln:service.container"),
])
def test_trailing_newline_is_refused(changes: dict[str, Any], full_key: str) -> None:
    assert_error(config_with(changes), full_key)


@pytest.mark.parametrize("cidr", ["10.0.0.0", "10.0.0.0/255.255.0.0"])
def test_cidr_without_prefix_message(cidr: str) -> None:
    message = assert_error(config_with({"kiln:network.cidr": cidr}), "kiln:network.cidr")
    assert "host bits" not in message
    assert "/32" not in message


def test_host_bits_suggestion_is_itself_valid() -> None:
    message = assert_error(config_with({"kiln:network.cidr": "10.0.0.1/8"}),
                           "kiln:network.cidr")
    assert "did you mean '10.0.0.0/8'" not in message


@pytest.mark.parametrize(("changes", "full_key", "culprit"), [
    ({"kiln:trustedKeys": [{"id": "k1", "type": "ed25519", "publicKey": PEM},
                           {"id": "k1", "type": "ed25519", "publicKey": PEM}]},
     "kiln:trustedKeys", "k1"),
    ({"kiln:environments": ["dev", "dev"]}, "kiln:environments", "dev"),
    ({"kiln:network": {"vpcId": "vpc-0123456789abcdef0",
                       "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
                       "privateSubnetIds": ["subnet-bbbbbbbb", "subnet-cccccccc"]}},
     "kiln:network.privateSubnetIds", "subnet-bbbbbbbb"),
])
def test_duplicate_messages_name_the_duplicate(changes: dict[str, Any], full_key: str,
                                               culprit: str) -> None:
    assert_error(config_with(changes), full_key, culprit)


# --- from_pulumi_config ---------------------------------------------------------------


def engine_form(config: dict[str, Any]) -> dict[str, str]:
    """What the Pulumi engine hands a program: objects/arrays as JSON, scalars as strings."""
    out: dict[str, str] = {}
    for full, value in config.items():
        if isinstance(value, dict | list | bool):
            out[full] = json.dumps(value)
        else:
            out[full] = str(value)
    return out


@pytest.mark.parametrize("changes", [
    {},
    {"kiln:live": "green", "kiln:traffic": 10, "kiln:standby": "warm"},
    {"kiln:certificateArn": CERT, "kiln:environments": ["dev", "prod"]},
    {"kiln:network": {"vpcId": "vpc-0123456789abcdef0",
                      "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
                      "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
    {"kiln:service.container": f"{ECR}@{DIGEST}", "kiln:service.minHealthy": 1},
    {"kiln:trustedKeys": []},
], ids=["dev", "canary", "cert-envs", "existing-vpc", "container", "no-keys"])
def test_from_pulumi_config_matches_native(changes: dict[str, Any]) -> None:
    native = config_with(changes)
    engine = engine_form(native)
    assert all(isinstance(v, str) for v in engine.values())
    assert from_pulumi_config(engine, "dev") == parse(native, "dev")


@pytest.mark.parametrize(("text", "expected"), [("100", 100), ("1", 1), ("42", 42)])
def test_from_pulumi_config_traffic_string(text: str, expected: int) -> None:
    engine = engine_form(base_config())
    engine["kiln:traffic"] = text
    assert from_pulumi_config(engine, "dev").traffic == expected


def test_from_pulumi_config_strings_inside_json() -> None:
    """Integers that arrive as strings inside a JSON object still parse as integers."""
    native = base_config()
    engine = engine_form(native)
    engine["kiln:service"] = json.dumps({
        "name": "web", "port": "8080", "healthPath": "/healthz", "instanceType": "t3.micro",
        "capacity": {"min": "1", "desired": "1", "max": "2"}})
    engine["kiln:network"] = json.dumps({"cidr": "10.10.0.0/16", "azCount": "2"})
    assert from_pulumi_config(engine, "dev") == parse(native, "dev")


def test_from_pulumi_config_bad_traffic_string() -> None:
    engine = engine_form(base_config())
    engine["kiln:traffic"] = "0"
    with pytest.raises(SettingsError) as info:
        from_pulumi_config(engine, "dev")
    assert str(info.value) == "kiln:traffic: 0 is not allowed; expected a percentage for " \
        "the live colour: 1–100"


@pytest.mark.parametrize("full_key", ["kiln:service", "kiln:network", "kiln:blue",
                                      "kiln:green", "kiln:trustedKeys", "kiln:environments"])
@pytest.mark.parametrize("text", ["{not json", '{"name": "web",\n', "", "[1, 2"])
def test_from_pulumi_config_invalid_json(full_key: str, text: str) -> None:
    engine = engine_form(base_config())
    engine[full_key] = text
    with pytest.raises(SettingsError) as info:
        from_pulumi_config(engine, "dev")
    message = str(info.value)
    assert "\n" not in message
    assert info.value.key == full_key
    assert message == f"{full_key}: {text!r} is not valid JSON"


def test_from_pulumi_config_null_json_is_missing() -> None:
    engine = engine_form(base_config())
    engine["kiln:blue"] = "null"
    with pytest.raises(SettingsError) as info:
        from_pulumi_config(engine, "dev")
    assert info.value.key == "kiln:blue"
    assert "is missing" in str(info.value)


def test_from_pulumi_config_does_not_decode_scalars() -> None:
    """kiln:live is a plain string: '"green"' (JSON) is not the colour green."""
    engine = engine_form(base_config())
    engine["kiln:live"] = '"green"'
    with pytest.raises(SettingsError) as info:
        from_pulumi_config(engine, "dev")
    assert info.value.key == "kiln:live"


def test_from_pulumi_config_unknown_key_still_refused() -> None:
    engine = engine_form(base_config())
    engine["kiln:servce"] = "{}"
    with pytest.raises(SettingsError) as info:
        from_pulumi_config(engine, "dev")
    assert str(info.value) == "kiln:servce: unknown key; did you mean 'service'?"


# --- to_config ------------------------------------------------------------------------


def test_to_config_of_dev() -> None:
    config = to_config(parse(base_config(), "dev"))
    assert config["kiln:service"] == {
        "name": "web", "port": 8080, "healthPath": "/healthz", "instanceType": "t3.micro",
        "capacity": {"min": 1, "desired": 1, "max": 2}, "minHealthy": 1, "rootVolumeGb": 20}
    assert config["kiln:network"] == {"cidr": "10.10.0.0/16", "azCount": 2}
    assert config["kiln:blue"] == {"image": BLUE_IMAGE, "release": BLUE_RECORD,
                                   "signature": BLUE_SIG}
    assert config["kiln:standby"] == "cold"
    assert "kiln:certificateArn" not in config
    assert "container" not in config["kiln:service"]


@pytest.mark.parametrize("changes", [
    {},
    {"kiln:certificateArn": CERT, "kiln:service.container": f"{ECR}:1.0"},
    {"kiln:network": {"vpcId": "vpc-0123456789abcdef0",
                      "publicSubnetIds": ["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
                      "privateSubnetIds": ["subnet-cccccccc", "subnet-dddddddd"]}},
    {"kiln:live": "green", "kiln:traffic": "5", "kiln:environments": ["x", "y"]},
])
def test_to_config_round_trips(changes: dict[str, Any]) -> None:
    settings = parse(config_with(changes), "dev")
    config = to_config(settings)
    assert parse(config, "dev") == settings
    assert to_config(parse(config, "dev")) == config
    assert parse(json.loads(json.dumps(config)), "dev") == settings


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False),
                                                  ("true", True), ("false", False)])
def test_retired_flag(value: Any, expected: bool) -> None:
    assert parse(config_with({"kiln:retired": value}), "dev").retired is expected


@pytest.mark.parametrize("value", ["yes", 1, "True", None])
def test_retired_flag_refuses_other_values(value: Any) -> None:
    if value is None:
        assert parse(config_with({"kiln:retired": value}), "dev").retired is True
        return
    assert_error(config_with({"kiln:retired": value}), "kiln:retired", "true or false")
