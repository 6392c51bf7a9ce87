"""The ledger's intent/outcome state machine (kiln.release.history) and the gates that read
it, driven by random operator and CI histories: deploys that are staged, applied or fail,
rollbacks, revocations, and crashes followed by retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.model.stack import COLOURS, other
from kiln.release import history
from kiln.release.bluegreen import (
    RefusedError,
    check_target,
    plan_rollback,
    rollback_weights,
    serving_colour,
)
from kiln.release.ledger import Entry, new_entry
from kiln.release.lineage import Node, family
from kiln.release.promotion import GateError, check_proven

PROPERTY = settings(max_examples=300, deadline=None)
RECORDS = [f"sha256:{c * 64}" for c in "abcd"]
STACK = "dev"


class CrashError(Exception):
    """The process died here; the retry runs the same operation again."""


@dataclass
class World:
    """A stack as AWS and its stack file hold it, plus the ledger kiln writes."""

    live: str = "blue"
    releases: dict[str, str] = field(default_factory=lambda: {"blue": RECORDS[0],
                                                              "green": RECORDS[1]})
    listener: dict[str, int] = field(default_factory=lambda: {"blue": 100, "green": 0})
    entries: list[Entry] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    truly_served: dict[str, int] = field(default_factory=dict)  # record → move count
    moves: int = 0
    rolled_away: dict[str, int] = field(default_factory=dict)  # record → move count

    def append(self, action: str, subject: dict[str, Any], details: dict[str, Any]) -> None:
        previous = self.entries[-1] if self.entries else None
        self.entries.append(new_entry(previous, action, stack=STACK, subject=subject,
                                      commit=None, details=details, actor="test"))

    def move(self, target: str) -> None:
        if self.releases[target] in self.revoked:
            raise AssertionError(f"traffic sent to revoked {self.releases[target]}")
        self.listener = rollback_weights(target)
        self.moves += 1
        self.truly_served[self.releases[target]] = self.moves


def deploy(world: World, record: str, outcome: str, crash: int) -> None:
    """intent → stack file → (pulumi up: served | failed) or staged; crash after step
    ``crash``. A retry finds the open intent and completes it."""
    pending = history.pending(world.entries, STACK, "deploy")
    op = history.operation(pending) if pending and history.record_of(pending) == record \
        else None
    if record in world.revoked:
        return  # the revocation gate refuses before anything
    if op is None:
        op = history.new_operation_id()
        world.append("deploy", {"record": record}, {"phase": "intent", "op": op})
    if crash == 1:
        raise CrashError
    if world.releases[world.live] != record:
        world.live = other(world.live)
        world.releases[world.live] = record
    if crash == 2:
        raise CrashError
    if outcome == "staged":
        world.append("deploy", {"record": record}, {"phase": "staged", "op": op})
    elif outcome == "applied":
        world.move(world.live)
        if crash == 3:
            raise CrashError
        world.append("deploy", {"record": record}, {"phase": "served", "op": op})
    # "failed": pulumi up failed, nothing served, nothing recorded as served


def rollback(world: World, crash: int) -> None:
    last = history.last_rollback(world.entries, STACK)
    open_ = history.pending(world.entries, STACK, "rollback")
    plan = plan_rollback(world.live, world.listener,
                         pending=(history.operation(open_) or "",
                                  history.side(open_, "to")["colour"]) if open_ else None,
                         rolled=(last.colour, last.record) if last else None,
                         live_record=world.releases[world.live])
    if plan.noop:
        return
    target = world.releases[plan.target]
    check_target(plan.target, healthy=9, min_healthy=1, live=plan.source, flip=plan.flip,
                 revoked="revoked" if target in world.revoked else None)
    op = plan.op or history.new_operation_id()
    sides = {"from": {"colour": plan.source, "record": world.releases[plan.source]},
             "to": {"colour": plan.target, "record": target}}
    if plan.record:
        world.append("rollback", {"record": target}, {"phase": "intent", "op": op, **sides})
    if crash == 1:
        raise CrashError
    if plan.flip:
        world.move(plan.target)
        world.rolled_away[world.releases[plan.source]] = world.moves
    if crash == 2:
        raise CrashError
    if plan.finish:
        world.append("rollback", {"record": target}, {"phase": "done", "op": op, **sides})
    if crash == 3:
        raise CrashError
    world.live = plan.target


def revoke(world: World, record: str) -> None:
    world.revoked |= set(family([Node(r, frozenset({f"ami-{r[7:15]}"})) for r in RECORDS],
                                [], [record]).records)


operations = st.lists(st.one_of(
    st.tuples(st.just("deploy"), st.sampled_from(RECORDS),
              st.sampled_from(["staged", "applied", "failed"]), st.integers(0, 3)),
    st.tuples(st.just("rollback"), st.integers(0, 3)),
    st.tuples(st.just("revoke"), st.sampled_from(RECORDS)),
), max_size=14)


def run(world: World, ops: list[tuple[Any, ...]]) -> None:
    for op in ops:
        for _attempt in range(2):  # a crash is followed by one retry of the same command
            try:
                if op[0] == "deploy":
                    deploy(world, op[1], op[2], op[3] if _attempt == 0 else 0)
                elif op[0] == "rollback":
                    rollback(world, op[1] if _attempt == 0 else 0)
                else:
                    revoke(world, op[1])
                break
            except CrashError:
                continue
            except RefusedError:
                break


@PROPERTY
@given(operations)
def test_the_history_gate_passes_only_releases_that_served_and_stayed(ops) -> None:
    world = World()
    run(world, ops)
    for record in RECORDS:
        try:
            check_proven(world.entries, STACK, record)
        except GateError:
            continue
        assert record in world.truly_served, f"{record} passed the gate but never served"
        assert world.rolled_away.get(record, 0) <= world.truly_served[record], \
            f"{record} passed the gate after traffic was rolled away from it"


@PROPERTY
@given(operations)
def test_a_completed_rollback_run_again_changes_nothing(ops) -> None:
    world = World()
    run(world, [*ops, ("rollback", 0)])
    before = (world.live, dict(world.listener), len(world.entries))
    try:
        rollback(world, 0)
    except RefusedError:
        return
    assert (world.live, world.listener, len(world.entries)) == before


@PROPERTY
@given(operations)
def test_traffic_never_reaches_a_revoked_release(ops) -> None:
    """World.move raises if a move targets a revoked release; and every outcome that
    followed an intent names the same operation."""
    world = World()
    run(world, ops)
    serving = serving_colour(world.listener)
    assert serving in COLOURS
    intents = {history.operation(e) for e in world.entries if history.phase(e) == "intent"}
    outcomes = {history.operation(e) for e in world.entries if history.phase(e) != "intent"}
    assert outcomes <= intents


@pytest.mark.parametrize(("details", "phase"), [
    ({"phase": "served"}, "served"), ({"phase": "staged"}, "staged"),
    ({}, "intent"), ({"phase": "bogus"}, "intent"), ({"phase": 7}, "intent"),
])
def test_an_arrival_without_a_known_phase_is_only_an_intent(details: dict[str, Any],
                                                            phase: str) -> None:
    entry = new_entry(None, "deploy", stack=STACK, subject={"record": RECORDS[0]},
                      commit=None, details=details, actor="t")
    assert history.phase(entry) == phase


def test_a_rollback_without_a_phase_predates_phases_and_is_done() -> None:
    entry = new_entry(None, "rollback", stack=STACK, subject={}, commit=None,
                      details={"from": None, "to": "x"}, actor="t")
    assert history.phase(entry) == "done"
    assert history.side(entry, "from") == {} and history.side(entry, "to") == {}
    assert history.last_rollback([entry], STACK) is None


def test_pending_is_the_open_intent_of_the_same_kind() -> None:
    entries: list[Entry] = []

    def add(action: str, **details: Any) -> None:
        entries.append(new_entry(entries[-1] if entries else None, action, stack=STACK,
                                 subject={"record": RECORDS[0]}, commit=None,
                                 details=details, actor="t"))

    add("rollback", phase="intent", op="a", to={"colour": "green"})
    pending = history.pending(entries, STACK, "rollback")
    assert pending is not None and history.operation(pending) == "a"
    assert history.pending(entries, "prod", "rollback") is None
    add("rollback", phase="done", op="a", to={"colour": "green"})
    assert history.pending(entries, STACK, "rollback") is None
    last = history.last_rollback(entries, STACK)
    assert last is not None and last.colour == "green"
    add("deploy", phase="staged", op="b")
    assert history.last_rollback(entries, STACK) is None
