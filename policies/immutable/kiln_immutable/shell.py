"""No path to a shell: nothing enrols instances in Systems Manager or sends them commands.

A fleet is reachable when its instances register with Systems Manager (their role holds the
actions of ``AmazonSSMManagedInstanceCore``, or the account's default host management role
enrols every instance), or when anything in the stack can call Run Command, Automation,
Session Manager or Instance Connect: an EventBridge target, a schedule, a role, an ECS
service with exec, a ``command`` resource that logs in over SSH.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import iam
from .rulebook import Resource, resource_rule
from .tokens import (
    ECS_SERVICE,
    EVENT_TARGET,
    IAM_ROLE,
    LOCAL_COMMAND,
    REMOTE_COMMANDS,
    SCHEDULE,
    SSM_SERVICE_SETTING,
)
from .values import listed, mapping, present, truthy

REMEDIATION = ("Remove it. Changes reach instances only as a new signed image deployed to the "
               "idle colour; nothing logs in or sends commands.")
# The account-wide setting that enrols every EC2 instance in Systems Manager.
HOST_MANAGEMENT = "default-ec2-instance-management-role"
# SDK targets (EventBridge Scheduler's universal targets) and ARNs that reach instances.
COMMAND_API = re.compile(
    r"aws-sdk:(ssm:(sendcommand|startsession|startautomationexecution|createassociation|"
    r"startassociationsonce|startchangerequestexecution)|ec2instanceconnect:|"
    r"ssmmessages:|ec2messages:)", re.IGNORECASE)
SSM_DOCUMENT_ARN = re.compile(r":ssm:[^:]*:[^:]*:(document|automation-definition)/",
                              re.IGNORECASE)
# A local command that drives Systems Manager or Instance Connect through the AWS CLI.
LOCAL_CHANNEL = re.compile(
    r"(ssm\s+(send-command|start-session|start-automation-execution)|"
    r"ec2-instance-connect|\bssh\s)", re.IGNORECASE)


@resource_rule(
    "kiln-ssm-servicesetting-no-host-management", types=(SSM_SERVICE_SETTING,),
    severity="critical",
    description="No stack sets the default host management role (which enrols every "
                "instance in Systems Manager).",
    remediation=REMEDIATION)
def no_host_management(resource: Resource) -> Iterator[str]:
    setting = str(resource.props.get("settingId") or "")
    if HOST_MANAGEMENT in setting.lower() or not present(setting):
        yield (f"service setting {setting or '(unset)'!r} enrols every instance of the account "
               "in Systems Manager (Session Manager and Run Command)")


@resource_rule(
    "kiln-cloudwatch-eventtarget-no-commands", types=(EVENT_TARGET,), severity="critical",
    description="EventBridge targets run no commands or automations on instances.",
    remediation=REMEDIATION)
def event_target_no_commands(resource: Resource) -> Iterator[str]:
    props = resource.props
    if listed(props.get("runCommandTargets")):
        yield "runCommandTargets sends Run Command to instances on every event"
    arn = str(props.get("arn") or "")
    if SSM_DOCUMENT_ARN.search(arn) or COMMAND_API.search(arn):
        yield f"target {arn!r} runs an SSM document or automation against instances"


@resource_rule(
    "kiln-scheduler-schedule-no-commands", types=(SCHEDULE,), severity="critical",
    description="Schedules call no Run Command, Automation, Session Manager or Instance "
                "Connect API.",
    remediation=REMEDIATION)
def schedule_no_commands(resource: Resource) -> Iterator[str]:
    target = mapping(resource.props.get("target"))
    arn = str(target.get("arn") or "")
    if COMMAND_API.search(arn) or SSM_DOCUMENT_ARN.search(arn):
        yield f"schedule target {arn!r} sends commands to instances"


@resource_rule(
    "kiln-ecs-service-no-execute-command", types=(ECS_SERVICE,), severity="high",
    description="ECS services do not enable ECS Exec.",
    remediation="Set enableExecuteCommand = false; debug from logs and metrics.")
def ecs_no_exec(resource: Resource) -> Iterator[str]:
    value = resource.props.get("enableExecuteCommand")
    if truthy(value):
        yield f"enableExecuteCommand is {value!r}: a shell into every running task"


@resource_rule(
    "kiln-command-remote-disallowed", types=REMOTE_COMMANDS, severity="critical",
    description="No command:remote resources (they log into hosts over SSH).",
    remediation=REMEDIATION)
def remote_command(resource: Resource) -> Iterator[str]:
    host = mapping(resource.props.get("connection")).get("host")
    yield f"{resource.type} logs into {host or 'a host'!r} over SSH and changes it in place"


@resource_rule(
    "kiln-command-local-no-instance-channel", types=(LOCAL_COMMAND,), severity="critical",
    description="Local commands do not send commands to, or log into, instances.",
    remediation=REMEDIATION)
def local_command(resource: Resource) -> Iterator[str]:
    for key in ("create", "update", "delete", "interpreter"):
        found = LOCAL_CHANNEL.search(" ".join(str(v) for v in
                                              listed(resource.props.get(key))))
        if found:
            yield f"{key} reaches instances ({found.group(0).strip()!r})"


@resource_rule(
    "kiln-iam-role-no-command-channel", types=(IAM_ROLE,), severity="critical",
    description="Roles other than instance roles grant no Run Command, Automation, Session "
                "Manager or Instance Connect action (a Lambda, schedule or pipeline with such "
                "a role is a command channel).",
    remediation="Remove the statement or managed policy; nothing in the stack sends commands "
                "to instances.")
def role_no_command_channel(resource: Resource) -> Iterator[str]:
    props = resource.props
    if iam.trusts_ec2(props.get("assumeRolePolicy")):
        return  # instance roles: kiln-iam-role-no-shell-access
    for index, inline in enumerate(listed(props.get("inlinePolicies"))):
        actions = iam.granted(iam.document(mapping(inline).get("policy")),
                              iam.OPERATOR_ACTIONS)
        if actions:
            yield f"inline policy {mapping(inline).get('name') or index!r} grants " \
                  f"{', '.join(actions)}"
    for arn in listed(props.get("managedPolicyArns")):
        name = iam.managed_channel_policy(arn, iam.OPERATOR_MANAGED_POLICIES)
        if name:
            yield f"managed policy {name} can send commands to instances"
