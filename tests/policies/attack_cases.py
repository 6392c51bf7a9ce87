"""The attacker's cases: each is a known-good resource with one field changed, aimed at a blind
spot of a pack that lists known bad things — enrolment instead of operator actions, other
command channels, other types and providers that hold ingress or launch instances, and other
spellings of the same thing. ``ALL`` is every case of the rule table."""

from __future__ import annotations

import json
from typing import Any

from tests.policies import fixtures as fx
from tests.policies.cases import (
    ASG,
    ASG_IGNORE,
    CASES,
    DOC,
    LT,
    LT_IGNORE,
    ROLE,
    ROLE_SHELL,
    TASK,
    at,
    case,
    same,
)

SG_ADMIN = "kiln-ec2-securitygroup-no-admin-ingress"
NATIVE_SG_ADMIN = "kiln-awsnative-securitygroup-no-admin-ingress"
NACL_ADMIN = "kiln-ec2-networkacl-no-admin-ingress"
NACL_RULE_ADMIN = "kiln-ec2-networkaclrule-no-admin-ingress"
CFN = "kiln-cloudformation-stack-no-admin-ingress"
HOST_MANAGEMENT = "kiln-ssm-servicesetting-no-host-management"
EVENT = "kiln-cloudwatch-eventtarget-no-commands"
SCHEDULE = "kiln-scheduler-schedule-no-commands"
ECS_EXEC = "kiln-ecs-service-no-execute-command"
REMOTE = "kiln-command-remote-disallowed"
LOCAL = "kiln-command-local-no-instance-channel"
COMMAND_ROLE = "kiln-iam-role-no-command-channel"
FLEET = "kiln-ec2-fleet-disallowed"
LIGHTSAIL = "kiln-lightsail-instance-disallowed"
NATIVE_INSTANCE = "kiln-awsnative-instance-disallowed"
DOCUMENT = "kiln-ssm-document-no-command-documents"
WINDOW_TASK = "kiln-ssm-maintenancewindowtask-no-commands"

DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
NATIVE_SG = "aws-native:ec2:SecurityGroup"
NATIVE_IN = "aws-native:ec2:SecurityGroupIngress"
NACL = "aws:ec2/networkAcl:NetworkAcl"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
STACK = "aws:cloudformation/stack:Stack"
SETTING = "aws:ssm/serviceSetting:ServiceSetting"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SCHED = "aws:scheduler/schedule:Schedule"
ECS_SERVICE = "aws:ecs/service:Service"
REMOTE_CMD = "command:remote:Command"
LOCAL_CMD = "command:local:Command"
SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
EC2_FLEET = "aws:ec2/fleet:Fleet"
LIGHTSAIL_INSTANCE = "aws:lightsail/instance:Instance"
NATIVE_EC2 = "aws-native:ec2:Instance"
LAMBDA_TRUST = json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                          "Principal": {"Service": "lambda.amazonaws.com"}}]})


def inline(doc: str) -> Any:
    return at("inlinePolicies.0.policy", doc)


def raw_doc(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statement})


def lambda_role(doc: str | None = None, managed: list[str] | None = None) -> Any:
    def change(props: dict[str, Any]) -> None:
        props["assumeRolePolicy"] = LAMBDA_TRUST
        if doc is not None:
            props["inlinePolicies"] = [{"name": "ops", "policy": doc}]
        if managed is not None:
            props["managedPolicyArns"] = managed
    return change


def template(resources: dict[str, Any]) -> str:
    return json.dumps({"Resources": resources})


SSH_SG = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
    "GroupDescription": "x", "SecurityGroupIngress": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"}]}}
YAML_TEMPLATE = """Resources:
  Ssh:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !Ref Group
      IpProtocol: "6"
      FromPort: 0
      ToPort: 1024
      CidrIp: !Sub "${Cidr}"
"""
MANAGED = "arn:aws:iam::aws:policy/"

ATTACKS = [
    # --- Session Manager by enrolment: the instance role registers with Systems Manager -----
    case("role-update-instance-information", ROLE, inline(fx.iam_doc(
        "ssm:UpdateInstanceInformation")), ROLE_SHELL),
    case("role-ssmmessages-wildcard", ROLE, inline(fx.iam_doc("ssmmessages:*")), ROLE_SHELL),
    case("role-ec2messages", ROLE, inline(fx.iam_doc("ec2messages:GetMessages")), ROLE_SHELL),
    case("role-not-action-ssm-only", ROLE, inline(fx.iam_doc("ssm:*", not_action=True)),
         ROLE_SHELL),
    case("role-uppercase-service", ROLE, inline(fx.iam_doc("SSM:SendCommand")), ROLE_SHELL),
    case("role-infix-wildcard", ROLE, inline(fx.iam_doc("ssm:*Command")), ROLE_SHELL),
    case("role-question-mark", ROLE, inline(fx.iam_doc("ssm:SendComman?")), ROLE_SHELL),
    case("role-trailing-newline", ROLE, inline(fx.iam_doc("ssm:SendCommand\n")), ROLE_SHELL),
    case("role-action-as-string", ROLE, inline(raw_doc(
        [{"Effect": "Allow", "Action": "ssmmessages:CreateControlChannel", "Resource": "*"}])),
         ROLE_SHELL),
    case("role-statement-as-object", ROLE, inline(raw_doc(
        {"Effect": "Allow", "Action": ["ssm:UpdateInstanceInformation"], "Resource": "*"})),
         ROLE_SHELL),
    case("role-deny-is-fine", ROLE, inline(raw_doc(
        [{"Effect": "Deny", "Action": ["ssm:*"], "Resource": "*"}]))),
    case("role-trust-uppercase-service", ROLE, lambda p: (
        p.update(assumeRolePolicy=p["assumeRolePolicy"].replace("ec2.", "EC2.")),
        inline(fx.iam_doc("ssm:*"))(p)), ROLE_SHELL),
    case("role-managed-default-instance-policy", ROLE, at("managedPolicyArns", [
        MANAGED + "AmazonSSMManagedEC2InstanceDefaultPolicy"]), ROLE_SHELL),
    case("role-managed-service-role-path", ROLE, at("managedPolicyArns", [
        MANAGED + "service-role/AmazonEC2RoleforSSM"]), ROLE_SHELL),
    case("role-managed-other-partition", ROLE, at("managedPolicyArns", [
        "arn:aws-us-gov:iam::aws:policy/AmazonSSMManagedInstanceCore"]), ROLE_SHELL),
    # --- any other role that can send commands is a command channel ---------------------------
    case("lambda-role-send-command", ROLE, lambda_role(fx.iam_doc("ssm:SendCommand")),
         COMMAND_ROLE),
    case("lambda-role-automation", ROLE, lambda_role(fx.iam_doc(
        "ssm:StartAutomationExecution")), COMMAND_ROLE),
    case("lambda-role-managed-ssm-full", ROLE, lambda_role(managed=[
        MANAGED + "AmazonSSMFullAccess"]), COMMAND_ROLE),
    case("lambda-role-reads-s3-is-fine", ROLE, lambda_role(fx.iam_doc("s3:GetObject"))),
    # --- the account's default host management setting enrols every instance -----------------
    case("setting-good", SETTING, same),
    case("setting-host-management", SETTING, at(
        "settingId", "arn:aws:ssm:eu-west-1:123456789012:servicesetting/ssm/managed-instance/"
                     "default-ec2-instance-management-role"), HOST_MANAGEMENT),
    case("setting-host-management-by-path", SETTING, at(
        "settingId", "/SSM/Managed-Instance/Default-EC2-Instance-Management-Role"),
         HOST_MANAGEMENT),
    # --- other command channels -------------------------------------------------------------
    case("target-good", TARGET, same),
    case("target-run-command", TARGET, at("runCommandTargets", [
        {"key": "tag:kiln:service", "values": ["web"]}]), EVENT),
    case("target-ssm-document", TARGET, at(
        "arn", "arn:aws:ssm:eu-west-1::document/AWS-RunShellScript"), EVENT),
    case("target-automation", TARGET, at(
        "arn", "arn:aws:ssm:eu-west-1:123456789012:automation-definition/fix:$DEFAULT"), EVENT),
    case("schedule-good", SCHED, same),
    case("schedule-send-command", SCHED, at("target.arn",
                                            "arn:aws:scheduler:::aws-sdk:ssm:sendCommand"),
         SCHEDULE),
    case("schedule-automation", SCHED, at(
        "target.arn", "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution"), SCHEDULE),
    case("schedule-instance-connect", SCHED, at(
        "target.arn", "arn:aws:scheduler:::aws-sdk:ec2instanceconnect:sendSSHPublicKey"),
         SCHEDULE),
    case("ecs-service-good", ECS_SERVICE, same),
    case("ecs-service-exec", ECS_SERVICE, at("enableExecuteCommand", True), ECS_EXEC),
    case("ecs-service-exec-string", ECS_SERVICE, at("enableExecuteCommand", "TRUE"), ECS_EXEC),
    case("document-automation-run-command", DOC, at("content", json.dumps(
        {"schemaVersion": "0.3", "mainSteps": [{"name": "x", "action": "aws:runCommand"}]})),
         DOCUMENT),
    case("document-automation-yaml-shell", DOC, at(
        "content", "schemaVersion: '0.3'\nmainSteps:\n- name: x\n  action: aws:RunShellScript\n"),
         DOCUMENT),
    case("document-automation-api-send-command", DOC, at("content", json.dumps(
        {"mainSteps": [{"action": "aws:executeAwsApi",
                        "inputs": {"Service": "ssm", "Api": "SendCommand"}}]})), DOCUMENT),
    case("document-session", DOC, at("documentType", "Session"), DOCUMENT),
    case("document-package", DOC, at("documentType", "Package"), DOCUMENT),
    case("document-command-lowercase", DOC, at("documentType", " command "), DOCUMENT),
    case("task-step-functions", TASK, lambda p: p.update(
        taskType="STEP_FUNCTIONS",
        taskArn="arn:aws:states:eu-west-1:123456789012:stateMachine:patch"), WINDOW_TASK),
    case("remote-command", REMOTE_CMD, same, REMOTE),
    case("local-command-good", LOCAL_CMD, same),
    case("local-command-send-command", LOCAL_CMD, at(
        "create", "aws ssm send-command --document-name AWS-RunShellScript --targets x"), LOCAL),
    case("local-command-ssh", LOCAL_CMD, at("update", "ssh ec2-user@10.0.1.5 sudo reboot"),
         LOCAL),
    # --- other types and providers that hold ingress or launch instances ---------------------
    case("default-sg-good", DEFAULT_SG, same),
    case("default-sg-ssh-self", DEFAULT_SG, at("ingress", [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "self": True}]), SG_ADMIN),
    case("default-sg-all-traffic", DEFAULT_SG, at("ingress", [
        {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.0.0.0/8"]}]),
         SG_ADMIN),
    case("native-sg-good", NATIVE_SG, same),
    case("native-sg-ssh", NATIVE_SG, at("securityGroupIngress.0.fromPort", 22),
         NATIVE_SG_ADMIN),
    case("native-sg-all-protocols", NATIVE_SG, at("securityGroupIngress.0.ipProtocol", "-1"),
         NATIVE_SG_ADMIN),
    case("native-ingress-good", NATIVE_IN, same),
    case("native-ingress-rdp-udp", NATIVE_IN, lambda p: p.update(
        ipProtocol="udp", fromPort=3389, toPort=3389), NATIVE_SG_ADMIN),
    case("nacl-good", NACL, same),
    case("nacl-allow-ssh", NACL, at("ingress.0.toPort", 22.0), NACL_ADMIN),
    case("nacl-allow-all", NACL, at("ingress.0.protocol", "-1"), NACL_ADMIN),
    case("nacl-deny-ssh-is-fine", NACL, lambda p: p["ingress"][1].update(
        protocol="tcp", fromPort=22.0, toPort=22.0)),
    case("nacl-rule-good", NACL_RULE, same),
    case("nacl-rule-ssh", NACL_RULE, at("fromPort", 22.0), NACL_RULE_ADMIN),
    case("nacl-rule-all-protocols", NACL_RULE, at("protocol", "-1"), NACL_RULE_ADMIN),
    case("nacl-rule-egress-is-fine", NACL_RULE, lambda p: p.update(egress=True, fromPort=22.0)),
    case("nacl-rule-deny-is-fine", NACL_RULE, lambda p: p.update(ruleAction="deny",
                                                                  fromPort=22.0)),
    case("cfn-good", STACK, same),
    case("cfn-security-group-ssh", STACK, at("templateBody", template({"Sg": SSH_SG})), CFN),
    case("cfn-yaml-short-forms", STACK, at("templateBody", YAML_TEMPLATE), CFN),
    case("cfn-instance", STACK, at("templateBody", template(
        {"Box": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": fx.IMAGE}}})), CFN),
    case("cfn-template-url", STACK, lambda p: (p.pop("templateBody"), p.update(
        templateUrl="https://bucket.s3.amazonaws.com/t.json")), CFN),
    case("cfn-unreadable", STACK, at("templateBody", "{not: [a template"), CFN),
    case("spot-fleet", SPOT_FLEET, same, FLEET),
    case("ec2-fleet", EC2_FLEET, same, FLEET),
    case("lightsail", LIGHTSAIL_INSTANCE, same, LIGHTSAIL),
    case("native-instance", NATIVE_EC2, same, NATIVE_INSTANCE),
    # --- every spelling of an ignoreChanges path ------------------------------------------
    case("lt-ignore-bracket-quoted", LT, same, LT_IGNORE, ignore=('["imageId"]',)),
    case("lt-ignore-single-quoted", LT, same, LT_IGNORE, ignore=("['userData']",)),
    case("lt-ignore-star-bracket", LT, same, LT_IGNORE, ignore=("[*]",)),
    case("lt-ignore-double-star", LT, same, LT_IGNORE, ignore=("**",)),
    case("lt-ignore-padded", LT, same, LT_IGNORE, ignore=(" imageId ",)),
    case("lt-ignore-key-name", LT, same, LT_IGNORE, ignore=("keyName",)),
    case("lt-ignore-instance-profile", LT, same, LT_IGNORE, ignore=("iamInstanceProfile.arn",)),
    case("asg-ignore-bracket-version", ASG, same, ASG_IGNORE,
         ignore=('["launchTemplate"].version',)),
    case("asg-ignore-mixed-policy", ASG, same, ASG_IGNORE, ignore=("mixedInstancesPolicy",)),
]

ALL = [*CASES, *ATTACKS]
