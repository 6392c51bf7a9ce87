"""What is running: each colour's ASG, launch template image and instances; standby sizing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kiln.aws.clients import client
from kiln.model import naming


@dataclass(frozen=True)
class ColourState:
    asg: str
    template_image: str | None
    desired: int
    warm_pool: int | None
    instances: dict[str, str]  # instance id → AMI id (pending or running)


def colour_state(region: str, asg_name: str) -> ColourState:
    autoscaling = client("autoscaling", region)
    group = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
    template = group.get("LaunchTemplate") or {}
    image = None
    ec2 = client("ec2", region)
    if template:
        versions = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"],
            Versions=[str(template.get("Version", "$Default"))])["LaunchTemplateVersions"]
        image = versions[0]["LaunchTemplateData"].get("ImageId") if versions else None
    ids = [i["InstanceId"] for i in group.get("Instances", [])]
    instances: dict[str, str] = {}
    if ids:
        for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
            for inst in reservation["Instances"]:
                if inst["State"]["Name"] in ("pending", "running"):
                    instances[inst["InstanceId"]] = inst["ImageId"]
    warm = None
    if group.get("WarmPoolConfiguration"):
        warm = int(group["WarmPoolConfiguration"].get("MinSize", 0))
    return ColourState(asg_name, image, int(group["DesiredCapacity"]), warm, instances)


ALIVE = {"Name": "instance-state-name", "Values": ["pending", "running"]}


def _images(ec2: Any, **query: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in ec2.get_paginator("describe_instances").paginate(**query):
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                if inst["State"]["Name"] in ("pending", "running"):
                    found[inst["InstanceId"]] = inst["ImageId"]
    return found


def stack_subnets(region: str, service: str, stack: str) -> list[str]:
    """The subnets tagged for the stack (the program tags every subnet it creates)."""
    ec2 = client("ec2", region)
    subnets = ec2.describe_subnets(Filters=[
        {"Name": f"tag:{naming.TAG_SERVICE}", "Values": [service]},
        {"Name": f"tag:{naming.TAG_STACK}", "Values": [stack]}])["Subnets"]
    return [s["SubnetId"] for s in subnets]


def running_images(region: str, service: str, stack: str, *,
                   subnets: Iterable[str] = (), target_groups: Iterable[str] = ()
                   ) -> dict[str, str]:
    """instance id → AMI id of every running instance that belongs to the stack, tagged or
    not: tagged with the service and stack, in one of ``subnets``, or registered in one of
    ``target_groups``."""
    ec2 = client("ec2", region)
    found = _images(ec2, Filters=[
        {"Name": f"tag:{naming.TAG_SERVICE}", "Values": [service]},
        {"Name": f"tag:{naming.TAG_STACK}", "Values": [stack]}, ALIVE])
    subnet_ids = sorted(set(subnets))
    if subnet_ids:
        found.update(_images(ec2, Filters=[{"Name": "subnet-id", "Values": subnet_ids},
                                           ALIVE]))
    elb = client("elbv2", region)
    registered = {d["Target"]["Id"] for arn in target_groups
                  for d in elb.describe_target_health(TargetGroupArn=arn)
                  ["TargetHealthDescriptions"] if d["Target"]["Id"].startswith("i-")}
    missing = sorted(registered - set(found))
    if missing:
        found.update(_images(ec2, InstanceIds=missing))
    return found


def to_standby(region: str, asg_name: str, mode: str, capacity_max: int,
               pool_size: int) -> list[str]:
    """Bring an idle colour's ASG to its standby mode; idempotent. Returns calls made."""
    autoscaling = client("autoscaling", region)
    calls: list[str] = []
    if mode == "hot":
        return calls
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=asg_name, MinSize=0,
                                          DesiredCapacity=0, MaxSize=capacity_max)
    calls.append("UpdateAutoScalingGroup")
    if mode == "warm":
        # Stopped, initialised instances: started on rollback instead of launched.
        autoscaling.put_warm_pool(AutoScalingGroupName=asg_name, MinSize=pool_size,
                                  PoolState="Stopped")
        calls.append("PutWarmPool")
    return calls
