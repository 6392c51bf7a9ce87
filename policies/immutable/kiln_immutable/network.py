"""No SSH or RDP ingress, from any source, through any resource that can add ingress.

The source does not matter — a CIDR, an IPv6 range, a prefix list or another security group
all open a shell path into an instance that should only ever be replaced.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .rulebook import Resource, resource_rule
from .tokens import DEFAULT_SECURITY_GROUP, INGRESS_RULE, SECURITY_GROUP, SECURITY_GROUP_RULE
from .values import listed, number

ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
ALL_PROTOCOLS = frozenset({"-1", "all"})
TCP = frozenset({"tcp", "6"})
# RDP also listens on UDP 3389; SSH has no UDP transport.
UDP = frozenset({"udp", "17"})
NAMED = frozenset({"icmp", "icmpv6", "tcp", "udp"})
LOWEST, HIGHEST = 0, 65535

REMEDIATION = ("Remove the rule. Instances are never logged into: bake the change into a new "
               "image and deploy it to the idle colour.")


def _protocol(value: Any) -> str:
    text = str(value if value is not None else "").strip().lower()
    try:
        return str(int(float(text)))  # "6", "6.0" → "6"; "-1" stays "-1"
    except ValueError:
        return text


def open_admin_ports(protocol: Any, from_port: Any, to_port: Any) -> list[int]:
    """The admin ports (22, 3389) a rule with this protocol and port range lets in."""
    proto = _protocol(protocol)
    if proto in ALL_PROTOCOLS:
        return sorted(ADMIN_PORTS)
    if proto in TCP:
        candidates: tuple[int, ...] = (22, 3389)
    elif proto in UDP:
        candidates = (3389,)
    elif proto.isdigit() or proto in NAMED:
        return []  # ICMP, or another IP protocol: no SSH/RDP transport
    else:
        return sorted(ADMIN_PORTS)  # an unreadable protocol is treated as all traffic
    low, high = number(from_port), number(to_port)
    # A missing or -1 bound means the whole range, as the EC2 API reads it.
    low = LOWEST if low is None or low < 0 else low
    high = HIGHEST if high is None or high < 0 else high
    low, high = min(low, high), max(low, high)
    return [port for port in candidates if low <= port <= high]


def _describe(ports: list[int], protocol: Any, sources: list[str]) -> str:
    names = " and ".join(f"{ADMIN_PORTS[p]} ({p})" for p in ports)
    origin = ", ".join(sources) if sources else "an unspecified source"
    return f"{names} open to {origin} (protocol {protocol!r})"


def _sources(rule: Mapping[str, Any], *keys: str) -> list[str]:
    found: list[str] = []
    for key in keys:
        for value in listed(rule.get(key)):
            if value in (None, "", False):
                continue
            found.append("the group itself" if key == "self" else str(value))
    return found


@resource_rule(
    "kiln-ec2-securitygroup-no-admin-ingress", types=(SECURITY_GROUP, DEFAULT_SECURITY_GROUP),
    severity="critical",
    description="Security groups (the VPC's default one included) open no SSH (22) or RDP "
                "(3389) ingress from any source.",
    remediation=REMEDIATION)
def security_group_no_admin_ingress(resource: Resource) -> Iterator[str]:
    for index, rule in enumerate(listed(resource.props.get("ingress"))):
        if not isinstance(rule, Mapping):
            continue
        ports = open_admin_ports(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
        if ports:
            sources = _sources(rule, "cidrBlocks", "ipv6CidrBlocks", "securityGroups",
                               "prefixListIds", "self")
            yield f"ingress[{index}]: " + _describe(ports, rule.get("protocol"), sources)


@resource_rule(
    "kiln-ec2-securitygrouprule-no-admin-ingress", types=(SECURITY_GROUP_RULE,),
    severity="critical",
    description="Security group rules open no SSH (22) or RDP (3389) ingress from any source.",
    remediation=REMEDIATION)
def security_group_rule_no_admin_ingress(resource: Resource) -> Iterator[str]:
    props = resource.props
    if str(props.get("type") or "").strip().lower() != "ingress":
        return
    ports = open_admin_ports(props.get("protocol"), props.get("fromPort"), props.get("toPort"))
    if ports:
        sources = _sources(props, "cidrBlocks", "ipv6CidrBlocks", "sourceSecurityGroupId",
                           "prefixListIds", "self")
        yield _describe(ports, props.get("protocol"), sources)


@resource_rule(
    "kiln-vpc-securitygroupingressrule-no-admin-ingress", types=(INGRESS_RULE,),
    severity="critical",
    description="VPC ingress rules open no SSH (22) or RDP (3389) from any source.",
    remediation=REMEDIATION)
def ingress_rule_no_admin_ingress(resource: Resource) -> Iterator[str]:
    props = resource.props
    ports = open_admin_ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
    if ports:
        sources = _sources(props, "cidrIpv4", "cidrIpv6", "referencedSecurityGroupId",
                           "prefixListId")
        yield _describe(ports, props.get("ipProtocol"), sources)
