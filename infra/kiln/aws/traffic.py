"""Find a deployed stack's load balancer, listener and colours by tags; read target
health; move traffic with one ModifyListener call.

Resources are found by kiln's tags (``kiln:service``, ``kiln:stack``, ``kiln:colour``,
``kiln:role``), never by names, so operations work on whatever `pulumi up` named them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiln.aws.clients import client
from kiln.errors import OperationError
from kiln.model import naming
from kiln.model.stack import COLOURS


class NotDeployedError(OperationError):
    """The stack's resources are not where its tags say (message is one line)."""


@dataclass(frozen=True)
class Deployment:
    region: str
    service: str
    stack: str
    load_balancer_arn: str
    listener_arn: str
    target_groups: dict[str, str]  # colour → ARN
    default_actions: list[dict[str, Any]]  # the listener's actions when discovered


def _tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def discover(region: str, service: str, stack: str) -> Deployment:
    """Locate the stack's ALB, forwarding listener and target groups by tags (two calls)."""
    where = f"service {service!r}, stack {stack!r} in {region}"
    tagging = client("resourcegroupstaggingapi", region)
    found: dict[str, dict[str, str]] = {}
    for page in tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": naming.TAG_SERVICE, "Values": [service]},
                        {"Key": naming.TAG_STACK, "Values": [stack]}],
            ResourceTypeFilters=["elasticloadbalancing:loadbalancer",
                                 "elasticloadbalancing:targetgroup"]):
        for mapping in page["ResourceTagMappingList"]:
            found[mapping["ResourceARN"]] = _tag_map(mapping.get("Tags", []))
    lbs = [arn for arn in found if ":loadbalancer/" in arn]
    if len(lbs) != 1:
        raise NotDeployedError(f"expected one load balancer tagged {where}, found {len(lbs)}")
    by_colour = {tags.get(naming.TAG_COLOUR): arn for arn, tags in found.items()
                 if ":targetgroup/" in arn}
    missing = [c for c in COLOURS if c not in by_colour]
    if missing:
        raise NotDeployedError(f"no target group tagged colour {missing[0]} for {where}")
    elb = client("elbv2", region)
    listeners = elb.describe_listeners(LoadBalancerArn=lbs[0])["Listeners"]
    forwarding = [lst for lst in listeners
                  if any(a["Type"] == "forward" for a in lst["DefaultActions"])]
    if len(forwarding) != 1:
        raise NotDeployedError(f"expected one forwarding listener for {where}, "
                               f"found {len(forwarding)}")
    return Deployment(region, service, stack, lbs[0], forwarding[0]["ListenerArn"],
                      {c: by_colour[c] for c in COLOURS}, forwarding[0]["DefaultActions"])


def asg_names(deployment: Deployment) -> dict[str, str]:
    """colour → ASG name, by the ASGs' tags."""
    autoscaling = client("autoscaling", deployment.region)
    names: dict[str, str] = {}
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
            Filters=[{"Name": f"tag:{naming.TAG_SERVICE}", "Values": [deployment.service]},
                     {"Name": f"tag:{naming.TAG_STACK}", "Values": [deployment.stack]}]):
        for group in page["AutoScalingGroups"]:
            colour = _tag_map(group.get("Tags", [])).get(naming.TAG_COLOUR)
            if colour in COLOURS:
                names[colour] = group["AutoScalingGroupName"]
    return names


def _weights_of(deployment: Deployment, actions: list[dict[str, Any]]) -> dict[str, int]:
    colour_of = {arn: c for c, arn in deployment.target_groups.items()}
    found = {c: 0 for c in COLOURS}
    for action in actions:
        if action["Type"] != "forward":
            continue
        config = action.get("ForwardConfig", {}).get("TargetGroups")
        if config is None:  # a plain forward to one group
            config = [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 100}]
        for group in config:
            colour = colour_of.get(group["TargetGroupArn"])
            if colour:
                found[colour] = int(group.get("Weight", 1))
    return found


def discovered_weights(deployment: Deployment) -> dict[str, int]:
    """The weights as read by :func:`discover` (no further call)."""
    return _weights_of(deployment, deployment.default_actions)


def weights(deployment: Deployment) -> dict[str, int]:
    """Current weights of the forwarding listener, by colour (read now)."""
    elb = client("elbv2", deployment.region)
    listener = elb.describe_listeners(ListenerArns=[deployment.listener_arn])["Listeners"][0]
    return _weights_of(deployment, listener["DefaultActions"])


def healthy(deployment: Deployment, colours: tuple[str, ...] = COLOURS) -> dict[str, int]:
    """Healthy targets per colour (of ``colours``)."""
    elb = client("elbv2", deployment.region)
    counts = {}
    for colour in colours:
        arn = deployment.target_groups[colour]
        states = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        counts[colour] = sum(1 for s in states if s["TargetHealth"]["State"] == "healthy")
    return counts


def set_weights(deployment: Deployment, split: Mapping[str, int]) -> None:
    """Move traffic: exactly one ModifyListener call."""
    elb = client("elbv2", deployment.region)
    elb.modify_listener(ListenerArn=deployment.listener_arn, DefaultActions=[{
        "Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": deployment.target_groups[c], "Weight": int(split[c])}
            for c in COLOURS]}}])


@dataclass(frozen=True)
class ColourHealth:
    """What the health gate counts for one colour."""

    healthy_targets: int  # targets the target group reports healthy
    instances: int  # the colour's ASG's instances
    in_service: int  # ... of which InService
    desired: int | None  # the ASG's desired capacity (None: no ASG)
    serving: int  # healthy targets that are in-service instances launched from ``image``


def colour_health(deployment: Deployment, colour: str, image: str | None) -> ColourHealth:
    """Count the instances that can take ``colour``'s traffic (three calls).

    A healthy target counts only when it is an in-service instance of that colour's ASG
    launched from that colour's image: stale registrations and foreign instances do not."""
    elb = client("elbv2", deployment.region)
    states = elb.describe_target_health(
        TargetGroupArn=deployment.target_groups[colour])["TargetHealthDescriptions"]
    healthy_ids = {s["Target"]["Id"] for s in states if s["TargetHealth"]["State"] == "healthy"}
    autoscaling = client("autoscaling", deployment.region)
    groups = autoscaling.describe_auto_scaling_groups(Filters=[
        {"Name": f"tag:{naming.TAG_SERVICE}", "Values": [deployment.service]},
        {"Name": f"tag:{naming.TAG_STACK}", "Values": [deployment.stack]},
        {"Name": f"tag:{naming.TAG_COLOUR}", "Values": [colour]}])["AutoScalingGroups"]
    members = [i for g in groups for i in g.get("Instances", [])]
    in_service = {i["InstanceId"] for i in members if i.get("LifecycleState") == "InService"}
    desired = sum(int(g["DesiredCapacity"]) for g in groups) if groups else None
    candidates = sorted(healthy_ids & in_service)
    serving = 0
    if candidates and image:
        ec2 = client("ec2", deployment.region)
        for reservation in ec2.describe_instances(InstanceIds=candidates)["Reservations"]:
            serving += sum(1 for inst in reservation["Instances"]
                           if inst["ImageId"] == image and inst["State"]["Name"] == "running")
    return ColourHealth(len(healthy_ids), len(members), len(in_service), desired, serving)
