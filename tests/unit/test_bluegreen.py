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


@pytest.mark.parametrize(("live", "weights", "healthy", "min_healthy", "expected"), [
    # the standby colour is healthy: flip to it
    ("blue", {"blue": 100, "green": 0}, {"green": 2}, 1, RollbackPlan("blue", "green", True)),
    ("green", {"blue": 0, "green": 100}, {"blue": 1}, 1, RollbackPlan("green", "blue", True)),
    # exactly the minimum is enough
    ("blue", {"blue": 100, "green": 0}, {"green": 2}, 2, RollbackPlan("blue", "green", True)),
    # mid-canary: traffic is split, the standby is healthy → flip
    ("blue", {"blue": 90, "green": 10}, {"green": 1}, 1, RollbackPlan("blue", "green", True)),
    # interrupted run: the listener already serves the standby; finish without a flip
    # (and without a health check: traffic is already there)
    ("blue", {"blue": 0, "green": 100}, {}, 3, RollbackPlan("blue", "green", False)),
    ("green", {"blue": 100, "green": 0}, {"blue": 0}, 1, RollbackPlan("green", "blue", False)),
])
def test_plan_rollback_table(live: str, weights: dict[str, int], healthy: dict[str, int],
                             min_healthy: int, expected: RollbackPlan) -> None:
    assert plan_rollback(live, weights, healthy, min_healthy) == expected


@pytest.mark.parametrize(("live", "weights", "healthy", "min_healthy", "message"), [
    ("blue", {"blue": 100, "green": 0}, {"green": 0}, 1,
     "standby colour green has 0 healthy targets, needs 1; traffic stays on blue"),
    ("blue", {"blue": 100, "green": 0}, {"green": 1}, 2,
     "standby colour green has 1 healthy target, needs 2; traffic stays on blue"),
    ("green", {"blue": 0, "green": 100}, {"blue": 2}, 3,
     "standby colour blue has 2 healthy targets, needs 3; traffic stays on green"),
    # the live colour's health does not count for the standby
    ("blue", {"blue": 100, "green": 0}, {"blue": 5}, 1,
     "standby colour green has 0 healthy targets, needs 1; traffic stays on blue"),
    # a canary split is not "already serving": the health gate applies
    ("blue", {"blue": 50, "green": 50}, {"green": 0}, 1,
     "standby colour green has 0 healthy targets"),
])
def test_plan_rollback_refuses_an_unhealthy_standby(live: str, weights: dict[str, int],
                                                    healthy: dict[str, int],
                                                    min_healthy: int, message: str) -> None:
    with pytest.raises(RefusedError) as raised:
        plan_rollback(live, weights, healthy, min_healthy)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert isinstance(raised.value, OperationError) and raised.value.exit_code == 1


weights_strategy = st.one_of(
    st.integers(0, 100).map(lambda w: {"blue": w, "green": 100 - w}),
    st.fixed_dictionaries({"blue": st.integers(0, 100), "green": st.integers(0, 100)}),
)
healthy_strategy = st.dictionaries(st.sampled_from(COLOURS), st.integers(0, 5))


@PROPERTY
@given(st.sampled_from(COLOURS), weights_strategy, healthy_strategy, st.integers(1, 5))
def test_plan_rollback_rule(live: str, weights: dict[str, int], healthy: dict[str, int],
                            min_healthy: int) -> None:
    target = other(live)
    served = serving_colour(weights) == target
    if not served and healthy.get(target, 0) < min_healthy:
        with pytest.raises(RefusedError):
            plan_rollback(live, weights, healthy, min_healthy)
        return
    plan = plan_rollback(live, weights, healthy, min_healthy)
    assert (plan.source, plan.target) == (live, target)
    assert plan.flip is not served


@PROPERTY
@given(st.sampled_from(COLOURS), weights_strategy, healthy_strategy, st.integers(1, 5))
def test_a_retried_rollback_completes_and_never_toggles(live: str, weights: dict[str, int],
                                                        healthy: dict[str, int],
                                                        min_healthy: int) -> None:
    """Killed after the flip but before the stack file was written back, a rerun sees the
    same stack file and the flipped listener: it completes without a second flip, whatever
    the standby's health now."""
    try:
        first = plan_rollback(live, weights, healthy, min_healthy)
    except RefusedError:
        return
    after_flip = rollback_weights(first.target) if first.flip else dict(weights)
    retry = plan_rollback(live, after_flip, {}, min_healthy)
    assert retry == RollbackPlan(live, first.target, flip=False)
