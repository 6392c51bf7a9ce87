"""The rules that close a stack by construction, from a known-good kiln stack changed one way
per case: allowed types, references out of the stack, an ASG on an old version of its own
template, and outputs judged like inputs. Pure rule functions (the equivalence test runs the
same rules through the engine's protocol)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kiln_immutable import RULES, Stack, StackResource, rules_for
from kiln_immutable.surface import KILN_TYPES
from kiln_immutable.values import path_head

from tests.policies import auditkit as ak
from tests.policies import fixtures as fx

TYPES = "kiln-pulumi-stack-allowed-types"
REFS = "kiln-ec2-fleet-references-in-stack"
LATEST = "kiln-autoscaling-group-latest-template-version"
OUTPUTS = "kiln-pulumi-stack-outputs-checked"
SURFACE = (TYPES, REFS, LATEST, OUTPUTS)

LT, ASG = "aws:ec2/launchTemplate:LaunchTemplate", "aws:autoscaling/group:Group"
SG, PROFILE, ROLE = ("aws:ec2/securityGroup:SecurityGroup",
                     "aws:iam/instanceProfile:InstanceProfile", "aws:iam/role:Role")
PROFILE_ARN = "arn:aws:iam::123456789012:instance-profile/web"


def good() -> dict[str, tuple[str, dict[str, Any]]]:
    """name → (type, outputs) of a minimal kiln fleet whose references all resolve."""
    lt = {**fx.good(LT), "id": "lt-0123456789abcdef0", "name": "web-blue-lt-1a2b",
          "latestVersion": 2.0}
    asg = {**fx.good(ASG), "id": "web-blue-asg-1a2b"}
    asg["launchTemplate"] = {"id": "lt-0123456789abcdef0", "version": "2"}
    sg = {**fx.good(SG), "id": "sg-0123456789abcdef0", "name": "web-instance-sg"}
    profile = {"id": "web", "name": "web", "arn": PROFILE_ARN, "role": "web-role-1a2b"}
    role = {**fx.good(ROLE), "id": "web-role-1a2b", "name": "web-role-1a2b",
            "arn": "arn:aws:iam::123456789012:role/web-role-1a2b"}
    return {"web-blue-lt": (LT, lt), "web-blue-asg": (ASG, asg), "web-sg": (SG, sg),
            "web-profile": (PROFILE, profile), "web-role": (ROLE, role)}


def _at(name: str, *path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(stack: dict[str, Any]) -> None:
        target = stack[name][1]
        for key in path[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = path[-1]
        target[int(last) if last.isdigit() else last] = value
    return change


def _add(name: str, type_: str, props: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda stack: stack.__setitem__(name, (type_, props))


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda stack: stack.pop(name)


CASES: list[tuple[str, Callable[[dict[str, Any]], Any], dict[str, int]]] = [
    ("good", lambda s: None, {}),
    # --- allowed types ----------------------------------------------------------------------
    ("unknown-aws-type", _add("topic", "aws:sns/topic:Topic", {}), {TYPES: 1}),
    ("other-provider", _add("box", "command:remote:Command", {"create": "uptime"}),
     {TYPES: 1, OUTPUTS: 1}),
    ("aws-native-security-group", _add("sg2", "aws-native:ec2:SecurityGroup", {}), {TYPES: 1}),
    ("key-pair-type", _add("key", "aws:ec2/keyPair:KeyPair", {"keyName": "ops"}),
     {TYPES: 1, OUTPUTS: 1}),
    ("other-provider-resource", _add("gcp", "pulumi:providers:gcp", {}), {TYPES: 1}),
    # --- references out of the stack --------------------------------------------------------
    ("asg-foreign-template", _at("web-blue-asg", "launchTemplate", "id",
                                 value="lt-0fedcba9876543210"), {REFS: 1}),
    ("asg-template-by-foreign-name", _at("web-blue-asg", "launchTemplate",
                                         value={"name": "legacy", "version": "2"}), {REFS: 1}),
    ("asg-template-by-stack-name", _at("web-blue-asg", "launchTemplate",
                                       value={"name": "web-blue-lt-1a2b", "version": "2"}), {}),
    ("asg-template-with-no-reference", _at("web-blue-asg", "launchTemplate",
                                           value={"version": "2"}), {REFS: 1}),
    ("asg-mixed-policy-foreign-template", lambda s: (
        s["web-blue-asg"][1].pop("launchTemplate"),
        s["web-blue-asg"][1].update(mixedInstancesPolicy={"launchTemplate": {
            "launchTemplateSpecification": {"launchTemplateId": "lt-0fedcba9876543210",
                                            "version": "1"}}})), {REFS: 1}),
    ("lt-foreign-profile", _at("web-blue-lt", "iamInstanceProfile", "arn",
                               value="arn:aws:iam::123456789012:instance-profile/admin"),
     {REFS: 1}),
    ("lt-foreign-security-group", _at("web-blue-lt", "networkInterfaces", "0", "securityGroups",
                                      value=["sg-0123456789abcdef0", "sg-0aaaaaaaaaaaaaaaa"]),
     {REFS: 1}),
    ("lt-foreign-vpc-security-group", _at("web-blue-lt", "vpcSecurityGroupIds",
                                          value=["sg-0bbbbbbbbbbbbbbbb"]), {REFS: 1}),
    ("profile-foreign-role", _at("web-profile", "role", value="Administrator"), {REFS: 1}),
    ("security-group-dropped", _drop("web-sg"), {REFS: 1}),
    # --- an old version of the stack's own template -------------------------------------------
    ("asg-old-version", _at("web-blue-asg", "launchTemplate", "version", value="1"),
     {LATEST: 1}),
    ("asg-numeric-old-version", _at("web-blue-asg", "launchTemplate", "version", value=1.0),
     {}),  # not a string the engine sends: the pinned-version rule judges the shape
    ("asg-latest-as-string", _at("web-blue-lt", "latestVersion", value="2"), {}),
    # --- outputs judged like inputs -------------------------------------------------------------
    ("ssh-only-in-outputs", _at("web-sg", "ingress", value=[
        {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/0"]}]),
     {OUTPUTS: 1}),
    ("imds-v1-in-outputs", _at("web-blue-lt", "metadataOptions", "httpTokens",
                               value="optional"), {OUTPUTS: 1}),
    ("asg-floating-version-in-outputs", _at("web-blue-asg", "launchTemplate", "version",
                                            value="$Latest"), {OUTPUTS: 1}),
]


def _stack(change: Callable[[dict[str, Any]], Any]) -> tuple[StackResource, ...]:
    items = copy.deepcopy(good())
    change(items)
    return tuple(StackResource(t, n, f"urn:pulumi:test::kiln::{t}::{n}", p, region=fx.REGION)
                 for n, (t, p) in items.items())


def _found(resources: tuple[StackResource, ...], config: dict[str, Any] | None = None
           ) -> dict[str, int]:
    found = {}
    for rule_id in SURFACE:
        rule = RULES[rule_id]
        hits = list(rule.check(Stack(resources, {**rule.defaults, **(config or {})})))
        if hits:
            found[rule_id] = len(hits)
    return found


@pytest.mark.parametrize(("name", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_surface_rules(name, change, expected):
    assert _found(_stack(change)) == expected


def test_an_allowed_type_in_config_is_not_a_finding():
    resources = _stack(_add("topic", "aws:sns/topic:Topic", {}))
    assert _found(resources, {"allowedTypes": ["aws:sns/*"]}) == {}
    assert _found(resources, {"allowedTypes": ["aws:sqs/*"]}) == {TYPES: 1}


def test_a_trusted_outside_reference_is_not_a_finding():
    resources = _stack(_at("web-profile", "role", value="shared-ops-role"))
    assert _found(resources, {"trustedReferences": ["shared-ops-role"]}) == {}
    assert _found(resources, {"trustedReferences": ["shared-ops"]}) == {REFS: 1}


def test_every_type_kiln_registers_is_allowed_and_nothing_else_is_needed():
    registered = {r.type for stack in ("dev", "staging", "prod")
                  for r in ak.stack_source(stack).resources}
    assert registered <= set(KILN_TYPES)


def test_every_allowed_type_that_launches_or_opens_has_its_own_rule():
    sensitive = {LT, ASG, SG, ROLE, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                 "aws:ecr/repository:Repository"}
    for type_ in sensitive:
        assert type_ in KILN_TYPES and rules_for(type_), type_
    assert json.dumps(sorted(KILN_TYPES))  # a plain list a reviewer can read


NAMES = st.from_regex(r"[a-z][a-zA-Z]{0,15}", fullmatch=True)


@given(NAMES, st.sampled_from(['{}', '["{}"]', "['{}']", " {} ", "{}[0]", "{}.x", '["{}"].y',
                               "{}[*]"]))
def test_every_spelling_of_a_path_names_the_same_property(name, spelling):
    assert path_head(spelling.format(name)) == name.lower()
