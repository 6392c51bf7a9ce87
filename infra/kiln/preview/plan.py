"""What a stack would deploy: the captured resource tree reduced to the inputs that matter.

Pure functions over a :class:`~kiln.preview.capture.Capture`; the CLI renders the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiln.model import naming
from kiln.model.stack import COLOURS
from kiln.preview.capture import Capture, CapturedResource
from kiln.preview.properties import plain

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"


@dataclass(frozen=True)
class PlanResource:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    keys: dict[str, Any]
    children: list[PlanResource] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "urn": self.urn, "parent": self.parent,
                "custom": self.custom, "keys": self.keys}


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    resources: list[PlanResource]  # registration order, flattened
    roots: list[PlanResource]  # tree: components with their children
    colours: dict[str, dict[str, Any]]
    outputs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "stack": self.stack,
                "resources": [r.to_json() for r in self.resources],
                "colours": self.colours, "outputs": self.outputs}


def _integral(value: Any) -> Any:
    """Protobuf numbers are doubles; show whole ones as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


class _Index:
    """Finds a resource by an ARN or id found in another's inputs."""

    def __init__(self, capture: Capture) -> None:
        self.by_ref: dict[str, CapturedResource] = {}
        for res in capture.resources:
            for ref in (res.id, res.outputs.get("arn")):
                if ref:
                    self.by_ref[str(ref)] = res

    def name(self, ref: Any) -> str:
        found = self.by_ref.get(str(ref))
        return found.name if found else str(ref)

    def get(self, ref: Any) -> CapturedResource | None:
        return self.by_ref.get(str(ref))


def _ports(rule: Mapping[str, Any]) -> str:
    proto = str(rule.get("ipProtocol") or rule.get("protocol") or "")
    low, high = _integral(rule.get("fromPort")), _integral(rule.get("toPort"))
    if proto in ("-1", "all"):
        return "all traffic"
    ports = f"{low}" if low == high else f"{low}-{high}"
    return f"{proto}/{ports}"


def _rule_keys(res: CapturedResource, index: _Index) -> dict[str, Any]:
    i = res.inputs
    source = (i.get("cidrIpv4") or i.get("cidrIpv6") or i.get("prefixListId")
              or (index.name(i["referencedSecurityGroupId"])
                  if i.get("referencedSecurityGroupId") else None))
    direction = "egress" if res.type == EGRESS_RULE else "ingress"
    return {"group": index.name(i.get("securityGroupId")), "direction": direction,
            "ports": _ports(i), ("to" if direction == "egress" else "from"): source}


def _listener_keys(res: CapturedResource, index: _Index) -> dict[str, Any]:
    i = res.inputs
    keys: dict[str, Any] = {"port": i.get("port"), "protocol": i.get("protocol")}
    for action in i.get("defaultActions", []):
        if action.get("type") == "forward":
            keys["weights"] = {
                colour_of(index.get(tg.get("arn"))) or index.name(tg.get("arn")): tg.get("weight")
                for tg in action.get("forward", {}).get("targetGroups", [])}
        elif action.get("type") == "redirect":
            redirect = action.get("redirect", {})
            keys["redirect"] = f"{redirect.get('protocol')}:{redirect.get('port')}"
    return keys


def _lt_keys(res: CapturedResource, index: _Index) -> dict[str, Any]:
    i = res.inputs
    meta = i.get("metadataOptions", {})
    tags = i.get("tags", {})
    nics = i.get("networkInterfaces", [{}])
    disks = i.get("blockDeviceMappings", [{}])
    return {"colour": tags.get(naming.TAG_COLOUR), "image": i.get("imageId"),
            "instanceType": i.get("instanceType"), "httpTokens": meta.get("httpTokens"),
            "hopLimit": meta.get("httpPutResponseHopLimit"),
            "keyName": i.get("keyName"), "userData": bool(i.get("userData")),
            "publicIp": (nics[0] if nics else {}).get("associatePublicIpAddress"),
            "encrypted": (disks[0] if disks else {}).get("ebs", {}).get("encrypted"),
            "release": tags.get(naming.TAG_RELEASE)}


def _asg_keys(res: CapturedResource, index: _Index) -> dict[str, Any]:
    i = res.inputs
    template = i.get("launchTemplate", {})
    lt = index.get(template.get("id"))
    tags = {t.get("key"): t.get("value") for t in i.get("tags", [])}
    warm = i.get("warmPool")
    return {"colour": tags.get(naming.TAG_COLOUR),
            "image": lt.inputs.get("imageId") if lt else None,
            "launchTemplate": lt.name if lt else template.get("id"),
            "version": template.get("version"),
            "min": i.get("minSize"), "desired": i.get("desiredCapacity"), "max": i.get("maxSize"),
            "warmPool": warm.get("minSize") if warm else None,
            "waitForElbCapacity": i.get("waitForElbCapacity"),
            "healthCheck": i.get("healthCheckType")}


def colour_of(res: CapturedResource | None) -> str | None:
    if res is None:
        return None
    tags = res.inputs.get("tags", {})
    if isinstance(tags, Mapping):
        return tags.get(naming.TAG_COLOUR)
    return None


KEYS: dict[str, Callable[[CapturedResource, _Index], dict[str, Any]]] = {
    "aws:ec2/vpc:Vpc": lambda r, _: {"cidr": r.inputs.get("cidrBlock")},
    "aws:ec2/subnet:Subnet": lambda r, _: {"cidr": r.inputs.get("cidrBlock"),
                                           "az": r.inputs.get("availabilityZone"),
                                           "role": r.inputs.get("tags", {}).get(naming.TAG_ROLE)},
    "aws:ec2/routeTable:RouteTable": lambda r, _: {
        "routes": [x.get("cidrBlock") for x in r.inputs.get("routes", [])]},
    SECURITY_GROUP: lambda r, _: {"ingress": [_ports(x) for x in r.inputs.get("ingress", [])],
                                  "egress": [_ports(x) for x in r.inputs.get("egress", [])]},
    INGRESS_RULE: _rule_keys,
    EGRESS_RULE: _rule_keys,
    LB: lambda r, _: {"internal": r.inputs.get("internal"),
                      "subnets": len(r.inputs.get("subnets", []))},
    LISTENER: _listener_keys,
    TARGET_GROUP: lambda r, _: {"colour": colour_of(r), "port": r.inputs.get("port"),
                                "healthPath": r.inputs.get("healthCheck", {}).get("path")},
    LAUNCH_TEMPLATE: _lt_keys,
    ASG: _asg_keys,
    "aws:ecr/repository:Repository": lambda r, _: {
        "tagMutability": r.inputs.get("imageTagMutability"),
        "scanOnPush": r.inputs.get("imageScanningConfiguration", {}).get("scanOnPush")},
}


def build(capture: Capture) -> Plan:
    index = _Index(capture)
    items: list[PlanResource] = []
    by_urn: dict[str, PlanResource] = {}
    for res in capture.resources:
        describe = KEYS.get(res.type)
        keys = _integral(plain(describe(res, index))) if describe else {}
        item = PlanResource(res.type, res.name, res.urn, res.parent, res.custom,
                            {k: v for k, v in keys.items() if v is not None})
        items.append(item)
        by_urn[res.urn] = item
    roots: list[PlanResource] = []
    for item in items:
        parent = by_urn.get(item.parent)
        (parent.children if parent else roots).append(item)
    outputs = _integral(plain(capture.outputs))
    return Plan(capture.project, capture.stack, items, roots, _colours(items, outputs),
                outputs)


def _colours(items: list[PlanResource], outputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    weights: dict[str, Any] = {}
    for item in items:
        if item.type == LISTENER and "weights" in item.keys:
            weights = item.keys["weights"]
    colours: dict[str, dict[str, Any]] = {}
    for colour in COLOURS:
        asg = next((i.keys for i in items if i.type == ASG and i.keys.get("colour") == colour),
                   {})
        colours[colour] = {
            "live": outputs.get("liveColour") == colour,
            "weight": weights.get(colour),
            "image": asg.get("image"),
            "release": outputs.get("releases", {}).get(colour),
            "capacity": {k: asg.get(k) for k in ("min", "desired", "max")},
            "warmPool": asg.get("warmPool"),
        }
    return colours
