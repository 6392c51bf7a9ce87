"""Every rule is documented for auditors and mapped to at least one control; mappings only
name real rules and declared controls."""

from __future__ import annotations

import pytest
from kiln_immutable import RULES

from kiln.audit import packconfig
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


@pytest.mark.parametrize(("config", "message"), [
    ({"all": "strict"}, "enforcement level 'strict'"),
    ({"kiln-ec2-keypair-forbidden": "advisory"}, "is not a policy of this pack"),
    ({"kiln-ec2-launchtemplate-signed-image": {"trustedKey": []}}, "has no property"),
    ({"kiln-ec2-launchtemplate-signed-image": {"trustedKeys": "k"}}, "must be of type array"),
])
def test_a_broken_pack_config_is_refused(analyzer, config, message):
    infos = packconfig.policies(analyzer.info())
    with pytest.raises(AuditError, match=message):
        packconfig.reconcile(infos, config, "config/prod.json")


def test_the_shipped_configs_trust_the_stacks_release_key():
    for env in ("dev", "staging", "prod"):
        config = packconfig.load(ak.PACK, env)
        keys = config["kiln-ec2-launchtemplate-signed-image"]["trustedKeys"]
        assert [k["id"] for k in keys] == ["kiln-release-2026"]
        assert config["all"] == ("advisory" if env == "dev" else "mandatory")
