"""``kiln status``: what a stack runs, compared with what its stack file says.

Drift is anything the stack file does not account for: a launch template or instance
running another image than its colour's — any instance in the stack's subnets or target
groups, tagged or not —, a colour whose signature does not verify with the stack's trusted
keys, a member of a revoked family, a listener that disagrees with ``live``/``traffic``, or a
live colour below ``minHealthy`` or off its capacity. The rules live in
:mod:`kiln.release.drift`; this module reads AWS and hands them the facts.

When the live release takes all traffic with its minimum of serving instances and the
ledger has not seen it serve yet (its `pulumi up` ran elsewhere), status records ``served``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln.aws import fleet, traffic
from kiln.model.stack import COLOURS, StackSettings
from kiln.ops import lineage
from kiln.ops.context import Context
from kiln.project import stackfiles
from kiln.release import history
from kiln.release.drift import Observed, health_drift, signed, stack_drift
from kiln.release.ledger import Entry
from kiln.release.promotion import proven

__all__ = ["Status", "signed", "status"]


@dataclass(frozen=True)
class Status:
    stack: str
    region: str
    live: str
    weights: dict[str, int]
    colours: dict[str, dict[str, Any]]
    drift: list[str] = field(default_factory=list)
    served: int | None = None  # ledger seq of a served outcome recorded by this run

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "region": self.region, "live": self.live,
                "weights": self.weights, "colours": self.colours, "drift": self.drift,
                "servedSeq": self.served}


def _record_served(ctx: Context, settings: StackSettings, serving: int) -> Entry | None:
    release = settings.release(settings.live)
    entries = list(ctx.ledger.entries())
    arrival = next((e for e in reversed(entries) if e.stack == settings.stack
                    and e.action in history.ARRIVALS
                    and history.record_of(e) == release.record), None)
    if arrival is None or proven(entries, settings.stack, release.record):
        return None
    return ctx.ledger.append(
        arrival.action, stack=settings.stack, commit=ctx.commit,
        subject={"image": release.image, "record": release.record},
        details={"phase": history.SERVED, "op": history.operation(arrival),
                 "colour": settings.live, "observedBy": "status", "serving": serving,
                 "minHealthy": settings.service.min_healthy})


def status(ctx: Context, stack: str) -> Status:
    stackfiles.check_stack_name(ctx.project, stack)
    settings = stackfiles.load_settings(ctx.project, stack)
    families = lineage.revoked(ctx.project.root)
    deployment = traffic.discover(settings.region, settings.service.name, stack)
    current = traffic.discovered_weights(deployment)
    asgs = traffic.asg_names(deployment)
    colours: dict[str, dict[str, Any]] = {}
    observed: dict[str, Observed] = {}
    signers: dict[str, str | None] = {}
    health: dict[str, traffic.ColourHealth] = {}
    for colour in COLOURS:
        release = settings.release(colour)
        state = fleet.colour_state(settings.region, asgs[colour]) if colour in asgs else None
        signers[colour] = key = signed(settings, colour)
        health[colour] = gate = traffic.colour_health(deployment, colour, release.image)
        if state is not None:
            observed[colour] = Observed(state.template_image, state.instances)
        colours[colour] = {
            "image": release.image, "record": release.record, "weight": current[colour],
            "healthy": gate.healthy_targets, "signedBy": key,
            "asg": state.asg if state else None,
            "desired": state.desired if state else None,
            "warmPool": state.warm_pool if state else None,
            "instances": len(state.instances) if state else 0,
            "inService": gate.in_service, "serving": gate.serving,
            "revoked": lineage.revoked_reason(families, release.image, release.record),
        }
    running = fleet.running_images(
        settings.region, settings.service.name, stack,
        subnets=fleet.stack_subnets(settings.region, settings.service.name, stack),
        target_groups=deployment.target_groups.values())
    live = health[settings.live]
    drift = stack_drift(settings, current=current, observed=observed, signers=signers,
                        revoked=families, running=running)
    drift = sorted({*drift, *health_drift(settings.live, serving=live.serving,
                                          in_service=live.in_service,
                                          desired=settings.service.capacity.desired,
                                          min_healthy=settings.service.min_healthy)})
    served = None
    if settings.traffic == current[settings.live] == 100 \
            and live.serving >= settings.service.min_healthy \
            and signers[settings.live] and not colours[settings.live]["revoked"]:
        entry = _record_served(ctx, settings, live.serving)
        served = entry.seq if entry else None
    return Status(stack, settings.region, settings.live, current, colours, drift, served)
