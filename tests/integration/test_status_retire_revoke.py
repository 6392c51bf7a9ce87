"""`kiln status`, `kiln retire` and `kiln revoke` against the emulator."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from kiln.aws import traffic
from kiln.aws.clients import client
from kiln.ops import context, retire, status
from kiln.preview import capture
from kiln.project import layout, revocations, stackfiles
from kiln.release.bluegreen import RefusedError

from ..conftest import ROOT
from ..scenario import register_image, stand_up
from .opsutil import asg_of, ledger, run_kiln

pytestmark = pytest.mark.integration


@pytest.fixture
def with_policies(project_copy: Path) -> Path:
    shutil.copytree(ROOT / "policies" / "immutable" / "config",
                    project_copy / "policies" / "immutable" / "config")
    return project_copy


@pytest.fixture
def deployed(aws, with_policies):
    project = stackfiles.load_project(with_policies)
    stackfiles.update_config(project, "staging", {"kiln:standby": "hot"})
    return stand_up(with_policies, "staging")


def test_status_of_a_fresh_deploy_has_no_drift(deployed):
    result = status.status(context.open_context(deployed.project), "staging")
    assert result.drift == []
    settings = stackfiles.load_settings(deployed.project, "staging")
    live = result.colours[settings.live]
    assert live["weight"] == 100 and live["healthy"] == 2 and live["instances"] == 2
    assert live["signedBy"] == "kiln-test"
    assert result.colours[settings.idle]["weight"] == 0
    cli = run_kiln("status", "staging", "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["live"] == settings.live


def test_status_reports_drift(deployed):
    settings = stackfiles.load_settings(deployed.project, "staging")
    region = deployed.region
    # a pet: an instance from another image, tagged as the stack's
    pet_image = register_image(region, "hand-made")
    client("ec2", region).run_instances(
        ImageId=pet_image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "kiln:service", "Value": "web"}, {"Key": "kiln:stack", "Value": "staging"}]}])
    # traffic moved by hand
    deployment = traffic.discover(region, "web", "staging")
    traffic.set_weights(deployment, {settings.live: 50, settings.idle: 50})
    # a forged signature on the idle colour
    forged = deployed.records[settings.idle].replace("sha256:", "sha256:0", 1)[:71]
    stackfiles.update_config(deployed.project, "staging", {
        f"kiln:{settings.idle}.release": forged})
    result = status.status(context.open_context(deployed.project), "staging")
    text = "\n".join(result.drift)
    assert f"runs {pet_image}, which no colour declares" in text
    assert "listener sends" in text
    assert f"{settings.idle}: release {deployed.images[settings.idle]} is not signed" in text
    cli = run_kiln("status", "staging")
    assert cli.returncode == 1
    assert "drift:" in cli.stdout


def test_revoke_updates_policy_config_and_shows_blast_radius(deployed):
    settings = stackfiles.load_settings(deployed.project, "staging")
    image = deployed.images[settings.live]
    result = run_kiln("revoke", image, "--reason", "CVE-2026-0001", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["blastRadius"] == [{"stack": "staging", "colour": settings.live,
                                      "image": image, "live": True, "weight": 100}]
    assert report["family"] == {"images": [image],
                                "records": [deployed.records[settings.live]]}
    revoked = revocations.listed(deployed.root)
    assert [(r.image, r.release, r.reason) for r in revoked] == [
        (image, None, "CVE-2026-0001"), (None, deployed.records[settings.live], "CVE-2026-0001")]
    assert all(r.at and r.by for r in revoked)
    for path in (deployed.root / layout.PACK_CONFIG_DIR).glob("*.json"):
        rule = json.loads(path.read_text())[revocations.RULE]
        assert rule["revoked"][0]["image"] == image
    entries = list(ledger(deployed.root).entries())
    assert [e.action for e in entries] == ["revoke"]
    assert entries[0].details["reason"] == "CVE-2026-0001"
    drift = status.status(context.open_context(deployed.project), "staging").drift
    assert any("is revoked (CVE-2026-0001, " in d for d in drift)
    configs = {p: p.read_bytes() for p in (deployed.root / layout.PACK_CONFIG_DIR).iterdir()}
    for twice in (image, deployed.records[settings.live]):  # the same family: recorded once
        again = run_kiln("revoke", twice, "--reason", "CVE-2026-0001")
        assert again.returncode == 0 and "already revoked" in again.stdout
    assert len(list(ledger(deployed.root).entries())) == 1
    assert {p: p.read_bytes() for p in configs} == configs


@pytest.mark.parametrize("target", ["ami-12", "web:latest"])
def test_revoke_bad_input(deployed, target):
    result = run_kiln("revoke", target, "--reason", "x")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "neither an AMI id" in result.stderr


def test_revoke_needs_a_reason(deployed):
    result = run_kiln("revoke", deployed.images["blue"])
    assert result.returncode == 2 and "--reason is required" in result.stderr


@pytest.fixture
def after_deploy(aws, with_policies):
    """staging (warm standby) right after a deploy: the old colour is still full size."""
    project = stackfiles.load_project(with_policies)
    stackfiles.update_config(project, "staging", {"kiln:retired": False})
    scenario = stand_up(with_policies, "staging")
    settings = stackfiles.load_settings(project, "staging")
    ledger(with_policies).append("deploy", stack="staging", commit=None, subject={
        "image": settings.release(settings.live).image})
    return scenario


def test_retire_refused_inside_the_rollback_window(after_deploy):
    with pytest.raises(RefusedError, match="rollback window for staging open until"):
        retire.retire(context.open_context(after_deploy.project), "staging",
                      dt.timedelta(minutes=30))
    settings = stackfiles.load_settings(after_deploy.project, "staging")
    assert asg_of(after_deploy.region, settings.idle)["DesiredCapacity"] == 2


def test_retire_moves_idle_colour_to_warm_pool_and_program_agrees(after_deploy):
    settings = stackfiles.load_settings(after_deploy.project, "staging")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    result = retire.retire(context.open_context(after_deploy.project), "staging",
                           dt.timedelta(minutes=30), now=later)
    assert result.calls == ["UpdateAutoScalingGroup", "PutWarmPool"]
    idle = asg_of(after_deploy.region, settings.idle)
    assert (idle["MinSize"], idle["DesiredCapacity"]) == (0, 0)
    assert idle["WarmPoolConfiguration"]["MinSize"] == settings.service.capacity.desired
    assert asg_of(after_deploy.region, settings.live)["DesiredCapacity"] == 2
    after = stackfiles.load_settings(after_deploy.project, "staging")
    assert after.retired is True
    assert [e.action for e in ledger(after_deploy.root).entries()] == ["deploy", "retire"]
    # the next `pulumi up` declares the same: idle ASG at zero with a warm pool
    cap = capture.capture("staging", after_deploy.project)
    asgs = {next(t["value"] for t in r.inputs["tags"] if t["key"] == "kiln:colour"): r.inputs
            for r in cap.by_type("aws:autoscaling/group:Group")}
    assert int(asgs[settings.idle]["desiredCapacity"]) == 0
    assert int(asgs[settings.idle]["warmPool"]["minSize"]) == settings.service.capacity.desired
    # retiring again is harmless and records nothing new
    retire.retire(context.open_context(after_deploy.project), "staging",
                  dt.timedelta(minutes=30), now=later)
    assert [e.action for e in ledger(after_deploy.root).entries()] == ["deploy", "retire"]


def test_drift_sees_untagged_and_directly_registered_instances(deployed):
    """Drift from the ground up: what runs in the stack's subnets or target groups counts,
    tagged or not."""
    settings = stackfiles.load_settings(deployed.project, "staging")
    ec2 = client("ec2", deployed.region)
    foreign = register_image(deployed.region, "foreign")
    subnet = ec2.describe_instances(InstanceIds=[
        next(iter(asg_of(deployed.region, settings.live)["Instances"]))["InstanceId"]])[
        "Reservations"][0]["Instances"][0]["SubnetId"]
    untagged = ec2.run_instances(ImageId=foreign, MinCount=1, MaxCount=1,
                                 SubnetId=subnet)["Instances"][0]["InstanceId"]
    elsewhere = ec2.run_instances(ImageId=foreign, MinCount=1,
                                  MaxCount=1)["Instances"][0]["InstanceId"]
    deployment = traffic.discover(deployed.region, "web", "staging")
    client("elbv2", deployed.region).register_targets(
        TargetGroupArn=deployment.target_groups[settings.live], Targets=[{"Id": elsewhere}])
    drift = status.status(context.open_context(deployed.project), "staging").drift
    assert f"instance {untagged} runs {foreign}, which no colour declares" in drift
    assert f"instance {elsewhere} runs {foreign}, which no colour declares" in drift


def test_status_flags_a_live_colour_without_instances(deployed):
    """Stale registrations keep targets healthy; the live colour still has no instances."""
    settings = stackfiles.load_settings(deployed.project, "staging")
    group = asg_of(deployed.region, settings.live)
    client("autoscaling", deployed.region).detach_instances(
        InstanceIds=[i["InstanceId"] for i in group["Instances"]],
        AutoScalingGroupName=group["AutoScalingGroupName"],
        ShouldDecrementDesiredCapacity=True)
    result = status.status(context.open_context(deployed.project), "staging")
    live = result.colours[settings.live]
    assert live["healthy"] == 2 and live["inService"] == 0 and live["serving"] == 0
    assert f"{settings.live} (live): 0 serving instances, below minHealthy 2" in result.drift
    assert f"{settings.live} (live): 0 in service, desired capacity 2" in result.drift


def test_retire_refuses_while_the_live_release_is_revoked(deployed):
    settings = stackfiles.load_settings(deployed.project, "staging")
    assert run_kiln("revoke", deployed.images[settings.live], "--reason", "CVE-9").returncode == 0
    result = run_kiln("retire", "staging", "--window", "0")
    assert result.returncode == 1 and "is revoked (CVE-9" in result.stderr
    assert asg_of(deployed.region, settings.idle)["DesiredCapacity"] == 2


def test_status_validates_the_stack_name(deployed):
    result = run_kiln("status", "../../etc")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
