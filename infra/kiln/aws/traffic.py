"""Find a deployed stack's load balancer, listener and colours by tags; read target
health; move traffic with one ModifyListener call.

Resources are found by kiln's tags (``kiln:service``, ``kiln:stack``, ``kiln:colour``,
``kiln:role``), never by names, so operations work on whatever `pulumi up` named them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiln import naming
from kiln.aws.clients import client
from kiln.errors import OperationError
from kiln.settings import COLOURS


class NotDeployedError(OperationError):
    """The stack's resources are not where its tags say (message is one line)."""


@dataclass(frozen=True)
class Deployment:
    region: str
    load_balancer_arn: str
    listener_arn: str
    target_groups: dict[str, str]  # colour → ARN
    asg_names: dict[str, str]  # colour → name


def _tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def _tagged(elb: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
        for desc in elb.describe_tags(ResourceArns=arns[start:start + 20])["TagDescriptions"]:
            found[desc["ResourceArn"]] = _tag_map(desc.get("Tags", []))
    return found


def _mine(tags: Mapping[str, str], service: str, stack: str) -> bool:
    return tags.get(naming.TAG_SERVICE) == service and tags.get(naming.TAG_STACK) == stack


def discover(region: str, service: str, stack: str) -> Deployment:
    """Locate the stack's ALB, forwarding listener, target groups and ASGs by tags."""
    elb = client("elbv2", region)
    where = f"service {service!r}, stack {stack!r} in {region}"
    lbs = [lb["LoadBalancerArn"] for page in elb.get_paginator(
        "describe_load_balancers").paginate() for lb in page["LoadBalancers"]]
    mine = [arn for arn, tags in _tagged(elb, lbs).items() if _mine(tags, service, stack)]
    if len(mine) != 1:
        raise NotDeployedError(f"expected one load balancer tagged {where}, found {len(mine)}")
    listeners = elb.describe_listeners(LoadBalancerArn=mine[0])["Listeners"]
    forwarding = [lst["ListenerArn"] for lst in listeners
                  if any(a["Type"] == "forward" for a in lst["DefaultActions"])]
    if len(forwarding) != 1:
        raise NotDeployedError(f"expected one forwarding listener for {where}, "
                               f"found {len(forwarding)}")
    groups = [tg["TargetGroupArn"] for page in elb.get_paginator(
        "describe_target_groups").paginate(LoadBalancerArn=mine[0])
        for tg in page["TargetGroups"]]
    by_colour = {tags.get(naming.TAG_COLOUR): arn for arn, tags in _tagged(elb, groups).items()
                 if _mine(tags, service, stack)}
    missing = [c for c in COLOURS if c not in by_colour]
    if missing:
        raise NotDeployedError(f"no target group tagged colour {missing[0]} for {where}")
    return Deployment(region, mine[0], forwarding[0], {c: by_colour[c] for c in COLOURS},
                      _asgs(region, service, stack))


def _asgs(region: str, service: str, stack: str) -> dict[str, str]:
    autoscaling = client("autoscaling", region)
    names: dict[str, str] = {}
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
            Filters=[{"Name": f"tag:{naming.TAG_SERVICE}", "Values": [service]},
                     {"Name": f"tag:{naming.TAG_STACK}", "Values": [stack]}]):
        for group in page["AutoScalingGroups"]:
            colour = _tag_map(group.get("Tags", [])).get(naming.TAG_COLOUR)
            if colour in COLOURS:
                names[colour] = group["AutoScalingGroupName"]
    return names


def weights(deployment: Deployment) -> dict[str, int]:
    """Current weights of the forwarding listener, by colour."""
    elb = client("elbv2", deployment.region)
    listener = elb.describe_listeners(ListenerArns=[deployment.listener_arn])["Listeners"][0]
    colour_of = {arn: c for c, arn in deployment.target_groups.items()}
    found = {c: 0 for c in COLOURS}
    for action in listener["DefaultActions"]:
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


def healthy(deployment: Deployment) -> dict[str, int]:
    """Healthy targets per colour."""
    elb = client("elbv2", deployment.region)
    counts = {}
    for colour, arn in deployment.target_groups.items():
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
