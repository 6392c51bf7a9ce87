"""Deploy planning and promotion gates (kiln.release.promotion): tables and properties."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.errors import KilnError
from kiln.model.stack import COLOURS, Capacity, NewVpc, Release, Service, StackSettings, other
from kiln.release.ledger import Entry, new_entry
from kiln.release.promotion import (
    ARRIVALS,
    DeployPlan,
    GateError,
    canary_steps,
    check_order,
    check_proven,
    next_environment,
    plan_deploy,
)

PROPERTY = settings(max_examples=200, deadline=None)

R = "sha256:" + "a" * 64
S = "sha256:" + "b" * 64
T = "sha256:" + "c" * 64
BLUE = Release("ami-0123456789abcdef0", R, "c2lnLWJsdWU=")
GREEN = Release("ami-0fedcba9876543210", S, "c2lnLWdyZWVu")
NEW = Release("ami-00000000000000001", T, "c2lnLW5ldw==")
ORDER = ("dev", "staging", "prod")


def stack(live: str = "blue", traffic: int = 100, blue: Release = BLUE,
          green: Release = GREEN) -> StackSettings:
    service = Service("web", 8080, "/healthz", "t3.micro", Capacity(1, 1, 1), 1, 20)
    return StackSettings("dev", "eu-west-1", service, NewVpc("10.0.0.0/16", 2), blue, green,
                         live, traffic, "hot")  # type: ignore[arg-type]


def applied(settings_: StackSettings, changes: dict[str, Any]) -> StackSettings:
    """The settings after a stack-file write of ``changes`` (the keys plan_deploy uses)."""
    fields: dict[str, Any] = {}
    for key, value in changes.items():
        name = key.removeprefix("kiln:")
        if name in COLOURS:
            fields[name] = Release(value["image"], value["release"], value["signature"])
        else:
            fields[name] = value
    return dataclasses.replace(settings_, **fields)


# --- plan_deploy --------------------------------------------------------------------------

def test_a_new_release_goes_to_the_idle_colour_and_becomes_live() -> None:
    plan = plan_deploy(stack(live="blue"), NEW, 10)
    assert plan == DeployPlan("green", {
        "kiln:green": {"image": NEW.image, "release": NEW.record, "signature": NEW.signature},
        "kiln:live": "green", "kiln:traffic": 10, "kiln:retired": False},
        written=False, done=False)


@pytest.mark.parametrize(("settings_", "release", "traffic", "expected"), [
    # the idle colour of a green-live stack is blue
    (stack(live="green"), NEW, 100, ("blue", False, False)),
    # a rerun: the stack file already has the release live at full traffic
    (stack(live="blue"), BLUE, 100, ("blue", True, True)),
    (stack(live="green"), GREEN, 100, ("green", True, True)),
    # a rerun mid-canary: written, but traffic still has to reach 100
    (stack(live="blue", traffic=50), BLUE, 100, ("blue", True, False)),
    # a rerun asking for a canary step below 100 is never done
    (stack(live="blue", traffic=100), BLUE, 10, ("blue", True, False)),
    (stack(live="blue", traffic=10), BLUE, 10, ("blue", True, False)),
    # the release sits on the idle colour (e.g. rolled back): it is made live there again
    (stack(live="blue"), GREEN, 100, ("green", False, False)),
    # the same image and record re-signed is a different release: not a rerun
    (stack(live="blue"), dataclasses.replace(BLUE, signature="b3RoZXI="), 100,
     ("green", False, False)),
])
def test_plan_deploy_table(settings_: StackSettings, release: Release, traffic: int,
                           expected: tuple[str, bool, bool]) -> None:
    plan = plan_deploy(settings_, release, traffic)
    assert (plan.colour, plan.written, plan.done) == expected
    if plan.written:
        assert plan.changes == {"kiln:traffic": traffic}
    else:
        assert plan.changes[f"kiln:{plan.colour}"]["release"] == release.record
        assert plan.changes["kiln:live"] == plan.colour


releases = st.builds(
    Release,
    st.sampled_from([BLUE.image, GREEN.image, NEW.image]),
    st.sampled_from([R, S, T]),
    st.sampled_from(["c2ln", "b3RoZXI="]),
)
stacks = st.builds(stack, live=st.sampled_from(COLOURS), traffic=st.integers(1, 100),
                   blue=releases, green=releases)


@PROPERTY
@given(stacks, releases, st.integers(1, 100))
def test_plan_deploy_never_touches_the_live_colour_of_another_release(
        settings_: StackSettings, release: Release, traffic: int) -> None:
    plan = plan_deploy(settings_, release, traffic)
    if settings_.release(settings_.live) == release:
        assert plan.written and plan.colour == settings_.live
        assert plan.done == (settings_.traffic == traffic == 100)
    else:
        assert not plan.written and not plan.done
        assert plan.colour == settings_.idle
        assert f"kiln:{settings_.live}" not in plan.changes


@PROPERTY
@given(stacks, releases, st.integers(1, 100))
def test_a_rerun_after_the_write_continues_instead_of_deploying_again(
        settings_: StackSettings, release: Release, traffic: int) -> None:
    first = plan_deploy(settings_, release, traffic)
    after = applied(settings_, first.changes)
    assert after.release(after.live) == release and after.traffic == traffic
    again = plan_deploy(after, release, traffic)
    assert again.written and again.colour == first.colour
    assert again.done == (traffic == 100)
    # the colour that was live keeps its release (it is the standby to roll back to)
    if not first.written:
        assert after.release(other(first.colour)) == settings_.release(settings_.live)


# --- canary_steps -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "steps"), [
    (None, [100]),
    ("", [100]),
    ("100", [100]),
    ("10,50,100", [10, 50, 100]),
    ("1,100", [1, 100]),
    ("1,2,3,100", [1, 2, 3, 100]),
    (" 10, 50 ,100 ", [10, 50, 100]),
])
def test_canary_steps_accepted(text: str | None, steps: list[int]) -> None:
    assert canary_steps(text) == steps


@pytest.mark.parametrize("text", [
    "abc", "10,,100", ",100", "10,50,100,", "10;50;100", "10.5,100",  # not integers
    "50", "10,50", "100,50",  # must end at 100
    "0,100", "-5,100", "10,101", "101",  # outside 1–100
    "50,10,100", "10,10,100", "100,100",  # strictly increasing
])
def test_canary_steps_refused_in_one_line(text: str) -> None:
    with pytest.raises(KilnError, match=r"^--canary ") as raised:
        canary_steps(text)
    assert not isinstance(raised.value, GateError)
    assert "\n" not in str(raised.value) and repr(text) in str(raised.value)


@PROPERTY
@given(st.sets(st.integers(1, 99), max_size=8))
def test_canary_steps_round_trip_any_increasing_plan(inner: set[int]) -> None:
    steps = [*sorted(inner), 100]
    assert canary_steps(",".join(map(str, steps))) == steps


@PROPERTY
@given(st.lists(st.integers(-5, 110), min_size=1, max_size=6))
def test_canary_steps_accept_exactly_the_increasing_plans_ending_at_100(
        steps: list[int]) -> None:
    valid = steps[-1] == 100 and all(1 <= s <= 100 for s in steps) \
        and all(a < b for a, b in itertools.pairwise(steps))
    text = ",".join(map(str, steps))
    if valid:
        assert canary_steps(text) == steps
    else:
        with pytest.raises(KilnError):
            canary_steps(text)


# --- environment order --------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("dev", "staging"), ("staging", "prod"), ("prod", None), ("qa", None), ("", None)])
def test_next_environment(source: str, expected: str | None) -> None:
    assert next_environment(ORDER, source) == expected


@pytest.mark.parametrize(("source", "target"), [("dev", "staging"), ("staging", "prod")])
def test_order_gate_passes_the_next_environment(source: str, target: str) -> None:
    assert check_order(ORDER, source, target, None) is None
    # a skip reason is not needed and not recorded when the order holds
    assert check_order(ORDER, source, target, "hotfix") is None


@pytest.mark.parametrize(("source", "target", "hint"), [
    ("dev", "prod", "the next environment after dev is staging"),
    ("staging", "dev", "the next environment after staging is prod"),
    ("dev", "dev", "the next environment after dev is staging"),
    ("prod", "dev", "prod is the last environment"),
    ("qa", "staging", "qa is not in the order"),
])
def test_order_gate_refuses_out_of_order(source: str, target: str, hint: str) -> None:
    with pytest.raises(GateError) as raised:
        check_order(ORDER, source, target, None)
    message = str(raised.value)
    assert message.startswith(f"order gate: {target} does not follow {source} in "
                              "dev → staging → prod")
    assert hint in message and "--skip-gate REASON" in message and "\n" not in message
    assert raised.value.exit_code == 1
    # an empty reason is no reason
    with pytest.raises(GateError):
        check_order(ORDER, source, target, "")


def test_order_gate_skip_is_recorded_with_its_reason() -> None:
    assert check_order(ORDER, "dev", "prod", "CVE hotfix") == \
        "promoted dev → prod out of order (dev → staging → prod): CVE hotfix"


names = st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=2, max_size=6,
                 unique=True)


@PROPERTY
@given(names, st.data())
def test_order_gate_allows_exactly_the_next_environment(order: list[str],
                                                        data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(order))
    target = data.draw(st.sampled_from(order))
    index = order.index(source)
    follows = index + 1 < len(order) and order[index + 1] == target
    if follows:
        assert check_order(order, source, target, None) is None
    else:
        with pytest.raises(GateError):
            check_order(order, source, target, None)
        skipped = check_order(order, source, target, "reason")
        assert skipped is not None and skipped.endswith(": reason")


# --- the history gate ---------------------------------------------------------------------

Op = tuple[str, str, str]  # (action, stack, record): the record arrived, or was rolled back from


def chain(ops: Sequence[Op]) -> list[Entry]:
    """Ledger entries for ``ops``; a rollback moves ``stack`` away from ``record``."""
    entries: list[Entry] = []
    for action, stack_, record in ops:
        previous = entries[-1] if entries else None
        if action == "rollback":
            entry = new_entry(previous, action, stack=stack_, subject={"record": T},
                              commit=None, actor="test",
                              details={"from": {"colour": "green", "record": record},
                                       "to": {"colour": "blue", "record": T}})
        else:
            phase = {"deploy": "served", "promote": "served"}.get(action, "intent")
            name = action.split(":")[0]
            if ":" in action:
                phase = action.split(":")[1]
            entry = new_entry(previous, name, stack=stack_, subject={"record": record},
                              commit=None, actor="test", details={"phase": phase})
        entries.append(entry)
    return entries


@pytest.mark.parametrize(("ops", "seq"), [
    ([("deploy", "dev", R)], 0),
    ([("promote", "dev", R)], 0),
    ([("deploy", "dev", R), ("deploy", "dev", S)], 0),  # superseded, still served
    ([("deploy", "dev", R), ("rollback", "dev", S)], 0),  # another release rolled back
    ([("deploy", "dev", R), ("rollback", "staging", R)], 0),  # rolled back elsewhere
    ([("rollback", "dev", R), ("deploy", "dev", R)], 1),  # rollback before it arrived
    ([("deploy", "dev", R), ("rollback", "dev", R), ("deploy", "dev", R)], 2),  # redeployed
    ([("deploy", "dev", R), ("promote", "dev", R)], 1),  # the latest arrival counts
    ([("deploy", "staging", R), ("deploy", "dev", R), ("sign", "dev", R)], 1),
])
def test_history_gate_passes_a_release_that_arrived_and_stayed(ops: list[Op],
                                                               seq: int) -> None:
    entry = check_proven(chain(ops), "dev", R)
    assert entry.seq == seq and entry.action in ARRIVALS and entry.stack == "dev"


@pytest.mark.parametrize(("ops", "message"), [
    ([], "shows no deploy of release sha256:aaaaaaaaaaaa… to dev"),
    ([("deploy", "staging", R)], "shows no deploy"),  # another stack
    ([("deploy", "dev", S)], "shows no deploy"),  # another release
    # bake, sign, retire, revoke and audit entries naming the release are not arrivals
    ([(action, "dev", R) for action in ("bake", "sign", "retire", "revoke", "audit")],
     "shows no deploy"),
    ([("deploy", "dev", R), ("rollback", "dev", R)],
     "release sha256:aaaaaaaaaaaa… was rolled back on dev (ledger seq 1)"),
    ([("deploy", "dev", R), ("deploy", "dev", S), ("rollback", "dev", R)], "(ledger seq 2)"),
    ([("deploy", "dev", R), ("rollback", "dev", R), ("rollback", "dev", R)], "(ledger seq 2)"),
    # intent is not outcome: a deploy whose `pulumi up` failed, or that was only staged
    ([("deploy:intent", "dev", R)], "ledger seq 0 records it intent, not served"),
    ([("deploy:staged", "dev", R)], "ledger seq 0 records it staged, not served"),
    ([("promote:intent", "dev", R), ("promote:staged", "dev", R)], "staged, not served"),
    ([("deploy:bogus", "dev", R)], "records it intent, not served"),
])
def test_history_gate_refuses(ops: list[Op], message: str) -> None:
    with pytest.raises(GateError, match=r"^history gate: ") as raised:
        check_proven(chain(ops), "dev", R)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_history_gate_reads_a_history_only_once() -> None:
    """The ledger's entries() is a generator: the gate must not need a second pass."""
    entry = check_proven(iter(chain([("deploy", "dev", R)])), "dev", R)
    assert entry.seq == 0


@pytest.mark.parametrize("from_", [None, "x", ["record"], 7])
def test_history_gate_survives_a_rollback_entry_without_an_object_from(from_: Any) -> None:
    deploy = new_entry(None, "deploy", stack="dev", subject={"record": R}, commit=None,
                       actor="test", details={"phase": "served"})
    odd = new_entry(deploy, "rollback", stack="dev", subject={"record": T}, commit=None,
                    actor="test", details={"from": from_})
    assert check_proven([deploy, odd], "dev", R) == deploy


op_strategy = st.tuples(st.sampled_from(["deploy", "promote", "rollback", "sign", "retire"]),
                        st.sampled_from(["dev", "staging"]), st.sampled_from([R, S]))


def model_proven(ops: Sequence[Op], stack_: str, record: str) -> int | None:
    """Independent statement of the rule, scanning backwards: the index of the latest
    arrival of ``record`` on ``stack_`` when no rollback from it follows; else None."""
    for index in range(len(ops) - 1, -1, -1):
        action, where, what = ops[index]
        if where != stack_ or what != record:
            continue
        if action == "rollback":
            return None
        if action in ARRIVALS:
            return index
    return None


@PROPERTY
@given(st.lists(op_strategy, max_size=12), st.sampled_from(["dev", "staging"]),
       st.sampled_from([R, S]))
def test_history_gate_matches_its_rule(ops: list[Op], stack_: str, record: str) -> None:
    expected = model_proven(ops, stack_, record)
    if expected is None:
        with pytest.raises(GateError):
            check_proven(chain(ops), stack_, record)
    else:
        assert check_proven(chain(ops), stack_, record).seq == expected


@PROPERTY
@given(st.lists(op_strategy, max_size=10), st.lists(op_strategy, max_size=10))
def test_history_of_other_stacks_never_changes_the_verdict(ops: list[Op],
                                                           noise: list[Op]) -> None:
    elsewhere = [(action, "prod", record) for action, _, record in noise]

    def verdict(history: list[Op]) -> str | None:
        try:
            return check_proven(chain(history), "dev", R).subject["record"]
        except GateError as error:
            return str(error).split(" (ledger seq")[0]

    assert verdict(ops) == verdict([*elsewhere, *ops])
