"""The blue/green state machine: what an operation should do given what is observed.

Pure decisions over the stack file's view (which colour is live) and AWS's view (the
listener's weights, healthy targets). Each operation re-reads both before acting, so a
rerun after a crash at any step picks up where the first run stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kiln.errors import OperationError
from kiln.model.stack import COLOURS, other


class RefusedError(OperationError):
    """The operation would be unsafe; nothing was changed (message is one line)."""


def serving_colour(weights: Mapping[str, int]) -> str | None:
    """The colour taking all traffic, or None during a split."""
    full = [c for c in COLOURS if weights.get(c, 0) == 100]
    return full[0] if full else None


@dataclass(frozen=True)
class RollbackPlan:
    source: str  # colour the stack file calls live
    target: str  # colour that will take all traffic
    flip: bool  # False: the listener already serves target (an interrupted run)


def plan_rollback(stack_live: str, weights: Mapping[str, int], healthy: Mapping[str, int],
                  min_healthy: int) -> RollbackPlan:
    """Roll back to the colour the stack file keeps as standby.

    When the listener already sends everything to that colour, a previous rollback flipped
    traffic but did not finish writing back: complete it without another flip.
    """
    target = other(stack_live)
    if serving_colour(weights) == target:
        return RollbackPlan(stack_live, target, flip=False)
    have = healthy.get(target, 0)
    if have < min_healthy:
        raise RefusedError(
            f"standby colour {target} has {have} healthy target{'s' * (have != 1)}, needs "
            f"{min_healthy}; traffic stays on {stack_live}")
    return RollbackPlan(stack_live, target, flip=True)


def rollback_weights(target: str) -> dict[str, int]:
    return {c: 100 if c == target else 0 for c in COLOURS}
