"""Close by construction: only the types a kiln stack is made of, only references the stack
can vouch for, and the resource rules applied to outputs as well as inputs.

A list of known bad things misses the next type, provider or reference; these rules instead
say what a kiln stack may contain and what it may point at, and treat everything else as a
finding — unless the environment's pack config allows that type or trusts that reference.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from .rulebook import Resource, Stack, StackResource, rules_for, stack_rule
from .tokens import ASG, IAM_INSTANCE_PROFILE, IAM_ROLE, LAUNCH_TEMPLATE, SECURITY_GROUP
from .values import listed, mapping, number, present

Finding = tuple[str | None, str]

# What kiln's program registers (every environment, every network and standby mode).
KILN_TYPES = (
    "pulumi:pulumi:Stack", "pulumi:providers:aws",
    "kiln:bluegreen:BlueGreenService", "kiln:fleet:Fleet", "kiln:iam:InstanceIdentity",
    "kiln:network:Network", "kiln:registry:Registry",
    "aws:autoscaling/group:Group", "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:"
    "SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ecr/repository:Repository", "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/role:Role", "aws:lb/listener:Listener", "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
)
ALLOWED_TYPES_CONFIG = {"allowedTypes": {
    "type": "array", "default": [], "items": {"type": "string", "minLength": 1},
    "description": "Type tokens (globs) this environment allows beyond kiln's own."}}
TRUSTED_CONFIG = {"trustedReferences": {
    "type": "array", "default": [], "items": {"type": "string", "minLength": 1},
    "description": "Ids, names or ARNs outside the stack a fleet may use (launch templates, "
                   "instance profiles, roles, security groups)."}}


def _allowed(type_: str, extra: list[Any]) -> bool:
    return type_ in KILN_TYPES or any(fnmatch.fnmatchcase(type_, str(p)) for p in extra)


@stack_rule(
    "kiln-pulumi-stack-allowed-types", severity="high",
    description="The stack holds only the resource types a kiln stack is made of, or types "
                "the environment's pack config allows.",
    remediation="Remove the resource, or allow its type in the environment's pack config "
                "(allowedTypes) after review; a type that can launch compute, hold ingress "
                "or run commands needs its own rule first.",
    config=ALLOWED_TYPES_CONFIG)
def allowed_types(stack: Stack) -> Iterator[Finding]:
    extra = listed(stack.config.get("allowedTypes"))
    for res in stack.resources:
        if not _allowed(res.type, extra):
            yield res.urn, f"{res.name} is a {res.type}, not a type of a kiln stack"


def _identities(resources: list[StackResource]) -> set[str]:
    found: set[str] = set()
    for res in resources:
        for key in ("id", "name", "arn"):
            value = res.props.get(key)
            if isinstance(value, str) and value:
                found.add(value)
    return found


def _template_refs(asg: StackResource) -> Iterator[tuple[str, Any, Any]]:
    """(where, template id or name, version) of every launch template an ASG names."""
    props = asg.props
    spec = mapping(props.get("launchTemplate"))
    if spec:
        yield "launchTemplate", spec.get("id") or spec.get("name"), spec.get("version")
    mixed = mapping(mapping(props.get("mixedInstancesPolicy")).get("launchTemplate"))
    specs = [mapping(mixed.get("launchTemplateSpecification"))] + [
        mapping(mapping(o).get("launchTemplateSpecification"))
        for o in listed(mixed.get("overrides"))]
    for index, item in enumerate(s for s in specs if s):
        yield (f"mixedInstancesPolicy spec {index}",
               item.get("launchTemplateId") or item.get("launchTemplateName"),
               item.get("version"))


def _security_groups(lt: StackResource) -> list[Any]:
    props = lt.props
    groups = listed(props.get("vpcSecurityGroupIds")) + listed(props.get("securityGroupNames"))
    for nic in listed(props.get("networkInterfaces")):
        groups += listed(mapping(nic).get("securityGroups"))
    return groups


def _references(stack: Stack) -> Iterator[tuple[StackResource, str, str, set[str]]]:
    """(resource, what, reference, identities it must be one of)."""
    of = {t: _identities(stack.of_type(t)) for t in
          (LAUNCH_TEMPLATE, IAM_INSTANCE_PROFILE, IAM_ROLE, SECURITY_GROUP)}
    for asg in stack.of_type(ASG):
        for where, ref, _ in _template_refs(asg):
            yield asg, f"{where} launch template", str(ref or ""), of[LAUNCH_TEMPLATE]
    for lt in stack.of_type(LAUNCH_TEMPLATE):
        profile = mapping(lt.props.get("iamInstanceProfile"))
        ref = profile.get("arn") or profile.get("name")
        if present(ref):
            yield lt, "instance profile", str(ref), of[IAM_INSTANCE_PROFILE]
        for group in _security_groups(lt):
            yield lt, "security group", str(group), of[SECURITY_GROUP]
    for profile_res in stack.of_type(IAM_INSTANCE_PROFILE):
        role = profile_res.props.get("role")
        if present(role):
            yield profile_res, "role", str(role), of[IAM_ROLE]


@stack_rule(
    "kiln-ec2-fleet-references-in-stack", severity="critical",
    description="Every launch template, instance profile, role and security group a fleet "
                "uses is in the stack (so its rules ran) or trusted in the pack config.",
    remediation="Declare the referenced resource in the stack, or list its id, name or ARN "
                "in the environment's trustedReferences after review.",
    config=TRUSTED_CONFIG)
def references_in_stack(stack: Stack) -> Iterator[Finding]:
    trusted = {str(t) for t in listed(stack.config.get("trustedReferences"))}
    for res, what, ref, known in _references(stack):
        if not ref:
            yield res.urn, f"{res.name} names a {what} with no id or name"
        elif ref not in known and ref.rsplit("/", 1)[-1] not in known and ref not in trusted:
            yield res.urn, (f"{res.name} uses {what} {ref!r}, which is neither in the stack "
                            "nor trusted, so nothing verified it")


@stack_rule(
    "kiln-autoscaling-group-latest-template-version", severity="high",
    description="An ASG pinned to a launch template of its own stack runs that template's "
                "latest version (an older one is a fleet the stack no longer describes).",
    remediation="Pin launchTemplate.version to the template's latestVersion output.")
def latest_version(stack: Stack) -> Iterator[Finding]:
    templates: dict[str, StackResource] = {}
    for lt in stack.of_type(LAUNCH_TEMPLATE):
        for key in ("id", "name"):
            if isinstance(lt.props.get(key), str):
                templates[lt.props[key]] = lt
    for asg in stack.of_type(ASG):
        for where, ref, version in _template_refs(asg):
            own = templates.get(str(ref or ""))
            latest = number(own.props.get("latestVersion")) if own is not None else None
            pinned = number(version) if str(version or "").strip().isdigit() else None
            if own is not None and latest is not None and pinned is not None \
                    and pinned != latest:
                name = own.name
                yield asg.urn, (f"{asg.name} {where} pins version {pinned} of {name}, whose "
                                f"latest version is {latest}")


def _config_free(type_: str) -> list[Any]:
    return [r for r in rules_for(type_) if not r.config]


@stack_rule(
    "kiln-pulumi-stack-outputs-checked", severity="critical",
    description="Each resource's outputs (its state as last read) pass the resource rules "
                "that need no config, as its inputs must.",
    remediation="Fix the resource, then refresh the stack: the cloud holds something the "
                "program does not declare.")
def outputs_checked(stack: Stack) -> Iterator[Finding]:
    for res in stack.resources:
        rules = _config_free(res.type)
        if not rules:
            continue
        resource = _as_resource(res)
        for rule in rules:
            for message in rule.check(resource):
                yield res.urn, f"outputs of {res.name}: {rule.id}: {message}"


def _as_resource(res: StackResource) -> Resource:
    return Resource(res.type, res.name, res.props, res.urn, res.ignore_changes,
                    _EMPTY, res.region)


_EMPTY: Mapping[str, Any] = {}
