"""``kiln status``: what a stack runs, compared with what its stack file says.

Drift is anything the stack file does not account for: a launch template or instance
running another image than its colour's, a colour whose signature does not verify with the
stack's trusted keys, a revoked image, or a listener that disagrees with ``live``/``traffic``.
The rules live in :mod:`kiln.release.drift`; this module reads AWS and hands them the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln.aws import fleet, traffic
from kiln.model.stack import COLOURS
from kiln.ops.context import Context
from kiln.project import revocations, stackfiles
from kiln.release.drift import Observed, signed, stack_drift

__all__ = ["Status", "signed", "status"]


@dataclass(frozen=True)
class Status:
    stack: str
    region: str
    live: str
    weights: dict[str, int]
    colours: dict[str, dict[str, Any]]
    drift: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "region": self.region, "live": self.live,
                "weights": self.weights, "colours": self.colours, "drift": self.drift}


def status(ctx: Context, stack: str) -> Status:
    settings = stackfiles.load_settings(ctx.project, stack)
    deployment = traffic.discover(settings.region, settings.service.name, stack)
    current = traffic.discovered_weights(deployment)
    health = traffic.healthy(deployment)
    asgs = traffic.asg_names(deployment)
    revoked = revocations.listed(ctx.project.root)
    colours: dict[str, dict[str, Any]] = {}
    observed: dict[str, Observed] = {}
    signers: dict[str, str | None] = {}
    for colour in COLOURS:
        release = settings.release(colour)
        state = fleet.colour_state(settings.region, asgs[colour]) if colour in asgs else None
        signers[colour] = key = signed(settings, colour)
        if state is not None:
            observed[colour] = Observed(state.template_image, state.instances)
        colours[colour] = {
            "image": release.image, "record": release.record, "weight": current[colour],
            "healthy": health[colour], "signedBy": key,
            "asg": state.asg if state else None,
            "desired": state.desired if state else None,
            "warmPool": state.warm_pool if state else None,
            "instances": len(state.instances) if state else 0,
        }
    running = fleet.running_images(settings.region, settings.service.name, stack)
    drift = stack_drift(settings, current=current, observed=observed, signers=signers,
                        revoked=revoked, running=running)
    return Status(stack, settings.region, settings.live, current, colours, drift)
