"""Every rule, one changed field per case: first the rule functions, then the same cases
through the policy server's gRPC protocol."""

from __future__ import annotations

import dataclasses

import pytest
from kiln_immutable import RULES, Resource, rules_for

from kiln.audit.sources import AuditResource, Provider
from tests.policies import fixtures as fx
from tests.policies.attack_cases import ALL as CASES
from tests.policies.cases import Case

pytestmark = pytest.mark.integration


def _props(case: Case) -> dict:
    props = fx.good(case.type)
    case.change(props)
    return props


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_resource_rule_has_a_failing_and_a_passing_case():
    fired = {rule for case in CASES for rule in case.expected}
    resource_rules = {r.id for r in RULES.values() if not r.stack}
    assert resource_rules <= fired, sorted(resource_rules - fired)
    for rule in resource_rules:
        types = RULES[rule].types
        always_bad = {"aws:ec2/keyPair:KeyPair", "aws:ec2/instance:Instance",
                      "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
                      "aws:ec2/launchConfiguration:LaunchConfiguration",
                      "aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint",
                      "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask",
                      "aws:ec2/spotFleetRequest:SpotFleetRequest", "aws:ec2/fleet:Fleet",
                      "aws:lightsail/instance:Instance",
                      "aws:lightsail/instancePublicPorts:InstancePublicPorts",
                      "aws-native:ec2:Instance", "command:remote:Command",
                      "command:remote:CopyFile", "command:remote:CopyToRemote"}
        if set(types) <= always_bad:
            continue
        assert any(c.type in types and rule not in c.expected for c in CASES), rule


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_functions(case: Case):
    resource = Resource(case.type, "res", _props(case),
                        urn=f"urn:pulumi:test::kiln::{case.type}::res",
                        ignore_changes=case.ignore_changes, region=case.region)
    fired = {}
    for rule in rules_for(case.type):
        config = {**rule.defaults, **fx.CONFIG.get(rule.id, {})}
        messages = list(rule.check(dataclasses.replace(resource, config=config)))
        if messages:
            fired[rule.id] = messages
    assert set(fired) == case.expected
    for messages in fired.values():
        assert all(isinstance(m, str) and m for m in messages)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_through_the_analyzer(case: Case, analyzer):
    urn = f"urn:pulumi:test::kiln::{case.type}::res"
    provider = Provider("urn:pulumi:test::kiln::pulumi:providers:aws::default",
                        "pulumi:providers:aws", "default", {"region": case.region})
    resource = AuditResource(urn, case.type, "res", True, _props(case), {},
                             options={"ignoreChanges": list(case.ignore_changes)},
                             provider=provider)
    [(_, response)] = list(analyzer.analyze([resource]))
    fired = {d.policyName for d in response.diagnostics}
    assert fired == case.expected, [d.message for d in response.diagnostics]
    for diagnostic in response.diagnostics:
        assert diagnostic.urn in ("", urn)  # the engine attributes it to the resource
        assert diagnostic.enforcementLevel == 1  # MANDATORY
        assert diagnostic.message.startswith(RULES[diagnostic.policyName].description)
    # Rules for other types answer "not applicable"; this type's rules all ran.
    skipped = {n.policy_name for n in response.not_applicable}
    assert skipped == {r for r in RULES if not RULES[r].stack} - {
        r.id for r in rules_for(case.type)}
