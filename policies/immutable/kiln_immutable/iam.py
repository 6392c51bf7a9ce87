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

# Actions that open a shell or run commands on instances.
CHANNEL_ACTIONS = ("ssm:StartSession", "ssm:SendCommand", "ec2-instance-connect:SendSSHPublicKey")
# AWS managed policies that grant those actions or enrol instances in Session Manager /
# Run Command. Matched by name at the end of the ARN.
CHANNEL_MANAGED_POLICIES = frozenset({
    "AmazonSSMManagedInstanceCore", "AmazonEC2RoleforSSM", "AmazonSSMFullAccess",
    "AmazonSSMManagedEC2InstanceDefaultPolicy", "AmazonSSMAutomationRole",
    "EC2InstanceConnect", "AdministratorAccess", "PowerUserAccess",
})
EC2_SERVICE = "ec2.amazonaws.com"


def _pattern(action: str) -> re.Pattern[str]:
    escaped = re.escape(action.strip().lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{escaped}$")


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


def granted(doc: Mapping[str, Any] | None) -> list[str]:
    """The channel actions an Allow statement in ``doc`` grants."""
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
        for wanted in CHANNEL_ACTIONS:
            target = wanted.lower()
            allowed = actions and any(_pattern(a).match(target) for a in actions)
            left_out = not_actions and not any(_pattern(a).match(target) for a in not_actions)
            if allowed or left_out:
                found.append(wanted)
    return sorted(set(found), key=CHANNEL_ACTIONS.index)


def managed_channel_policy(arn: Any) -> str | None:
    """The policy's name when ``arn`` is an AWS managed policy that opens a channel."""
    if not isinstance(arn, str) or ":iam::aws:policy/" not in arn:
        return None
    name = arn.rsplit("/", 1)[-1]
    return name if name in CHANNEL_MANAGED_POLICIES else None


def trusts_ec2(assume_role_policy: Any) -> bool:
    """True when the role's trust policy lets EC2 instances assume it (an instance role)."""
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
        if EC2_SERVICE in services or principal == "*":
            return True
    return False
