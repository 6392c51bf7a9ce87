"""One case per bypass: a known-good resource with one field changed, and the exact set of
rules expected to fire. The same table runs against the rule functions and through the
policy server's gRPC protocol.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.policies import fixtures as fx

LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
SG = "aws:ec2/securityGroup:SecurityGroup"
SGR = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_IN = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ECR = "aws:ecr/repository:Repository"
ECS = "aws:ecs/taskDefinition:TaskDefinition"
LAMBDA = "aws:lambda/function:Function"
ASSOC = "aws:ssm/association:Association"
TASK = "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask"
DOC = "aws:ssm/document:Document"
ROLE = "aws:iam/role:Role"
KEY = "aws:ec2/keyPair:KeyPair"
INSTANCE = "aws:ec2/instance:Instance"
SPOT = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
LC = "aws:ec2/launchConfiguration:LaunchConfiguration"
EIC = "aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint"

SG_ADMIN = "kiln-ec2-securitygroup-no-admin-ingress"
SGR_ADMIN = "kiln-ec2-securitygrouprule-no-admin-ingress"
VPC_ADMIN = "kiln-vpc-securitygroupingressrule-no-admin-ingress"
SIGNED = "kiln-ec2-launchtemplate-signed-image"
REVOKED = "kiln-ec2-launchtemplate-image-not-revoked"
LT_USER_DATA = "kiln-ec2-launchtemplate-user-data-pinned"
IMDS = "kiln-ec2-launchtemplate-imdsv2-required"
PUBLIC_IP = "kiln-ec2-launchtemplate-no-public-ip"
EBS = "kiln-ec2-launchtemplate-ebs-encrypted"
LT_KEY = "kiln-ec2-launchtemplate-no-key-pair"
LT_IGNORE = "kiln-ec2-launchtemplate-no-ignore-changes"
CONTAINER = "kiln-ec2-launchtemplate-container-by-digest"
ASG_PINNED = "kiln-autoscaling-group-pinned-version"
ASG_LT = "kiln-autoscaling-group-launch-template-required"
ASG_ELB = "kiln-autoscaling-group-elb-health-check"
ASG_IGNORE = "kiln-autoscaling-group-no-ignore-changes"
ROLE_SHELL = "kiln-iam-role-no-shell-access"


@dataclass(frozen=True)
class Case:
    id: str
    type: str
    change: Callable[[dict[str, Any]], Any]
    expected: frozenset[str]
    ignore_changes: tuple[str, ...] = ()
    region: str = fx.REGION


def at(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a dotted path (list indexes as numbers) to ``value``."""
    def change(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = props
        for part in parents:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        target[int(last) if last.isdigit() else last] = value
    return change


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = props
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[int(last) if last.isdigit() else last]
    return change


def same(_: dict[str, Any]) -> None:
    return None


def case(id: str, type_: str, change: Callable[[dict[str, Any]], Any], *expected: str,
         ignore: tuple[str, ...] = (), region: str = fx.REGION) -> Case:
    return Case(id, type_, change, frozenset(expected), ignore, region)


def ingress(**rule: Any) -> Callable[[dict[str, Any]], None]:
    return at("ingress", [rule])


def retag(**tags: str) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        props["tags"].update(tags)
    return change


CASES = [
    # --- SSH/RDP through aws:ec2/securityGroup inline ingress -----------------------------
    case("sg-good", SG, same),
    case("sg-ssh-from-anywhere", SG, ingress(protocol="tcp", fromPort=22, toPort=22,
                                             cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-rdp", SG, ingress(protocol="tcp", fromPort=3389, toPort=3389,
                               cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-range-containing-22", SG, ingress(protocol="tcp", fromPort=0, toPort=1024,
                                               cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-range-containing-3389", SG, ingress(protocol="tcp", fromPort=3000, toPort=4000,
                                                 cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-range-not-containing", SG, ingress(protocol="tcp", fromPort=23, toPort=3388,
                                                cidrBlocks=["0.0.0.0/0"])),
    case("sg-protocol-minus-one", SG, ingress(protocol="-1", fromPort=0, toPort=0,
                                              cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-protocol-all", SG, ingress(protocol="all", fromPort=0, toPort=0,
                                        cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-numeric-tcp", SG, ingress(protocol="6", fromPort=22, toPort=22,
                                       cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-uppercase-tcp", SG, ingress(protocol="TCP", fromPort=22.0, toPort=22.0,
                                         cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-udp-rdp", SG, ingress(protocol="udp", fromPort=3389, toPort=3389,
                                   cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-numeric-udp-rdp", SG, ingress(protocol="17", fromPort=3389, toPort=3389,
                                           cidrBlocks=["0.0.0.0/0"]), SG_ADMIN),
    case("sg-udp-22-is-not-ssh", SG, ingress(protocol="udp", fromPort=22, toPort=22,
                                             cidrBlocks=["0.0.0.0/0"])),
    case("sg-icmp", SG, ingress(protocol="icmp", fromPort=22, toPort=22,
                                cidrBlocks=["0.0.0.0/0"])),
    case("sg-ipv6", SG, ingress(protocol="tcp", fromPort=22, toPort=22,
                                ipv6CidrBlocks=["::/0"]), SG_ADMIN),
    case("sg-private-cidr", SG, ingress(protocol="tcp", fromPort=22, toPort=22,
                                        cidrBlocks=["10.0.0.0/8"]), SG_ADMIN),
    case("sg-source-group", SG, ingress(protocol="tcp", fromPort=22, toPort=22,
                                        securityGroups=["sg-0aaaaaaaaaaaaaaaa"]), SG_ADMIN),
    case("sg-self", SG, ingress(protocol="tcp", fromPort=3389, toPort=3389, self=True),
         SG_ADMIN),
    case("sg-prefix-list", SG, ingress(protocol="tcp", fromPort=22, toPort=22,
                                       prefixListIds=["pl-0123456789"]), SG_ADMIN),
    case("sg-no-port-bounds", SG, ingress(protocol="tcp", cidrBlocks=["0.0.0.0/0"]),
         SG_ADMIN),
    case("sg-second-entry", SG, lambda p: p["ingress"].append(
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["1.2.3.4/32"]}),
        SG_ADMIN),
    case("sg-egress-22-is-fine", SG, at("egress", [{"protocol": "tcp", "fromPort": 22,
                                                    "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}])),
    # --- aws:ec2/securityGroupRule ---------------------------------------------------------
    case("sgr-good", SGR, same),
    case("sgr-ssh", SGR, lambda p: p.update(fromPort=22, toPort=22), SGR_ADMIN),
    case("sgr-egress-22", SGR, lambda p: p.update(type="egress", fromPort=22, toPort=22)),
    case("sgr-source-group-rdp", SGR, lambda p: p.update(
        fromPort=3389, toPort=3389, cidrBlocks=None,
        sourceSecurityGroupId="sg-0aaaaaaaaaaaaaaaa"), SGR_ADMIN),
    case("sgr-ipv6", SGR, lambda p: p.update(fromPort=22, toPort=22, cidrBlocks=None,
                                             ipv6CidrBlocks=["::/0"]), SGR_ADMIN),
    case("sgr-all-protocols", SGR, lambda p: p.update(protocol="-1", fromPort=0, toPort=0),
         SGR_ADMIN),
    case("sgr-numeric-range", SGR, lambda p: p.update(protocol="6", fromPort=20, toPort=25),
         SGR_ADMIN),
    # --- aws:vpc/securityGroupIngressRule --------------------------------------------------
    case("vpc-good", VPC_IN, same),
    case("vpc-ssh-cidr", VPC_IN, lambda p: p.update(
        fromPort=22, toPort=22, referencedSecurityGroupId=None, cidrIpv4="0.0.0.0/0"),
        VPC_ADMIN),
    case("vpc-ssh-ipv6", VPC_IN, lambda p: p.update(
        fromPort=22, toPort=22, referencedSecurityGroupId=None, cidrIpv6="::/0"), VPC_ADMIN),
    case("vpc-rdp-source-group", VPC_IN, lambda p: p.update(fromPort=3389, toPort=3389),
         VPC_ADMIN),
    case("vpc-prefix-list", VPC_IN, lambda p: p.update(
        fromPort=22, toPort=22, referencedSecurityGroupId=None, prefixListId="pl-0123"),
        VPC_ADMIN),
    case("vpc-all-traffic", VPC_IN, lambda p: (p.pop("fromPort"), p.pop("toPort"),
                                               p.update(ipProtocol="-1")), VPC_ADMIN),
    case("vpc-numeric-tcp", VPC_IN, lambda p: p.update(ipProtocol="6", fromPort=22,
                                                       toPort=22), VPC_ADMIN),
    case("vpc-full-range", VPC_IN, lambda p: p.update(fromPort=1, toPort=65535), VPC_ADMIN),
    # --- key pairs -------------------------------------------------------------------------
    case("keypair", KEY, same, "kiln-ec2-keypair-disallowed"),
    case("lt-key-name", LT, at("keyName", "ops"), LT_KEY),
    case("lt-empty-key-name", LT, at("keyName", "")),
    case("instance-key-name", INSTANCE, at("keyName", "ops"), "kiln-ec2-instance-disallowed",
         "kiln-ec2-instance-no-key-pair"),
    case("spot-key-name", SPOT, at("keyName", "ops"),
         "kiln-ec2-spotinstancerequest-disallowed", "kiln-ec2-instance-no-key-pair"),
    case("lc-key-name", LC, at("keyName", "ops"), "kiln-ec2-launchconfiguration-disallowed",
         "kiln-ec2-launchconfiguration-no-key-pair"),
    # --- user data -------------------------------------------------------------------------
    case("lt-good", LT, same),
    case("lt-user-data-patch", LT, at("userData", fx.b64(fx.PATCH)), LT_USER_DATA),
    case("lt-user-data-allow-listed", LT, at("userData", fx.b64(fx.BOOTSTRAP))),
    case("lt-user-data-allow-listed-wrapped", LT,
         at("userData", fx.b64(fx.BOOTSTRAP)[:20] + "\n" + fx.b64(fx.BOOTSTRAP)[20:])),
    case("lt-user-data-one-byte-off", LT, at("userData", fx.b64(fx.BOOTSTRAP + b"\n")),
         LT_USER_DATA),
    case("lt-user-data-not-base64", LT, at("userData", fx.PATCH.decode()), LT_USER_DATA),
    case("lt-user-data-empty", LT, at("userData", "")),
    case("instance-user-data-plain", INSTANCE, at("userData", fx.PATCH.decode()),
         "kiln-ec2-instance-disallowed", "kiln-ec2-instance-user-data-pinned"),
    case("instance-user-data-base64", INSTANCE, at("userDataBase64", fx.b64(fx.PATCH)),
         "kiln-ec2-instance-disallowed", "kiln-ec2-instance-user-data-pinned"),
    case("instance-user-data-allowed", INSTANCE, at("userData", fx.BOOTSTRAP.decode()),
         "kiln-ec2-instance-disallowed"),
    case("lc-user-data-base64", LC, at("userDataBase64", fx.b64(fx.PATCH)),
         "kiln-ec2-launchconfiguration-disallowed",
         "kiln-ec2-launchconfiguration-user-data-pinned"),
    case("lc-user-data-plain", LC, at("userData", fx.PATCH.decode()),
         "kiln-ec2-launchconfiguration-disallowed",
         "kiln-ec2-launchconfiguration-user-data-pinned"),
    # --- IMDSv2, public IPs, EBS encryption --------------------------------------------------
    case("lt-no-metadata-options", LT, drop("metadataOptions"), IMDS),
    case("lt-http-tokens-optional", LT, at("metadataOptions.httpTokens", "optional"), IMDS),
    case("lt-http-tokens-unset", LT, drop("metadataOptions.httpTokens"), IMDS),
    case("lt-public-ip-string", LT, at("networkInterfaces.0.associatePublicIpAddress", "true"),
         PUBLIC_IP),
    case("lt-public-ip-bool", LT, at("networkInterfaces.0.associatePublicIpAddress", True),
         PUBLIC_IP),
    case("lt-public-ip-upper", LT, at("networkInterfaces.0.associatePublicIpAddress", "TRUE"),
         PUBLIC_IP),
    case("lt-ebs-unencrypted", LT, at("blockDeviceMappings.0.ebs.encrypted", "false"), EBS),
    case("lt-ebs-encryption-unset", LT, drop("blockDeviceMappings.0.ebs.encrypted"), EBS),
    case("lt-no-block-devices", LT, drop("blockDeviceMappings"), EBS),
    case("lt-second-volume-unencrypted", LT, lambda p: p["blockDeviceMappings"].append(
        {"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 100}}), EBS),
    # --- pets ------------------------------------------------------------------------------
    case("instance", INSTANCE, same, "kiln-ec2-instance-disallowed"),
    case("spot-request", SPOT, same, "kiln-ec2-spotinstancerequest-disallowed"),
    case("launch-configuration", LC, same, "kiln-ec2-launchconfiguration-disallowed"),
    case("asg-launch-configuration", ASG, lambda p: (p.pop("launchTemplate"), p.update(
        launchConfiguration="web-lc")), ASG_LT),
    case("asg-no-template", ASG, drop("launchTemplate"), ASG_LT),
    # --- ASG version pinning and health ------------------------------------------------------
    case("asg-good", ASG, same),
    case("asg-latest", ASG, at("launchTemplate.version", "$Latest"), ASG_PINNED),
    case("asg-default", ASG, at("launchTemplate.version", "$Default"), ASG_PINNED),
    case("asg-latest-lowercase", ASG, at("launchTemplate.version", "$latest"), ASG_PINNED),
    case("asg-version-unset", ASG, drop("launchTemplate.version"), ASG_PINNED),
    case("asg-mixed-latest", ASG, lambda p: (p.pop("launchTemplate"), p.update(
        mixedInstancesPolicy={"launchTemplate": {"launchTemplateSpecification": {
            "launchTemplateId": "lt-0123", "version": "$Latest"}}})), ASG_PINNED),
    case("asg-mixed-override-default", ASG, lambda p: (p.pop("launchTemplate"), p.update(
        mixedInstancesPolicy={"launchTemplate": {
            "launchTemplateSpecification": {"launchTemplateId": "lt-0123", "version": "3"},
            "overrides": [{"instanceType": "t3.small", "launchTemplateSpecification": {
                "launchTemplateId": "lt-0456", "version": "$Default"}}]}})), ASG_PINNED),
    case("asg-ec2-health", ASG, at("healthCheckType", "EC2"), ASG_ELB),
    case("asg-health-unset", ASG, drop("healthCheckType"), ASG_ELB),
    # --- in-place change channels ------------------------------------------------------------
    case("assoc-inventory", ASSOC, same),
    case("assoc-run-shell", ASSOC, at("name", "AWS-RunShellScript"),
         "kiln-ssm-association-no-commands"),
    case("assoc-patch-baseline", ASSOC, at("name", "AWS-RunPatchBaseline"),
         "kiln-ssm-association-no-commands"),
    case("assoc-custom-document", ASSOC, at("name", "fix-nginx"),
         "kiln-ssm-association-no-commands"),
    case("task-lambda", TASK, same, "kiln-ssm-maintenancewindowtask-no-commands"),
    case("task-run-command", TASK, lambda p: p.update(taskType="RUN_COMMAND",
                                                      taskArn="AWS-RunShellScript"),
         "kiln-ssm-maintenancewindowtask-no-commands"),
    case("task-patch-automation", TASK, lambda p: p.update(
        taskType="AUTOMATION", taskArn="AWS-PatchInstanceWithRollback"),
        "kiln-ssm-maintenancewindowtask-no-commands"),
    case("task-run-command-parameters", TASK, at("taskInvocationParameters", {
        "runCommandParameters": {"comment": "x"}}),
        "kiln-ssm-maintenancewindowtask-no-commands"),
    case("document-automation", DOC, same),
    case("document-command", DOC, at("documentType", "Command"),
         "kiln-ssm-document-no-command-documents"),
    case("instance-connect-endpoint", EIC, same,
         "kiln-ec2-instanceconnectendpoint-disallowed"),
    case("role-good", ROLE, same),
    case("role-send-command", ROLE, at("inlinePolicies.0.policy",
                                       fx.iam_doc("ssm:SendCommand")), ROLE_SHELL),
    case("role-start-session-lowercase", ROLE, at("inlinePolicies.0.policy",
                                                  fx.iam_doc("SSM:startsession")), ROLE_SHELL),
    case("role-ssm-wildcard", ROLE, at("inlinePolicies.0.policy", fx.iam_doc("ssm:*")),
         ROLE_SHELL),
    case("role-prefix-wildcard", ROLE, at("inlinePolicies.0.policy", fx.iam_doc("ssm:Send*")),
         ROLE_SHELL),
    case("role-star", ROLE, at("inlinePolicies.0.policy", fx.iam_doc("*")), ROLE_SHELL),
    case("role-not-action", ROLE, at("inlinePolicies.0.policy",
                                     fx.iam_doc("iam:*", not_action=True)), ROLE_SHELL),
    case("role-instance-connect", ROLE, at("inlinePolicies.0.policy", fx.iam_doc(
        "ec2-instance-connect:SendSSHPublicKey")), ROLE_SHELL),
    case("role-managed-ssm-core", ROLE, at("managedPolicyArns", [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]), ROLE_SHELL),
    case("role-not-ec2", ROLE, lambda p: p.update(
        assumeRolePolicy=p["assumeRolePolicy"].replace("ec2.amazonaws.com",
                                                       "lambda.amazonaws.com"),
        inlinePolicies=[{"name": "ops", "policy": fx.iam_doc("ssm:*")}]),
         "kiln-iam-role-no-command-channel"),
    # --- ignoreChanges -----------------------------------------------------------------------
    case("lt-ignore-image", LT, same, LT_IGNORE, ignore=("imageId",)),
    case("lt-ignore-user-data", LT, same, LT_IGNORE, ignore=("userData",)),
    case("lt-ignore-snake-case", LT, same, LT_IGNORE, ignore=("image_id",)),
    case("lt-ignore-everything", LT, same, LT_IGNORE, ignore=("*",)),
    case("lt-ignore-tags-is-fine", LT, same, ignore=("tags",)),
    case("asg-ignore-template", ASG, same, ASG_IGNORE, ignore=("launchTemplate",)),
    case("asg-ignore-template-version", ASG, same, ASG_IGNORE,
         ignore=("launchTemplate.version",)),
    case("asg-ignore-desired-is-fine", ASG, same, ignore=("desiredCapacity",)),
    # --- registries and digests --------------------------------------------------------------
    case("ecr-good", ECR, same),
    case("ecr-mutable", ECR, at("imageTagMutability", "MUTABLE"),
         "kiln-ecr-repository-immutable-tags"),
    case("ecr-mutability-unset", ECR, drop("imageTagMutability"),
         "kiln-ecr-repository-immutable-tags"),
    case("ecr-immutable-with-exclusion", ECR, at("imageTagMutability",
                                                 "IMMUTABLE_WITH_EXCLUSION"),
         "kiln-ecr-repository-immutable-tags"),
    case("ecr-no-scan", ECR, at("imageScanningConfiguration.scanOnPush", False),
         "kiln-ecr-repository-scan-on-push"),
    case("ecr-scan-unset", ECR, drop("imageScanningConfiguration"),
         "kiln-ecr-repository-scan-on-push"),
    case("lt-container-by-tag", LT, retag(**{"kiln:container": "registry.example.com/web:1.0"}),
         CONTAINER),
    case("lt-container-by-digest", LT, retag(**{
        "kiln:container": "registry.example.com/web@sha256:" + "0f" * 32})),
    case("ecs-good", ECS, same),
    case("ecs-by-tag", ECS, at("containerDefinitions", json.dumps([
        {"name": "app", "image": "registry.example.com/web@sha256:" + "ef" * 32},
        {"name": "sidecar", "image": "registry.example.com/proxy:latest"}])),
        "kiln-ecs-taskdefinition-image-by-digest"),
    case("lambda-good", LAMBDA, same),
    case("lambda-by-tag", LAMBDA, at("imageUri", "registry.example.com/fn:2"),
         "kiln-lambda-function-image-by-digest"),
    case("lambda-zip", LAMBDA, lambda p: (p.pop("imageUri"), p.update(packageType="Zip"))),
    # --- signatures and revocation -----------------------------------------------------------
    case("sig-ecdsa-der", LT, retag(**{"kiln:signature": fx.sign(fx.statement(), fx.EC_KEY)})),
    # ECDSA is DER only, as kiln signs and verifies it: 64 raw bytes r || s are refused.
    case("sig-ecdsa-raw", LT, retag(**{"kiln:signature": fx.raw_ecdsa(fx.statement())}),
         SIGNED),
    case("sig-forged", LT, retag(**{"kiln:signature": fx.sign(fx.statement(fx.OTHER_IMAGE))}),
         SIGNED),
    case("sig-garbage", LT, retag(**{"kiln:signature": fx.b64(b"\0" * 64)}), SIGNED),
    case("sig-unknown-key", LT, retag(**{"kiln:signature": fx.sign(fx.statement(),
                                                                   fx.STRANGER)}), SIGNED),
    case("sig-missing", LT, lambda p: p["tags"].pop("kiln:signature"), SIGNED),
    case("sig-not-base64", LT, retag(**{"kiln:signature": "not base64!"}), SIGNED),
    case("sig-retagged-image", LT, at("imageId", fx.OTHER_IMAGE), SIGNED),
    case("sig-wrong-release", LT, retag(**{"kiln:release": "sha256:" + "99" * 32}), SIGNED),
    case("sig-release-not-digest", LT, retag(**{"kiln:release": "v1.2.3"}), SIGNED),
    case("sig-release-trailing-newline", LT, retag(**{"kiln:release": fx.RELEASE + "\n"}),
         SIGNED),
    case("sig-image-with-newline", LT, lambda p: (
        p.update(imageId=fx.IMAGE + "\n"), p["tags"].update({"kiln:image": fx.IMAGE + "\n"})),
         SIGNED),
    case("sig-other-region", LT, same, SIGNED, region="eu-central-1"),
    case("revoked-image", LT, lambda p: (p.update(imageId=fx.REVOKED_IMAGE), p["tags"].update(
        fx.lt_tags(image=fx.REVOKED_IMAGE))), REVOKED),
    case("revoked-release", LT, lambda p: p["tags"].update(
        fx.lt_tags(release=fx.REVOKED_RELEASE, signature=fx.sign(fx.statement(
            release=fx.REVOKED_RELEASE))) | {"kiln:image": fx.IMAGE}), REVOKED),
]
