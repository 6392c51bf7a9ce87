"""SARIF 2.1.0 for code-scanning tools.

One ``reportingDescriptor`` per policy (with ``security-severity`` and help); one result per
finding, located at the stack file (or export) and, logically, at the resource URN; stable
``partialFingerprints`` from rule, URN and the finding's ordinal on that pair, so a finding
keeps its identity across runs; waived findings carry an accepted external suppression with
the waiver's justification.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from kiln.audit.report import Finding, Report

VERSION = "2.1.0"
SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub code scanning's bands: critical ≥ 9.0, high ≥ 7.0, medium ≥ 4.0, low < 4.0.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
FINGERPRINT = "kilnFinding/v1"


def _level(finding: Finding) -> str:
    return "error" if finding.enforcement == "mandatory" else "warning"


def _location(report: Report, finding: Finding) -> dict[str, Any]:
    artifact = report.origin if report.origin != "capture" \
        else f"stacks/Pulumi.{report.stack}.yaml"
    return {
        "physicalLocation": {"artifactLocation": {"uri": artifact},
                             "region": {"startLine": 1}},
        "logicalLocations": [{"name": finding.name, "fullyQualifiedName": finding.urn,
                              "kind": "resource"}],
    }


def _rules(report: Report) -> list[dict[str, Any]]:
    rules = []
    for rule in report.rules:
        controls = report.controls(rule.name)
        tags = ["security", "immutable-infrastructure",
                *(f"{fw}:{c}" for fw, ids in controls.items() for c in ids)]
        rules.append({
            "id": rule.name, "name": rule.name,
            "shortDescription": {"text": rule.description},
            "fullDescription": {"text": rule.description},
            "help": {"text": rule.remediation,
                     "markdown": f"**Remediation:** {rule.remediation}"},
            "defaultConfiguration": {
                "level": "error" if report.levels.get(rule.name) == "mandatory" else "warning",
                "enabled": report.levels.get(rule.name) != "disabled"},
            "properties": {"security-severity": SECURITY_SEVERITY.get(rule.severity, "5.5"),
                           "severity": rule.severity, "precision": "very-high",
                           "kind": "stack" if rule.stack else "resource", "tags": tags},
        })
    return rules


def fingerprint(rule: str, urn: str, ordinal: int) -> str:
    return hashlib.sha256(f"{rule}\n{urn}\n{ordinal}".encode()).hexdigest()


def build(report: Report) -> dict[str, Any]:
    """The SARIF log as a dict."""
    index = {rule.name: i for i, rule in enumerate(report.rules)}
    seen: Counter[tuple[str, str]] = Counter()
    results = []
    for finding in report.findings:
        ordinal = seen[finding.rule, finding.urn]
        seen[finding.rule, finding.urn] += 1
        result: dict[str, Any] = {
            "ruleId": finding.rule, "ruleIndex": index.get(finding.rule, -1),
            "level": _level(finding), "message": {"text": finding.message},
            "locations": [_location(report, finding)],
            "partialFingerprints": {FINGERPRINT: fingerprint(finding.rule, finding.urn,
                                                             ordinal)},
            "properties": {"enforcement": finding.enforcement, "severity": finding.severity,
                           "resourceType": finding.type, "urn": finding.urn},
        }
        if finding.waived and finding.waiver is not None:
            waiver = finding.waiver
            result["suppressions"] = [{
                "kind": "external", "status": "accepted",
                "justification": waiver.get("justification", ""),
                "properties": {"approver": waiver.get("approver"),
                               "expires": waiver.get("expires"),
                               "waiver": f"waivers[{waiver.get('index')}]"}}]
        results.append(result)
    return {
        "$schema": SCHEMA_URI, "version": VERSION,
        "runs": [{
            "tool": {"driver": {"name": report.pack.get("name", "kiln-immutable"),
                                "version": report.pack.get("version") or "0",
                                "semanticVersion": report.pack.get("version") or "0.0.0",
                                "rules": _rules(report)}},
            "automationDetails": {"id": f"kiln-audit/{report.stack}/"},
            "invocations": [{"executionSuccessful": True,
                             "exitCode": report.exit_code,
                             "endTimeUtc": report.generated.replace("+00:00", "Z")}],
            "results": results,
            "properties": {"stack": report.stack, "project": report.project,
                           "environment": report.environment, "source": report.origin},
        }],
    }


def dumps(report: Report) -> str:
    return json.dumps(build(report), indent=2) + "\n"
