"""``kiln rollback``: put the standby colour back in service with one ModifyListener call.

Order: lock the stack → re-read the stack file and the listener → check the standby
colour's health → flip (one call) → read back → ledger → stack file. Killed anywhere, a
rerun converges: if the listener already serves the standby colour, the flip is not
repeated; if the ledger already has this rollback, it is not recorded twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kiln.aws import traffic
from kiln.ops.context import Context
from kiln.ops.faults import checkpoint
from kiln.project import stackfiles
from kiln.release.bluegreen import RefusedError, plan_rollback, rollback_weights
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

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "from": self.source, "to": self.target,
                "flipped": self.flipped, "recorded": self.recorded,
                "flipMs": round(self.flip_ms, 1), "totalMs": round(self.total_ms, 1),
                "ledgerSeq": self.entry.seq if self.entry else None}


def _already_recorded(ctx: Context, stack: str, source: str, target: str) -> Entry | None:
    """The newest entry for ``stack``, when it is this very rollback."""
    last = None
    for entry in ctx.ledger.entries():
        if entry.stack == stack:
            last = entry
    if last is not None and last.action == "rollback" \
            and last.details.get("from", {}).get("colour") == source \
            and last.details.get("to", {}).get("colour") == target:
        return last
    return None


def rollback(ctx: Context, stack: str) -> RollbackResult:
    started = time.perf_counter()
    stackfiles.check_stack_name(ctx.project, stack)
    checkpoint("rollback:start")
    with ctx.locks.hold(stack, "rollback"):
        checkpoint("rollback:locked")
        settings = stackfiles.load_settings(ctx.project, stack)
        deployment = traffic.discover(settings.region, settings.service.name, stack)
        flip_start = time.perf_counter()
        current = traffic.discovered_weights(deployment)
        health = traffic.healthy(deployment, (settings.idle,))
        plan = plan_rollback(settings.live, current, health, settings.service.min_healthy)
        if plan.flip:
            traffic.set_weights(deployment, rollback_weights(plan.target))
            checkpoint("rollback:flipped")
            seen = traffic.weights(deployment)
            if seen != rollback_weights(plan.target):
                raise RefusedError(f"listener reads back {seen} after the flip, expected all "
                                   f"traffic on {plan.target}; stack file left unchanged")
        flip_ms = (time.perf_counter() - flip_start) * 1000
        entry = None if plan.flip else _already_recorded(ctx, stack, plan.source, plan.target)
        recorded = entry is None
        if entry is None:
            release = {c: settings.release(c) for c in (plan.source, plan.target)}
            entry = ctx.ledger.append(
                "rollback", stack=stack, commit=ctx.commit,
                subject={"image": release[plan.target].image,
                         "record": release[plan.target].record},
                details={"from": {"colour": plan.source, "image": release[plan.source].image,
                                  "record": release[plan.source].record},
                         "to": {"colour": plan.target, "image": release[plan.target].image,
                                "record": release[plan.target].record},
                         "listener": deployment.listener_arn,
                         "healthy": health.get(plan.target, 0),
                         "flipped": plan.flip, "durationMs": round(flip_ms, 1)})
        checkpoint("rollback:recorded")
        stackfiles.update_config(ctx.project, stack, {
            "kiln:live": plan.target, "kiln:traffic": 100, "kiln:retired": False})
        checkpoint("rollback:written")
    return RollbackResult(stack, plan.source, plan.target, plan.flip, recorded, flip_ms,
                          (time.perf_counter() - started) * 1000, entry)
