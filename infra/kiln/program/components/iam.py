"""Instance identity: a role EC2 can assume and its instance profile.

The role carries no policies: no SSM Session Manager, no Run Command, no Instance
Connect — nothing that would open a shell or a patch channel into a running instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from kiln.model import naming

EC2_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": "ec2.amazonaws.com"}}],
})


@dataclass(frozen=True)
class InstanceIdentityArgs:
    tags: dict[str, str]


class InstanceIdentity(pulumi.ComponentResource):
    role_name: pulumi.Output[str]
    profile_arn: pulumi.Output[str]

    def __init__(self, name: str, args: InstanceIdentityArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiln:iam:InstanceIdentity", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(naming.child(name, "role"), assume_role_policy=EC2_TRUST,
                            description="kiln instance role (no shell-access grants)",
                            tags=args.tags, opts=here)
        profile = aws.iam.InstanceProfile(naming.child(name, "profile"), role=role.name,
                                          tags=args.tags, opts=here)
        self.role_name = role.name
        self.profile_arn = profile.arn
        self.register_outputs({"roleName": self.role_name, "profileArn": self.profile_arn})
