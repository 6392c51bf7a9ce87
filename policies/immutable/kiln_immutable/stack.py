"""Stack-wide rules: blue/green shape, and what is attached to instance roles.

These read every resource's outputs together (the engine's AnalyzeStack), because no single
resource knows whether a listener points at both colours or whether a role that a policy
attachment names is an instance role.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from . import iam
from .contract import TAG_COLOUR, TAG_SERVICE
from .rulebook import Stack, StackResource, stack_rule
from .tokens import (
    ASG,
    IAM_INSTANCE_PROFILE,
    IAM_POLICY,
    IAM_POLICY_ATTACHMENT,
    IAM_ROLE,
    IAM_ROLE_ATTACHMENTS_EXCLUSIVE,
    IAM_ROLE_POLICY,
    IAM_ROLE_POLICY_ATTACHMENT,
    LISTENERS,
    TARGET_GROUPS,
)
from .values import listed, mapping, number, tag

Finding = tuple[str | None, str]


def _by_service(resources: list[StackResource]) -> dict[str, list[StackResource]]:
    grouped: dict[str, list[StackResource]] = defaultdict(list)
    for res in resources:
        service = tag(res.props.get("tags"), TAG_SERVICE)
        if isinstance(service, str):
            grouped[service].append(res)
    return grouped


def _colours(resources: list[StackResource]) -> dict[str, list[StackResource]]:
    found: dict[str, list[StackResource]] = defaultdict(list)
    for res in resources:
        found[str(tag(res.props.get("tags"), TAG_COLOUR) or "")].append(res)
    return found


@stack_rule(
    "kiln-autoscaling-group-two-colours", severity="high",
    description="Each service runs exactly two colours (blue/green): one ASG and one target "
                "group per colour.",
    remediation="Deploy the service through kiln's BlueGreenService; keep the standby colour "
                "as the last known good fleet.")
def two_colours(stack: Stack) -> Iterator[Finding]:
    groups = _by_service(stack.of_type(ASG))
    target_groups = _by_service(stack.of_type(*TARGET_GROUPS))
    for service in sorted(set(groups) | set(target_groups)):
        for kind, members in (("autoscaling group", groups.get(service, [])),
                              ("target group", target_groups.get(service, []))):
            by_colour = _colours(members)
            if "" in by_colour:
                for res in by_colour.pop(""):
                    yield res.urn, f"{kind} {res.name} of service {service} has no {TAG_COLOUR} tag"
            if len(by_colour) != 2:
                shown = ", ".join(sorted(by_colour)) or "none"
                yield None, (f"service {service} has {len(by_colour)} colour(s) of {kind} "
                             f"({shown}); blue/green needs exactly two")
            for colour, same in sorted(by_colour.items()):
                if len(same) > 1:
                    names = ", ".join(r.name for r in same)
                    yield same[1].urn, (f"service {service} has {len(same)} {kind}s for colour "
                                        f"{colour} ({names}); exactly one per colour")


def _forward_targets(listener: StackResource) -> Iterator[tuple[str, Any]]:
    """(``"weighted"`` | ``"single"``, payload) for each forwarding default action."""
    for item in listed(listener.props.get("defaultActions")):
        action = mapping(item)
        if str(action.get("type") or "").lower() != "forward":
            continue
        forward = mapping(action.get("forward"))
        if forward.get("targetGroups") is not None:
            yield "weighted", [mapping(t) for t in listed(forward.get("targetGroups"))]
        else:
            yield "single", action.get("targetGroupArn")


@stack_rule(
    "kiln-lb-listener-weighted-colours", severity="high",
    description="Forwarding listeners split traffic by weight across exactly the two colours' "
                "target groups, with weights summing to 100.",
    remediation="Forward with forward.targetGroups = [blue, green] and weights that sum to "
                "100 (kiln:traffic to the live colour).")
def listener_weights(stack: Stack) -> Iterator[Finding]:
    colour_groups: dict[str, dict[str, str]] = defaultdict(dict)  # service → arn → colour
    for res in stack.of_type(*TARGET_GROUPS):
        service = tag(res.props.get("tags"), TAG_SERVICE)
        colour = tag(res.props.get("tags"), TAG_COLOUR)
        arn = res.props.get("arn")
        if isinstance(service, str) and isinstance(colour, str) and isinstance(arn, str):
            colour_groups[service][arn] = colour
    for listener in stack.of_type(*LISTENERS):
        service = tag(listener.props.get("tags"), TAG_SERVICE)
        expected = colour_groups.get(service, {}) if isinstance(service, str) else {}
        for kind, payload in _forward_targets(listener):
            if kind == "single":
                yield listener.urn, (f"listener {listener.name} forwards to one target group "
                                     f"({payload!r}) with no weights; traffic cannot move "
                                     "between colours")
                continue
            arns = [t.get("arn") for t in payload]
            weights = [number(t.get("weight")) or 0 for t in payload]
            if sum(weights) != 100:
                yield listener.urn, (f"listener {listener.name} weights sum to {sum(weights)} "
                                     f"({weights}), not 100")
            if len(set(expected.values())) != 2 or set(arns) != set(expected) \
                    or len(arns) != len(set(arns)):
                shown = ", ".join(f"{expected.get(a, a)}" for a in arns)
                yield listener.urn, (f"listener {listener.name} forwards to [{shown}], not "
                                     "exactly the two colours' target groups of service "
                                     f"{service}")


def _names(res: StackResource) -> set[str]:
    return {str(v) for v in (res.props.get("name"), res.props.get("id"), res.props.get("arn"),
                             res.name) if v}


def _instance_roles(stack: Stack) -> set[str]:
    """Names, ids and ARNs of roles that instances assume (trust EC2, or in a profile)."""
    roles: set[str] = set()
    for role in stack.of_type(IAM_ROLE):
        if iam.trusts_ec2(role.props.get("assumeRolePolicy")):
            roles |= _names(role)
    for profile in stack.of_type(IAM_INSTANCE_PROFILE):
        if profile.props.get("role"):
            roles.add(str(profile.props["role"]))
    return roles


def _attachments(res: StackResource) -> tuple[list[Any], list[Any], list[Any]]:
    """(roles named, policy documents, policy ARNs) of an IAM attachment resource."""
    p = res.props
    if res.type == IAM_ROLE_POLICY:
        return [p.get("role")], [p.get("policy")], []
    if res.type == IAM_ROLE_POLICY_ATTACHMENT:
        return [p.get("role")], [], [p.get("policyArn")]
    if res.type == IAM_POLICY_ATTACHMENT:
        return listed(p.get("roles")), [], [p.get("policyArn")]
    if res.type == IAM_ROLE_ATTACHMENTS_EXCLUSIVE:
        return [p.get("roleName")], [], listed(p.get("policyArns"))
    return [], [], []


def _role_matches(ref: Any, roles: set[str]) -> bool:
    if not isinstance(ref, str):
        return False
    return ref in roles or ref.rsplit("/", 1)[-1] in roles


@stack_rule(
    "kiln-iam-instancerole-no-shell-access", severity="critical",
    description="No policy attached to an instance role grants ssm:StartSession, "
                "ssm:SendCommand or ec2-instance-connect:SendSSHPublicKey.",
    remediation="Detach the policy from the instance role; instances need no shell path.")
def instance_role_attachments(stack: Stack) -> Iterator[Finding]:
    roles = _instance_roles(stack)
    documents: dict[str, Mapping[str, Any] | None] = {
        str(p.props.get("arn")): iam.document(p.props.get("policy"))
        for p in stack.of_type(IAM_POLICY) if p.props.get("arn")}
    for res in stack.resources:
        named, docs, arns = _attachments(res)
        if not any(_role_matches(r, roles) for r in named):
            continue
        for doc in docs:
            actions = iam.granted(iam.document(doc))
            if actions:
                yield res.urn, f"{res.name} grants {', '.join(actions)} to an instance role"
        for arn in arns:
            managed = iam.managed_channel_policy(arn)
            actions = iam.granted(documents.get(str(arn)))
            if managed:
                yield res.urn, f"{res.name} attaches {managed} to an instance role"
            elif actions:
                yield res.urn, (f"{res.name} attaches a policy granting {', '.join(actions)} "
                                "to an instance role")
