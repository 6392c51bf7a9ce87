"""Waivers: a valid one suppresses and is reported as suppressed; an expired or malformed
one fails the run; one that does not match leaves the finding open."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from kiln_immutable import RULES, waivers

from kiln.audit import sarif
from kiln.audit.sources import AuditError
from tests.policies import auditkit as ak

pytestmark = pytest.mark.integration

TODAY = dt.datetime.now(dt.UTC).date()
FUTURE = (TODAY + dt.timedelta(days=30)).isoformat()
PAST = (TODAY - dt.timedelta(days=1)).isoformat()
KEYPAIR = "kiln-ec2-keypair-disallowed"


def waiver(rule: str = KEYPAIR, resource: str = "ops-key", stack: str = "prod",
           expires: str = FUTURE, **extra: str) -> str:
    fields = {"rule": rule, "resource": resource, "stack": stack,
              "justification": "break-glass key until the bastion is gone",
              "approver": "jane.doe@example.com", "expires": expires, **extra}
    return "  - " + "\n    ".join(f"{k}: {v!r}" if k != "expires" else f"{k}: {v}"
                                  for k, v in fields.items()) + "\n"


def write(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n" + "".join(entries))
    return path


def test_a_valid_waiver_suppresses_and_is_reported(tmp_path):
    report = ak.evaluate(ak.bad_source("prod"), waivers=write(tmp_path, waiver()))
    keypair = [f for f in report.findings if f.rule == KEYPAIR]
    assert len(keypair) == 1 and keypair[0].waived
    assert keypair[0].waiver["approver"] == "jane.doe@example.com"
    assert keypair[0].waiver["expires"] == FUTURE
    assert "would allow SSH logins" in keypair[0].message
    counts = report.counts()
    assert counts["suppressed"] == 1 and counts["mandatory"] == len(ak.BAD) - 1 \
        and counts["waived"] == 1
    [result] = [r for r in sarif.build(report)["runs"][0]["results"] if r["ruleId"] == KEYPAIR]
    assert result["suppressions"][0]["status"] == "accepted"
    assert result["suppressions"][0]["justification"].startswith("break-glass")


def test_waiving_every_mandatory_finding_passes_the_stack(tmp_path):
    path = write(tmp_path, waiver(), waiver("kiln-vpc-securitygroupingressrule-no-admin-ingress",
                                            "ssh-in"),
                 waiver("kiln-ec2-launchtemplate-user-data-pinned", "web-*-lt"),
                 waiver("kiln-ec2-launchtemplate-signed-image",
                        "urn:pulumi:prod::kiln::*::web-green-lt", stack="p*"),
                 waiver("kiln-pulumi-stack-allowed-types", "ops-key"),
                 waiver("kiln-pulumi-stack-outputs-checked", "*"))
    report = ak.evaluate(ak.bad_source("prod"), waivers=path)
    assert len(report.findings) == len(ak.BAD) and all(f.waived for f in report.findings)
    assert report.exit_code == 0


@pytest.mark.parametrize(("entry", "why"), [
    (waiver(stack="staging"), "other stack"),
    (waiver(resource="ops-key-2"), "other resource"),
    (waiver(rule="kiln-ec2-launchtemplate-no-key-pair"), "other rule"),
])
def test_a_waiver_that_does_not_match_leaves_the_finding_open(tmp_path, entry, why):
    report = ak.evaluate(ak.bad_source("prod"), waivers=write(tmp_path, entry))
    keypair = [f for f in report.findings if f.rule == KEYPAIR]
    assert len(keypair) == 1 and not keypair[0].waived, why
    assert report.counts()["suppressed"] == 0


def test_an_expired_waiver_fails_the_run(tmp_path):
    with pytest.raises(AuditError, match=f"expired on {PAST}"):
        ak.evaluate(ak.bad_source("prod"), waivers=write(tmp_path, waiver(expires=PAST)))


@pytest.mark.parametrize(("text", "message"), [
    ("waivers: [\n", "is not valid YAML"),
    ("- rule: x\n", "expected a mapping with one key, 'waivers'"),
    ("waivers:\n" + waiver(owner="me"), "unknown field 'owner'"),
    ("waivers:\n" + waiver().replace("    approver: 'jane.doe@example.com'\n", ""),
     "waivers[0].approver is missing"),
    ("waivers:\n" + waiver(expires="next week"), "is not a date"),
    ("waivers:\n" + waiver(rule="kiln-ec2-keypair-forbidden"), "is not a rule of this pack"),
    ("waivers:\n" + waiver().replace(f"    expires: {FUTURE}\n", ""), "every waiver expires"),
])
def test_a_malformed_waiver_file_fails_the_run(tmp_path, text, message):
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(AuditError) as error:
        ak.evaluate(ak.bad_source("prod"), waivers=path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_waiver_is_valid_through_its_expiry_day():
    data = {"waivers": [{"rule": KEYPAIR, "resource": "*", "stack": "*", "justification": "j",
                         "approver": "a", "expires": TODAY}]}
    [found] = waivers.parse(data, RULES, TODAY, "w.yaml")
    assert found.matches(KEYPAIR, "dev", "urn:x", "anything")
    with pytest.raises(waivers.WaiverError, match="expired"):
        waivers.parse(data, RULES, TODAY + dt.timedelta(days=1), "w.yaml")


def test_the_shipped_waiver_file_is_valid():
    assert waivers.load(RULES) == []
