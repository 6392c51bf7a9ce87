"""The analyzer protocol itself: the pack starts as the engine starts it, describes its
policies, honours Configure, handles preview unknowns, and is stopped by PID afterwards."""

from __future__ import annotations

import os
import sys

import pytest
from google.protobuf import json_format, struct_pb2
from kiln_immutable import RULES
from kiln_immutable.pack import build_policies
from kiln_immutable.servicer import analyze
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy import policy as sdk

from kiln.audit import packconfig
from kiln.audit.analyzer import Analyzer
from kiln.audit.sources import AuditError, AuditResource
from tests.policies import fixtures as fx
from tests.policies.cases import CASES

pytestmark = pytest.mark.integration

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_the_pack_is_started_as_the_engine_starts_it(analyzer, pack_dir):
    assert analyzer.process.args == [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0",
                                     str(pack_dir.resolve())]
    assert 0 < analyzer.port < 65536


def test_analyzer_info_describes_every_rule(analyzer):
    info = analyzer.info()
    assert info.name == "kiln-immutable" and info.supportsConfig
    policies = {p.name: p for p in info.policies}
    assert set(policies) == set(RULES) and len(policies) == 36
    for name, policy in policies.items():
        rule = RULES[name]
        assert policy.description == rule.description
        assert policy.remediation_steps == rule.remediation
        assert analyzer_pb2.PolicySeverity.Name(policy.severity).endswith(rule.severity.upper())
        assert policy.policy_type == (2 if rule.stack else 1)
        assert policy.enforcementLevel == analyzer_pb2.MANDATORY
    schema = json_format.MessageToDict(
        policies["kiln-ec2-launchtemplate-signed-image"].configSchema.properties)
    assert schema["trustedKeys"]["type"] == "array"


def test_configure_sets_levels_per_policy(pack_dir):
    with Analyzer(pack_dir, project="kiln", stack="test", config={}) as server:
        server.connect()
        infos = packconfig.policies(server.info())
        config = packconfig.reconcile(infos, {"all": "advisory",
                                              "kiln-ec2-keypair-disallowed": "disabled"}, "t")
        server.configure(config)
        key = AuditResource("urn:pulumi:test::kiln::aws:ec2/keyPair:KeyPair::k",
                            "aws:ec2/keyPair:KeyPair", "k", True, {"publicKey": "x"}, {})
        instance = AuditResource("urn:pulumi:test::kiln::aws:ec2/instance:Instance::i",
                                 "aws:ec2/instance:Instance", "i", True, {"ami": fx.IMAGE}, {})
        (_, quiet), (_, loud) = server.analyze([key, instance])
        assert list(quiet.diagnostics) == []
        assert [(d.policyName, d.enforcementLevel) for d in loud.diagnostics] == [
            ("kiln-ec2-instance-disallowed", analyzer_pb2.ADVISORY)]
        pid = server.pid
    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_unknown_values_at_preview_are_advisory_not_passed(analyzer):
    props = fx.good("aws:ec2/launchTemplate:LaunchTemplate")
    props["userData"] = UNKNOWN
    lt = AuditResource("urn:pulumi:test::kiln::aws:ec2/launchTemplate:LaunchTemplate::lt",
                       "aws:ec2/launchTemplate:LaunchTemplate", "lt", True, props, {})
    [(_, response)] = list(analyzer.analyze([lt]))
    [diagnostic] = response.diagnostics
    assert diagnostic.policyName == "kiln-ec2-launchtemplate-user-data-pinned"
    assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY
    assert "during preview" in diagnostic.message


def test_a_pack_that_cannot_start_is_one_line(pack_dir, tmp_path):
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers: {}\n")
    with (Analyzer(pack_dir, project="kiln", stack="test", config={}, waivers=waivers) as server,
          pytest.raises(AuditError, match=r"failed to start: .*'waivers' must be a list")):
        server.connect()


def _configured_servicer():
    servicer = sdk._PolicyAnalyzerServicer("kiln-immutable", "0.0.1", build_policies([]),
                                           EnforcementLevel.MANDATORY)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, props in fx.CONFIG.items():
        request.policyConfig[name].enforcementLevel = analyzer_pb2.MANDATORY
        request.policyConfig[name].properties.update(props)
    servicer.Configure(request, None)
    return servicer


@pytest.mark.parametrize("case", CASES[::7], ids=lambda c: c.id)
def test_decoding_once_answers_like_the_sdk(case):
    """The pack's Analyze gives the SDK's own answer, policy for policy."""
    _assert_answers_like_the_sdk(_configured_servicer(), case)


def test_one_server_answers_every_request_like_the_sdk():
    """What the pack keeps between requests (plans, options, providers) and shares between
    the policies of one request never leaks into another request's answer."""
    servicer = _configured_servicer()
    for case in CASES + CASES[::-1]:
        _assert_answers_like_the_sdk(servicer, case)


def _assert_answers_like_the_sdk(servicer, case):
    props = fx.good(case.type)
    case.change(props)
    message = struct_pb2.Struct()
    message.update(props)
    analyze_request = analyzer_pb2.AnalyzeRequest(
        urn="urn:pulumi:test::kiln::x::res", type=case.type, name="res", properties=message,
        options=analyzer_pb2.AnalyzerResourceOptions(ignoreChanges=list(case.ignore_changes)),
        provider=analyzer_pb2.AnalyzerProviderResource(
            type="pulumi:providers:aws", urn="urn:p", name="default",
            properties=struct_pb2.Struct(fields={"region": struct_pb2.Value(
                string_value=case.region)})))
    ours = analyze(servicer, analyze_request, None)
    theirs = sdk._PolicyAnalyzerServicer.Analyze(servicer, analyze_request, None)
    assert [json_format.MessageToDict(d) for d in ours.diagnostics] == \
        [json_format.MessageToDict(d) for d in theirs.diagnostics]
    assert sorted(n.policy_name for n in ours.not_applicable) == \
        sorted(n.policy_name for n in theirs.not_applicable)
