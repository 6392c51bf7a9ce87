"""Rules → pulumi-policy policies: a thin adapter over :mod:`kiln_immutable.engine`.

Only the SDK's public API is used: each rule becomes a ``ResourceValidationPolicy`` or a
``StackValidationPolicy`` whose ``validate`` builds the plain data a rule reads and reports
what :mod:`~kiln_immutable.engine` answers. A violation covered by a valid waiver is not
reported (it must not block a deploy); the policy answers "not applicable" with a reason
that starts with ``waived `` followed by JSON, so ``kiln audit`` can report it as suppressed.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from . import engine
from . import frameworks as frameworks_mod
from . import waivers as waivers_mod
from .rulebook import RULES, Resource, Rule, Stack

PACK_NAME = "kiln-immutable"
SEVERITY = {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH,
            "critical": Severity.CRITICAL}
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY
OTHER_TYPE = engine.OTHER_TYPE


def stack_config() -> Mapping[str, str]:
    """The stack's config as the engine passes it to a policy pack (``PULUMI_CONFIG``)."""
    return _parse_config(os.environ.get("PULUMI_CONFIG") or "{}")


@functools.lru_cache(maxsize=4)
def _parse_config(text: str) -> Mapping[str, str]:
    try:
        config = json.loads(text)
    except ValueError:
        return MappingProxyType({})
    return MappingProxyType(config if isinstance(config, dict) else {})


def _stack_name() -> str:
    return os.environ.get("PULUMI_STACK", "")


def _provider_props(provider: Any) -> Mapping[str, Any] | None:
    return provider.props if provider is not None else None


def _settle(answer: engine.Answer | None, report: Any, args: Any) -> None:
    if answer is None:
        args.not_applicable(OTHER_TYPE)
        return
    for urn, message in answer.violations:
        report(message, urn) if urn else report(message)
    reason = answer.waived_reason()
    if reason is not None:
        args.not_applicable(reason)


def _resource_policy(rule: Rule, waivers: list[waivers_mod.Waiver], **meta: Any
                     ) -> ResourceValidationPolicy:
    def validate(args: Any, report: Any) -> None:
        if args.resource_type not in rule.types:
            args.not_applicable(OTHER_TYPE)
        resource = Resource(
            type=args.resource_type, name=args.name, props=args.props, urn=args.urn,
            ignore_changes=tuple(args.opts.ignore_changes or ()),
            config=engine.with_config(rule, args.get_config()),
            region=engine.region_of(args.props, _provider_props(args.provider),
                                    stack_config()))
        _settle(engine.resource_answer(rule, resource, waivers, _stack_name()), report, args)

    return ResourceValidationPolicy(
        name=rule.id, description=rule.description, validate=validate,
        severity=SEVERITY[rule.severity], remediation_steps=rule.remediation,
        config_schema=_schema(rule), **meta)


def _stack_policy(rule: Rule, waivers: list[waivers_mod.Waiver], **meta: Any
                  ) -> StackValidationPolicy:
    def validate(args: Any, report: Any) -> None:
        config = stack_config()
        resources = tuple(engine.stack_resource(
            r.resource_type, r.name, r.urn, r.props,
            parent=r.parent.urn if r.parent is not None else "",
            region=engine.region_of(r.props, _provider_props(r.provider), config))
            for r in args.resources)
        stack = Stack(resources, engine.with_config(rule, args.get_config()))
        _settle(engine.stack_answer(rule, stack, waivers, _stack_name()), report, args)

    return StackValidationPolicy(
        name=rule.id, description=rule.description, validate=validate,
        severity=SEVERITY[rule.severity], remediation_steps=rule.remediation,
        config_schema=_schema(rule), **meta)


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()}) \
        if rule.config else None


def _metadata(rule: Rule) -> dict[str, Any]:
    """The rule's compliance framework, tags and URL for Pulumi's compliance views."""
    found = frameworks_mod.metadata().get(rule.id)
    if found is None:
        return {}
    return {"framework": PolicyComplianceFramework(name=found.framework, version=found.version,
                                                   reference=found.reference or None),
            "tags": list(found.tags), "url": found.reference or None}


def build_policies(waiver_list: list[waivers_mod.Waiver] | None = None) -> list[Any]:
    """One pulumi-policy policy per rule; loads (and so validates) the waiver file."""
    if waiver_list is None:
        waiver_list = waivers_mod.load(RULES)
    return [(_stack_policy if rule.stack else _resource_policy)(rule, waiver_list,
                                                                 **_metadata(rule))
            for rule in RULES.values()]
