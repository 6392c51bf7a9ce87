"""`kiln traffic`: one ModifyListener per step, behind the health and revocation gates,
written back to the stack file; a canary finished without the Pulumi CLI."""

from __future__ import annotations

import json

import pytest

from kiln.ops import context, shift
from kiln.project import stackfiles
from kiln.release.bluegreen import RefusedError

from ..scenario import apply, stand_up
from .opsutil import aws_calls, ledger, listener_weights, mutating, run_kiln, stop_instances
from .test_deploy_promote import project, release, settings

pytestmark = pytest.mark.integration

__all__ = ["project"]
STACK = "staging"


@pytest.fixture
def deployed(aws, project_copy):
    project_ = stackfiles.load_project(project_copy)
    stackfiles.update_config(project_, STACK, {"kiln:standby": "hot"})
    return stand_up(project_copy, STACK)


def settings_of(scenario):
    return stackfiles.load_settings(scenario.project, STACK)


def test_traffic_moves_with_one_call_and_writes_back(deployed):
    before = settings_of(deployed)
    with aws_calls() as calls:
        result = shift.move(context.open_context(deployed.project), STACK, 60)
    assert mutating(calls) == ["ModifyListener"] and len(calls) <= 8
    assert result.weights == {before.live: 60, before.idle: 40}
    assert listener_weights(before) == {before.live: 60, before.idle: 40}
    assert settings_of(deployed).traffic == 60
    assert [e.details["phase"] for e in ledger(deployed.root).entries()] == ["intent", "done"]
    # the same move again changes nothing
    with aws_calls() as calls:
        again = shift.move(context.open_context(deployed.project), STACK, 60)
    assert mutating(calls) == [] and again.moved == []
    assert len(list(ledger(deployed.root).entries())) == 2


def test_traffic_refused_to_an_unhealthy_colour(deployed):
    before = settings_of(deployed)
    stop_instances(deployed.region, before.idle, keep=1)
    with pytest.raises(RefusedError, match=f"{before.idle} has 1 healthy target, needs 2"):
        shift.move(context.open_context(deployed.project), STACK, 50)
    assert listener_weights(before) == {before.live: 100, before.idle: 0}
    assert settings_of(deployed).traffic == 100


def test_traffic_never_reaches_a_revoked_release(deployed):
    before = settings_of(deployed)
    assert run_kiln("revoke", deployed.images[before.idle], "--reason", "CVE-3").returncode == 0
    result = run_kiln("traffic", STACK, "90")
    assert result.returncode == 1 and "revoked release (CVE-3, " in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert listener_weights(before) == {before.live: 100, before.idle: 0}


@pytest.mark.parametrize("args", [("0",), ("101",), ("x",), ()])
def test_traffic_bad_input_is_one_line(deployed, args):
    result = run_kiln("traffic", STACK, *args)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("crash_at", ["traffic:locked", "traffic:intent", "traffic:moved",
                                      "traffic:recorded", "traffic:written"])
def test_traffic_killed_at_any_step_converges(deployed, crash_at):
    before = settings_of(deployed)
    killed = run_kiln("traffic", STACK, "30", fault=f"crash@{crash_at}")
    assert killed.returncode == -9
    for _ in range(2):
        rerun = run_kiln("traffic", STACK, "30")
        assert rerun.returncode == 0, rerun.stderr
    assert listener_weights(before) == {before.live: 30, before.idle: 70}
    assert settings_of(deployed).traffic == 30
    phases = [e.details["phase"] for e in ledger(deployed.root).entries()]
    assert phases == ["intent", "done"]


def test_a_canary_shows_a_countdown_and_steps(deployed):
    before = settings_of(deployed)
    result = run_kiln("traffic", STACK, "--canary", "20,100", "--pause", "1.5", "--json")
    assert result.returncode == 0, result.stderr
    assert "canary staging: next step 100% in" in result.stderr
    assert "kiln rollback staging" in result.stderr
    report = json.loads(result.stdout)
    assert report["moved"] == [20, 100]
    assert listener_weights(before) == {before.live: 100, before.idle: 0}


def test_a_canary_is_finished_without_the_pulumi_cli_and_then_served(project):
    root, _ = project
    path, _ = release(project)
    staged = run_kiln("deploy", "dev", str(path), "--canary", "10,50,100", "--stage-only")
    assert staged.returncode == 0, staged.stderr
    apply(root, "dev")  # the `pulumi up` that ran elsewhere, at 10 %
    dev = settings(root, "dev")
    assert dev.traffic == 10 and listener_weights(dev)[dev.live] == 10
    finished = run_kiln("traffic", "dev", "--canary", "50,100", "--pause", "0")
    assert finished.returncode == 0, finished.stderr
    assert "recorded served" in finished.stdout
    assert settings(root, "dev").traffic == 100
    promoted = run_kiln("promote", "dev", "staging", "--stage-only")
    assert promoted.returncode == 0, promoted.stderr
