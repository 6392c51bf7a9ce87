"""Rules → pulumi-policy policies, with waivers and the stack's region applied.

A violation covered by a valid waiver is not reported as a violation (it must not block a
deploy); the policy instead answers "not applicable" with a reason that starts with
``waived `` followed by JSON — the waived messages and the waiver — so ``kiln audit`` can
report it as suppressed.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from . import waivers as waivers_mod
from .contract import WAIVED_PREFIX
from .rulebook import RULES, Resource, Rule, Stack, StackResource
from .servicer import OTHER_TYPE, RULE_ATTR

PACK_NAME = "kiln-immutable"
SEVERITY = {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH,
            "critical": Severity.CRITICAL}


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


def stack_of(urn: str) -> str:
    """The stack a URN belongs to (``urn:pulumi:<stack>::…``), else ``$PULUMI_STACK``."""
    head = urn.split("::", 1)[0]
    if head.startswith("urn:pulumi:") and head != "urn:pulumi:":
        return head[len("urn:pulumi:"):]
    return os.environ.get("PULUMI_STACK", "")


def region_of(props: Mapping[str, Any], provider: Any) -> str | None:
    """A resource's region: its own ``region`` input, its provider's, or ``aws:region``."""
    own = props.get("region")
    if isinstance(own, str) and own:
        return own
    if provider is not None:
        configured = provider.props.get("region")
        if isinstance(configured, str) and configured:
            return configured
    region = stack_config().get("aws:region")
    return region or None


def _settle(rule: Rule, findings: Iterable[tuple[str, str, str]], report: Any, args: Any, *,
            waivers: list[waivers_mod.Waiver], stack_wide: bool) -> None:
    """Report unwaived findings ``(urn, name, message)``; answer the waived ones as N/A."""
    waived = []
    for urn, name, message in findings:
        waiver = waivers_mod.find(waivers, rule.id, stack_of(urn), urn, name)
        if waiver is None:
            report(message, urn) if stack_wide and urn else report(message)
        else:
            waived.append({"urn": urn, "message": message, "waiver": waiver.to_json()})
    if waived:
        args.not_applicable(WAIVED_PREFIX + json.dumps(waived, sort_keys=True))


def _memo(args: Any) -> dict[str, Any]:
    """What the policies of one request share (:class:`servicer.ResourceArgs`); a fresh
    dict under the SDK's own servicer."""
    memo = getattr(args, "memo", None)
    return memo if isinstance(memo, dict) else {}


def _resource(args: Any, config: Mapping[str, Any]) -> Resource:
    """The resource a rule sees; the parts every rule shares are built once per request."""
    memo = _memo(args)
    base = memo.get("resource")
    if base is None:
        base = memo["resource"] = Resource(
            type=args.resource_type, name=args.name, props=args.props, urn=args.urn,
            ignore_changes=tuple(args.opts.ignore_changes or ()),
            region=region_of(args.props, args.provider))
    return Resource(base.type, base.name, base.props, base.urn, base.ignore_changes, config,
                    base.region)


def _resource_policy(rule: Rule, waivers: list[waivers_mod.Waiver]) -> ResourceValidationPolicy:
    def validate(args: Any, report: Any) -> None:
        if args.resource_type not in rule.types:
            args.not_applicable(OTHER_TYPE)
        resource = _resource(args, {**rule.defaults, **(args.get_config() or {})})
        messages = [(args.urn, args.name, m) for m in rule.check(resource)]
        if messages:
            _settle(rule, messages, report, args, waivers=waivers, stack_wide=False)

    return ResourceValidationPolicy(
        name=rule.id, description=rule.description, validate=validate,
        severity=SEVERITY[rule.severity], remediation_steps=rule.remediation,
        config_schema=_schema(rule))


def _stack_policy(rule: Rule, waivers: list[waivers_mod.Waiver]) -> StackValidationPolicy:
    def validate(args: Any, report: Any) -> None:
        memo = _memo(args)
        if "stack" not in memo:
            resources = tuple(StackResource(r.resource_type, r.name, r.urn, r.props,
                                            r.parent.urn if r.parent is not None else "")
                              for r in args.resources)
            memo["stack"] = (resources, {r.urn: r.name for r in resources}, next(
                (r.urn for r in resources if r.type == "pulumi:pulumi:Stack"), ""))
        resources, names, stack_urn = memo["stack"]
        config = {**rule.defaults, **(args.get_config() or {})}
        findings = [(urn or "", names.get(urn or "", "") or names.get(stack_urn, ""), message)
                    for urn, message in rule.check(Stack(resources, config))]
        _settle(rule, findings, report, args, waivers=waivers, stack_wide=True)

    return StackValidationPolicy(
        name=rule.id, description=rule.description, validate=validate,
        severity=SEVERITY[rule.severity], remediation_steps=rule.remediation,
        config_schema=_schema(rule))


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()}) \
        if rule.config else None


def build_policies(waiver_list: list[waivers_mod.Waiver] | None = None) -> list[Any]:
    """One pulumi-policy policy per rule; loads (and so validates) the waiver file."""
    if waiver_list is None:
        waiver_list = waivers_mod.load(RULES)
    policies: list[Any] = []
    for rule in RULES.values():
        made = _stack_policy(rule, waiver_list) if rule.stack \
            else _resource_policy(rule, waiver_list)
        setattr(made, RULE_ATTR, rule)
        policies.append(made)
    return policies


DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY
