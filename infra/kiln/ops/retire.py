"""``kiln retire``: after the rollback window, bring the standby colour to its standby mode.

hot keeps it at full size, warm moves it to a warm pool of stopped instances, cold scales
it to zero. Order: AWS (idempotent) → ledger → stack file (``retired: true``), so a rerun
after a crash converges and the next `pulumi up` agrees with what runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiln.aws import fleet, traffic
from kiln.ops import lineage
from kiln.ops.context import Context
from kiln.ops.faults import checkpoint
from kiln.project import stackfiles
from kiln.release.bluegreen import RefusedError, serving_colour
from kiln.release.ledger import Entry

WINDOW_ACTIONS = ("deploy", "promote", "rollback")


@dataclass(frozen=True)
class RetireResult:
    stack: str
    colour: str
    mode: str
    calls: list[str]
    entry: Entry | None

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "colour": self.colour, "standby": self.mode,
                "calls": self.calls, "ledgerSeq": self.entry.seq if self.entry else None}


def _parse_at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def retire(ctx: Context, stack: str, window: dt.timedelta, now: dt.datetime | None = None
           ) -> RetireResult:
    stackfiles.check_stack_name(ctx.project, stack)
    with ctx.locks.hold(stack, "retire"):
        settings = stackfiles.load_settings(ctx.project, stack)
        idle = settings.idle
        if settings.traffic < 100:
            raise RefusedError(f"{stack} is mid-canary ({settings.traffic}% on "
                               f"{settings.live}); finish or roll back first")
        live = settings.release(settings.live)
        reason = lineage.revoked_reason(lineage.revoked(ctx.project.root), live.image,
                                        live.record)
        if reason:
            raise RefusedError(f"{stack}'s live release {live.image} is revoked ({reason}); "
                               f"the {idle} colour is its way back: deploy or roll back "
                               "before retiring it")
        history = [e for e in ctx.ledger.entries() if e.stack == stack]
        opened = [e for e in history if e.action in WINDOW_ACTIONS]
        moment = now or dt.datetime.now(dt.UTC)
        if opened and not settings.retired:
            closes = _parse_at(opened[-1].at) + window
            if moment < closes:
                raise RefusedError(f"rollback window for {stack} open until "
                                   f"{closes.isoformat(timespec='seconds')}; retire then, "
                                   "or pass --window 0")
        deployment = traffic.discover(settings.region, settings.service.name, stack)
        if serving_colour(traffic.discovered_weights(deployment)) != settings.live:
            raise RefusedError(f"listener does not send all traffic to {settings.live} as the "
                               "stack file says; run `kiln status` first")
        cap = settings.service.capacity
        asgs = traffic.asg_names(deployment)
        if idle not in asgs:
            raise RefusedError(f"no ASG tagged colour {idle} for {stack}")
        calls = fleet.to_standby(settings.region, asgs[idle],
                                 settings.standby, cap.max, cap.desired)
        checkpoint("retire:applied")
        last = history[-1] if history else None
        entry = None
        if not (last and last.action == "retire" and last.details.get("colour") == idle):
            entry = ctx.ledger.append(
                "retire", stack=stack, commit=ctx.commit,
                subject={"image": settings.release(idle).image,
                         "record": settings.release(idle).record},
                details={"colour": idle, "standby": settings.standby, "calls": calls})
        checkpoint("retire:recorded")
        stackfiles.update_config(ctx.project, stack, {"kiln:retired": True})
    return RetireResult(stack, idle, settings.standby, calls, entry)
