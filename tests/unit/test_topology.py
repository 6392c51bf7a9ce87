"""kiln.model.topology: subnet layout, listener weights and per-colour ASG sizing."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import replace
from itertools import combinations, pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.model.sections import subnet_prefix
from kiln.model.settings import SettingsError, parse
from kiln.model.stack import MAX_SUBNET_PREFIX, StackSettings
from kiln.model.topology import ColourCapacity, colour_capacity, subnet_cidrs, weights

SIG = base64.b64encode(bytes(range(64))).decode()


def config(**top: Any) -> dict[str, Any]:
    """A valid stack config (dev's shape); ``top`` replaces kiln:<name> values."""
    base: dict[str, Any] = {
        "aws:region": "eu-west-1",
        "kiln:service": {"name": "web", "port": 8080, "healthPath": "/healthz",
                         "instanceType": "t3.micro",
                         "capacity": {"min": 1, "desired": 1, "max": 2}},
        "kiln:network": {"cidr": "10.10.0.0/16", "azCount": 2},
        "kiln:blue": {"image": "ami-a0a13b4485099631d", "release": "sha256:" + "1" * 64,
                      "signature": SIG},
        "kiln:green": {"image": "ami-6f34dccf0103b0267", "release": "sha256:" + "2" * 64,
                       "signature": SIG},
        "kiln:live": "blue",
        "kiln:traffic": 100,
        "kiln:standby": "cold",
    }
    base.update({f"kiln:{name}": value for name, value in top.items()})
    return base


def accepted(cidr: str, az_count: int) -> bool:
    try:
        parse(config(network={"cidr": cidr, "azCount": az_count}), "dev")
    except SettingsError:
        return False
    return True


# --- subnet_cidrs -----------------------------------------------------------------------

ALL_SHAPES = [(prefix, az) for prefix in range(16, 25) for az in range(2, 7)]


def assert_layout(vpc_cidr: str, az_count: int) -> None:
    vpc = ipaddress.IPv4Network(vpc_cidr)
    public, private = subnet_cidrs(vpc_cidr, az_count)
    assert len(public) == az_count
    assert len(private) == az_count
    nets = [ipaddress.IPv4Network(s) for s in public + private]
    assert [str(n) for n in nets] == public + private  # canonical text
    assert len({n.prefixlen for n in nets}) == 1, "all subnets the same size"
    assert nets[0].prefixlen == subnet_prefix(vpc.prefixlen, az_count)
    assert all(n.subnet_of(vpc) for n in nets)
    for a, b in combinations(nets, 2):
        assert not a.overlaps(b), (a, b)
    # public first, then private, in address order, packed from the VPC's start
    assert nets == sorted(nets)
    assert nets[0].network_address == vpc.network_address
    for a, b in pairwise(nets):
        assert int(b.network_address) == int(a.broadcast_address) + 1
    # room for them all: 2*az subnets fit, and the prefix is no longer than needed
    assert 2 * az_count <= 2 ** (nets[0].prefixlen - vpc.prefixlen) < 4 * az_count


ACCEPTED_SHAPES = [s for s in ALL_SHAPES if accepted(f"10.42.0.0/{s[0]}", s[1])]


@pytest.mark.parametrize(("prefix", "az_count"), ACCEPTED_SHAPES,
                         ids=[f"/{p}-{a}az" for p, a in ACCEPTED_SHAPES])
def test_subnet_cidrs_for_every_accepted_shape(prefix: int, az_count: int) -> None:
    assert_layout(f"10.42.0.0/{prefix}", az_count)


def test_settings_accepts_the_shapes_whose_subnets_fit() -> None:
    """Settings accepts exactly the /16–/24 × 2–6 AZ shapes whose subnets are no smaller
    than MAX_SUBNET_PREFIX (/27, the ALB's minimum), and refuses the rest."""
    shapes = [s for s in ALL_SHAPES if accepted(f"10.42.0.0/{s[0]}", s[1])]
    assert shapes == [s for s in ALL_SHAPES if subnet_prefix(*s) <= MAX_SUBNET_PREFIX]
    assert {s for s in ALL_SHAPES if subnet_prefix(*s) <= 27} == set(shapes)
    assert len(shapes) < len(ALL_SHAPES)
    assert not accepted("10.42.0.0/15", 2)
    assert not accepted("10.42.0.0/25", 2)
    assert not accepted("10.42.0.0/16", 1)
    assert not accepted("10.42.0.0/16", 7)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ALL_SHAPES), st.integers(0, 2**32 - 1))
def test_subnet_cidrs_property(shape: tuple[int, int], address: int) -> None:
    prefix, az_count = shape
    cidr = str(ipaddress.IPv4Network((address, prefix), strict=False))
    if accepted(cidr, az_count):
        assert_layout(cidr, az_count)


@pytest.mark.parametrize(("cidr", "az_count", "public", "private"), [
    ("10.10.0.0/16", 2, ["10.10.0.0/18", "10.10.64.0/18"],
     ["10.10.128.0/18", "10.10.192.0/18"]),
    ("10.30.0.0/16", 3, ["10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19"],
     ["10.30.96.0/19", "10.30.128.0/19", "10.30.160.0/19"]),
    ("192.168.1.0/24", 2, ["192.168.1.0/26", "192.168.1.64/26"],
     ["192.168.1.128/26", "192.168.1.192/26"]),
    ("172.16.0.0/20", 4, ["172.16.0.0/23", "172.16.2.0/23", "172.16.4.0/23",
                          "172.16.6.0/23"],
     ["172.16.8.0/23", "172.16.10.0/23", "172.16.12.0/23", "172.16.14.0/23"]),
    ("10.0.0.0/16", 5, [f"10.0.{16 * i}.0/20" for i in range(5)],
     [f"10.0.{16 * i}.0/20" for i in range(5, 10)]),
])
def test_subnet_cidrs_examples(cidr: str, az_count: int, public: list[str],
                               private: list[str]) -> None:
    assert subnet_cidrs(cidr, az_count) == (public, private)


@pytest.mark.parametrize(("vpc_prefix", "az_count", "expected"), [
    (16, 2, 18), (16, 3, 19), (16, 4, 19), (16, 5, 20), (16, 6, 20), (24, 2, 26),
    (24, 6, 28),
])
def test_subnet_prefix(vpc_prefix: int, az_count: int, expected: int) -> None:
    assert subnet_prefix(vpc_prefix, az_count) == expected


# --- weights ----------------------------------------------------------------------------

TRAFFIC = [1, 10, 50, 99, 100]


@pytest.mark.parametrize("traffic", TRAFFIC)
@pytest.mark.parametrize("live", ["blue", "green"])
def test_weights(live: str, traffic: int) -> None:
    idle = "green" if live == "blue" else "blue"
    split = weights(live, traffic)
    assert set(split) == {"blue", "green"}
    assert sum(split.values()) == 100
    assert split[live] == traffic
    assert split[idle] == 100 - traffic
    assert all(isinstance(v, int) for v in split.values())


@pytest.mark.parametrize("traffic", [0, -1, 101, 1000])
@pytest.mark.parametrize("live", ["blue", "green"])
def test_weights_traffic_out_of_range(live: str, traffic: int) -> None:
    with pytest.raises(ValueError, match=f"traffic {traffic} outside 1–100"):
        weights(live, traffic)


@pytest.mark.parametrize("live", ["purple", "Blue", "", "idle"])
def test_weights_unknown_colour(live: str) -> None:
    with pytest.raises(ValueError, match="unknown colour"):
        weights(live, 50)


# --- colour_capacity --------------------------------------------------------------------

CAP_MIN, CAP_DESIRED, CAP_MAX, MIN_HEALTHY = 2, 4, 8, 3  # all distinct: swaps show up


def stack(standby: str, live: str, traffic: int) -> StackSettings:
    service = {"name": "web", "capacity": {"min": CAP_MIN, "desired": CAP_DESIRED,
                                           "max": CAP_MAX},
               "minHealthy": MIN_HEALTHY}
    return parse(config(service=service, standby=standby, live=live, traffic=traffic), "dev")


FULL_SERVING = ColourCapacity(CAP_MIN, CAP_DESIRED, CAP_MAX, None, MIN_HEALTHY)
IDLE_AT_100 = {
    "hot": ColourCapacity(CAP_MIN, CAP_DESIRED, CAP_MAX, None, None),
    "warm": ColourCapacity(0, 0, CAP_MAX, CAP_DESIRED, None),
    "cold": ColourCapacity(0, 0, CAP_MAX, None, None),
}


@pytest.mark.parametrize("traffic", [100, 99, 50, 1])
@pytest.mark.parametrize("live", ["blue", "green"])
@pytest.mark.parametrize("standby", ["hot", "warm", "cold"])
def test_live_colour_always_full_and_waits(standby: str, live: str, traffic: int) -> None:
    assert colour_capacity(stack(standby, live, traffic), live) == FULL_SERVING


@pytest.mark.parametrize("live", ["blue", "green"])
@pytest.mark.parametrize("standby", ["hot", "warm", "cold"])
def test_idle_colour_at_full_traffic(standby: str, live: str) -> None:
    settings_ = stack(standby, live, 100)
    idle = colour_capacity(settings_, settings_.idle)
    assert idle == IDLE_AT_100[standby]
    assert idle.wait_for_elb is None


@pytest.mark.parametrize("traffic", [99, 50, 10, 1])
@pytest.mark.parametrize("live", ["blue", "green"])
@pytest.mark.parametrize("standby", ["hot", "warm", "cold"])
def test_idle_colour_during_canary_is_full_and_waits(standby: str, live: str,
                                                     traffic: int) -> None:
    settings_ = stack(standby, live, traffic)
    assert colour_capacity(settings_, settings_.idle) == FULL_SERVING


@pytest.mark.parametrize("standby", ["hot", "warm", "cold"])
def test_capacity_follows_settings(standby: str) -> None:
    """Not constants: other numbers flow through (prod's 3/6/12, minHealthy 4)."""
    service = {"name": "web", "capacity": {"min": 3, "desired": 6, "max": 12},
               "minHealthy": 4}
    settings_ = parse(config(service=service, standby=standby, live="green"), "prod")
    assert colour_capacity(settings_, "green") == ColourCapacity(3, 6, 12, None, 4)
    idle = colour_capacity(settings_, "blue")
    assert idle.max == 12
    assert idle.warm_pool == (6 if standby == "warm" else None)
    assert (idle.min, idle.desired) == ((3, 6) if standby == "hot" else (0, 0))


def test_default_min_healthy_is_waited_for() -> None:
    service = {"name": "web", "capacity": {"min": 0, "desired": 2, "max": 3}}
    settings_ = parse(config(service=service), "dev")
    assert colour_capacity(settings_, "blue") == ColourCapacity(0, 2, 3, None, 1)


@pytest.mark.parametrize("standby", ["warm", "cold"])
def test_unretired_idle_colour_keeps_full_size(standby: str) -> None:
    """Right after a deploy or rollback the old colour stays full size: the rollback window."""
    settings = replace(parse(config(standby=standby), "dev"), retired=False)
    idle = colour_capacity(settings, settings.idle)
    cap = settings.service.capacity
    assert (idle.min, idle.desired, idle.max, idle.warm_pool) == (cap.min, cap.desired,
                                                                   cap.max, None)
    assert idle.wait_for_elb is None
