"""Evaluate the pack's rules in this process: the default path of ``kiln audit``.

The rules package (``policies/immutable/kiln_immutable``) is plain Python, so ``kiln audit``
imports it from the pack directory and calls the same functions the policy server calls
(:mod:`kiln_immutable.engine`), with the same config, waivers and decoding of values. The
answers take the shape of the engine's ``AnalyzeResponse`` (diagnostics and not-applicable
entries), so one :class:`kiln.audit.report.Collector` reads both paths.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from kiln.audit.packconfig import PolicyConfig, PolicyInfo
from kiln.audit.sources import AuditError, AuditResource, Source

PACKAGE = "kiln_immutable"
SDK_PACK_VERSION = "0.0.1"  # what the policy SDK names in a "can't run during preview"
LEVEL_CODES = {"advisory": 0, "mandatory": 1, "remediate": 1}  # remediate reports as mandatory
SEVERITY_CODES = {"low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass
class Diagnostic:
    policyName: str  # noqa: N815 (the engine's field names)
    urn: str
    message: str
    severity: int
    enforcementLevel: int  # noqa: N815


@dataclass
class NotApplicable:
    policy_name: str
    reason: str


@dataclass
class Response:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    not_applicable: list[NotApplicable] = field(default_factory=list)


@dataclass(frozen=True)
class Rules:
    """The imported rules package and the modules the audit calls."""

    package: ModuleType
    engine: ModuleType
    known: ModuleType
    waivers: ModuleType
    name: str = "kiln-immutable"


def load(pack: Path) -> Rules:
    """Import the rules package from ``pack`` (once per process)."""
    if PACKAGE not in sys.modules:
        sys.path.insert(0, str(pack))
    try:
        return Rules(importlib.import_module(PACKAGE),
                     importlib.import_module(f"{PACKAGE}.engine"),
                     importlib.import_module(f"{PACKAGE}.known"),
                     importlib.import_module(f"{PACKAGE}.waivers"))
    except ImportError as error:
        raise AuditError(f"{pack}: cannot import the rules package ({error})") from None


def infos(rules: Rules) -> list[PolicyInfo]:
    """The pack's policies as ``GetAnalyzerInfo`` would list them."""
    return [PolicyInfo(name=r.id, description=r.description, severity=r.severity,
                       remediation=r.remediation, stack=r.stack, level="mandatory",
                       schema={k: dict(v) for k, v in r.config.items()}, required=())
            for r in rules.package.RULES.values()]


def load_waivers(rules: Rules, pack: Path, waivers: Path | None) -> list[Any]:
    """The waivers the pack would load: ``waivers`` or ``waivers.yaml`` beside the pack."""
    file = waivers or pack / "waivers.yaml"
    if waivers is None and not file.is_file():
        return []
    try:
        return list(rules.waivers.load(rules.package.RULES, file=file))
    except rules.waivers.WaiverError as error:
        raise AuditError(str(error)) from None


class Evaluator:
    """One audit's rules, levels, config and waivers; answers requests like the server."""

    def __init__(self, rules: Rules, config: PolicyConfig, waivers: list[Any], *, stack: str,
                 stack_config: Mapping[str, str]) -> None:
        self.rules = rules
        self.waivers = waivers
        self.stack = stack
        self.stack_config = stack_config
        enabled = [(r, config[r.id]) for r in rules.package.RULES.values()
                   if r.id in config and config[r.id][0] != "disabled"]
        self.resource_rules = [(r, lvl, props) for r, (lvl, props) in enabled if not r.stack]
        self.stack_rules = [(r, lvl, props) for r, (lvl, props) in enabled if r.stack]
        self._configs = {r.id: rules.engine.with_config(r, props) for r, _, props in
                         self.resource_rules + self.stack_rules}
        # type token → (the rules that read it, the "not applicable" answers of the rest)
        self._plans: dict[str, tuple[list[Any], list[NotApplicable]]] = {}

    def _plan(self, type_: str) -> tuple[list[Any], list[NotApplicable]]:
        if type_ not in self._plans:
            other = self.rules.engine.OTHER_TYPE
            self._plans[type_] = (
                [(r, lvl) for r, lvl, _ in self.resource_rules if type_ in r.types],
                [NotApplicable(r.id, other) for r, _, _ in self.resource_rules
                 if type_ not in r.types])
        return self._plans[type_]

    def _diagnostic(self, rule: Any, level: str, urn: str, message: str) -> Diagnostic:
        return Diagnostic(rule.id, urn, f"{rule.description}\n{message}" if message
                          else rule.description, SEVERITY_CODES[rule.severity],
                          LEVEL_CODES[level])

    def _unknown(self, rule: Any, error: Any) -> Diagnostic:
        return Diagnostic(rule.id, "", f"can't run policy '{rule.id}' from policy pack "
                          f"'{self.rules.name}@v{SDK_PACK_VERSION}' during preview: "
                          f"{error.message}", 0, LEVEL_CODES["advisory"])

    def _region(self, props: Mapping[str, Any], res: AuditResource) -> str | None:
        provider = self.rules.known.decode(res.provider.props) if res.provider else None
        try:
            return self.rules.engine.region_of(props, provider, self.stack_config)
        except self.rules.known.UnknownValue:
            return None

    def analyze(self, res: AuditResource) -> Response:
        engine, known = self.rules.engine, self.rules.known
        applicable, skipped = self._plan(res.type)
        response = Response(not_applicable=list(skipped))
        if not applicable:
            return response
        props = known.decode(res.inputs)
        resource = None
        for rule, level in applicable:
            if resource is None:
                resource = self.rules.package.Resource(
                    res.type, res.name, props, res.urn,
                    tuple(res.options.get("ignoreChanges") or ()), {}, self._region(props, res))
            try:
                answer = engine.resource_answer(
                    rule, _configured(resource, self._configs[rule.id]), self.waivers,
                    self.stack)
            except known.UnknownValue as error:
                response.diagnostics.append(self._unknown(rule, error))
                continue
            self._settle(response, rule, level, answer)
        return response

    def analyze_stack(self, resources: list[AuditResource]) -> Response:
        engine, known = self.rules.engine, self.rules.known
        response = Response()
        if not self.stack_rules:
            return response
        entries = []
        for res in resources:
            props = known.decode(res.outputs)
            entries.append(engine.stack_resource(res.type, res.name, res.urn, props,
                                                 parent=res.parent,
                                                 region=self._region(props, res)))
        for rule, level, _ in self.stack_rules:
            stack = self.rules.package.Stack(tuple(entries), self._configs[rule.id])
            try:
                answer = engine.stack_answer(rule, stack, self.waivers, self.stack)
            except known.UnknownValue as error:
                response.diagnostics.append(self._unknown(rule, error))
                continue
            self._settle(response, rule, level, answer)
        return response

    def _settle(self, response: Response, rule: Any, level: str, answer: Any) -> None:
        for urn, message in answer.violations:
            response.diagnostics.append(self._diagnostic(rule, level, urn, message))
        reason = answer.waived_reason()
        if reason is not None:
            response.not_applicable.append(NotApplicable(rule.id, reason))

    def evaluate(self, source: Source) -> Iterator[tuple[AuditResource | None, Response]]:
        """``Analyze`` each resource, then ``AnalyzeStack`` once, as the engine would."""
        for res in source.analyzed:
            yield res, self.analyze(res)
        yield None, self.analyze_stack(list(source.resources))


def _configured(resource: Any, config: Mapping[str, Any]) -> Any:
    return type(resource)(resource.type, resource.name, resource.props, resource.urn,
                          resource.ignore_changes, config, resource.region)
