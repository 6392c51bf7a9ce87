"""Every rule is documented for auditors and mapped to at least one control; mappings only
name real rules and declared controls."""

from __future__ import annotations

import json

import pytest
import yaml
from kiln_immutable import RULES

from kiln.audit import packconfig, run
from kiln.audit.sources import AuditError
from tests.policies import auditkit as ak

pytestmark = pytest.mark.integration


def test_every_rule_is_in_the_auditor_guide():
    text = (ak.ROOT / "docs" / "auditors.md").read_text()
    missing = [rule for rule in RULES if f"`{rule}`" not in text]
    assert missing == []


def test_every_rule_maps_to_a_control():
    frameworks = packconfig.frameworks(ak.PACK, set(RULES))
    assert {f.id for f in frameworks} == {"nist-800-53-r5", "cis-aws-foundations", "soc2"}
    mapped = {rule for f in frameworks for rule in f.rules}
    assert mapped == set(RULES)
    nist = next(f for f in frameworks if f.id == "nist-800-53-r5")
    # Many-to-many: rules with several controls, controls with several rules.
    assert len(nist.rules["kiln-ec2-securitygroup-no-admin-ingress"]) > 1
    assert sum("AC-17" in c for c in nist.rules.values()) > 1


def test_a_mapping_to_an_unknown_rule_is_refused(tmp_path):
    pack = ak.pack_copy(tmp_path)
    path = pack / "frameworks" / "soc2-cc.yaml"
    path.write_text(path.read_text().replace("kiln-ecr-repository-scan-on-push:",
                                             "kiln-ecr-repository-scan-on-pull:"))
    with pytest.raises(AuditError, match="'kiln-ecr-repository-scan-on-pull' is not a rule"):
        packconfig.frameworks(pack, set(RULES))


def test_a_mapping_to_an_undeclared_control_is_refused(tmp_path):
    pack = ak.pack_copy(tmp_path)
    path = pack / "frameworks" / "nist-800-53-r5.yaml"
    path.write_text(path.read_text().replace("[RA-5]", "[RA-99]"))
    with pytest.raises(AuditError, match="undeclared control 'RA-99'"):
        packconfig.frameworks(pack, set(RULES))


BROKEN = [
    ({"all": "strict"}, "enforcement level 'strict'"),
    ({"kiln-ec2-keypair-forbidden": "advisory"}, "is not a policy of this pack"),
    ({"kiln-ec2-launchtemplate-signed-image": {"trustedKey": []}},
     r"Additional properties are not allowed \('trustedKey'"),
    ({"kiln-ec2-launchtemplate-signed-image": {"trustedKeys": "k"}}, "is not of type 'array'"),
    # The engine validates the whole schema, not the top-level shape: nested entries too.
    ({"kiln-ec2-launchtemplate-signed-image": {"trustedKeys": [{"id": "k"}]}},
     r"trustedKeys\[0\]: 'type' is a required property"),
    ({"kiln-ec2-launchtemplate-signed-image": {"trustedKeys": [
        {"id": "k", "type": "rsa", "publicKey": "x"}]}}, r"trustedKeys\[0\]\.type: 'rsa'"),
    ({"kiln-ec2-launchtemplate-user-data-pinned": {"allowedUserDataSha256": ["abc"]}},
     r"allowedUserDataSha256\[0\]: 'abc' does not match"),
    ({"kiln-pulumi-stack-allowed-types": {"allowedTypes": [""]}},
     r"allowedTypes\[0\]: '' should be non-empty"),
    ({"kiln-ec2-keypair-disallowed": {"enforcementLevel": "loud"}}, "enforcement level 'loud'"),
]


@pytest.mark.parametrize(("config", "message"), BROKEN)
def test_a_broken_pack_config_is_refused(analyzer, config, message):
    infos = packconfig.policies(analyzer.info())
    with pytest.raises(AuditError, match=message):
        packconfig.reconcile(infos, config, "config/prod.json")


@pytest.mark.parametrize("analyzer_path", [False, True], ids=["in-process", "analyzer"])
@pytest.mark.parametrize(("config", "message"), BROKEN[4:7])
def test_a_broken_pack_config_stops_both_audit_paths(tmp_path, analyzer_path, config, message):
    pack = ak.pack_copy(tmp_path)
    (pack / "config" / "prod.json").write_text(json.dumps(config))
    with pytest.raises(AuditError, match=message):
        run.evaluate(lambda: ak.stack_source("prod"), pack=pack, environment="prod",
                     project="kiln", stack="prod", config={}, analyzer=analyzer_path)


def test_every_policy_carries_framework_tags_and_url(analyzer):
    info = analyzer.info()
    for policy in info.policies:
        assert policy.framework.name and policy.framework.reference.startswith("https://"), \
            policy.name
        assert policy.url.startswith("https://") and policy.tags, policy.name
        assert all(":" in tag for tag in policy.tags)
    keypair = next(p for p in info.policies if p.name == "kiln-ec2-keypair-disallowed")
    assert "nist-800-53-r5:AC-17" in keypair.tags


def test_the_pack_declares_the_projects_virtualenv():
    manifest = yaml.safe_load((ak.PACK / "PulumiPolicy.yaml").read_text())
    venv = manifest["runtime"]["options"]["virtualenv"]
    assert manifest["runtime"]["name"] == "python"
    assert (ak.PACK / venv).resolve() == (ak.ROOT / ".venv").resolve()


def test_the_shipped_configs_trust_the_stacks_release_key():
    for env in ("dev", "staging", "prod"):
        config = packconfig.load(ak.PACK, env)
        keys = config["kiln-ec2-launchtemplate-signed-image"]["trustedKeys"]
        assert [k["id"] for k in keys] == ["kiln-release-2026"]
        assert config["all"] == ("advisory" if env == "dev" else "mandatory")
