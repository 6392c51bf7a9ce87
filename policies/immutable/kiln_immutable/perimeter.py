"""SSH/RDP ingress through the other doors: the aws-native provider, network ACLs and
CloudFormation templates.

The same port arithmetic as :mod:`kiln_immutable.network`, applied to each spelling of an
ingress rule; a template that cannot be read (an S3 URL, broken JSON/YAML) cannot be
verified and is a finding itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from .network import REMEDIATION, open_admin_ports
from .rulebook import Resource, resource_rule
from .tokens import (
    CLOUDFORMATION_STACK,
    CLOUDFORMATION_STACK_SET,
    DEFAULT_NETWORK_ACL,
    NATIVE_INGRESS,
    NATIVE_SECURITY_GROUP,
    NETWORK_ACL,
    NETWORK_ACL_RULE,
)
from .values import listed, mapping, present, truthy

CFN_INGRESS_TYPES = frozenset({"AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"})
CFN_COMPUTE_TYPES = frozenset({
    "AWS::EC2::Instance", "AWS::EC2::SpotFleet", "AWS::EC2::EC2Fleet", "AWS::EC2::KeyPair",
    "AWS::Lightsail::Instance", "AWS::SSM::Association", "AWS::SSM::MaintenanceWindowTask",
    "AWS::SSM::Document", "AWS::EC2::InstanceConnectEndpoint", "AWS::CloudFormation::Stack",
})


def _native_ports(rule: Mapping[str, Any]) -> list[int]:
    return open_admin_ports(rule.get("ipProtocol"), rule.get("fromPort"), rule.get("toPort"))


@resource_rule(
    "kiln-awsnative-securitygroup-no-admin-ingress",
    types=(NATIVE_SECURITY_GROUP, NATIVE_INGRESS), severity="critical",
    description="aws-native security groups and ingress rules open no SSH (22) or RDP (3389).",
    remediation=REMEDIATION)
def native_security_group(resource: Resource) -> Iterator[str]:
    props = resource.props
    rules = listed(props.get("securityGroupIngress")) if resource.type == NATIVE_SECURITY_GROUP \
        else [props]
    for index, rule in enumerate(rules):
        ports = _native_ports(mapping(rule))
        if ports:
            yield f"ingress[{index}] opens port(s) {', '.join(map(str, ports))} " \
                  f"(protocol {mapping(rule).get('ipProtocol')!r})"


def _acl_allows(action: Any, protocol: Any, low: Any, high: Any) -> list[int]:
    if str(action or "").strip().lower() != "allow":
        return []
    return open_admin_ports(protocol, low, high)


@resource_rule(
    "kiln-ec2-networkacl-no-admin-ingress", types=(NETWORK_ACL, DEFAULT_NETWORK_ACL),
    severity="high",
    description="Network ACLs allow no inbound SSH (22) or RDP (3389).",
    remediation=REMEDIATION)
def network_acl(resource: Resource) -> Iterator[str]:
    for index, rule in enumerate(listed(resource.props.get("ingress"))):
        entry = mapping(rule)
        ports = _acl_allows(entry.get("action"), entry.get("protocol"), entry.get("fromPort"),
                            entry.get("toPort"))
        if ports:
            yield f"ingress[{index}] allows port(s) {', '.join(map(str, ports))}"


@resource_rule(
    "kiln-ec2-networkaclrule-no-admin-ingress", types=(NETWORK_ACL_RULE,), severity="high",
    description="Network ACL rules allow no inbound SSH (22) or RDP (3389).",
    remediation=REMEDIATION)
def network_acl_rule(resource: Resource) -> Iterator[str]:
    props = resource.props
    if truthy(props.get("egress")):
        return
    ports = _acl_allows(props.get("ruleAction"), props.get("protocol"), props.get("fromPort"),
                        props.get("toPort"))
    if ports:
        yield f"the rule allows inbound port(s) {', '.join(map(str, ports))}"


class _TagsIgnored(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (``!Ref``, ``!Sub``) read as plain values."""


def _any_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_TagsIgnored.add_multi_constructor("!", _any_tag)


def template(body: Any) -> Mapping[str, Any] | None:
    """A CloudFormation template from JSON or YAML text; None when it cannot be read."""
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, str):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        try:
            parsed = yaml.load(body, Loader=_TagsIgnored)  # noqa: S506 (a SafeLoader)
        except yaml.YAMLError:
            return None
    return parsed if isinstance(parsed, Mapping) else None


def _template_findings(doc: Mapping[str, Any]) -> Iterator[str]:
    for name, res in mapping(doc.get("Resources")).items():
        kind = str(mapping(res).get("Type") or "")
        props = mapping(mapping(res).get("Properties"))
        if kind in CFN_COMPUTE_TYPES:
            yield f"template resource {name} ({kind}) is outside kiln's fleets"
        if kind not in CFN_INGRESS_TYPES:
            continue
        rules = listed(props.get("SecurityGroupIngress")) \
            if kind == "AWS::EC2::SecurityGroup" else [props]
        for rule in rules:
            entry = mapping(rule)
            ports = open_admin_ports(entry.get("IpProtocol"), entry.get("FromPort"),
                                     entry.get("ToPort"))
            if ports:
                yield f"template resource {name} opens port(s) {', '.join(map(str, ports))}"


@resource_rule(
    "kiln-cloudformation-stack-no-admin-ingress",
    types=(CLOUDFORMATION_STACK, CLOUDFORMATION_STACK_SET), severity="critical",
    description="CloudFormation templates open no SSH/RDP and create no instances or "
                "command channels; a template kiln cannot read is refused.",
    remediation="Declare the resources in the Pulumi program, where the pack checks them.")
def cloudformation(resource: Resource) -> Iterator[str]:
    props = resource.props
    if present(props.get("templateUrl")):
        yield f"templateUrl {props.get('templateUrl')!r} cannot be verified offline"
        return
    doc = template(props.get("templateBody"))
    if doc is None:
        yield "templateBody is not a readable CloudFormation template"
        return
    yield from _template_findings(doc)
