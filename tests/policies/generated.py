"""Sources for comparing the two audit paths: every rule case as one resource of one stack,
and a generated stack of any size (blue/green services, some of them broken)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from kiln.audit.sources import STACK_TYPE, AuditResource, Provider, Source
from tests.policies import auditkit as ak
from tests.policies import fixtures as fx
from tests.policies.attack_cases import ALL as CASES
from tests.policies.cases import Case

STACK, PROJECT = "test", "kiln"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::{STACK_TYPE}::{PROJECT}-{STACK}"


def provider(region: str = fx.REGION) -> Provider:
    return Provider(f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:aws::{region}",
                    "pulumi:providers:aws", region, {"region": region})


def _case_resource(case: Case) -> AuditResource:
    props = fx.good(case.type)
    case.change(props)
    urn = f"urn:pulumi:{STACK}::{PROJECT}::{case.type}::{case.id}"
    return AuditResource(urn, case.type, case.id, True, props, props, parent=STACK_URN,
                         options={"ignoreChanges": list(case.ignore_changes)},
                         provider=provider(case.region))


def _frame(resources: list[AuditResource], origin: str) -> Source:
    providers = {r.provider.urn: r.provider for r in resources if r.provider is not None}
    head = [AuditResource(STACK_URN, STACK_TYPE, f"{PROJECT}-{STACK}", False, {}, {})]
    head += [AuditResource(p.urn, p.type, p.name, True, p.props, p.props, parent=STACK_URN)
             for p in providers.values()]
    return Source(PROJECT, STACK, origin, tuple(head + resources), {})


def cases_source() -> Source:
    """Every rule case as one resource (named by the case id) of one stack."""
    return _frame([_case_resource(c) for c in CASES], "cases")


def _signed_template(i: int, colour: str) -> dict[str, Any]:
    image = f"ami-{i:08x}{'0' if colour == 'blue' else '1'}0000000"[:21]
    release = "sha256:" + f"{i:064x}"
    return {**fx.good("aws:ec2/launchTemplate:LaunchTemplate"), "imageId": image,
            "tags": {**fx.lt_tags(image=image, release=release,
                                  signature=fx.sign(fx.statement(image, release=release))),
                     "kiln:service": f"svc{i}", "kiln:colour": colour}}


def _service(i: int) -> list[tuple[str, str, dict[str, Any]]]:
    tags = {"kiln:service": f"svc{i}", "kiln:stack": STACK}
    items: list[tuple[str, str, dict[str, Any]]] = []
    arns = []
    for colour in ("blue", "green"):
        arn = f"arn:aws:elasticloadbalancing:{fx.REGION}:123456789012:targetgroup/s{i}{colour}/1"
        arns.append(arn)
        lt = _signed_template(i, colour)
        if i % 7 == 3 and colour == "green":
            lt["userData"] = base64.b64encode(fx.PATCH).decode()
        items += [
            ("aws:lb/targetGroup:TargetGroup", f"svc{i}-{colour}-tg",
             {"port": 8080, "protocol": "HTTP", "arn": arn,
              "tags": {**tags, "kiln:colour": colour}}),
            ("aws:ec2/launchTemplate:LaunchTemplate", f"svc{i}-{colour}-lt", lt),
            ("aws:autoscaling/group:Group", f"svc{i}-{colour}-asg",
             {**fx.good("aws:autoscaling/group:Group"),
              "launchTemplate": {"id": f"lt-{i:017x}",
                                 "version": "$Latest" if i % 11 == 5 else "1"},
              "tags": [{"key": k, "value": v, "propagateAtLaunch": True}
                       for k, v in {**tags, "kiln:colour": colour}.items()]}),
        ]
    ssh = i % 10 == 0
    items += [
        ("aws:lb/listener:Listener", f"svc{i}-http",
         {"port": 80, "protocol": "HTTP", "tags": tags, "defaultActions": [{
             "type": "forward", "forward": {"targetGroups": [
                 {"arn": arns[0], "weight": 100}, {"arn": arns[1], "weight": 0}]}}]}),
        ("aws:ec2/securityGroup:SecurityGroup", f"svc{i}-sg",
         {"description": f"svc{i}", "tags": tags, "ingress": [
             {"protocol": "tcp", "fromPort": 22 if ssh else 443, "toPort": 22 if ssh else 443,
              "cidrBlocks": ["0.0.0.0/0"]}]}),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"svc{i}-in",
         {"securityGroupId": f"sg-{i:017x}", "ipProtocol": "tcp", "fromPort": 8080,
          "toPort": 8080, "cidrIpv4": "10.0.0.0/16", "tags": tags}),
        ("aws:ecr/repository:Repository", f"svc{i}-repo",
         {"imageTagMutability": "IMMUTABLE" if i % 13 else "MUTABLE",
          "imageScanningConfiguration": {"scanOnPush": True}, "tags": tags}),
    ]
    return items


def generated_source(count: int) -> Source:
    """``count`` resources of blue/green services in one stack."""
    items: list[tuple[str, str, dict[str, Any]]] = []
    i = 0
    while len(items) < count:
        items += _service(i)
        i += 1
    resources = [AuditResource(f"urn:pulumi:{STACK}::{PROJECT}::{kind}::{name}", kind, name,
                               True, props, props, parent=STACK_URN, provider=provider())
                 for kind, name, props in items[:count]]
    return _frame(resources, f"generated-{count}")


def write_export(source: Source, path: Path) -> Path:
    path.write_text(json.dumps(ak.export_document(source)))
    return path
