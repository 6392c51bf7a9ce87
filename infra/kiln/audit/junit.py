"""JUnit XML for CI: a suite per rule, a test case per rule × resource check.

A failed check is a ``<failure>`` (its messages, enforcement in the type), a waived one is
``<skipped>`` with the waiver's justification; counts match the JSON report's ``checks``,
``failed`` and ``waived``.
"""

from __future__ import annotations

from collections import defaultdict
from xml.etree import ElementTree as ET

from kiln.audit.report import Check, Finding, Report


def _case(check: Check, findings: list[Finding]) -> ET.Element:
    case = ET.Element("testcase", {"classname": check.rule,
                                   "name": f"{check.name} ({check.type})", "time": "0"})
    if check.status == "failed":
        open_ = [f for f in findings if not f.waived]
        level = "mandatory" if any(f.enforcement == "mandatory" for f in open_) else "advisory"
        failure = ET.SubElement(case, "failure", {
            "message": open_[0].message if open_ else check.rule, "type": level})
        failure.text = "\n".join(f"[{f.severity}] {f.message}" for f in open_) + \
            f"\nresource: {check.urn}"
    elif check.status == "waived":
        waiver = next((f.waiver for f in findings if f.waiver), {}) or {}
        ET.SubElement(case, "skipped", {
            "message": f"waived by {waiver.get('approver')} until {waiver.get('expires')}: "
                       f"{waiver.get('justification')}"})
    return case


def build(report: Report) -> ET.Element:
    by_pair: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_pair[finding.rule, finding.urn].append(finding)
    by_rule: dict[str, list[Check]] = defaultdict(list)
    for check in report.checks:
        by_rule[check.rule].append(check)
    counts = report.counts()
    root = ET.Element("testsuites", {
        "name": f"kiln audit {report.stack}", "tests": str(counts["checks"]),
        "failures": str(counts["failed"]), "errors": "0", "skipped": str(counts["waived"]),
        "time": "0"})
    for rule in sorted(by_rule):
        checks = by_rule[rule]
        suite = ET.SubElement(root, "testsuite", {
            "name": rule, "tests": str(len(checks)),
            "failures": str(sum(c.status == "failed" for c in checks)), "errors": "0",
            "skipped": str(sum(c.status == "waived" for c in checks)), "time": "0",
            "timestamp": report.generated.split("+")[0]})
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "stack", "value": report.stack})
        ET.SubElement(properties, "property", {"name": "enforcement",
                                               "value": report.levels.get(rule, "")})
        for check in checks:
            suite.append(_case(check, by_pair.get((check.rule, check.urn), [])))
    return root


def dumps(report: Report) -> str:
    tree = build(report)
    ET.indent(tree)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="unicode") \
        + "\n"
