"""Sources for audit tests: captured stacks (cached), a deliberately bad program variant,
and ``pulumi stack export`` documents made from a capture."""

from __future__ import annotations

import base64
import copy
import functools
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from kiln.audit import run, sources
from kiln.audit.report import Report
from kiln.model import settings as settings_mod
from kiln.preview import capture
from kiln.preview.properties import SECRET_SIG, SIG_KEY
from kiln.program.build import build
from kiln.project import stackfiles

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies" / "immutable"
PATCH = b"#!/bin/sh\nyum update -y\n"
# What bad_source breaks, as (rule, resource name): a key pair (a type no kiln stack holds),
# an SSH ingress rule (in its inputs and its outputs), a user-data patch, a forged signature.
BAD = frozenset({
    ("kiln-ec2-keypair-disallowed", "ops-key"), ("kiln-pulumi-stack-allowed-types", "ops-key"),
    ("kiln-pulumi-stack-outputs-checked", "ops-key"),
    ("kiln-vpc-securitygroupingressrule-no-admin-ingress", "ssh-in"),
    ("kiln-pulumi-stack-outputs-checked", "ssh-in"),
    ("kiln-ec2-launchtemplate-user-data-pinned", "web-blue-lt"),
    ("kiln-ec2-launchtemplate-signed-image", "web-green-lt")})


@functools.cache
def stack_source(stack: str) -> sources.Source:
    project = stackfiles.load_project(ROOT)
    config = stackfiles.read_config(project, stack)
    return sources.from_capture(capture.run_program(project.main, project.name, stack, config),
                                capture.engine_config(config))


def _bad_body(settings: Any) -> None:
    def patch_blue_template(args: Any) -> Any:
        # The bad variant patches the blue fleet at boot through user data.
        if args.type_ == "aws:ec2/launchTemplate:LaunchTemplate" and args.name.endswith(
                "blue-lt"):
            props = {**args.props, "user_data": base64.b64encode(PATCH).decode()}
            return pulumi.ResourceTransformationResult(props, args.opts)
        return None

    pulumi.runtime.register_stack_transformation(patch_blue_template)
    build(settings)
    aws.ec2.KeyPair("ops-key", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9wcw ops")
    aws.vpc.SecurityGroupIngressRule("ssh-in", security_group_id="sg-0123456789abcdef0",
                                     ip_protocol="tcp", from_port=22, to_port=22,
                                     cidr_ipv4="10.0.0.0/8")


@functools.cache
def bad_source(stack: str = "prod") -> sources.Source:
    """The real program plus a key pair, an SSH rule, a user-data patch on the blue
    template and a forged signature on the green one (blue's signature moved over)."""

    project = stackfiles.load_project(ROOT)
    config = copy.deepcopy(stackfiles.read_config(project, stack))
    config["kiln:green"]["signature"] = config["kiln:blue"]["signature"]
    settings = settings_mod.parse(config, stack)
    result = capture.run(lambda: _bad_body(settings), project.name, stack, config)
    return sources.from_capture(result, capture.engine_config(config))


def evaluate(source: sources.Source, environment: str | None = None, pack: Path = PACK,
             waivers: Path | None = None) -> Report:
    return run.evaluate(lambda: source, pack=pack, environment=environment or source.stack,
                        project=source.project, stack=source.stack,
                        config=source.config if source.origin == "capture" else {},
                        waivers=waivers)


def pack_copy(tmp: Path) -> Path:
    """A writable copy of the pack (for config changes a test makes)."""
    target = tmp / "immutable"
    shutil.copytree(PACK, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def export_document(source: sources.Source) -> dict[str, Any]:
    """What ``pulumi stack export`` (deployment version 3) writes for these resources."""
    providers = {r.urn for r in source.resources if r.type.startswith("pulumi:providers:")}
    provider_ref = {urn: f"{urn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9" for urn in providers}
    resources = []
    for res in source.resources:
        entry: dict[str, Any] = {"urn": res.urn, "custom": res.custom, "type": res.type}
        if res.custom:
            entry["id"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9" \
                if res.type.startswith("pulumi:providers:") else f"id-{res.name}"
        if res.inputs:
            entry["inputs"] = {**res.inputs, "__defaults": []}
        if res.outputs:
            entry["outputs"] = res.outputs
        if res.parent:
            entry["parent"] = res.parent
        if res.dependencies:
            entry["dependencies"] = list(res.dependencies)
        if res.provider is not None:
            entry["provider"] = provider_ref[res.provider.urn]
        if res.property_dependencies:
            entry["propertyDependencies"] = {k: list(v)
                                             for k, v in res.property_dependencies.items()}
        if res.options.get("ignoreChanges"):
            entry["ignoreChanges"] = res.options["ignoreChanges"]
        resources.append(entry)
    return {"version": 3, "deployment": {
        "manifest": {"time": "2026-11-26T12:00:00Z", "magic": "kiln-test",
                     "version": "v3.200.0"},
        "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:test"}},
        "resources": resources}}


def encrypted(value: str) -> dict[str, str]:
    return {SIG_KEY: SECRET_SIG, "ciphertext": base64.b64encode(value.encode()).decode()}
