"""Deploy planning and promotion gates: pure rules over settings and ledger history.

A release moves dev → staging → prod as the *same* record. Promotion to a stack is allowed
only to the next environment in the project's order, only for a release the ledger shows
deployed to the stack below and not rolled back there since, and never for a revoked one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.errors import KilnError
from kiln.model.stack import Release, StackSettings
from kiln.release import history as history_rules
from kiln.release.ledger import Entry
from kiln.release.record import short_digest

ARRIVALS = history_rules.ARRIVALS


class GateError(KilnError):
    """A promotion or deploy gate refused (message is one line: the gate and why)."""

    exit_code = 1


@dataclass(frozen=True)
class DeployPlan:
    colour: str  # colour the release goes to
    changes: dict[str, Any]  # stack-file changes (dotted keys)
    written: bool  # the stack file already carries this release live (a rerun)
    done: bool  # ... at full traffic: nothing left to do


def plan_deploy(settings: StackSettings, release: Release, traffic: int) -> DeployPlan:
    """Put ``release`` on the idle colour and make it live at ``traffic`` percent.

    When the stack file already has this release live (a previous run wrote it), continue
    from there instead of deploying it to the other colour again.
    """
    live = settings.release(settings.live)
    if live == release:
        return DeployPlan(settings.live, {"kiln:traffic": traffic}, written=True,
                          done=settings.traffic == traffic == 100)
    colour = settings.idle
    changes = {f"kiln:{colour}": {"image": release.image, "release": release.record,
                                  "signature": release.signature},
               "kiln:live": colour, "kiln:traffic": traffic, "kiln:retired": False}
    return DeployPlan(colour, changes, written=False, done=False)


def canary_steps(text: str | None) -> list[int]:
    """``"10,50,100"`` → ``[10, 50, 100]``: increasing percentages ending at 100."""
    if not text:
        return [100]
    try:
        steps = [int(part) for part in text.split(",")]
    except ValueError:
        raise KilnError(f"--canary {text!r}: expected percentages such as 10,50,100") from None
    if not steps or steps[-1] != 100 or any(not 1 <= s <= 100 for s in steps) \
            or steps != sorted(set(steps)):
        raise KilnError(f"--canary {text!r}: expected increasing percentages 1–100 ending at "
                        "100, such as 10,50,100")
    return steps


def next_environment(order: Sequence[str], source: str) -> str | None:
    if source not in order:
        return None
    index = order.index(source)
    return order[index + 1] if index + 1 < len(order) else None


def check_order(order: Sequence[str], source: str, target: str, skip_reason: str | None
                ) -> str | None:
    """None when ``target`` follows ``source``; else raise, or return the recorded skip."""
    expected = next_environment(order, source)
    if target == expected:
        return None
    if skip_reason:
        return f"promoted {source} → {target} out of order ({' → '.join(order)}): {skip_reason}"
    hint = f"the next environment after {source} is {expected}" if expected \
        else f"{source} is {'the last environment' if source in order else 'not in the order'}"
    raise GateError(f"order gate: {target} does not follow {source} in "
                    f"{' → '.join(order)}; {hint} (or pass --skip-gate REASON)")


def check_proven(history: Iterable[Entry], stack: str, record: str) -> Entry:
    """The ``served`` outcome of ``record`` on ``stack``, if it was not rolled back since.

    Only outcomes count: an intent or a ``staged`` entry says what kiln meant to do, not
    that the release ever took traffic on a healthy colour."""
    arrived: Entry | None = None
    intended: Entry | None = None
    rolled_back: Entry | None = None
    for entry in history:
        if entry.stack != stack:
            continue
        if entry.action in ARRIVALS and history_rules.record_of(entry) == record:
            if history_rules.phase(entry) == history_rules.SERVED:
                arrived, rolled_back = entry, None
            else:
                intended = entry
        elif entry.action == "rollback" and arrived is not None \
                and history_rules.phase(entry) == history_rules.DONE \
                and history_rules.side(entry, "from").get("record") == record:
            rolled_back = entry
    if arrived is None:
        seen = (f"; ledger seq {intended.seq} records it "
                f"{history_rules.phase(intended)}, not served") if intended else ""
        raise GateError("history gate: the ledger shows no deploy of release "
                        f"{short_digest(record)} to {stack} that served{seen}")
    if rolled_back is not None:
        raise GateError(f"history gate: release {short_digest(record)} was rolled back on {stack} "
                        f"(ledger seq {rolled_back.seq}) after it was deployed there")
    return arrived


def proven(history: Iterable[Entry], stack: str, record: str) -> bool:
    """Does the history gate pass ``record`` on ``stack``?"""
    try:
        check_proven(history, stack, record)
    except GateError:
        return False
    return True
