"""How a rule answers one request, the same for the policy server and for ``kiln audit``.

Both the pulumi-policy adapter (:mod:`kiln_immutable.pack`) and the in-process audit call
these functions, so a finding, a waived finding and a "not applicable" come out of one code
path whichever way the rules are run. Everything here is plain data: no Pulumi import.

An answer is a list of violations ``(urn, message)`` (``urn`` empty for the resource itself)
and a list of waived violations ``{"urn", "message", "waiver"}``; the adapter reports the
first and answers "not applicable" with ``WAIVED_PREFIX`` + JSON of the second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import waivers as waivers_mod
from .contract import WAIVED_PREFIX
from .rulebook import Resource, Rule, Stack, StackResource

# The answer of a resource rule asked about a type it does not read.
OTHER_TYPE = "applies to other resource types"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Answer:
    violations: list[tuple[str, str]] = field(default_factory=list)
    waived: list[dict[str, Any]] = field(default_factory=list)

    def waived_reason(self) -> str | None:
        """The "not applicable" reason that carries the waived violations, if any."""
        return WAIVED_PREFIX + json.dumps(self.waived, sort_keys=True) if self.waived else None


def stack_of(urn: str, default: str = "") -> str:
    """The stack a URN belongs to (``urn:pulumi:<stack>::…``), else ``default``."""
    head = urn.split("::", 1)[0]
    if head.startswith("urn:pulumi:") and head != "urn:pulumi:":
        return head[len("urn:pulumi:"):]
    return default


def region_of(props: Mapping[str, Any], provider_props: Mapping[str, Any] | None,
              stack_config: Mapping[str, Any]) -> str | None:
    """A resource's region: its own ``region`` input, its provider's, or ``aws:region``."""
    for value in (props.get("region"), (provider_props or {}).get("region"),
                  stack_config.get("aws:region")):
        if isinstance(value, str) and value:
            return value
    return None


def _settle(rule: Rule, findings: Iterable[tuple[str, str, str]], stack: str,
            waivers: Sequence[waivers_mod.Waiver], *, stack_wide: bool) -> Answer:
    answer = Answer()
    for urn, name, message in findings:
        waiver = waivers_mod.find(waivers, rule.id, stack_of(urn, stack), urn, name)
        if waiver is None:
            answer.violations.append((urn if stack_wide else "", message))
        else:
            answer.waived.append({"urn": urn, "message": message, "waiver": waiver.to_json()})
    return answer


def resource_answer(rule: Rule, resource: Resource, waivers: Sequence[waivers_mod.Waiver],
                    stack: str = "") -> Answer | None:
    """The rule's answer on one resource; None when the rule reads other types."""
    if resource.type not in rule.types:
        return None
    messages = [(resource.urn, resource.name, m) for m in rule.check(resource)]
    return _settle(rule, messages, stack, waivers, stack_wide=False)


def stack_answer(rule: Rule, stack: Stack, waivers: Sequence[waivers_mod.Waiver],
                 stack_name: str = "") -> Answer:
    """A stack rule's answer over every resource; findings without a URN go to the stack."""
    names = {r.urn: r.name for r in stack.resources}
    stack_urn = next((r.urn for r in stack.resources if r.type == STACK_TYPE), "")
    findings = [(urn or "", names.get(urn or "", "") or names.get(stack_urn, ""), message)
                for urn, message in rule.check(stack)]
    return _settle(rule, findings, stack_name, waivers, stack_wide=True)


def with_config(rule: Rule, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A rule's effective properties: schema defaults, then what the pack config gives."""
    return {**rule.defaults, **(given or {})}


def stack_resource(type_: str, name: str, urn: str, props: Mapping[str, Any], *,
                   parent: str, region: str | None) -> StackResource:
    return StackResource(type_, name, urn, props, parent, region)
