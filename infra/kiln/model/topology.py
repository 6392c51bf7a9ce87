"""Pure decisions about the blue/green layout: subnets, weights and per-colour capacity.

Components wire these results into resources; tests check them without Pulumi.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kiln.model.sections import subnet_prefix
from kiln.model.stack import COLOURS, Capacity, StackSettings


def subnet_cidrs(vpc_cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Cut a VPC into ``az_count`` public then ``az_count`` private subnets of equal size."""
    network = ipaddress.IPv4Network(vpc_cidr)
    subnets = list(network.subnets(new_prefix=subnet_prefix(network.prefixlen, az_count)))
    public = [str(s) for s in subnets[:az_count]]
    private = [str(s) for s in subnets[az_count:2 * az_count]]
    return public, private


def weights(live: str, traffic: int) -> dict[str, int]:
    """Listener weights: ``traffic`` percent to the live colour, the rest to the idle one."""
    if live not in COLOURS:
        raise ValueError(f"unknown colour {live!r}")
    if isinstance(traffic, bool) or not 1 <= traffic <= 100:
        raise ValueError(f"traffic {traffic} outside 1–100")
    return {c: traffic if c == live else 100 - traffic for c in COLOURS}


@dataclass(frozen=True)
class ColourCapacity:
    """ASG sizing for one colour; ``warm_pool`` is the pool's minimum size, or None."""

    min: int
    desired: int
    max: int
    warm_pool: int | None
    wait_for_elb: int | None  # healthy targets required before Pulumi moves on


def colour_capacity(settings: StackSettings, colour: str) -> ColourCapacity:
    """Live colour at full size; the idle one per standby mode (hot, warm, cold).

    During a canary (traffic < 100) the idle colour still serves requests, so it keeps full
    size and must be healthy before the listener changes, whatever the standby mode. Until
    it is retired (the rollback window after a deploy or rollback) it also keeps full size.
    """
    cap: Capacity = settings.service.capacity
    need = settings.service.min_healthy
    serving = colour == settings.live or settings.traffic < 100
    if serving or settings.standby == "hot" or not settings.retired:
        return ColourCapacity(cap.min, cap.desired, cap.max, None, need if serving else None)
    if settings.standby == "warm":
        # Stopped, pre-initialised instances: started on rollback instead of launched.
        return ColourCapacity(0, 0, cap.max, cap.desired, None)
    return ColourCapacity(0, 0, cap.max, None, None)
