"""Decode each resource once per request instead of once per policy.

pulumi-policy 1.21's analyzer servicer turns a request's properties into Python values again
for every policy in the pack, and asks every policy about every resource. With one policy
per rule that decoding is nearly all of the pack's time (about 7 ms per launch template).
:func:`decode_once` replaces ``Analyze`` and ``AnalyzeStack`` with versions that decode once,
answer "not applicable" straight from the type-token dispatcher, and otherwise do exactly what
the SDK does: same enforcement levels, diagnostics, not-applicable entries and preview
handling. It is only installed over the SDK version it was written against.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from inspect import isawaitable
from typing import Any

from pulumi.runtime import proto
from pulumi_policy import policy as sdk
from pulumi_policy import proxy as sdk_proxy
from pulumi_policy.deserialize import SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy
from pulumi_policy.version import VERSION

log = logging.getLogger(__name__)

SDK_VERSION = "1.21.0"
RULE_ATTR = "kiln_rule"
OTHER_TYPE = "applies to other resource types"
Servicer: Any = sdk._PolicyAnalyzerServicer
SDK_CONFIGURE = Servicer.Configure


def _run(validate: Any) -> None:
    if validate is not None and isawaitable(validate):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(validate)
        finally:
            loop.close()


def _validate(self: Any, response: Any, policy: Any, level: Any, args: Any) -> None:
    """Run one policy as the SDK does, recording its outcome in ``response``."""
    pack = self._PolicyAnalyzerServicer__policy_pack_name
    version = self._PolicyAnalyzerServicer__policy_pack_version
    report = self._create_report_violation(response, policy.name, policy.description, level,
                                           policy.severity)
    try:
        _run(policy.validate(args, report))
    except UnknownValueError as error:
        response.diagnostics.append(proto.AnalyzeDiagnostic(
            policyName=policy.name, policyPackName=pack, policyPackVersion=version,
            message=(f"can't run policy '{policy.name}' from policy pack "
                     f"'{pack}@v{version}' during preview: {error.message}"),
            urn="", description=policy.description,
            enforcementLevel=self._map_enforcement_level(sdk.EnforcementLevel.ADVISORY)))
    except sdk._NotApplicableError as error:
        response.not_applicable.append(proto.PolicyNotApplicable(
            policy_name=policy.name, reason=error.reason or ""))


def _level(self: Any, policy: Any, kind: type) -> Any:
    level = self._get_enforcement_level(policy)
    if level == sdk.EnforcementLevel.DISABLED or not isinstance(policy, kind):
        return None
    return sdk.EnforcementLevel.MANDATORY if level == sdk.EnforcementLevel.REMEDIATE else level


def _plan(self: Any, type_token: str) -> tuple[list[tuple[Any, Any]], bytes]:
    """The policies to run for a type token, and its not-applicable answers (serialized).

    Levels only change on ``Configure``, so each type's plan is computed once per config.
    """
    cache = self.__dict__.setdefault("_kiln_plans", {})
    if type_token not in cache:
        run, skipped = [], proto.AnalyzeResponse()
        for policy in self._PolicyAnalyzerServicer__policies:
            level = _level(self, policy, sdk.ResourceValidationPolicy)
            if level is None:
                continue
            rule = getattr(policy, RULE_ATTR, None)
            if rule is not None and type_token not in rule.types:
                skipped.not_applicable.add(policy_name=policy.name, reason=OTHER_TYPE)
            else:
                run.append((policy, level))
        cache[type_token] = (run, skipped.SerializeToString())
    return cache[type_token]


def configure(self: Any, request: Any, context: Any) -> Any:
    self.__dict__.pop("_kiln_plans", None)
    return SDK_CONFIGURE(self, request, context)


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {k: _value(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_value(v) for v in value.list_value.values]
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)


def struct_to_dict(struct: Any) -> dict[str, Any]:
    """``json_format.MessageToDict`` for a ``Struct``, without its per-field descriptor
    lookups (the same values, several times faster on large stacks)."""
    return {k: _value(v) for k, v in struct.fields.items()}


UNKNOWNS = frozenset(getattr(sdk_proxy, name) for name in dir(sdk_proxy)
                     if name.startswith("UNKNOWN_") and name.endswith("_VALUE"))


class _NotPlainError(Exception):
    """A value the SDK would wrap or convert: an unknown, a secret, an asset or archive."""


def _plain(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        if text in UNKNOWNS:
            raise _NotPlainError
        return text
    if kind == "struct_value":
        fields = value.struct_value.fields
        if SPECIAL_SIG_KEY in fields:
            raise _NotPlainError
        return {k: _plain(fields[k]) for k in fields}
    if kind == "list_value":
        return [_plain(v) for v in value.list_value.values]
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)


class LazyProperties(Mapping[str, Any]):
    """A resource's properties as policies read them, each top-level value decoded when a
    policy first reads it.

    Policies read a few keys of a resource (stack policies: ``tags`` and ``arn`` of every
    resource in the stack), so decoding all of them up front was much of a call. The SDK
    deserializes secrets, assets and archives and wraps every dict and list in a proxy that
    raises on unknown values; for values holding none of those both steps give back the
    same values, so a plain value is decoded on its own into plain dicts and lists. The
    first value that is not plain (an unknown, a secret, an asset) sends the whole struct
    through the SDK's own decoding.
    """

    __slots__ = ("_decoded", "_fields", "_sdk", "_struct")

    def __init__(self, struct: Any) -> None:
        self._struct = struct
        self._fields = struct.fields
        self._decoded: dict[str, Any] = {}
        self._sdk: Any = None
        if SPECIAL_SIG_KEY in self._fields:
            self._use_sdk()

    def _use_sdk(self) -> Any:
        self._sdk = unknown_checking_proxy(deserialize_properties(struct_to_dict(self._struct)))
        return self._sdk

    def __getitem__(self, key: str) -> Any:
        if self._sdk is not None:
            return self._sdk[key]
        if key in self._decoded:
            return self._decoded[key]
        if not isinstance(key, str) or key not in self._fields:  # reading a missing key
            raise KeyError(key)                                   # of a map would add it
        try:
            value = self._decoded[key] = _plain(self._fields[key])
        except _NotPlainError:
            return self._use_sdk()[key]
        return value

    def get(self, key: str, default: Any = None) -> Any:  # Mapping.get, minus a try/except
        if self._sdk is not None:
            return self._sdk.get(key, default)
        if key in self._decoded:
            return self._decoded[key]
        if not isinstance(key, str) or key not in self._fields:
            return default
        return self[key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields if self._sdk is None else self._sdk)

    def __len__(self) -> int:
        return len(self._fields)


class ResourceArgs(sdk.ResourceValidationArgs):
    """The SDK's arguments for one policy, plus ``memo``: a dict shared by every policy run
    on the same request, so that what is derived from the request alone (the resource's
    region, say) is worked out once rather than once per policy."""

    def __init__(self, *args: Any, memo: dict[str, Any]) -> None:
        super().__init__(*args)
        self.memo = memo


class StackArgs(sdk.StackValidationArgs):
    """The SDK's stack arguments, plus a ``memo`` shared by the request's stack policies."""

    def __init__(self, *args: Any, memo: dict[str, Any]) -> None:
        super().__init__(*args)
        self.memo = memo


def _options(self: Any, request: Any) -> Any:
    """The SDK's resource options, built once per distinct set (read-only)."""
    cache = self.__dict__.setdefault("_kiln_options", {})
    key = request.options.SerializeToString(deterministic=True)
    if key not in cache:
        cache[key] = self._get_resource_options(request)
    return cache[key]


def _provider(self: Any, request: Any) -> Any:
    """The SDK's provider resource, built once per distinct provider (read-only)."""
    if not request.HasField("provider"):
        return None
    cache = self.__dict__.setdefault("_kiln_providers", {})
    key = request.provider.SerializeToString(deterministic=True)
    if key not in cache:
        cache[key] = self._get_provider_resource(request)
    return cache[key]


def analyze(self: Any, request: Any, _context: Any) -> Any:
    if not self.__dict__.get("_kiln_runtime"):
        # The SDK re-reads the same environment on every request; once is enough.
        self._configure_runtime_settings()
        self._kiln_runtime = True
    response = proto.AnalyzeResponse()
    run, skipped = _plan(self, request.type)
    response.MergeFromString(skipped)
    if not run:
        return response
    shared = (LazyProperties(request.properties), _options(self, request),
              _provider(self, request))
    memo: dict[str, Any] = {}
    for policy, level in run:
        args = ResourceArgs(
            request.type, shared[0], request.urn, request.name, shared[1], shared[2],
            self._get_policy_config(policy.name), self._PolicyAnalyzerServicer__stack_tags,
            memo=memo)
        _validate(self, response, policy, level, args)
    return response


def _stack_resources(self: Any, request: Any) -> list[Any]:
    """The request's resources as the SDK builds them, parents and dependencies linked."""
    resources, links = [], []
    for r in request.resources:
        res = sdk.PolicyResource(r.type, LazyProperties(r.properties), r.urn, r.name,
                                 _options(self, r), _provider(self, r), None, [], {})
        resources.append(res)
        links.append((r.parent, list(r.dependencies),
                      {k: list(v.urns) for k, v in r.propertyDependencies.items()}))
    by_urn = {res.urn: res for res in resources}
    for res, (parent, deps, prop_deps) in zip(resources, links, strict=True):
        res.parent = by_urn.get(parent) if parent else None
        res.dependencies.extend(by_urn[d] for d in deps if d in by_urn)
        for key, urns in prop_deps.items():
            res.property_dependencies[key] = [by_urn[d] for d in urns if d in by_urn]
    return resources


def analyze_stack(self: Any, request: Any, _context: Any) -> Any:
    self._configure_runtime_settings()
    response = proto.AnalyzeResponse()
    resources: list[Any] | None = None
    memo: dict[str, Any] = {}
    for policy in self._PolicyAnalyzerServicer__policies:
        level = _level(self, policy, sdk.StackValidationPolicy)
        if level is None:
            continue
        if resources is None:
            resources = _stack_resources(self, request)
        args = StackArgs(resources, self._get_policy_config(policy.name),
                         self._PolicyAnalyzerServicer__stack_tags, memo=memo)
        _validate(self, response, policy, level, args)
    return response


def decode_once() -> bool:
    """Install the decode-once handlers; False (SDK behaviour kept) on another SDK version."""
    if VERSION != SDK_VERSION:
        log.warning("pulumi-policy %s is not %s: keeping the SDK's per-policy decoding",
                    VERSION, SDK_VERSION)
        return False
    Servicer.Analyze = analyze
    Servicer.AnalyzeStack = analyze_stack
    Servicer.Configure = configure
    return True
