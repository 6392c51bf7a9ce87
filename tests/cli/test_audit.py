"""`kiln audit` through typer's runner: reports written, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

from tests.cli.clitools import invoke, one_line_error
from tests.policies import auditkit as ak


@pytest.fixture
def project(project_copy):
    """The project copy with the policy pack beside its stacks (shared, read-only)."""
    (project_copy / "policies").symlink_to(ak.ROOT / "policies")
    return project_copy






def test_audit_dev_writes_every_report(project, tmp_path):
    out = tmp_path / "reports"
    result = invoke("audit", "dev", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "PASS: 0 mandatory, 0 advisory, 0 waived" in result.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["audit-dev.html", "audit-dev.json", "audit-dev.sarif", "audit-dev.xml"]
    report = json.loads((out / "audit-dev.json").read_text())
    assert report["stack"] == "dev" and report["counts"]["failed"] == 0
    assert ET.parse(out / "audit-dev.xml").getroot().get("failures") == "0"


def test_audit_export_json_exits_1_on_a_mandatory_violation(project, tmp_path):
    export = tmp_path / "prod-export.json"
    export.write_text(json.dumps(ak.export_document(ak.bad_source("prod"))))
    result = invoke("audit", "--export", str(export), "--stack", "prod", "--json",
                    "--format", "sarif", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["source"] == str(export)
    assert {(f["rule"], f["name"]) for f in report["findings"]} == {
        ("kiln-ec2-keypair-disallowed", "ops-key"),
        ("kiln-vpc-securitygroupingressrule-no-admin-ingress", "ssh-in"),
        ("kiln-ec2-launchtemplate-user-data-pinned", "web-blue-lt"),
        ("kiln-ec2-launchtemplate-signed-image", "web-green-lt")}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["audit-prod.sarif"]


def test_audit_export_in_dev_is_advisory(project, tmp_path):
    document = ak.export_document(ak.bad_source("prod"))
    export = tmp_path / "export.json"
    export.write_text(json.dumps(document))
    result = invoke("audit", "--export", str(export), "--stack", "prod", "--env", "dev",
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "PASS: 0 mandatory, 4 advisory, 0 waived" in result.stdout
    assert "kiln-ec2-keypair-disallowed" in result.stdout


def test_unknown_stack(project):
    one_line_error(invoke("audit", "qa"), "unknown stack 'qa'", "dev, staging, prod")


def test_unreadable_export(project, tmp_path):
    bad = tmp_path / "export.json"
    bad.write_text("{]")
    one_line_error(invoke("audit", "--export", str(bad), "--stack", "prod"),
                    "not a JSON stack export")


def test_broken_waiver_file(project, tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(ak.export_document(ak.stack_source("prod"))))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: kiln-ec2-keypair-disallowed\n    resource: '*'\n")
    one_line_error(invoke("audit", "--export", str(export), "--stack", "prod", "--waivers",
                           str(waivers)), "policy pack failed to start",
                    "waivers[0].stack is missing")


@pytest.mark.parametrize(("args", "needles"), [
    (("audit",), ("give a stack",)),
    (("audit", "--stack", "prod"), ("--stack goes with --export",)),
    (("audit", "dev", "--format", "pdf"), ("unknown report format 'pdf'",)),
    (("audit", "dev", "--env", "qa"), ("no policy config for environment 'qa'",
                                       "dev, prod, staging")),
])
def test_bad_arguments(project, args, needles):
    one_line_error(invoke(*args), *needles)
