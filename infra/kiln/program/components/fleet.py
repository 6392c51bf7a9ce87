"""Fleet: one colour of a blue/green service — target group, launch template, ASG.

A new image is a new fleet: the launch template is replaced (never updated) when its image
or user data changes, and the ASG is replaced when its template changes, so instances are
never patched or refreshed in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from kiln.model import naming
from kiln.model.stack import Release, Service
from kiln.model.topology import ColourCapacity

ROOT_DEVICE = "/dev/xvda"
HEALTH_GRACE_SECONDS = 60
# How long `pulumi up` waits for the fleet's healthy targets before failing the update.
CAPACITY_TIMEOUT = "15m"


@dataclass(frozen=True)
class FleetArgs:
    colour: str
    service: Service
    release: Release
    capacity: ColourCapacity
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    tags: dict[str, str]
    container: pulumi.Input[str | None] = None


def release_tags(args: FleetArgs) -> dict[str, pulumi.Input[str]]:
    """Tags naming what a colour runs; the policy pack verifies the signature from them."""
    tags: dict[str, pulumi.Input[str]] = {
        **args.tags,
        naming.TAG_IMAGE: args.release.image,
        naming.TAG_RELEASE: args.release.record,
        naming.TAG_SIGNATURE: args.release.signature,
    }
    if args.container is not None:
        container: pulumi.Output[str | None] = pulumi.Output.from_input(args.container)
        tags[naming.TAG_CONTAINER] = container.apply(lambda ref: ref or "none")
    return tags


class Fleet(pulumi.ComponentResource):
    target_group_arn: pulumi.Output[str]
    asg_name: pulumi.Output[str]
    asg: aws.autoscaling.Group
    launch_template: aws.ec2.LaunchTemplate

    def __init__(self, name: str, args: FleetArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiln:fleet:Fleet", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        svc = args.service
        target_group = aws.lb.TargetGroup(
            naming.child(name, "tg"), vpc_id=args.vpc_id, port=svc.port, protocol="HTTP",
            target_type="instance", deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=svc.health_path, port="traffic-port", protocol="HTTP", matcher="200",
                interval=10, timeout=5, healthy_threshold=2, unhealthy_threshold=2),
            tags=args.tags, opts=here)
        tags = release_tags(args)
        self.launch_template = aws.ec2.LaunchTemplate(
            naming.child(name, "lt"),
            image_id=args.release.image,
            instance_type=svc.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(
                arn=args.instance_profile_arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required",
                http_put_response_hop_limit=1, instance_metadata_tags="enabled"),
            network_interfaces=[aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                associate_public_ip_address="false", delete_on_termination="true",
                security_groups=[args.security_group_id])],
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE, ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    encrypted="true", volume_size=svc.root_volume_gb, volume_type="gp3",
                    delete_on_termination="true"))],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume")],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self,
                                        replace_on_changes=["image_id", "user_data"]))
        cap = args.capacity
        self.asg = aws.autoscaling.Group(
            naming.child(name, "asg"),
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id,
                # Pinned to the exact version created with this image, never $Latest.
                version=self.launch_template.latest_version.apply(str)),
            min_size=cap.min, desired_capacity=cap.desired, max_size=cap.max,
            vpc_zone_identifiers=args.subnet_ids,
            target_group_arns=[target_group.arn],
            health_check_type="ELB", health_check_grace_period=HEALTH_GRACE_SECONDS,
            wait_for_elb_capacity=cap.wait_for_elb,
            wait_for_capacity_timeout=CAPACITY_TIMEOUT,
            warm_pool=(aws.autoscaling.GroupWarmPoolArgs(
                pool_state="Stopped", min_size=cap.warm_pool,
                max_group_prepared_capacity=cap.max) if cap.warm_pool is not None else None),
            termination_policies=["OldestLaunchTemplate", "OldestInstance"],
            tags=[aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                  for k, v in tags.items()],
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["launch_template"],
                                        delete_before_replace=False))
        self.target_group_arn = target_group.arn
        self.asg_name = self.asg.name
        self.register_outputs({"targetGroupArn": self.target_group_arn,
                               "asgName": self.asg_name,
                               "launchTemplateId": self.launch_template.id})
