"""Stack-wide rules: a known-good blue/green stack changed one way per case, checked with
the rule functions and through ``AnalyzeStack``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kiln_immutable import RULES, Stack, StackResource

from kiln.audit.sources import AuditResource
from tests.policies import fixtures as fx

pytestmark = pytest.mark.integration

TWO = "kiln-autoscaling-group-two-colours"
WEIGHTS = "kiln-lb-listener-weighted-colours"
ROLE = "kiln-iam-instancerole-no-shell-access"
TG = "aws:lb/targetGroup:TargetGroup"
EC2_TRUST = json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                       "Principal": {"Service": "ec2.amazonaws.com"}}]})
LAMBDA_TRUST = EC2_TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com")
# The rules that close the stack by construction have their own table (test_surface.py):
# this one's minimal resources are not whole kiln resources.
SURFACE = {"kiln-pulumi-stack-allowed-types", "kiln-pulumi-stack-outputs-checked",
           "kiln-ec2-fleet-references-in-stack", "kiln-autoscaling-group-latest-template-version"}


def _urn(kind: str, name: str) -> str:
    return f"urn:pulumi:test::kiln::{kind}::{name}"


def _tg(colour: str, service: str = "web") -> tuple[str, str, dict[str, Any]]:
    arn = f"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/{colour}/1"
    return TG, f"web-{colour}-tg", {"arn": arn, "port": 8080, "tags": {
        "kiln:service": service, "kiln:colour": colour}}


def _asg(colour: str) -> tuple[str, str, dict[str, Any]]:
    return "aws:autoscaling/group:Group", f"web-{colour}-asg", {"tags": [
        {"key": "kiln:service", "value": "web"}, {"key": "kiln:colour", "value": colour}]}


def _listener(*targets: tuple[str, float], single: str | None = None
              ) -> tuple[str, str, dict[str, Any]]:
    action: dict[str, Any] = {"type": "forward"}
    if single is not None:
        action["targetGroupArn"] = single
    else:
        action["forward"] = {"targetGroups": [{"arn": _tg(c)[2]["arn"], "weight": w}
                                              for c, w in targets]}
    return "aws:lb/listener:Listener", "web-http", {
        "port": 80, "defaultActions": [action], "tags": {"kiln:service": "web"}}


def _role(name: str, trust: str) -> tuple[str, str, dict[str, Any]]:
    return "aws:iam/role:Role", name, {"name": f"{name}-1a2b", "assumeRolePolicy": trust,
                                       "arn": f"arn:aws:iam::123456789012:role/{name}-1a2b"}


def good() -> list[tuple[str, str, dict[str, Any]]]:
    return [_tg("blue"), _tg("green"), _asg("blue"), _asg("green"),
            _listener(("blue", 90.0), ("green", 10.0)), _role("web-role", EC2_TRUST),
            ("aws:iam/rolePolicy:RolePolicy", "web-read", {
                "role": "web-role-1a2b", "policy": fx.iam_doc("s3:GetObject")})]


Change = Callable[[list[tuple[str, str, dict[str, Any]]]], Any]
CASES: list[tuple[str, Change, dict[str, int]]] = [
    ("good", lambda s: None, {}),
    ("third-colour", lambda s: s.extend([_asg("red"), _tg("red")]), {TWO: 2, WEIGHTS: 1}),
    ("one-colour", lambda s: [s.remove(x) for x in list(s) if "green" in x[1]],
     {TWO: 2, WEIGHTS: 1}),
    ("two-blue-asgs", lambda s: s.append(("aws:autoscaling/group:Group", "web-blue-asg-2",
                                          _asg("blue")[2])), {TWO: 1}),
    ("untagged-asg", lambda s: s.append(("aws:autoscaling/group:Group", "rogue", {
        "tags": [{"key": "kiln:service", "value": "web"}]})), {TWO: 1}),
    ("weights-not-100", lambda s: s.__setitem__(4, _listener(("blue", 60.0), ("green", 30.0))),
     {WEIGHTS: 1}),
    ("one-colour-target", lambda s: s.__setitem__(4, _listener(("blue", 100.0))),
     {WEIGHTS: 1}),
    ("single-target-group", lambda s: s.__setitem__(4, _listener(single=_tg("blue")[2]["arn"])),
     {WEIGHTS: 1}),
    ("foreign-target-group", lambda s: s[4][2]["defaultActions"][0]["forward"][
        "targetGroups"][1].update(arn="arn:aws:elasticloadbalancing:eu-west-1:1:tg/x/1"),
     {WEIGHTS: 1}),
    ("role-policy-start-session", lambda s: s[6][2].update(
        policy=fx.iam_doc("ssm:StartSession")), {ROLE: 1}),
    ("attach-managed-ssm", lambda s: s.append((
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ssm", {
            "role": "web-role-1a2b",
            "policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"})), {ROLE: 1}),
    ("attach-stack-policy", lambda s: s.extend([
        ("aws:iam/policy:Policy", "ops", {"arn": "arn:aws:iam::123456789012:policy/ops",
                                          "policy": fx.iam_doc("ssm:SendCommand")}),
        ("aws:iam/policyAttachment:PolicyAttachment", "ops-attach", {
            "roles": ["web-role-1a2b"], "policyArn": "arn:aws:iam::123456789012:policy/ops"})]),
     {ROLE: 1}),
    ("profile-names-external-role", lambda s: s.extend([
        ("aws:iam/instanceProfile:InstanceProfile", "legacy", {"role": "legacy-role"}),
        ("aws:iam/rolePolicy:RolePolicy", "legacy-shell", {
            "role": "legacy-role", "policy": fx.iam_doc("ec2-instance-connect:*")})]),
     {ROLE: 1}),
    ("non-instance-role-is-fine", lambda s: s.extend([
        _role("deployer", LAMBDA_TRUST),
        ("aws:iam/rolePolicy:RolePolicy", "deploy", {
            "role": "deployer-1a2b", "policy": fx.iam_doc("ssm:*")})]), {}),
]


def _stack(change: Change) -> list[StackResource]:
    items = good()
    change(items)
    return [StackResource(kind, name, _urn(kind, name), props) for kind, name, props in items]


@pytest.mark.parametrize(("name", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_stack_rule_functions(name, change, expected):
    resources = tuple(_stack(change))
    found = {}
    for rule in RULES.values():
        if rule.stack and rule.id not in SURFACE:
            hits = list(rule.check(Stack(resources, rule.defaults)))
            if hits:
                found[rule.id] = len(hits)
    assert found == expected


@pytest.mark.parametrize(("name", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_stack_rules_through_the_analyzer(name, change, expected, analyzer):
    resources = [AuditResource(r.urn, r.type, r.name, True, r.props, r.props)
                 for r in _stack(change)]
    response = analyzer.analyze_stack(resources)
    found: dict[str, int] = {}
    for diagnostic in response.diagnostics:
        if diagnostic.policyName not in SURFACE:
            found[diagnostic.policyName] = found.get(diagnostic.policyName, 0) + 1
    assert found == expected, [d.message for d in response.diagnostics]
    urns = {r.urn for r in resources}
    for diagnostic in response.diagnostics:
        assert diagnostic.urn in urns | {""}
