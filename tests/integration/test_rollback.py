"""`kiln rollback` against the emulator: one call, health-gated, written back, recorded."""

from __future__ import annotations

import json

import pytest

from kiln.aws import clients
from kiln.ops import context, rollback
from kiln.project import stackfiles
from kiln.release.bluegreen import RefusedError

from ..scenario import stand_up
from .opsutil import (
    asg_of,
    aws_calls,
    ledger,
    listener_weights,
    mutating,
    run_kiln,
    stop_instances,
)

pytestmark = pytest.mark.integration

STACK = "staging"  # warm standby in the file; stood up hot below so the standby serves


@pytest.fixture
def deployed(aws, project_copy):
    project = stackfiles.load_project(project_copy)
    stackfiles.update_config(project, STACK, {"kiln:standby": "hot"})
    return stand_up(project_copy, STACK)


def settings_of(scenario):
    return stackfiles.load_settings(scenario.project, STACK)


def test_rollback_flips_with_exactly_one_mutating_call(deployed):
    before = settings_of(deployed)
    assert listener_weights(before) == {before.live: 100, before.idle: 0}
    with aws_calls() as calls:
        result = rollback.rollback(context.open_context(deployed.project), STACK)
    assert mutating(calls) == ["ModifyListener"]
    assert result.flipped and result.target == before.idle
    after = settings_of(deployed)
    assert after.live == before.idle and after.traffic == 100 and after.retired is False
    assert listener_weights(after) == {after.live: 100, before.live: 0}
    entries = list(ledger(deployed.root).entries())
    assert [(e.action, e.details["phase"]) for e in entries] == [("rollback", "intent"),
                                                                 ("rollback", "done")]
    assert entries[0].details["op"] == entries[1].details["op"]
    assert entries[1].details["from"]["colour"] == before.live
    assert entries[1].subject["image"] == deployed.images[before.idle]
    assert entries[1].details["durationMs"] > 0
    assert ledger(deployed.root).verify() == 2


def test_rollback_keeps_stack_file_comments(deployed):
    path = deployed.project.stack_file(STACK)
    assert path.read_text().startswith("# staging:")
    rollback.rollback(context.open_context(deployed.project), STACK)
    assert path.read_text().startswith("# staging:")


def test_rollback_refused_when_standby_unhealthy(deployed):
    before = settings_of(deployed)
    # one healthy standby instance left: below minHealthy (2)
    stop_instances(deployed.region, before.idle, keep=1)
    text_before = deployed.project.stack_file(STACK).read_text()
    with pytest.raises(RefusedError, match=f"standby colour {before.idle} has 1 healthy "
                                           "target, needs 2"):
        rollback.rollback(context.open_context(deployed.project), STACK)
    assert listener_weights(before) == {before.live: 100, before.idle: 0}
    assert deployed.project.stack_file(STACK).read_text() == text_before
    assert list(ledger(deployed.root).entries()) == []


def test_rollback_command_refusal_is_one_line(deployed):
    before = settings_of(deployed)
    stop_instances(deployed.region, before.idle)
    result = run_kiln("rollback", STACK)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"kiln: error: standby colour {before.idle} has 0 healthy targets, needs 2; "
        f"traffic stays on {before.live}"]


def test_rollback_command_prints_duration_and_json(deployed):
    before = settings_of(deployed)
    result = run_kiln("rollback", STACK, "--json")
    assert result.returncode == 0, result.stderr

    report = json.loads(result.stdout)
    assert report["from"] == before.live and report["to"] == before.idle
    assert report["flipMs"] > 0 and report["totalMs"] >= report["flipMs"]
    text = run_kiln("rollback", STACK, "--to", before.live)
    assert text.returncode == 0, text.stderr
    assert f"traffic {before.idle} → {before.live}" in text.stdout and " ms" in text.stdout
    assert ledger(deployed.root).verify() == 4


def test_rollback_unknown_stack_is_bad_input(deployed):
    result = run_kiln("rollback", "qa")
    assert result.returncode == 2
    assert "unknown stack 'qa'" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("crash_at", ["rollback:locked", "rollback:intent",
                                      "rollback:flipped", "rollback:recorded",
                                      "rollback:written"])
def test_rollback_killed_at_any_step_converges_on_rerun(deployed, crash_at):
    before = settings_of(deployed)
    killed = run_kiln("rollback", STACK, fault=f"crash@{crash_at}")
    assert killed.returncode == -9
    assert stackfiles.load_settings(deployed.project, STACK)  # never a torn stack file
    ledger(deployed.root).verify()
    for _ in range(2):  # the retry completes; a further run changes nothing (never toggles)
        rerun = run_kiln("rollback", STACK)
        assert rerun.returncode == 0, rerun.stderr
    after = settings_of(deployed)
    assert after.live == before.idle
    assert listener_weights(after) == {before.idle: 100, before.live: 0}
    entries = list(ledger(deployed.root).entries())
    assert [e.details["phase"] for e in entries] == ["intent", "done"]
    assert len({e.details["op"] for e in entries}) == 1
    assert ledger(deployed.root).verify() == 2


def test_second_rollback_goes_back_again(deployed):
    """Rollback means "last known good": a second run changes nothing and says so."""
    before = settings_of(deployed)
    ctx = context.open_context(deployed.project)
    first = rollback.rollback(ctx, STACK)
    assert first.target == before.idle
    text = deployed.project.stack_file(STACK).read_text()
    with aws_calls() as calls:
        second = rollback.rollback(ctx, STACK)
    assert second.unchanged and not second.flipped and second.target == before.idle
    assert mutating(calls) == []
    assert listener_weights(before) == {before.idle: 100, before.live: 0}
    assert deployed.project.stack_file(STACK).read_text() == text
    assert [e.details["phase"] for e in ledger(deployed.root).entries()] == ["intent", "done"]
    again = run_kiln("rollback", STACK)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == (f"{STACK} already rolled back: all traffic on "
                                    f"{before.idle} ({deployed.images[before.idle]}); "
                                    "nothing changed")
    assert len(list(ledger(deployed.root).entries())) == 2


def test_rollback_to_names_a_colour_behind_the_same_gates(deployed):
    before = settings_of(deployed)
    ctx = context.open_context(deployed.project)
    rollback.rollback(ctx, STACK)
    # back to the colour rolled away from: explicit, and gated like any move
    stop_instances(deployed.region, before.live, keep=1)
    with pytest.raises(RefusedError, match=f"{before.live} has 1 healthy target, needs 2"):
        rollback.rollback(ctx, STACK, to=before.live)
    assert listener_weights(before) == {before.idle: 100, before.live: 0}
    bad = run_kiln("rollback", STACK, "--to", "purple")
    assert bad.returncode == 2 and "--to 'purple'" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1


def test_rollback_refuses_a_revoked_standby(deployed):
    before = settings_of(deployed)
    revoked = run_kiln("revoke", deployed.images[before.idle], "--reason", "CVE-1")
    assert revoked.returncode == 0, revoked.stderr
    result = run_kiln("rollback", STACK)
    assert result.returncode == 1
    assert "revoked" in result.stderr and "CVE-1" in result.stderr
    assert listener_weights(before) == {before.live: 100, before.idle: 0}
    assert settings_of(deployed).live == before.live


def test_stale_registrations_do_not_pass_the_health_gate(deployed):
    """Healthy targets that are not in-service instances of the colour do not count."""
    before = settings_of(deployed)
    autoscaling = clients.client("autoscaling", deployed.region)
    group = asg_of(deployed.region, before.idle)
    ids = [i["InstanceId"] for i in group["Instances"]]
    autoscaling.detach_instances(InstanceIds=ids,
                                 AutoScalingGroupName=group["AutoScalingGroupName"],
                                 ShouldDecrementDesiredCapacity=True)
    with pytest.raises(RefusedError, match=f"standby colour {before.idle} has 0 healthy"):
        rollback.rollback(context.open_context(deployed.project), STACK)
    assert listener_weights(before) == {before.live: 100, before.idle: 0}


def test_unreadable_ledger_refuses_before_the_listener_moves(deployed):
    before = settings_of(deployed)
    path = deployed.root / "ledger" / "kiln.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json\n{also not}\n")
    result = run_kiln("rollback", STACK)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert listener_weights(before) == {before.live: 100, before.idle: 0}
    assert settings_of(deployed).live == before.live


def test_rollback_command_never_imports_pulumi(deployed):
    """Rollback is on the incident path: no Pulumi SDK import cost (-X importtime)."""
    result = run_kiln("rollback", STACK, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "botocore.client" in imported  # the trace is real
    assert not any(name.split(".")[0] in ("pulumi", "pulumi_aws") for name in imported)
