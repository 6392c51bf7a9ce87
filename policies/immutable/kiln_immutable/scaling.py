"""Autoscaling groups run one pinned launch-template version and heal through the ELB.

An ASG on ``$Latest`` or ``$Default`` picks up a template edit without a new fleet, which is
an in-place change; EC2 health checks keep instances that stopped serving.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .rulebook import Resource, resource_rule
from .tokens import ASG
from .values import listed, mapping, present

FLOATING_VERSIONS = frozenset({"$latest", "$default"})


def _template_specs(props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every launch-template reference in an ASG, with where it was found."""
    specs: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(props.get("launchTemplate"), Mapping):
        specs.append(("launchTemplate", props["launchTemplate"]))
    mixed = mapping(mapping(props.get("mixedInstancesPolicy")).get("launchTemplate"))
    if isinstance(mixed.get("launchTemplateSpecification"), Mapping):
        specs.append(("mixedInstancesPolicy.launchTemplate.launchTemplateSpecification",
                      mixed["launchTemplateSpecification"]))
    for index, override in enumerate(listed(mixed.get("overrides"))):
        spec = mapping(override).get("launchTemplateSpecification")
        if isinstance(spec, Mapping):
            specs.append((f"mixedInstancesPolicy.launchTemplate.overrides[{index}]."
                          "launchTemplateSpecification", spec))
    return specs


@resource_rule(
    "kiln-autoscaling-group-launch-template-required", types=(ASG,), severity="high",
    description="Autoscaling groups launch from a launch template, never a launch "
                "configuration.",
    remediation="Set launchTemplate {id, version} and remove launchConfiguration.")
def asg_launch_template_required(resource: Resource) -> Iterator[str]:
    props = resource.props
    if present(props.get("launchConfiguration")):
        yield f"launchConfiguration {props.get('launchConfiguration')!r} is set"
    if not _template_specs(props):
        yield "no launch template: the group's instances are not defined by a pinned template"


@resource_rule(
    "kiln-autoscaling-group-pinned-version", types=(ASG,), severity="high",
    description="Autoscaling groups pin an explicit launch-template version "
                "(not $Latest or $Default).",
    remediation="Set launchTemplate.version to the template's latestVersion output.")
def asg_pinned_version(resource: Resource) -> Iterator[str]:
    for where, spec in _template_specs(resource.props):
        version = spec.get("version")
        if not present(version):
            yield f"{where}.version is not set, so EC2 uses $Default"
        elif str(version).strip().lower() in FLOATING_VERSIONS:
            yield f"{where}.version is {version!r}, which follows template edits in place"


@resource_rule(
    "kiln-autoscaling-group-elb-health-check", types=(ASG,), severity="medium",
    description="Autoscaling groups use ELB health checks.",
    remediation="Set healthCheckType = ELB so instances that stop serving are replaced.")
def asg_elb_health(resource: Resource) -> Iterator[str]:
    kind = resource.props.get("healthCheckType")
    if str(kind or "").strip().upper() != "ELB":
        yield f"healthCheckType is {kind!r} (EC2 when unset), not 'ELB'"
