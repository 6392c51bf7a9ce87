"""Rules, their metadata, and the dispatcher keyed on type tokens.

A rule is a pure function. Resource rules take a :class:`Resource` and yield one message per
violation; stack rules take a :class:`Stack` and yield ``(urn, message)`` pairs. Metadata
(id ``kiln-<service>-<resource>-<rule>``, severity, description, remediation, the type
tokens a rule reads, its config schema) sits on the decorator, so each rule is tested by
calling it with a plain :class:`Resource` — no policy server needed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")
RULE_ID = re.compile(r"^kiln-[a-z0-9]+-[a-z0-9]+-[a-z0-9-]+$")


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it: engine (camelCase) inputs and its options."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    ignore_changes: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    # The region the resource lives in: its own `region` input, else its provider's, else
    # the stack's `aws:region` (see context.region_of).
    region: str | None = None


@dataclass(frozen=True)
class StackResource:
    """One resource in a stack-wide check: its outputs (which include its inputs)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    parent: str = ""
    # Its region as for :class:`Resource`, and its ignoreChanges option.
    region: str | None = None
    ignore_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stack:
    resources: tuple[StackResource, ...]
    config: Mapping[str, Any] = field(default_factory=dict)

    def of_type(self, *types: str) -> list[StackResource]:
        return [r for r in self.resources if r.type in types]


ResourceCheck = Callable[[Resource], Iterable[str]]
StackCheck = Callable[[Stack], Iterable[tuple[str | None, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    description: str
    remediation: str
    types: tuple[str, ...]  # empty for stack rules
    check: Callable[..., Iterable[Any]]
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # JSON schemas

    @property
    def stack(self) -> bool:
        return not self.types

    @functools.cached_property
    def defaults(self) -> Mapping[str, Any]:
        """The rule's config when the pack config gives none (schema defaults; read-only)."""
        return MappingProxyType({k: s["default"] for k, s in self.config.items()
                                 if "default" in s})


RULES: dict[str, Rule] = {}
# The dispatcher: type token → the resource rules that read it.
DISPATCH: dict[str, list[Rule]] = {}


def _register(rule: Rule) -> None:
    if not RULE_ID.match(rule.id):
        raise ValueError(f"rule id {rule.id!r} is not kiln-<service>-<resource>-<rule>")
    if rule.severity not in SEVERITIES:
        raise ValueError(f"{rule.id}: severity {rule.severity!r} not in {SEVERITIES}")
    if rule.id in RULES:
        raise ValueError(f"rule id {rule.id} registered twice")
    RULES[rule.id] = rule
    for token in rule.types:
        DISPATCH.setdefault(token, []).append(rule)


def resource_rule(id: str, *, types: tuple[str, ...], severity: str, description: str,
                  remediation: str, config: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register a resource rule for the given type tokens."""
    def wrap(check: ResourceCheck) -> ResourceCheck:
        _register(Rule(id, severity, description, remediation, types, check, config or {}))
        return check
    return wrap


def stack_rule(id: str, *, severity: str, description: str, remediation: str,
               config: Mapping[str, Mapping[str, Any]] | None = None
               ) -> Callable[[StackCheck], StackCheck]:
    """Register a rule evaluated once over every resource in the stack."""
    def wrap(check: StackCheck) -> StackCheck:
        _register(Rule(id, severity, description, remediation, (), check, config or {}))
        return check
    return wrap


def rules_for(type_token: str) -> list[Rule]:
    """The resource rules that apply to a type token (the dispatcher)."""
    return DISPATCH.get(type_token, [])


def evaluate(resource: Resource) -> dict[str, list[str]]:
    """Run every rule for ``resource``'s type with its defaults: rule id → messages.

    For tests and tools; the policy server runs each rule with its configured values.
    """
    results = {}
    for rule in rules_for(resource.type):
        config = {**rule.defaults, **resource.config}
        results[rule.id] = list(rule.check(_with_config(resource, config)))
    return results


def _with_config(resource: Resource, config: Mapping[str, Any]) -> Resource:
    return Resource(resource.type, resource.name, resource.props, resource.urn,
                    resource.ignore_changes, config, resource.region)
