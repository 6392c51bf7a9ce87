"""No in-place change channels: Run Command, patch baselines, Session Manager, Instance Connect.

Each of these changes a running instance without a new image — the exact thing an
immutable fleet forbids. Rules that need to see a role and its attachments together live in
``stack.py``; here each resource is judged on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
    description="Maintenance windows run no commands and apply no patch baselines.",
    remediation=CHANNEL_REMEDIATION)
def window_task_no_commands(resource: Resource) -> Iterator[str]:
    props = resource.props
    task_type = str(props.get("taskType") or "").strip().upper()
    task = props.get("taskArn")
    if task_type in COMMAND_TASK_TYPES:
        yield f"taskType {task_type} runs {task!r} on instances"
    elif isinstance(task, str) and PATCH_DOCUMENT.search(task):
        yield f"task {task!r} applies a patch baseline to running instances"
    parameters = mapping(props.get("taskInvocationParameters"))
    if present(parameters.get("runCommandParameters")) and task_type not in COMMAND_TASK_TYPES:
        yield "taskInvocationParameters.runCommandParameters sends commands to instances"


@resource_rule(
    "kiln-ssm-document-no-command-documents", types=(SSM_DOCUMENT,), severity="high",
    description="No SSM Command documents (scripts to run on instances).",
    remediation=CHANNEL_REMEDIATION)
def document_no_command(resource: Resource) -> Iterator[str]:
    kind = resource.props.get("documentType")
    if str(kind or "").strip().lower() in ("command", ""):
        yield f"documentType {kind!r} defines commands to run on instances"


@resource_rule(
    "kiln-ec2-instanceconnectendpoint-disallowed", types=(INSTANCE_CONNECT_ENDPOINT,),
    severity="critical", description="No EC2 Instance Connect endpoints.",
    remediation=CHANNEL_REMEDIATION)
def instance_connect_endpoint(resource: Resource) -> Iterator[str]:
    yield "an EC2 Instance Connect endpoint opens SSH/RDP paths into private subnets"


@resource_rule(
    "kiln-iam-role-no-shell-access", types=(IAM_ROLE,), severity="critical",
    description="Instance roles grant no ssm:StartSession, ssm:SendCommand or "
                "ec2-instance-connect:SendSSHPublicKey.",
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
