"""What the ledger says happened to a stack: intents, outcomes and what served.

Operations write an *intent* (with an operation id) before their first effect and an
*outcome* after it. The phase lives in ``details.phase``:

- ``deploy``/``promote``: ``intent`` → ``staged`` (the stack file carries it; no `pulumi up`
  here) or ``served`` (kiln saw it take traffic on a healthy colour);
- ``rollback`` and ``traffic``: ``intent`` → ``done``.

An entry without a phase predates this scheme: an arrival without a phase is an intent
(it was written before `pulumi up` ran), a rollback without one is done. The gates trust
outcomes only. Pure functions over entries; no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kiln.release.ledger import Entry

ARRIVALS = ("deploy", "promote")
MOVES = (*ARRIVALS, "rollback", "traffic")
INTENT, STAGED, SERVED, DONE = "intent", "staged", "served", "done"
OUTCOMES = (STAGED, SERVED, DONE)


def new_operation_id() -> str:
    return uuid.uuid4().hex


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def phase(entry: Entry) -> str:
    """The entry's phase, reading entries written before phases existed conservatively."""
    details = _mapping(entry.details)
    found = details.get("phase")
    if isinstance(found, str) and found in (INTENT, *OUTCOMES):
        return found
    return DONE if entry.action in ("rollback", "traffic") else INTENT


def operation(entry: Entry) -> str | None:
    op = _mapping(entry.details).get("op")
    return op if isinstance(op, str) else None


def side(entry: Entry, which: str) -> Mapping[str, Any]:
    """``details.from`` / ``details.to`` of a move, as a mapping (never a crash)."""
    return _mapping(_mapping(entry.details).get(which))


def record_of(entry: Entry) -> str | None:
    record = _mapping(entry.subject).get("record")
    return record if isinstance(record, str) else None


def pending(history: Iterable[Entry], stack: str, action: str) -> Entry | None:
    """The newest intent of ``action`` on ``stack`` with no outcome, if nothing of the same
    kind moved the stack after it (an interrupted run that the next run completes)."""
    open_: Entry | None = None
    for entry in history:
        if entry.stack != stack or entry.action not in MOVES:
            continue
        if entry.action == action and phase(entry) == INTENT and operation(entry):
            open_ = entry
        elif open_ is not None and phase(entry) in OUTCOMES:
            open_ = None
    return open_


def has_outcome(history: Iterable[Entry], op: str) -> Entry | None:
    return next((e for e in history if operation(e) == op and phase(e) in OUTCOMES), None)


@dataclass(frozen=True)
class Rolled:
    """The stack's last completed move, when it was a rollback."""

    colour: str
    record: str | None
    entry: Entry


def last_rollback(history: Iterable[Entry], stack: str) -> Rolled | None:
    """The last completed rollback on ``stack`` when no arrival or traffic move followed it.

    A second ``kiln rollback`` then changes nothing: rollback means "last known good", and
    going back to the release rolled back away from is a deploy."""
    last: Rolled | None = None
    for entry in history:
        if entry.stack != stack or entry.action not in MOVES:
            continue
        if entry.action == "rollback" and phase(entry) == DONE:
            to = side(entry, "to")
            colour = to.get("colour")
            last = Rolled(colour, to.get("record"), entry) if isinstance(colour, str) else None
        elif phase(entry) in (STAGED, SERVED):
            last = None
    return last


def served(history: Iterable[Entry], stack: str, record: str) -> Entry | None:
    """The newest ``served`` outcome of ``record`` on ``stack``."""
    found = None
    for entry in history:
        if entry.stack == stack and entry.action in ARRIVALS and phase(entry) == SERVED \
                and record_of(entry) == record:
            found = entry
    return found
