"""``kiln rollback``: put the last known good release back in service with one
ModifyListener call.

Order: lock the stack → read the stack file, the ledger (an unreadable ledger refuses here,
before anything moves), the revocation families and the listener → decide (the pure rules
in :mod:`kiln.release.bluegreen`) → gates (revocation, instance-counting health) → intent →
flip (one call) → read back → outcome → stack file. Killed anywhere, a rerun completes the
interrupted operation and never toggles; run again after it completed, it changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kiln.aws import traffic
from kiln.errors import KilnError
from kiln.model.stack import COLOURS
from kiln.ops import lineage
from kiln.ops.context import Context
from kiln.ops.faults import checkpoint
from kiln.project import stackfiles
from kiln.release import history
from kiln.release.bluegreen import RefusedError, check_target, plan_rollback, rollback_weights
from kiln.release.ledger import Entry


@dataclass(frozen=True)
class RollbackResult:
    stack: str
    source: str
    target: str
    flipped: bool
    recorded: bool
    flip_ms: float
    total_ms: float
    entry: Entry | None
    unchanged: bool = False
    image: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "from": self.source, "to": self.target,
                "flipped": self.flipped, "recorded": self.recorded,
                "unchanged": self.unchanged, "image": self.image,
                "flipMs": round(self.flip_ms, 1), "totalMs": round(self.total_ms, 1),
                "ledgerSeq": self.entry.seq if self.entry else None}


def _side(settings: Any, colour: str) -> dict[str, Any]:
    release = settings.release(colour)
    return {"colour": colour, "image": release.image, "record": release.record}


def rollback(ctx: Context, stack: str, to: str | None = None) -> RollbackResult:
    started = time.perf_counter()
    stackfiles.check_stack_name(ctx.project, stack)
    if to is not None and to not in COLOURS:
        raise KilnError(f"--to {to!r}: expected one of {', '.join(COLOURS)}")
    checkpoint("rollback:start")
    with ctx.locks.hold(stack, "rollback"):
        checkpoint("rollback:locked")
        settings = stackfiles.load_settings(ctx.project, stack)
        entries = list(ctx.ledger.entries())  # unreadable: refuse before anything moves
        families = lineage.revoked(ctx.project.root)
        deployment = traffic.discover(settings.region, settings.service.name, stack)
        flip_start = time.perf_counter()
        current = traffic.discovered_weights(deployment)
        interrupted = history.pending(entries, stack, "rollback")
        last = history.last_rollback(entries, stack)
        plan = plan_rollback(
            settings.live, current, to=to,
            pending=(history.operation(interrupted) or "",
                     str(history.side(interrupted, "to").get("colour")))
            if interrupted and history.side(interrupted, "to").get("colour") in COLOURS
            else None,
            rolled=(last.colour, last.record) if last else None,
            live_record=settings.release(settings.live).record)
        target = settings.release(plan.target)
        if plan.noop:
            return RollbackResult(stack, plan.source, plan.target, False, False, 0.0,
                                  (time.perf_counter() - started) * 1000, None,
                                  unchanged=True, image=target.image)
        health = traffic.colour_health(deployment, plan.target, target.image) \
            if plan.flip else None
        check_target(plan.target, healthy=health.serving if health else 0,
                     min_healthy=settings.service.min_healthy, live=plan.source,
                     revoked=lineage.revoked_reason(families, target.image, target.record),
                     flip=plan.flip)
        op = plan.op or history.new_operation_id()
        sides = {"from": _side(settings, plan.source), "to": _side(settings, plan.target)}
        subject = {"image": target.image, "record": target.record}
        if plan.record:
            ctx.ledger.append("rollback", stack=stack, commit=ctx.commit, subject=subject,
                              details={"phase": history.INTENT, "op": op, **sides,
                                       "listener": deployment.listener_arn})
            checkpoint("rollback:intent")
        if plan.flip:
            traffic.set_weights(deployment, rollback_weights(plan.target))
            checkpoint("rollback:flipped")
            seen = traffic.weights(deployment)
            if seen != rollback_weights(plan.target):
                raise RefusedError(f"listener reads back {seen} after the flip, expected all "
                                   f"traffic on {plan.target}; stack file left unchanged")
        flip_ms = (time.perf_counter() - flip_start) * 1000
        entry = None
        if plan.finish:
            entry = ctx.ledger.append(
                "rollback", stack=stack, commit=ctx.commit, subject=subject,
                details={"phase": history.DONE, "op": op, **sides,
                         "listener": deployment.listener_arn,
                         "healthy": health.serving if health else None,
                         "flipped": plan.flip, "durationMs": round(flip_ms, 1)})
        checkpoint("rollback:recorded")
        stackfiles.update_config(ctx.project, stack, {
            "kiln:live": plan.target, "kiln:traffic": 100, "kiln:retired": False})
        checkpoint("rollback:written")
    return RollbackResult(stack, plan.source, plan.target, plan.flip, entry is not None,
                          flip_ms, (time.perf_counter() - started) * 1000, entry,
                          image=target.image)
