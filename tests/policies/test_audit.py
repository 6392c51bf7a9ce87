"""Whole audits through the real protocol: every stack passes, a bad program variant fails
with exactly the expected findings, enforcement follows the environment, signatures and
revocation are checked end to end."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kiln.audit.sources import Source
from tests.policies import auditkit as ak
from tests.policies import fixtures as fx

pytestmark = pytest.mark.integration

SIGNED = "kiln-ec2-launchtemplate-signed-image"
REVOKED = "kiln-ec2-launchtemplate-image-not-revoked"
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")]
                for p in (ak.ROOT / "stacks").glob("Pulumi.*.yaml"))
BAD = ak.BAD


def with_tags(source: Source, name: str, **tags: str) -> Source:
    """The source with one launch template's tags changed."""
    changed = []
    for res in source.resources:
        if res.name == name:
            inputs = {**res.inputs, "tags": {**res.inputs["tags"], **tags}}
            changed.append(dataclasses.replace(res, inputs=inputs,
                                               outputs={**res.outputs, **inputs}))
        else:
            changed.append(res)
    return dataclasses.replace(source, resources=tuple(changed))


def test_the_project_has_stacks():
    assert STACKS == ["dev", "prod", "staging"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_in_its_environment(stack):
    report = ak.evaluate(ak.stack_source(stack))
    assert report.findings == []
    assert report.exit_code == 0
    counts = report.counts()
    assert counts["failed"] == counts["waived"] == 0
    assert counts["passed"] == counts["checks"] > 30
    signed = {c.name: c.status for c in report.checks if c.rule == SIGNED}
    assert signed == {"web-blue-lt": "passed", "web-green-lt": "passed"}
    assert set(report.levels.values()) == {"advisory" if stack == "dev" else "mandatory"}


def test_a_bad_program_yields_exactly_the_expected_findings():
    report = ak.evaluate(ak.bad_source("prod"))
    assert {(f.rule, f.name) for f in report.findings} == BAD
    assert len(report.findings) == len(BAD)
    assert {f.enforcement for f in report.findings} == {"mandatory"}
    assert report.exit_code == 1
    by_rule = {f.rule: f for f in report.findings}
    assert "SSH (22)" in by_rule["kiln-vpc-securitygroupingressrule-no-admin-ingress"].message
    assert "eu-central-1" in by_rule[SIGNED].message
    assert by_rule["kiln-ec2-keypair-disallowed"].type == "aws:ec2/keyPair:KeyPair"


def test_dev_enforcement_is_advisory():
    report = ak.evaluate(ak.bad_source("prod"), environment="dev")
    assert {(f.rule, f.name) for f in report.findings} == BAD
    assert {f.enforcement for f in report.findings} == {"advisory"}
    assert report.exit_code == 0


def test_a_signature_by_an_unknown_key_fails():
    source = with_tags(ak.stack_source("staging"), "web-green-lt", **{
        "kiln:signature": fx.sign(fx.statement("ami-6f34dccf0103b0267", "eu-west-1",
                                               "sha256:2440055881d8a994e3ff179a7453ee2969b7"
                                               "9941e5245f4d383cc09392bf2ad6"), fx.STRANGER)})
    report = ak.evaluate(source)
    assert [(f.rule, f.name) for f in report.findings] == [(SIGNED, "web-green-lt")]
    assert "kiln-release-2026" in report.findings[0].message
    assert report.exit_code == 1


def test_a_revoked_image_is_refused(tmp_path):
    pack = ak.pack_copy(tmp_path)
    path = pack / "config" / "prod.json"
    config = json.loads(path.read_text())
    config[REVOKED] = {"revoked": [{"image": "ami-4551f5a48c3e943bc",
                                    "reason": "kernel CVE in the 2026-10 base"}]}
    path.write_text(json.dumps(config))
    report = ak.evaluate(ak.stack_source("prod"), pack=pack)
    assert [(f.rule, f.name) for f in report.findings] == [(REVOKED, "web-blue-lt")]
    assert "kernel CVE" in report.findings[0].message
    assert report.exit_code == 1


def test_a_key_trusted_by_the_stack_but_not_the_pack_fails(tmp_path):
    pack = ak.pack_copy(tmp_path)
    path = pack / "config" / "staging.json"
    config = json.loads(path.read_text())
    config[SIGNED] = {"trustedKeys": fx.TRUSTED}  # the release key is not among them
    path.write_text(json.dumps(config))
    report = ak.evaluate(ak.stack_source("staging"), pack=pack)
    assert {(f.rule, f.name) for f in report.findings} == {(SIGNED, "web-blue-lt"),
                                                          (SIGNED, "web-green-lt")}


def test_disabling_a_rule_in_the_config_skips_it(tmp_path):
    pack = ak.pack_copy(tmp_path)
    path = pack / "config" / "prod.json"
    config = json.loads(path.read_text())
    config["kiln-ec2-keypair-disallowed"] = "disabled"
    path.write_text(json.dumps(config))
    report = ak.evaluate(ak.bad_source("prod"), pack=pack)
    assert {f.rule for f in report.findings} == {r for r, _ in BAD} - {
        "kiln-ec2-keypair-disallowed"}
    assert report.counts()["rules"] == len(report.rules) - 1


def test_json_report_shape():
    report = ak.evaluate(ak.bad_source("prod")).to_json()
    assert report["stack"] == "prod"
    assert report["pack"] == {"name": "kiln-immutable", "version": "0.1.0"}
    assert report["counts"]["findings"] == len(BAD) == report["counts"]["mandatory"]
    finding = report["findings"][0]
    assert set(finding) >= {"rule", "urn", "type", "name", "severity", "enforcement",
                            "message", "waived", "controls"}
    assert finding["urn"].startswith("urn:pulumi:prod::kiln::")
    passed = {p["name"]: p["rules"] for p in report["passed"]}
    assert "kiln-ec2-launchtemplate-imdsv2-required" in passed["web-blue-lt"]
    assert "kiln-ec2-launchtemplate-user-data-pinned" not in passed["web-blue-lt"]
    keypair = next(f for f in report["findings"] if f["rule"] == "kiln-ec2-keypair-disallowed")
    assert "AC-17" in keypair["controls"]["nist-800-53-r5"]
