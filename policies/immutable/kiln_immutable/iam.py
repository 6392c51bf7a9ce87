"""Reading IAM policy documents: does a document grant a shell or command channel?

Actions match with IAM's own wildcards (``ssm:*``, ``ssm:Send*``, ``*``), case-insensitively,
and an ``Allow`` with ``NotAction`` grants everything it does not list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .values import listed

# Actions that open a shell or run commands on instances (what an operator calls).
OPERATOR_ACTIONS = ("ssm:StartSession", "ssm:SendCommand", "ssm:StartAutomationExecution",
                    "ssm:CreateAssociation", "ssm:StartAssociationsOnce",
                    "ec2-instance-connect:SendSSHPublicKey", "ec2-instance-connect:OpenTunnel")
# What an instance's own role needs to be reachable: registration with Systems Manager and
# its message channels (the actions of AmazonSSMManagedInstanceCore), and Instance Connect.
ENROLMENT_ACTIONS = ("ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
                     "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
                     "ssmmessages:OpenDataChannel", "ec2messages:GetMessages",
                     "ec2messages:SendReply", "ec2messages:AcknowledgeMessage")
CHANNEL_ACTIONS = OPERATOR_ACTIONS + ENROLMENT_ACTIONS
# AWS managed policies that grant those actions or enrol instances in Session Manager /
# Run Command. Matched by name at the end of the ARN.
CHANNEL_MANAGED_POLICIES = frozenset({
    "AmazonSSMManagedInstanceCore", "AmazonEC2RoleforSSM", "AmazonSSMFullAccess",
    "AmazonSSMManagedEC2InstanceDefaultPolicy", "AmazonSSMAutomationRole",
    "EC2InstanceConnect", "AdministratorAccess", "PowerUserAccess",
    "AmazonSSMMaintenanceWindowRole", "AmazonSSMDirectoryServiceAccess",
    "AmazonSSMServiceRolePolicy",
})
# Of those, the ones that let any principal send commands or open sessions.
OPERATOR_MANAGED_POLICIES = frozenset({
    "AmazonSSMFullAccess", "AmazonSSMAutomationRole", "AmazonSSMMaintenanceWindowRole",
    "AdministratorAccess", "PowerUserAccess", "AmazonEC2RoleforSSM", "EC2InstanceConnect",
})
EC2_SERVICE = "ec2.amazonaws.com"


def _pattern(action: str) -> re.Pattern[str]:
    """IAM's action wildcards as a regex; always used with ``fullmatch`` (``$`` would also
    accept a trailing newline), case-insensitively as IAM compares actions."""
    escaped = re.escape(action.strip().lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(escaped, re.DOTALL)


def document(value: Any) -> Mapping[str, Any] | None:
    """A policy document from its JSON text (or an already-parsed mapping)."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


def granted(doc: Mapping[str, Any] | None,
            wanted_actions: tuple[str, ...] = CHANNEL_ACTIONS) -> list[str]:
    """The ``wanted_actions`` an Allow statement in ``doc`` grants."""
    found: list[str] = []
    if doc is None:
        return found
    for statement in listed(doc.get("Statement")):
        if not isinstance(statement, Mapping):
            continue
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        actions = [str(a) for a in listed(statement.get("Action"))]
        not_actions = [str(a) for a in listed(statement.get("NotAction"))]
        for wanted in wanted_actions:
            target = wanted.lower()
            allowed = actions and any(_pattern(a).fullmatch(target) for a in actions)
            left_out = not_actions and not any(_pattern(a).fullmatch(target)
                                               for a in not_actions)
            if allowed or left_out:
                found.append(wanted)
    return sorted(set(found), key=wanted_actions.index)


def managed_channel_policy(arn: Any, names: frozenset[str] = CHANNEL_MANAGED_POLICIES
                           ) -> str | None:
    """The policy's name when ``arn`` is one of the AWS managed policies ``names``."""
    if not isinstance(arn, str) or ":iam::aws:policy/" not in arn:
        return None
    name = arn.strip().rsplit("/", 1)[-1]
    return name if name in names else None


def trusts_service(assume_role_policy: Any, service: str) -> bool:
    """True when the role's trust policy lets ``service`` (or anyone) assume it."""
    doc = document(assume_role_policy)
    if doc is None:
        return False
    for statement in listed(doc.get("Statement")):
        if not isinstance(statement, Mapping):
            continue
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        principal = statement.get("Principal")
        services = listed(principal.get("Service")) if isinstance(principal, Mapping) else []
        if service in [str(s).strip().lower() for s in services] or principal == "*":
            return True
    return False


def trusts_ec2(assume_role_policy: Any) -> bool:
    """True when the role's trust policy lets EC2 instances assume it (an instance role)."""
    return trusts_service(assume_role_policy, EC2_SERVICE)
