"""The audit result: findings, every rule × resource check, counts, and the JSON report.

Built from the pack's own answers: ``diagnostics`` are violations; a "not applicable" whose
reason starts with ``waived `` carries waived violations (JSON); any other "not applicable"
means the rule does not apply to that resource. Every remaining enabled rule passed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiln.audit.packconfig import LEVEL_NAMES, SEVERITY_NAMES, Framework, PolicyInfo
from kiln.audit.sources import STACK_TYPE, Source

WAIVED_PREFIX = "waived "
SEVERITY_ORDER = ("critical", "high", "medium", "low")
SCHEMA = "kiln.audit/v1"


@dataclass(frozen=True)
class Finding:
    rule: str
    urn: str
    type: str
    name: str
    severity: str
    enforcement: str
    message: str
    waived: bool = False
    waiver: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"rule": self.rule, "urn": self.urn, "type": self.type, "name": self.name,
                "severity": self.severity, "enforcement": self.enforcement,
                "message": self.message, "waived": self.waived}
        if self.waiver is not None:
            data["waiver"] = self.waiver
        return data


@dataclass(frozen=True)
class Check:
    """One rule evaluated against one subject (a resource, or the stack for stack rules)."""

    rule: str
    urn: str
    type: str
    name: str
    status: str  # passed | failed | waived


@dataclass
class Report:
    project: str
    stack: str
    environment: str
    origin: str
    pack: dict[str, str]
    rules: list[PolicyInfo]
    levels: dict[str, str]
    frameworks: list[Framework]
    resources: int
    findings: list[Finding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)  # seconds, for the curious
    generated: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def controls(self, rule: str) -> dict[str, list[str]]:
        return {f.id: list(f.rules[rule]) for f in self.frameworks if rule in f.rules}

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.waived]

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.open_findings if f.enforcement == "mandatory"]

    @property
    def exit_code(self) -> int:
        """0 when nothing mandatory is open, 1 when something is."""
        return 1 if self.mandatory else 0

    def counts(self) -> dict[str, Any]:
        status = Counter(c.status for c in self.checks)
        severity = Counter(f.severity for f in self.open_findings)
        return {"resources": self.resources,
                "rules": sum(1 for r in self.rules if self.levels.get(r.name) != "disabled"),
                "checks": len(self.checks), "passed": status["passed"],
                "failed": status["failed"], "waived": status["waived"],
                "findings": len(self.open_findings), "mandatory": len(self.mandatory),
                "advisory": sum(1 for f in self.open_findings if f.enforcement == "advisory"),
                "suppressed": len(self.findings) - len(self.open_findings),
                "bySeverity": {s: severity[s] for s in SEVERITY_ORDER}}

    def passed(self) -> list[dict[str, Any]]:
        by_urn: dict[str, dict[str, Any]] = {}
        for check in self.checks:
            if check.status == "passed":
                entry = by_urn.setdefault(check.urn, {"urn": check.urn, "type": check.type,
                                                      "name": check.name, "rules": []})
                entry["rules"].append(check.rule)
        return list(by_urn.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "project": self.project, "stack": self.stack,
            "environment": self.environment, "source": self.origin, "pack": self.pack,
            "generatedAt": self.generated, "durations": self.durations,
            "counts": self.counts(),
            "rules": [{"id": r.name, "description": r.description, "severity": r.severity,
                       "remediation": r.remediation, "kind": "stack" if r.stack else "resource",
                       "enforcement": self.levels.get(r.name, r.level),
                       "controls": self.controls(r.name)} for r in self.rules],
            "frameworks": [{"id": f.id, "name": f.name, "version": f.version,
                            "controls": f.controls} for f in self.frameworks],
            "findings": [dict(f.to_json(), controls=self.controls(f.rule))
                         for f in self.findings],
            "passed": self.passed(),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"


def _message(text: str, description: str) -> str:
    """The SDK prefixes each message with the policy description and a newline."""
    if description and text.startswith(description):
        text = text[len(description):].lstrip("\n")
    return text or description


class Collector:
    """Turns Analyze/AnalyzeStack responses into findings and checks."""

    def __init__(self, source: Source, infos: list[PolicyInfo], levels: Mapping[str, str]
                 ) -> None:
        self.source = source
        self.infos = {p.name: p for p in infos}
        self.levels = levels
        self.by_urn = {r.urn: r for r in source.resources}
        self.findings: list[Finding] = []
        self.checks: list[Check] = []
        self._open: set[tuple[str, str]] = set()  # (rule, urn) with an unwaived finding
        self._enabled_rules = {
            stack: [p for p in self.infos.values()
                    if p.stack == stack and self.levels.get(p.name) != "disabled"]
            for stack in (False, True)}

    def _enabled(self, stack: bool) -> list[PolicyInfo]:
        return self._enabled_rules[stack]

    def _subject(self, urn: str) -> tuple[str, str, str]:
        urn = urn or self.source.stack_urn
        res = self.by_urn.get(urn)
        if res is not None:
            return urn, res.type, res.name
        if urn == self.source.stack_urn:
            return urn, STACK_TYPE, f"{self.source.project}-{self.source.stack}"
        return urn, "", urn.rsplit("::", 1)[-1]

    def _finding(self, rule: str, urn: str, message: str, *, severity: int | None = None,
                 level: int | None = None, waiver: dict[str, Any] | None = None) -> Finding:
        info = self.infos.get(rule)
        urn, kind, name = self._subject(urn)
        enforcement = LEVEL_NAMES.get(level, "") if level is not None else ""
        return Finding(
            rule=rule, urn=urn, type=kind, name=name,
            severity=SEVERITY_NAMES.get(severity or 0) or (info.severity if info else ""),
            enforcement=enforcement or self.levels.get(rule, "advisory"),
            message=_message(message, info.description if info else ""),
            waived=waiver is not None, waiver=waiver)

    def _collect(self, response: Any, default_urn: str) -> tuple[dict[str, set[str]], set[str]]:
        """Record the response's findings; (rule → subjects with findings, rules not applicable)."""
        subjects: dict[str, set[str]] = {}
        not_applicable: set[str] = set()
        for diag in response.diagnostics:
            finding = self._finding(diag.policyName, diag.urn or default_urn, diag.message,
                                    severity=diag.severity, level=diag.enforcementLevel)
            self._add(finding)
            subjects.setdefault(diag.policyName, set()).add(finding.urn)
        for entry in response.not_applicable:
            reason = entry.reason
            if not reason.startswith(WAIVED_PREFIX):
                not_applicable.add(entry.policy_name)
                continue
            for item in json.loads(reason[len(WAIVED_PREFIX):]):
                finding = self._finding(entry.policy_name, item.get("urn") or default_urn,
                                        item.get("message", ""), waiver=item.get("waiver"))
                self._add(finding)
                subjects.setdefault(entry.policy_name, set()).add(finding.urn)
        return subjects, not_applicable

    def _add(self, finding: Finding) -> None:
        self.findings.append(finding)
        if not finding.waived:
            self._open.add((finding.rule, finding.urn))

    def _status(self, rule: str, urn: str) -> str:
        """A subject with findings for ``rule``: failed unless every one is waived."""
        return "failed" if (rule, urn) in self._open else "waived"

    def resource(self, urn: str, response: Any) -> None:
        subjects, skipped = self._collect(response, urn)
        for info in self._enabled(stack=False):
            if info.name in skipped and info.name not in subjects:
                continue
            for subject in sorted(subjects.get(info.name, {urn})):
                status = self._status(info.name, subject) if info.name in subjects else "passed"
                self.checks.append(Check(info.name, *self._subject(subject), status))

    def stack(self, response: Any) -> None:
        subjects, skipped = self._collect(response, self.source.stack_urn)
        for info in self._enabled(stack=True):
            if info.name in skipped and info.name not in subjects:
                continue
            for subject in sorted(subjects.get(info.name, {self.source.stack_urn})):
                status = self._status(info.name, subject) if info.name in subjects else "passed"
                self.checks.append(Check(info.name, *self._subject(subject), status))


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Open before waived, most severe first, then by rule and resource."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(findings, key=lambda f: (f.waived, f.enforcement != "mandatory",
                                           rank.get(f.severity, 9), f.rule, f.urn))
