"""What an audit evaluates: a stack's resources, from a mock run or a ``pulumi stack export``.

Both sources give the same shape — wire-format inputs (what ``Analyze`` sees), outputs (what
``AnalyzeStack`` sees), URN, parent, dependencies, options and the provider — so the policy
pack cannot tell them apart, just as it cannot tell a preview from an update.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import KilnError
from kiln.preview.properties import SECRET_SIG, SIG_KEY, UNKNOWN

STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"
DEPLOYMENT_VERSION = 3


class AuditError(KilnError):
    """Bad audit input: an unreadable export, a broken pack config or waiver file (exit 2)."""


@dataclass(frozen=True)
class Provider:
    urn: str
    type: str
    name: str
    props: dict[str, Any]


@dataclass(frozen=True)
class AuditResource:
    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    provider: Provider | None = None

    @property
    def analyzed(self) -> bool:
        """Resources the engine asks ``Analyze`` about: not the stack, not providers."""
        return self.type != STACK_TYPE and not self.type.startswith(PROVIDER_PREFIX)


@dataclass(frozen=True)
class Source:
    project: str
    stack: str
    origin: str  # "capture" or the export file's path
    resources: tuple[AuditResource, ...]
    config: dict[str, str]  # the stack config as the engine passes it (PULUMI_CONFIG)

    @property
    def analyzed(self) -> list[AuditResource]:
        return [r for r in self.resources if r.analyzed]

    @property
    def stack_urn(self) -> str:
        return stack_urn(self.project, self.stack)


def stack_urn(project: str, stack: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"


def default_provider(project: str, stack: str, region: str | None, version: str) -> Provider:
    """The AWS default provider the engine would create, configured from the stack."""
    name = f"default_{version.replace('.', '_')}" if version else "default"
    props = {"region": region, "version": version} if region else {"version": version}
    return Provider(f"urn:pulumi:{stack}::{project}::pulumi:providers:aws::{name}",
                    "pulumi:providers:aws", name, props)


def from_capture(capture: Any, config: Mapping[str, str]) -> Source:
    """A :class:`kiln.preview.capture.Capture` (plus the engine config it ran with) as a source."""
    region = config.get("aws:region")
    versions = {r.options.get("version") for r in capture.resources
                if r.type.startswith("aws:") and r.options.get("version")}
    provider = default_provider(capture.project, capture.stack, region,
                                sorted(versions)[0] if versions else "")
    stack = stack_urn(capture.project, capture.stack)
    resources = [AuditResource(stack, STACK_TYPE, f"{capture.project}-{capture.stack}", False,
                               {}, dict(capture.outputs))]
    resources.append(AuditResource(provider.urn, provider.type, provider.name, True,
                                   dict(provider.props), dict(provider.props), parent=stack))
    for res in capture.resources:
        resources.append(AuditResource(
            urn=res.urn, type=res.type, name=res.name, custom=res.custom,
            inputs=dict(res.inputs), outputs=_with_id({**res.inputs, **_jsonable(res.outputs)},
                                                      res.id if res.custom else ""),
            parent=res.parent or stack, dependencies=tuple(res.dependencies),
            property_dependencies=dict(res.property_dependencies),
            options=dict(res.options), provider=provider if res.type.startswith("aws:")
            else None))
    return Source(capture.project, capture.stack, "capture", tuple(resources), dict(config))


def _with_id(outputs: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """Outputs with the resource's ``id``, as the engine's state holds it for a custom
    resource (a stack rule matches references by id)."""
    if resource_id and "id" not in outputs:
        return {**outputs, "id": resource_id}
    return outputs


def _jsonable(value: Any) -> Any:
    """Mock outputs as JSON values (tuples become lists)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _readable(value: dict[str, Any]) -> Any:
    """One JSON object of an export → wire format (a ``json.loads`` object hook, so nested
    objects are already converted): decrypted secrets kept as secrets, encrypted ones
    unknown, and the engine's internal keys (``__defaults``, ``__meta``) left out, as the
    engine leaves them out of ``Analyze``."""
    if value.get(SIG_KEY) == SECRET_SIG:
        if "plaintext" in value:  # `pulumi stack export --show-secrets`
            try:
                inner = json.loads(value["plaintext"], object_hook=_readable)
            except (TypeError, ValueError):
                inner = value["plaintext"]
            return {SIG_KEY: SECRET_SIG, "value": inner}
        if "value" in value:
            return {SIG_KEY: SECRET_SIG, "value": value["value"]}
        # Encrypted with the stack's secrets provider: unreadable offline.
        return {SIG_KEY: SECRET_SIG, "value": UNKNOWN}
    if any(str(k).startswith("__") for k in value):
        return {k: v for k, v in value.items() if not str(k).startswith("__")}
    return value


def _load_export(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise AuditError(f"{path}: cannot read ({getattr(error, 'strerror', None) or error})") \
            from None
    try:
        # Most exports hold no secret and no internal key: parsed as is, at C speed.
        data = json.loads(text, object_hook=_readable) \
            if SIG_KEY in text or '"__' in text else json.loads(text)
    except json.JSONDecodeError as error:
        raise AuditError(f"{path}: not a JSON stack export ({error.msg} at line "
                         f"{error.lineno})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("deployment"), Mapping):
        raise AuditError(f"{path}: not a `pulumi stack export` file (no 'deployment')")
    if data.get("version") != DEPLOYMENT_VERSION:
        raise AuditError(f"{path}: deployment version {data.get('version')!r} is not "
                         f"supported; expected {DEPLOYMENT_VERSION} (pulumi stack export)")
    return data["deployment"]


def from_export(path: Path, stack: str | None = None) -> Source:
    """Resources of a ``pulumi stack export`` (deployment version 3) of ``stack`` (when
    None, of the stack its URNs name)."""
    deployment = _load_export(path)
    raw = deployment.get("resources") or []
    if not isinstance(raw, list):
        raise AuditError(f"{path}: 'deployment.resources' is not a list")
    entries = [r for r in raw if isinstance(r, Mapping) and isinstance(r.get("urn"), str)
               and isinstance(r.get("type"), str) and not r.get("delete")]
    project = ""
    for entry in entries:
        parts = entry["urn"].split("::")
        if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
            raise AuditError(f"{path}: {entry['urn']!r} is not a Pulumi URN")
        found = parts[0][len("urn:pulumi:"):]
        stack = stack or found
        if found != stack:
            raise AuditError(f"{path}: the export is of stack {found!r}, not {stack!r}")
        project = parts[1]
    if not entries or stack is None:
        raise AuditError(f"{path}: the export holds no resources")
    providers = {}
    for entry in entries:
        if entry["type"].startswith(PROVIDER_PREFIX):
            ref = f"{entry['urn']}::{entry.get('id', '')}"
            providers[ref] = Provider(entry["urn"], entry["type"], entry["urn"].split("::")[-1],
                                      dict(entry.get("inputs") or {}))
    config: dict[str, str] = {}
    resources = []
    for entry in entries:
        provider = providers.get(str(entry.get("provider") or ""))
        if provider is not None and provider.type == "pulumi:providers:aws" \
                and provider.props.get("region"):
            config.setdefault("aws:region", str(provider.props["region"]))
        resources.append(AuditResource(
            urn=entry["urn"], type=entry["type"], name=entry["urn"].split("::")[-1],
            custom=bool(entry.get("custom")), inputs=dict(entry.get("inputs") or {}),
            outputs=_with_id(dict(entry.get("outputs") or {}),
                             str(entry.get("id") or "") if entry.get("custom") else ""),
            parent=entry.get("parent") or "",
            dependencies=tuple(entry.get("dependencies") or ()),
            property_dependencies={k: tuple(v) for k, v in
                                   (entry.get("propertyDependencies") or {}).items()},
            options={"protect": bool(entry.get("protect")),
                     "ignoreChanges": list(entry.get("ignoreChanges") or []),
                     "additionalSecretOutputs": list(entry.get("additionalSecretOutputs") or []),
                     "aliases": [a for a in entry.get("aliases") or [] if isinstance(a, str)],
                     "retainOnDelete": bool(entry.get("retainOnDelete"))},
            provider=provider))
    return Source(project, stack, str(path), tuple(resources), config)
