"""The blue/green state machine (kiln.release.bluegreen): tables and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.errors import OperationError
from kiln.model.stack import COLOURS, other
from kiln.release.bluegreen import (
    RefusedError,
    RollbackPlan,
    check_target,
    plan_rollback,
    rollback_weights,
    serving_colour,
)

PROPERTY = settings(max_examples=300, deadline=None)


@pytest.mark.parametrize(("weights", "colour"), [
    ({"blue": 100, "green": 0}, "blue"),
    ({"blue": 0, "green": 100}, "green"),
    ({"green": 100}, "green"),  # a missing colour weighs 0
    ({"blue": 50, "green": 50}, None),
    ({"blue": 99, "green": 1}, None),
    ({"blue": 0, "green": 0}, None),
    ({}, None),
    ({"red": 100, "blue": 0, "green": 0}, None),  # not a colour
])
def test_serving_colour(weights: dict[str, int], colour: str | None) -> None:
    assert serving_colour(weights) == colour


@PROPERTY
@given(st.integers(0, 100), st.sampled_from(COLOURS))
def test_only_a_colour_at_100_serves(weight: int, colour: str) -> None:
    split = {colour: weight, other(colour): 100 - weight}
    expected = colour if weight == 100 else other(colour) if weight == 0 else None
    assert serving_colour(split) == expected


@pytest.mark.parametrize(("target", "weights"), [
    ("blue", {"blue": 100, "green": 0}),
    ("green", {"blue": 0, "green": 100}),
])
def test_rollback_weights_send_everything_to_the_target(target: str,
                                                        weights: dict[str, int]) -> None:
    assert rollback_weights(target) == weights
    assert serving_colour(rollback_weights(target)) == target


def plan(live: str, weights: dict[str, int], **kw: object) -> RollbackPlan:
    return plan_rollback(live, weights, **kw)  # type: ignore[arg-type]


B100, G100, SPLIT = {"blue": 100, "green": 0}, {"blue": 0, "green": 100}, {"blue": 90, "green": 10}


@pytest.mark.parametrize(("live", "weights", "kw", "expected"), [
    # a first rollback: to the standby colour, one flip, a new operation
    ("blue", B100, {}, RollbackPlan("blue", "green", flip=True, record=True, finish=True)),
    ("green", G100, {}, RollbackPlan("green", "blue", flip=True, record=True, finish=True)),
    # mid-canary: the split is not "serving": flip
    ("blue", SPLIT, {}, RollbackPlan("blue", "green", flip=True, record=True, finish=True)),
    # the listener already serves the standby but the ledger knows nothing: record, no flip
    ("blue", G100, {}, RollbackPlan("blue", "green", flip=False, record=True, finish=True)),
    # an interrupted operation (intent, no outcome) is completed, never started over
    ("blue", G100, {"pending": ("op1", "green")},
     RollbackPlan("blue", "green", flip=False, record=False, finish=True, op="op1")),
    ("blue", B100, {"pending": ("op1", "green")},
     RollbackPlan("blue", "green", flip=True, record=False, finish=True, op="op1")),
    # recorded, stack file not written back: only write it back
    ("blue", G100, {"rolled": ("green", "r")},
     RollbackPlan("blue", "green", flip=False, record=False, finish=False)),
    # completed: a second run changes nothing (last known good, not a toggle)
    ("green", G100, {"rolled": ("green", "r"), "live_record": "r"},
     RollbackPlan("blue", "green", flip=False, record=False, finish=False, noop=True)),
    ("green", G100, {"rolled": ("green", None), "live_record": "r"},
     RollbackPlan("blue", "green", flip=False, record=False, finish=False, noop=True)),
    # --to the colour rolled away from: an explicit, gated move
    ("green", G100, {"rolled": ("green", "r"), "live_record": "r", "to": "blue"},
     RollbackPlan("green", "blue", flip=True, record=True, finish=True)),
    # --to the colour already serving: nothing to do
    ("blue", B100, {"to": "blue"},
     RollbackPlan("green", "blue", flip=False, record=False, finish=False, noop=True)),
    # the listener was moved off a completed rollback's colour outside kiln: the stack
    # file's standby already serves, so record the move and write it back, no flip
    ("green", B100, {"rolled": ("green", "r"), "live_record": "r"},
     RollbackPlan("green", "blue", flip=False, record=True, finish=True)),
])
def test_plan_rollback_table(live: str, weights: dict[str, int], kw: dict[str, object],
                             expected: RollbackPlan) -> None:
    assert plan(live, weights, **kw) == expected


@pytest.mark.parametrize(("kw", "message"), [
    ({"healthy": 0, "min_healthy": 1},
     "standby colour green has 0 healthy targets, needs 1; traffic stays on blue"),
    ({"healthy": 1, "min_healthy": 2},
     "standby colour green has 1 healthy target, needs 2; traffic stays on blue"),
    ({"healthy": 5, "min_healthy": 1, "revoked": "CVE-1, 2026-01-01, by ops"},
     "green runs a revoked release (CVE-1, 2026-01-01, by ops); traffic stays on blue"),
    # no flip needed: health is not asked, revocation still is
    ({"healthy": 0, "min_healthy": 1, "flip": False, "revoked": "x"},
     "green runs a revoked release (x)"),
])
def test_check_target_refuses(kw: dict[str, object], message: str) -> None:
    with pytest.raises(RefusedError) as raised:
        check_target("green", live="blue", **kw)  # type: ignore[arg-type]
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert isinstance(raised.value, OperationError) and raised.value.exit_code == 1


@pytest.mark.parametrize("kw", [{"healthy": 2, "min_healthy": 2},
                                {"healthy": 0, "min_healthy": 3, "flip": False}])
def test_check_target_passes(kw: dict[str, object]) -> None:
    check_target("green", live="blue", **kw)  # type: ignore[arg-type]


weights_strategy = st.one_of(
    st.integers(0, 100).map(lambda w: {"blue": w, "green": 100 - w}),
    st.fixed_dictionaries({"blue": st.integers(0, 100), "green": st.integers(0, 100)}),
)


@PROPERTY
@given(st.sampled_from(COLOURS), weights_strategy)
def test_a_retried_rollback_completes_and_never_toggles(live: str,
                                                        weights: dict[str, int]) -> None:
    """Killed after the intent or the flip, a rerun completes the same operation; once
    complete, a further run changes nothing."""
    first = plan(live, weights)
    assert first.target == other(live) and first.flip is (serving_colour(weights) != first.target)
    after_flip = rollback_weights(first.target)
    retry = plan(live, after_flip, pending=("op", first.target))
    assert retry.target == first.target and not retry.flip and retry.op == "op"
    unwritten = plan(live, after_flip, rolled=(first.target, "r"))
    assert unwritten.target == first.target and not unwritten.flip and not unwritten.record
    done = plan(first.target, after_flip, rolled=(first.target, "r"), live_record="r")
    assert done.noop and done.target == first.target
