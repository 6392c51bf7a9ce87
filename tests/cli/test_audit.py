"""`kiln audit` through typer's runner: reports written, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.cli.clitools import invoke, one_line_error
from tests.policies import auditkit as ak

pytestmark = pytest.mark.integration


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
    assert {(f["rule"], f["name"]) for f in report["findings"]} == ak.BAD
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["audit-prod.sarif"]


def test_the_kiln_command_audits_from_a_plain_shell(project, tmp_path):
    """The console script, with Python's default buffering (no PYTHONUNBUFFERED): the pack
    still reports its port (it runs unbuffered, as the engine starts it), and after the
    command's fast exit the piped JSON, the reports and the exit status are complete and the
    pack's process is gone."""
    export = tmp_path / "prod-export.json"
    export.write_text(json.dumps(ak.export_document(ak.bad_source("prod"))))
    kiln = Path(sys.executable).with_name("kiln")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run([str(kiln), "audit", "--export", str(export), "--stack", "prod",
                           "--json", "--out", str(tmp_path / "out")], env=buffered,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["counts"]["failed"] == len(ak.BAD)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["audit-prod.html", "audit-prod.json", "audit-prod.sarif", "audit-prod.xml"]
    assert json.loads((tmp_path / "out" / "audit-prod.json").read_text()) == report
    junit = ET.parse(tmp_path / "out" / "audit-prod.xml").getroot()
    assert junit.get("failures") == str(len(ak.BAD))
    assert packs_started_for(project) == []


def packs_started_for(project: Path) -> list[int]:
    """PIDs of policy packs still running whose environment names this project."""
    marker = f"KILN_PROJECT_DIR={project}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if b"pulumi.policy" in (proc / "cmdline").read_bytes() and \
                    marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_audit_export_in_dev_is_advisory(project, tmp_path):
    document = ak.export_document(ak.bad_source("prod"))
    export = tmp_path / "export.json"
    export.write_text(json.dumps(document))
    result = invoke("audit", "--export", str(export), "--stack", "prod", "--env", "dev",
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert f"PASS: 0 mandatory, {len(ak.BAD)} advisory, 0 waived" in result.stdout
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
                           str(waivers)), "waivers[0].stack is missing")


@pytest.mark.parametrize(("args", "needles"), [
    (("audit",), ("give a stack",)),
    (("audit", "--stack", "prod"), ("--stack goes with --export",)),
    (("audit", "dev", "--format", "pdf"), ("unknown report format 'pdf'",)),
    (("audit", "dev", "--env", "qa"), ("no policy config for environment 'qa'",
                                       "dev, prod, staging")),
])
def test_bad_arguments(project, args, needles):
    one_line_error(invoke(*args), *needles)
