"""``kiln traffic``: move the listener's weights with one ModifyListener call.

The same gates and order as a rollback: lock → stack file, ledger (readable), revocation
families, listener → plan (:func:`kiln.release.bluegreen.plan_traffic`) → gates (no
revoked receiver; every colour whose share grows has its minimum of serving instances) →
intent → one call → read back → outcome → stack file (``traffic``). Killed anywhere, a
rerun completes the interrupted move; a move already made changes nothing. At 100 % on a
colour seen serving, the release is recorded *served* (its canary is finished).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiln.aws import traffic
from kiln.errors import KilnError
from kiln.ops import lineage
from kiln.ops.context import Context
from kiln.ops.faults import checkpoint
from kiln.project import stackfiles
from kiln.release import history
from kiln.release.bluegreen import RefusedError, check_target, plan_traffic
from kiln.release.ledger import Entry
from kiln.release.promotion import canary_steps, proven


@dataclass
class TrafficResult:
    stack: str
    live: str
    steps: list[int]
    weights: dict[str, int] = field(default_factory=dict)
    moved: list[int] = field(default_factory=list)  # steps that needed a call
    served: Entry | None = None
    entry: Entry | None = None
    flip_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "live": self.live, "steps": self.steps,
                "weights": self.weights, "moved": self.moved,
                "servedSeq": self.served.seq if self.served else None,
                "ledgerSeq": self.entry.seq if self.entry else None,
                "flipMs": round(self.flip_ms, 1)}


def _step(ctx: Context, stack: str, percent: int, result: TrafficResult) -> bool:
    """One move; True when it only completed an interrupted move to another percentage."""
    with ctx.locks.hold(stack, "traffic"):
        checkpoint("traffic:locked")
        settings = stackfiles.load_settings(ctx.project, stack)
        entries = list(ctx.ledger.entries())  # unreadable: refuse before anything moves
        families = lineage.revoked(ctx.project.root)
        deployment = traffic.discover(settings.region, settings.service.name, stack)
        current = traffic.discovered_weights(deployment)
        interrupted = history.pending(entries, stack, "traffic")
        op = history.operation(interrupted) if interrupted else None
        target = percent
        if interrupted is not None and isinstance(interrupted.details.get("percent"), int):
            target = interrupted.details["percent"]  # complete it, never start over
        started = time.perf_counter()
        plan = plan_traffic(settings.live, current, target)
        for colour in plan.receivers:
            release = settings.release(colour)
            grows = colour in plan.gate and plan.flip
            health = traffic.colour_health(deployment, colour, release.image) if grows \
                else None
            check_target(colour, healthy=health.serving if health else 0,
                         min_healthy=settings.service.min_healthy, live=settings.live,
                         revoked=lineage.revoked_reason(families, release.image,
                                                        release.record), flip=grows)
        if plan.flip or op is not None:
            op = op or history.new_operation_id()
            if interrupted is None:
                ctx.ledger.append("traffic", stack=stack, commit=ctx.commit,
                                  subject=_subject(settings), details={
                                      "phase": history.INTENT, "op": op, "percent": target,
                                      "from": current, "to": plan.weights})
                checkpoint("traffic:intent")
            if plan.flip:
                traffic.set_weights(deployment, plan.weights)
                checkpoint("traffic:moved")
                seen = traffic.weights(deployment)
                if seen != plan.weights:
                    raise RefusedError(f"listener reads back {seen} after the move, expected "
                                       f"{plan.weights}; stack file left unchanged")
                result.moved.append(target)
            result.flip_ms += (time.perf_counter() - started) * 1000
            result.entry = ctx.ledger.append(
                "traffic", stack=stack, commit=ctx.commit, subject=_subject(settings),
                details={"phase": history.DONE, "op": op, "percent": target,
                         "to": plan.weights, "moved": plan.flip})
            checkpoint("traffic:recorded")
        if settings.traffic != target:
            stackfiles.update_config(ctx.project, stack, {"kiln:traffic": target})
        checkpoint("traffic:written")
        result.weights = plan.weights
        if target == 100:
            result.served = _served(ctx, stackfiles.load_settings(ctx.project, stack),
                                    entries, deployment)
    return target != percent


def _subject(settings: Any) -> dict[str, str]:
    release = settings.release(settings.live)
    return {"image": release.image, "record": release.record}


def _served(ctx: Context, settings: Any, entries: list[Entry],
            deployment: traffic.Deployment) -> Entry | None:
    """A finished canary: record the live release served when kiln sees it serve."""
    release = settings.release(settings.live)
    arrival = next((e for e in reversed(entries) if e.stack == settings.stack
                    and e.action in history.ARRIVALS and history.record_of(e) == release.record),
                   None)
    if arrival is None or proven(entries, settings.stack, release.record):
        return None
    health = traffic.colour_health(deployment, settings.live, release.image)
    if health.serving < settings.service.min_healthy:
        return None
    return ctx.ledger.append(
        arrival.action, stack=settings.stack, commit=ctx.commit, subject=_subject(settings),
        details={"phase": history.SERVED, "op": history.operation(arrival),
                 "colour": settings.live, "observedBy": "traffic", "serving": health.serving,
                 "minHealthy": settings.service.min_healthy})


def parse_percent(text: str | int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise KilnError(f"traffic {text!r}: expected a percentage 1–100") from None
    plan_traffic("blue", {}, value)  # the range check, one line
    return value


def move(ctx: Context, stack: str, percent: str | int | None = None, *,
         canary: str | None = None,
         pause: float = 30.0, on_pause: Callable[[int, float], object] | None = None
         ) -> TrafficResult:
    """Move ``stack``'s live colour to ``percent`` — or through ``canary`` steps, pausing
    ``pause`` seconds between them and checking health before each."""
    stackfiles.check_stack_name(ctx.project, stack)
    if (percent is None) == (canary is None):
        raise KilnError("give a percentage or --canary steps (one of the two)")
    # a bad percentage fails before anything is read
    steps = canary_steps(canary) if canary else [parse_percent(percent or 0)]
    settings = stackfiles.load_settings(ctx.project, stack)
    result = TrafficResult(stack, settings.live, steps)
    checkpoint("traffic:start")
    for index, step in enumerate(steps):
        if index and pause:
            if on_pause:
                on_pause(step, pause)
            else:
                time.sleep(pause)
        while _step(ctx, stack, step, result):
            pass  # an interrupted move was completed first; now make this one
    return result
