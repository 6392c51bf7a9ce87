"""Known-good resources (engine props, as the program registers them), signing keys and the
pack config the rule tests run with. Each case elsewhere changes one field of one of these.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from kiln_immutable import contract

REGION = "eu-west-1"
IMAGE = "ami-0123456789abcdef0"
OTHER_IMAGE = "ami-0fedcba9876543210"
RELEASE = "sha256:" + "ab" * 32
REVOKED_IMAGE = "ami-0badbadbadbadbad0"
REVOKED_RELEASE = "sha256:" + "cd" * 32
BOOTSTRAP = b"#!/bin/sh\nexec /opt/app/start --config /etc/app.json\n"
PATCH = b"#!/bin/sh\nyum update -y && systemctl restart app\n"


def _pem(key: Any) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


ED_KEY = ed25519.Ed25519PrivateKey.generate()
EC_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER = ed25519.Ed25519PrivateKey.generate()  # a valid key nobody trusts
TRUSTED = [{"id": "test-ed25519", "type": "ed25519", "publicKey": _pem(ED_KEY)},
           {"id": "test-p256", "type": "ecdsa-p256", "publicKey": _pem(EC_KEY)}]


def statement(image: str = IMAGE, region: str = REGION, release: str = RELEASE) -> bytes:
    return contract.statement(contract.KIND_AMI, image, region, release)


def sign(message: bytes, key: Any = ED_KEY) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return base64.b64encode(key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()
    return base64.b64encode(key.sign(message)).decode()


def raw_ecdsa(message: bytes) -> str:
    """An ECDSA signature as 64 raw bytes r || s (the JOSE form) instead of DER."""
    der = base64.b64decode(sign(message, EC_KEY))
    r, s = decode_dss_signature(der)
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CONFIG: dict[str, dict[str, Any]] = {
    "kiln-ec2-launchtemplate-signed-image": {"trustedKeys": TRUSTED},
    "kiln-ec2-launchtemplate-image-not-revoked": {"revoked": [
        {"image": REVOKED_IMAGE, "reason": "CVE-2026-0001 in the base image"},
        {"release": REVOKED_RELEASE, "reason": "built from a compromised runner"}]},
    **{rule: {"allowedUserDataSha256": [hashlib.sha256(BOOTSTRAP).hexdigest()]}
       for rule in ("kiln-ec2-launchtemplate-user-data-pinned",
                    "kiln-ec2-instance-user-data-pinned",
                    "kiln-ec2-launchconfiguration-user-data-pinned")},
}


def lt_tags(image: str = IMAGE, release: str = RELEASE, signature: str | None = None
            ) -> dict[str, str]:
    return {"kiln:service": "web", "kiln:stack": "test", "kiln:colour": "blue",
            "kiln:image": image, "kiln:release": release,
            "kiln:signature": signature if signature is not None else sign(statement(image)),
            "kiln:container": "none"}


GOOD: dict[str, dict[str, Any]] = {
    "aws:ec2/launchTemplate:LaunchTemplate": {
        "imageId": IMAGE, "instanceType": "t3.micro",
        "iamInstanceProfile": {"arn": "arn:aws:iam::123456789012:instance-profile/web"},
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required",
                            "httpPutResponseHopLimit": 1.0},
        "networkInterfaces": [{"associatePublicIpAddress": "false",
                               "securityGroups": ["sg-0123456789abcdef0"]}],
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
            "encrypted": "true", "volumeSize": 20.0, "volumeType": "gp3"}}],
        "tags": lt_tags(),
    },
    "aws:autoscaling/group:Group": {
        "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "1"},
        "minSize": 1.0, "maxSize": 2.0, "desiredCapacity": 1.0, "healthCheckType": "ELB",
        "vpcZoneIdentifiers": ["subnet-0123456789abcdef0"],
        "tags": [{"key": "kiln:colour", "value": "blue", "propagateAtLaunch": True}],
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        "vpcId": "vpc-0123456789abcdef0", "description": "alb",
        "ingress": [{"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0,
                     "cidrBlocks": ["0.0.0.0/0"]}],
        "egress": [{"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0,
                    "cidrBlocks": ["10.0.0.0/8"]}],
    },
    "aws:ec2/securityGroupRule:SecurityGroupRule": {
        "type": "ingress", "protocol": "tcp", "fromPort": 443.0, "toPort": 443.0,
        "cidrBlocks": ["0.0.0.0/0"], "securityGroupId": "sg-0123456789abcdef0",
    },
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {
        "securityGroupId": "sg-0123456789abcdef0", "ipProtocol": "tcp", "fromPort": 8080.0,
        "toPort": 8080.0, "referencedSecurityGroupId": "sg-0fedcba9876543210",
    },
    "aws:ecr/repository:Repository": {
        "imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True},
    },
    "aws:ecs/taskDefinition:TaskDefinition": {
        "family": "web", "containerDefinitions": json.dumps([
            {"name": "app", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:"
                                     + "ef" * 32}]),
    },
    "aws:lambda/function:Function": {"packageType": "Image", "imageUri":
                                     "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn@sha256:"
                                     + "01" * 32, "role": "arn:aws:iam::123456789012:role/fn"},
    "aws:ssm/association:Association": {"name": "AWS-GatherSoftwareInventory"},
    "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": {
        "windowId": "mw-0123456789abcdef0", "taskType": "LAMBDA",
        "taskArn": "arn:aws:lambda:eu-west-1:123456789012:function:report"},
    "aws:ssm/document:Document": {"documentType": "Automation", "content": "{}"},
    "aws:iam/role:Role": {
        "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "ec2.amazonaws.com"}}]}),
        "inlinePolicies": [{"name": "read", "policy": json.dumps({"Statement": [{
            "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]})}],
    },
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": {
        "vpcId": "vpc-0123456789abcdef0", "ingress": [],
        "egress": [{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0,
                    "cidrBlocks": ["0.0.0.0/0"]}]},
    "aws-native:ec2:SecurityGroup": {
        "groupDescription": "alb", "vpcId": "vpc-0123456789abcdef0",
        "securityGroupIngress": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                                  "cidrIp": "0.0.0.0/0"}]},
    "aws-native:ec2:SecurityGroupIngress": {
        "groupId": "sg-0123456789abcdef0", "ipProtocol": "tcp", "fromPort": 443,
        "toPort": 443, "cidrIp": "0.0.0.0/0"},
    "aws:ec2/networkAcl:NetworkAcl": {
        "vpcId": "vpc-0123456789abcdef0", "ingress": [
            {"ruleNo": 100.0, "action": "allow", "protocol": "tcp", "fromPort": 443.0,
             "toPort": 443.0, "cidrBlock": "0.0.0.0/0"},
            {"ruleNo": 110.0, "action": "deny", "protocol": "-1", "fromPort": 0.0,
             "toPort": 0.0, "cidrBlock": "0.0.0.0/0"}]},
    "aws:ec2/networkAclRule:NetworkAclRule": {
        "networkAclId": "acl-0123456789abcdef0", "ruleNumber": 100.0, "egress": False,
        "protocol": "tcp", "ruleAction": "allow", "cidrBlock": "0.0.0.0/0",
        "fromPort": 443.0, "toPort": 443.0},
    "aws:cloudformation/stack:Stack": {
        "name": "topics", "templateBody": json.dumps(
            {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})},
    "aws:ssm/serviceSetting:ServiceSetting": {
        "settingId": "arn:aws:ssm:eu-west-1:123456789012:servicesetting/ssm/"
                     "parameter-store/high-throughput-enabled", "settingValue": "true"},
    "aws:cloudwatch/eventTarget:EventTarget": {
        "rule": "nightly", "arn": "arn:aws:lambda:eu-west-1:123456789012:function:report"},
    "aws:scheduler/schedule:Schedule": {
        "scheduleExpression": "rate(1 day)", "flexibleTimeWindow": {"mode": "OFF"},
        "target": {"arn": "arn:aws:lambda:eu-west-1:123456789012:function:report",
                   "roleArn": "arn:aws:iam::123456789012:role/scheduler"}},
    "aws:ecs/service:Service": {
        "cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/web", "desiredCount": 2.0,
        "taskDefinition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3",
        "enableExecuteCommand": False},
    "command:local:Command": {"create": "echo built > marker"},
    # Types that are violations whatever their fields: the base is the minimal resource.
    "command:remote:Command": {"connection": {"host": "10.0.1.5", "user": "ec2-user"},
                               "create": "sudo systemctl restart app"},
    "aws:ec2/spotFleetRequest:SpotFleetRequest": {
        "iamFleetRole": "arn:aws:iam::123456789012:role/fleet", "targetCapacity": 2.0},
    "aws:ec2/fleet:Fleet": {"targetCapacitySpecification": {"totalTargetCapacity": 2.0}},
    "aws:lightsail/instance:Instance": {"availabilityZone": "eu-west-1a",
                                        "blueprintId": "amazon_linux_2", "bundleId": "nano_2_0"},
    "aws-native:ec2:Instance": {"imageId": IMAGE, "instanceType": "t3.micro"},
    "aws:ec2/keyPair:KeyPair": {"keyName": "ops", "publicKey": "ssh-ed25519 AAAA"},
    "aws:ec2/instance:Instance": {"ami": IMAGE, "instanceType": "t3.micro"},
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest": {"ami": IMAGE,
                                                        "instanceType": "t3.micro"},
    "aws:ec2/launchConfiguration:LaunchConfiguration": {"imageId": IMAGE,
                                                        "instanceType": "t3.micro"},
    "aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint": {
        "subnetId": "subnet-0123456789abcdef0"},
}


def good(type_: str) -> dict[str, Any]:
    return copy.deepcopy(GOOD[type_])


def iam_doc(*actions: str, not_action: bool = False) -> str:
    key = "NotAction" if not_action else "Action"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", key: list(actions), "Resource": "*"}]})
