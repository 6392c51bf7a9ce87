"""The blue/green state machine: what an operation should do given what is observed.

Pure decisions over the stack file's view (which colour is live) and AWS's view (the
listener's weights, healthy targets). Each operation re-reads both before acting, so a
rerun after a crash at any step picks up where the first run stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kiln.errors import KilnError, OperationError
from kiln.model.stack import COLOURS, other


class RefusedError(OperationError):
    """The operation would be unsafe; nothing was changed (message is one line)."""


def serving_colour(weights: Mapping[str, int]) -> str | None:
    """The colour taking all traffic, or None during a split."""
    full = [c for c in COLOURS if weights.get(c, 0) == 100]
    return full[0] if full else None


@dataclass(frozen=True)
class RollbackPlan:
    source: str  # colour traffic leaves
    target: str  # colour that will take all traffic
    flip: bool  # one ModifyListener call is needed
    record: bool  # write an intent (a new operation) before acting
    finish: bool  # write the outcome (a new or an interrupted operation)
    noop: bool = False  # nothing to do: a completed rollback run again
    op: str | None = None  # the interrupted operation this run completes


def plan_rollback(stack_live: str, weights: Mapping[str, int], *, to: str | None = None,
                  pending: tuple[str, str] | None = None,
                  rolled: tuple[str, str | None] | None = None,
                  live_record: str | None = None) -> RollbackPlan:
    """Decide a rollback from the stack file, the listener and the ledger.

    ``pending`` is an interrupted rollback (operation id, target colour): it is completed,
    never started over. ``rolled`` is the last completed move when it was a rollback (target
    colour, record): rollback means "last known good", so running it again changes nothing
    — going back to the release rolled back away from is a deploy. ``to`` names a colour.
    """
    serving = serving_colour(weights)
    if pending is not None:
        op, target = pending
        return RollbackPlan(other(target), target, flip=serving != target, record=False,
                            finish=True, op=op)
    if rolled is not None and to in (None, rolled[0]) and serving == rolled[0]:
        if stack_live == rolled[0] and (rolled[1] is None or rolled[1] == live_record):
            return RollbackPlan(other(rolled[0]), rolled[0], flip=False, record=False,
                                finish=False, noop=True)
        # flipped and recorded, the stack file not yet written back: finish that only
        return RollbackPlan(other(rolled[0]), rolled[0], flip=False, record=False,
                            finish=False)
    target = to or other(stack_live)
    if serving == target == stack_live:
        return RollbackPlan(other(target), target, flip=False, record=False, finish=False,
                            noop=True)
    return RollbackPlan(other(target), target, flip=serving != target, record=True,
                        finish=True)


def check_target(target: str, *, healthy: int, min_healthy: int, live: str,
                 revoked: str | None = None, flip: bool = True) -> None:
    """The gates in front of a traffic move: never to a revoked release, never to a colour
    with fewer than ``min_healthy`` serving instances."""
    if revoked is not None:
        raise RefusedError(f"{target} runs a revoked release ({revoked}); traffic stays on "
                           f"{live}")
    if flip and healthy < min_healthy:
        raise RefusedError(
            f"standby colour {target} has {healthy} healthy target{'s' * (healthy != 1)}, "
            f"needs {min_healthy}; traffic stays on {live}")


def rollback_weights(target: str) -> dict[str, int]:
    return {c: 100 if c == target else 0 for c in COLOURS}


@dataclass(frozen=True)
class TrafficPlan:
    weights: dict[str, int]  # the listener after the move
    flip: bool  # one ModifyListener call is needed
    gate: tuple[str, ...]  # colours whose share grows: they must pass the health gate
    receivers: tuple[str, ...]  # colours that will take any traffic: never revoked


def plan_traffic(live: str, current: Mapping[str, int], percent: int) -> TrafficPlan:
    """Send ``percent`` to the live colour and the rest to the other one."""
    if isinstance(percent, bool) or not 1 <= percent <= 100:
        raise KilnError(f"traffic {percent}: expected a percentage 1–100")
    wanted = {c: percent if c == live else 100 - percent for c in COLOURS}
    gate = tuple(c for c in COLOURS if wanted[c] > current.get(c, 0))
    return TrafficPlan(wanted, flip=dict(current) != wanted, gate=gate,
                       receivers=tuple(c for c in COLOURS if wanted[c] > 0))
