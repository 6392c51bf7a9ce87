"""No in-place change channels: Run Command, patch baselines, Session Manager, Instance Connect.

Each of these changes a running instance without a new image — the exact thing an
immutable fleet forbids. Rules that need to see a role and its attachments together live in
``stack.py``; here each resource is judged on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from . import iam
from .rulebook import Resource, resource_rule
from .tokens import (
    IAM_ROLE,
    INSTANCE_CONNECT_ENDPOINT,
    SSM_ASSOCIATION,
    SSM_DOCUMENT,
    SSM_WINDOW_TASK,
)
from .values import listed, mapping, present

PATCH_DOCUMENT = re.compile(r"patch", re.IGNORECASE)
COMMAND_TASK_TYPES = frozenset({"RUN_COMMAND"})
# Automation actions (and API calls through aws:executeAwsApi) that act on instances.
AUTOMATION_ACTIONS = re.compile(
    r"aws:(runcommand|runshellscript|runpowershellscript|executescript|runinstances|"
    r"changeinstancestate|ssmsession)|sendcommand|startsession|createassociation|"
    r"sendsshpublickey", re.IGNORECASE)
CHANNEL_REMEDIATION = ("Remove it. Changes reach instances only as a new signed image deployed "
                       "to the idle colour.")


@resource_rule(
    "kiln-ssm-association-no-commands", types=(SSM_ASSOCIATION,), severity="high",
    description="SSM associations run only allow-listed, read-only documents.",
    remediation=CHANNEL_REMEDIATION,
    config={"allowedDocuments": {
        "type": "array", "items": {"type": "string"},
        "default": ["AWS-GatherSoftwareInventory"],
        "description": "SSM documents an association may run (read-only ones only)."}})
def association_no_commands(resource: Resource) -> Iterator[str]:
    document = resource.props.get("name")
    allowed = set(resource.config.get("allowedDocuments") or [])
    if document not in allowed:
        yield (f"association runs document {document!r} on instances (commands, patches or "
               "configuration applied in place)")


@resource_rule(
    "kiln-ssm-maintenancewindowtask-no-commands", types=(SSM_WINDOW_TASK,), severity="high",
    description="No maintenance window tasks: of any type, they act on the fleet on a "
                "schedule (Run Command, Automation, or a Lambda or state machine with a "
                "service role that can).",
    remediation=CHANNEL_REMEDIATION)
def window_task_no_commands(resource: Resource) -> Iterator[str]:
    props = resource.props
    task_type = str(props.get("taskType") or "").strip().upper()
    task = props.get("taskArn")
    if task_type in COMMAND_TASK_TYPES:
        yield f"taskType {task_type} runs {task!r} on instances"
    elif isinstance(task, str) and PATCH_DOCUMENT.search(task):
        yield f"task {task!r} applies a patch baseline to running instances"
    else:
        yield (f"a {task_type or 'untyped'} maintenance window task ({task!r}) runs against "
               "the window's targets on a schedule")
    parameters = mapping(props.get("taskInvocationParameters"))
    for key in ("runCommandParameters", "automationParameters"):
        if present(parameters.get(key)) and task_type not in COMMAND_TASK_TYPES:
            yield f"taskInvocationParameters.{key} acts on instances"


def _automation_steps(content: Any) -> list[str]:
    """The instance-reaching actions an Automation document's content names."""
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    return sorted({m.group(0).lower() for m in AUTOMATION_ACTIONS.finditer(text)})


@resource_rule(
    "kiln-ssm-document-no-command-documents", types=(SSM_DOCUMENT,), severity="high",
    description="No SSM documents that run on instances: Command, Session or Package "
                "documents, or Automation documents with a run-command or script step.",
    remediation=CHANNEL_REMEDIATION)
def document_no_command(resource: Resource) -> Iterator[str]:
    kind = resource.props.get("documentType")
    normalized = str(kind or "").strip().lower()
    if normalized != "automation":
        if normalized in ("command", "", "session", "package", "policy"):
            yield f"documentType {kind!r} defines what runs on, or connects to, instances"
        return
    steps = _automation_steps(resource.props.get("content"))
    if steps:
        yield f"the Automation document's steps reach instances ({', '.join(steps)})"


@resource_rule(
    "kiln-ec2-instanceconnectendpoint-disallowed", types=(INSTANCE_CONNECT_ENDPOINT,),
    severity="critical", description="No EC2 Instance Connect endpoints.",
    remediation=CHANNEL_REMEDIATION)
def instance_connect_endpoint(resource: Resource) -> Iterator[str]:
    yield "an EC2 Instance Connect endpoint opens SSH/RDP paths into private subnets"


@resource_rule(
    "kiln-iam-role-no-shell-access", types=(IAM_ROLE,), severity="critical",
    description="Instance roles grant no Systems Manager registration, messaging, "
                "command, session or Instance Connect action.",
    remediation="Remove the statement or managed policy from the instance role.")
def role_no_shell_access(resource: Resource) -> Iterator[str]:
    props = resource.props
    if not iam.trusts_ec2(props.get("assumeRolePolicy")):
        return
    for index, inline in enumerate(listed(props.get("inlinePolicies"))):
        actions = iam.granted(iam.document(mapping(inline).get("policy")))
        if actions:
            name = mapping(inline).get("name") or index
            yield f"inline policy {name!r} grants {', '.join(actions)}"
    for arn in listed(props.get("managedPolicyArns")):
        name = iam.managed_channel_policy(arn)
        if name:
            yield f"managed policy {name} opens Session Manager / Run Command / Instance Connect"
