"""The pack's per-environment config and framework mappings, read the way the engine reads them.

``config/<env>.json`` is a ``--policy-pack-config`` file: ``{"all": level, "<policy>": level |
{"enforcementLevel": level, ...properties}}``. Like the engine, the effective config of each
policy is its default level and schema defaults, then ``all``, then its own entry; the result
is checked against the policy's config schema before ``Configure``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from kiln.audit.sources import AuditError

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
LEVEL_NAMES = {0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate"}
SEVERITY_NAMES = {0: "", 1: "low", 2: "medium", 3: "high", 4: "critical"}

PolicyConfig = dict[str, tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class PolicyInfo:
    """One policy as ``GetAnalyzerInfo`` describes it."""

    name: str
    description: str
    severity: str
    remediation: str
    stack: bool
    level: str
    schema: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


def policies(info: Any) -> list[PolicyInfo]:
    """The pack's policies from a ``GetAnalyzerInfo`` response."""
    # protobuf's JSON support, for the --analyzer path only.
    from google.protobuf import json_format  # noqa: PLC0415

    found = []
    for p in info.policies:
        schema = json_format.MessageToDict(p.configSchema.properties) \
            if p.HasField("configSchema") else {}
        found.append(PolicyInfo(
            name=p.name, description=p.description, severity=SEVERITY_NAMES[p.severity],
            remediation=p.remediation_steps, stack=p.policy_type == 2,
            level=LEVEL_NAMES[p.enforcementLevel], schema=schema,
            required=tuple(p.configSchema.required) if p.HasField("configSchema") else ()))
    return found


def config_path(pack_dir: Path, env: str) -> Path:
    return pack_dir / "config" / f"{env}.json"


def load(pack_dir: Path, env: str) -> dict[str, Any]:
    """The environment's ``--policy-pack-config`` file."""
    path = config_path(pack_dir, env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = sorted(p.stem for p in (pack_dir / "config").glob("*.json"))
        raise AuditError(f"no policy config for environment {env!r}: {path} does not exist "
                         f"(environments: {', '.join(known) or 'none'})") from None
    except ValueError as error:
        raise AuditError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise AuditError(f"{path}: expected a JSON object of policy names")
    return data


def _split(value: Any, where: str) -> tuple[str | None, dict[str, Any]]:
    level: Any
    if isinstance(value, str):
        level, props = value, {}
    elif isinstance(value, Mapping):
        props = {k: v for k, v in value.items() if k != "enforcementLevel"}
        level = value.get("enforcementLevel")
    else:
        raise AuditError(f"{where}: expected an enforcement level or an object")
    if level is not None and level not in LEVELS:
        raise AuditError(f"{where}: enforcement level {level!r} is not one of "
                         f"{', '.join(LEVELS)}")
    return level, props


def reconcile(infos: list[PolicyInfo], file_config: Mapping[str, Any], source: str
              ) -> PolicyConfig:
    """Each policy's (level, properties) after defaults, ``all`` and its own entry."""
    by_name = {p.name: p for p in infos}
    unknown = sorted(set(file_config) - set(by_name) - {"all"})
    if unknown:
        raise AuditError(f"{source}: {unknown[0]!r} is not a policy of this pack")
    result: PolicyConfig = {}
    all_level, _ = _split(file_config.get("all", {}), f"{source}: all")
    for info in infos:
        props = {k: s["default"] for k, s in info.schema.items()
                 if isinstance(s, Mapping) and "default" in s}
        level = all_level or info.level
        if info.name in file_config:
            own_level, own_props = _split(file_config[info.name], f"{source}: {info.name}")
            level = own_level or level
            props.update(own_props)
        _check(info, props, source)
        result[info.name] = (level, props)
    return result


def policy_schema(info: PolicyInfo) -> dict[str, Any]:
    """The JSON schema the engine checks one policy's config against: the policy's own
    properties and required list, plus its enforcement level; nothing else."""
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {**info.schema,
                           "enforcementLevel": {"type": "string", "enum": list(LEVELS)}},
            "required": list(info.required), "additionalProperties": False}


def _check(info: PolicyInfo, props: Mapping[str, Any], source: str) -> None:
    """Validate a policy's config with the full JSON schema (draft 7), as the engine does."""
    schema = policy_schema(info)
    try:
        validator = jsonschema.Draft7Validator(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(dict(props)))
    except jsonschema.exceptions.SchemaError as bad:
        raise AuditError(f"{source}: {info.name} has an invalid config schema "
                         f"({bad.message.splitlines()[0]})") from None
    if error is None:
        return
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    raise AuditError(f"{source}: {info.name}{where}: {message}")


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    version: str
    controls: dict[str, str]
    rules: dict[str, tuple[str, ...]]


def frameworks(pack_dir: Path, rule_ids: set[str]) -> list[Framework]:
    """``frameworks/*.yaml``: rule id → control ids, checked against the pack's rules."""
    return check_frameworks(read_frameworks(pack_dir), rule_ids)


def read_frameworks(pack_dir: Path) -> list[tuple[Path, Mapping[str, Any]]]:
    """Each ``frameworks/*.yaml`` parsed and its shape checked; :func:`check_frameworks`
    checks the rules it maps once the pack's rules are known."""
    found = []
    for path in sorted((pack_dir / "frameworks").glob("*.yaml")):
        try:
            # libyaml's loader when present: the mappings are read on every audit.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
        except (OSError, yaml.YAMLError) as error:
            raise AuditError(f"{path}: cannot read the framework mapping "
                             f"({str(error).splitlines()[0]})") from None
        if not isinstance(data, Mapping) or not all(k in data for k in ("id", "name", "rules")):
            raise AuditError(f"{path}: expected id, name, version, controls and rules")
        found.append((path, data))
    return found


def check_frameworks(files: list[tuple[Path, Mapping[str, Any]]], rule_ids: set[str]
                     ) -> list[Framework]:
    """The mappings of :func:`read_frameworks`; each rule must be one of ``rule_ids`` and
    each control it maps to declared."""
    found = []
    for path, data in files:
        controls = {str(k): str(v) for k, v in (data.get("controls") or {}).items()}
        rules: dict[str, tuple[str, ...]] = {}
        for rule, listed in (data.get("rules") or {}).items():
            if rule not in rule_ids:
                raise AuditError(f"{path}: {rule!r} is not a rule of this pack")
            mapped = [str(c) for c in (listed or [])]
            missing = [c for c in mapped if c not in controls]
            if missing:
                raise AuditError(f"{path}: {rule} maps to undeclared control {missing[0]!r}")
            rules[rule] = tuple(mapped)
        found.append(Framework(str(data["id"]), str(data["name"]),
                               str(data.get("version") or ""), controls, rules))
    return found
