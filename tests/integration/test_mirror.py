"""The emulator scenario: the captured program mirrored into the moto server."""

from __future__ import annotations

import pytest

from kiln.aws.clients import client
from kiln.model import naming
from kiln.model.stack import COLOURS
from kiln.project import stackfiles

from ..scenario import stand_up

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_mirror_creates_the_stack_with_component_tags(aws, project_copy, stack):
    scenario = stand_up(project_copy, stack)
    region = scenario.region
    elb = client("elbv2", region)
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    assert len(lbs) == 1
    tags = {t["Key"]: t["Value"] for t in elb.describe_tags(
        ResourceArns=[lbs[0]["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]}
    assert tags == {naming.TAG_SERVICE: "web", naming.TAG_STACK: stack}
    groups = elb.describe_target_groups()["TargetGroups"]
    assert len(groups) == 2
    listeners = elb.describe_listeners(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Listeners"]
    forward = [a for lst in listeners for a in lst["DefaultActions"] if a["Type"] == "forward"]
    weights = {g["TargetGroupArn"]: g["Weight"]
               for g in forward[0]["ForwardConfig"]["TargetGroups"]}
    assert sorted(weights.values()) == [0, 100]

    settings = stackfiles.load_settings(scenario.project, stack)
    autoscaling = client("autoscaling", region)
    asgs = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    by_colour = {next(t["Value"] for t in a["Tags"] if t["Key"] == naming.TAG_COLOUR): a
                 for a in asgs}
    assert set(by_colour) == set(COLOURS)
    live = by_colour[settings.live]
    assert live["DesiredCapacity"] == settings.service.capacity.desired
    assert len(live["Instances"]) == settings.service.capacity.desired
    ec2 = client("ec2", region)
    for colour, asg in by_colour.items():
        template = asg["LaunchTemplate"]
        assert template["Version"] == "1"
        version = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"])["LaunchTemplateVersions"][0]
        assert version["LaunchTemplateData"]["ImageId"] == scenario.images[colour]
        assert version["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    health = elb.describe_target_health(TargetGroupArn=next(
        g["TargetGroupArn"] for g in groups
        if weights[g["TargetGroupArn"]] == 100))["TargetHealthDescriptions"]
    assert len(health) == settings.service.capacity.desired
    assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}
