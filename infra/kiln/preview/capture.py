"""Run the real Pulumi program for one stack under Pulumi's mock monitor.

No CLI and no cloud: the program is executed the way Pulumi's Python language host runs it
(``run_in_stack`` around ``runpy``), with the stack's config as the engine would pass it,
against a :class:`MockMonitor` that records every ``RegisterResource`` request — type,
URN, wire-format inputs, parent, dependencies and resource options — and the stack's
outputs. ``kiln plan``, ``kiln audit`` and the emulator scenario share this one run.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import runpy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as mocks_mod
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from kiln.errors import KilnError
from kiln.model import settings as settings_mod
from kiln.project import stackfiles

log = logging.getLogger(__name__)

ACCOUNT = "123456789012"
AZ_LOOKUP = "aws:index/getAvailabilityZones:getAvailabilityZones"
REGISTRY_LOOKUP = "docker:index/getRegistryImage:getRegistryImage"


class CaptureError(KilnError, RuntimeError):
    """The program could not be run for a stack (message is one line)."""


@dataclass(frozen=True)
class CapturedResource:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]  # wire format: camelCase engine property names
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    options: dict[str, Any]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capture:
    project: str
    stack: str
    resources: tuple[CapturedResource, ...]
    outputs: dict[str, Any]
    invokes: tuple[tuple[str, dict[str, Any]], ...] = ()

    def by_type(self, type_: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> CapturedResource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources of type {type_} named {name}")
        return found[0]

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}


def _short(text: str, size: int = 17) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


class _Mocks(mocks_mod.Mocks):
    """Stand-in provider: deterministic ids and the computed outputs the program reads."""

    ID_PREFIX: ClassVar[dict[str, str]] = {
        "aws:ec2/vpc:Vpc": "vpc-", "aws:ec2/subnet:Subnet": "subnet-",
        "aws:ec2/internetGateway:InternetGateway": "igw-",
        "aws:ec2/routeTable:RouteTable": "rtb-", "aws:ec2/securityGroup:SecurityGroup": "sg-",
        "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
        "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    }

    def __init__(self, region: str, stack: str = "") -> None:
        self.region = region
        self.stack = stack
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: Any) -> tuple[dict[str, Any], list[Any]]:
        self.invokes.append((args.token, dict(args.args)))
        token = str(args.token)
        if token == AZ_LOOKUP:
            names = [f"{self.region}{letter}" for letter in "abcdef"]
            return {"names": names, "zoneIds": [f"z{_short(n, 6)}" for n in names],
                    "id": self.region}, []
        if token == REGISTRY_LOOKUP:
            # The real digest comes from the registry at deploy time; offline, a stable
            # stand-in derived from the reference keeps plans reproducible.
            name = args.args.get("name", "")
            return {"name": name, "sha256Digest": f"sha256:{_short(name, 64)}"}, []
        return {}, []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        typ, name = args.typ, args.name
        module = typ.split(":")[1].split("/")[0]
        kind = typ.rsplit(":", 1)[-1]
        rid = self.ID_PREFIX.get(typ, f"{name}-") + _short(f"{typ}/{name}")
        # Like auto-naming: unique per stack (IAM names, for one, are account-wide).
        physical = state.get("name") or f"{name}-{_short(f'{self.stack}/{name}', 7)}"
        state.setdefault("name", physical)
        arn_service = {"lb": "elasticloadbalancing", "autoscaling": "autoscaling"}.get(
            module, module)
        state.setdefault("arn", f"arn:aws:{arn_service}:{self.region}:{ACCOUNT}:"
                                f"{kind.lower()}/{physical}")
        if typ == "aws:lb/loadBalancer:LoadBalancer":
            state["dnsName"] = f"{physical}-{int(_short(name, 8), 16) % 10**9}." \
                               f"{self.region}.elb.amazonaws.com"
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
            state["defaultVersion"] = 1
        elif typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{physical}"
        elif typ == "aws:autoscaling/group:Group":
            rid = physical
        return rid, state


class _RecordingMonitor(mocks_mod.MockMonitor):
    """The SDK's mock monitor, keeping each registration request and the stack outputs."""

    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, Any, Any]] = []
        self.stack_outputs: dict[str, Any] = {}
        self.stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
        else:
            with self.lock:
                self.requests.append((response.urn, request, response))
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn == self.stack_urn:
            self.stack_outputs = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


def _options(request: Any) -> dict[str, Any]:
    timeouts = request.customTimeouts
    return {
        "protect": bool(request.protect),
        "ignoreChanges": list(request.ignoreChanges),
        "replaceOnChanges": list(request.replaceOnChanges),
        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
        "retainOnDelete": bool(request.retainOnDelete),
        "additionalSecretOutputs": list(request.additionalSecretOutputs),
        "aliases": [a.urn for a in request.aliases if a.urn],
        "provider": request.provider,
        "version": request.version,
        "importId": request.importId,
        "customTimeouts": {"create": timeouts.create, "update": timeouts.update,
                           "delete": timeouts.delete},
    }


def engine_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Config values as the engine hands them to a program: strings, objects as JSON."""
    encoded = {}
    for name, value in config.items():
        if isinstance(value, Mapping | list | tuple):
            encoded[name] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            encoded[name] = "true" if value else "false"
        else:
            encoded[name] = str(value)
    return encoded


def run_program(main: Path, project: str, stack: str, config: Mapping[str, Any]) -> Capture:
    """Execute ``main/__main__.py`` for ``stack`` under mocks and return what it registered."""
    program = str(main / "__main__.py")
    return run(lambda: runpy.run_path(program, run_name="__main__"), project, stack, config)


def run(body: Callable[[], Any], project: str, stack: str,
        config: Mapping[str, Any]) -> Capture:
    """Run ``body`` as a Pulumi program (inside a root stack) under the recording monitor."""
    # Each run gets a fresh context: the SDK keeps its root resource and config there.
    return contextvars.Context().run(_run, body, project, stack, dict(config))


def _run(body: Callable[[], Any], project: str, stack: str,
         config: dict[str, Any]) -> Capture:
    region = str(config.get("aws:region") or "us-east-1")
    mocks = _Mocks(region, stack)
    monitor = _RecordingMonitor(mocks)
    runtime_settings.reset_options(project=project, stack=stack)
    pulumi.runtime.set_all_config(engine_config(config), [])
    runtime_settings.configure(mocks_mod.MockSettings(
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
        engine=mocks_mod.MockEngine(logging.getLogger("kiln.preview.capture.engine")),
        project=project, stack=stack, dry_run=False, organization="organization",
        callbacks=None, root_directory=None))
    try:
        _sync_await(run_in_stack(body))
    except pulumi.RunError as error:
        raise CaptureError(str(error)) from None
    except Exception as error:  # the program's own failure, reported on one line
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        raise CaptureError(f"the program failed for stack {stack!r}: {message}") from error
    registered = monitor.get_registered_resources()
    resources = []
    for urn, request, response in monitor.requests:
        reg = registered.get(urn)
        resources.append(CapturedResource(
            type=request.type, name=request.name, urn=urn, parent=request.parent,
            custom=bool(request.custom),
            inputs=json_format.MessageToDict(request.object),
            dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns)
                                   for k, v in request.propertyDependencies.items()},
            options=_options(request),
            id=response.id,
            outputs=dict(reg.state) if reg is not None else {}))
    return Capture(project=project, stack=stack, resources=tuple(resources),
                   outputs=monitor.stack_outputs, invokes=tuple(mocks.invokes))


def capture(stack: str, project: stackfiles.Project | None = None) -> Capture:
    """Run the program for ``stack``'s file; one-line errors for a bad stack or config."""
    project = project or stackfiles.load_project()
    config = stackfiles.read_config(project, stack)
    settings_mod.parse(config, stack)  # fail on bad config before touching Pulumi
    return run_program(project.main, project.name, stack, config)
