"""Stack configuration → frozen settings.

Every check on a stack's ``kiln:`` configuration lives here (generic value readers in
:mod:`kiln.model.fields`), and every failure is a :class:`SettingsError` whose message is one line
naming the key, the bad value and what is allowed. Nothing here imports Pulumi: the CLI,
the stack-file editor and the Pulumi program all parse through :func:`parse`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any, cast

from kiln.model import regions
from kiln.model.fields import (
    NAMESPACE,
    SettingsError,
    boolean,
    choice,
    integer,
    key,
    match,
    show,
    suggest,
)
from kiln.model.sections import (
    NETWORK_DEFAULTS,
    parse_environments,
    parse_network,
    parse_release,
    parse_service,
    parse_trusted_keys,
)
from kiln.model.stack import (
    CERT_ARN,
    COLOURS,
    DEFAULT_ENVIRONMENTS,
    REGION,
    STACK_NAME,
    STANDBY_MODES,
    Colour,
    NewVpc,
    StackSettings,
    Standby,
)

# --- the schema: top-level keys, whether required, and their nested keys -------------------

TOP_LEVEL: dict[str, bool] = {
    "service": True,
    "network": False,
    "blue": True,
    "green": True,
    "live": False,
    "traffic": False,
    "standby": False,
    "trustedKeys": False,
    "certificateArn": False,
    "environments": False,
    "retired": False,
    # Project config that reaches every stack: the keys whose ledger entries verify.
    "ledgerKeys": False,
}
# Config namespaces a stack may use: kiln's own, the AWS provider's, the engine's.
NAMESPACES = (NAMESPACE, "aws", "pulumi")
OBJECT_KEYS = frozenset({"service", "network", "blue", "green"})
ARRAY_KEYS = frozenset({"trustedKeys", "environments", "ledgerKeys"})
INTEGER_KEYS = frozenset({"traffic"})
BOOLEAN_KEYS = frozenset({"retired"})

DEFAULTS: dict[str, Any] = {
    "network": dict(NETWORK_DEFAULTS),
    "live": "blue",
    "traffic": 100,
    "standby": "hot",
    "trustedKeys": [],
    "certificateArn": "",
    "environments": list(DEFAULT_ENVIRONMENTS),
    "retired": True,
    "ledgerKeys": [],
}


def parse(config: Mapping[str, Any], stack: str) -> StackSettings:
    """Parse a stack's configuration (``{"kiln:service": {...}, "aws:region": ...}``).

    Values are native (YAML) types; use :func:`from_pulumi_config` for the string map the
    Pulumi engine hands a program.
    """
    match(stack, STACK_NAME, "stack", "a stack name (letters, digits, '_', '.', '-')")
    prefix = f"{NAMESPACE}:"
    raw: dict[str, Any] = {}
    for full, value in config.items():
        check_namespace(full)
        if not full.startswith(prefix):
            continue
        name = full[len(prefix):]
        if name not in TOP_LEVEL:
            raise SettingsError(full, f"unknown key; {suggest(name, list(TOP_LEVEL))}")
        raw[name] = value
    for name, required in TOP_LEVEL.items():
        if required and raw.get(name) is None:
            if name in COLOURS:
                parse_release(name, None)
            raise SettingsError(key(name), "is missing; it has no default and must be set "
                                "in the stack file")

    def value_of(name: str) -> Any:
        value = raw.get(name)
        return DEFAULTS.get(name) if value is None else value

    region = config.get("aws:region")
    regions.check(match(region, REGION, "aws:region", "an AWS region such as eu-west-1"),
                  "aws:region")
    # Checked here like the stack's own keys; read by the ledger (kiln.project.ledger_anchor).
    parse_trusted_keys(value_of("ledgerKeys"), "ledgerKeys")
    certificate = value_of("certificateArn") or None
    if certificate is not None:
        match(certificate, CERT_ARN, key("certificateArn"), "an ACM certificate ARN")
    settings = StackSettings(
        stack=stack,
        region=cast(str, region),
        service=parse_service(value_of("service")),
        network=parse_network(value_of("network")),
        blue=parse_release("blue", raw.get("blue")),
        green=parse_release("green", raw.get("green")),
        live=cast(Colour, choice(value_of("live"), COLOURS, key("live"))),
        traffic=integer(value_of("traffic"), key("traffic"), 1, 100,
                     "a percentage for the live colour:"),
        standby=cast(Standby, choice(value_of("standby"), STANDBY_MODES, key("standby"))),
        trusted_keys=parse_trusted_keys(value_of("trustedKeys")),
        certificate_arn=certificate,
        environments=parse_environments(value_of("environments")),
        retired=boolean(value_of("retired"), key("retired")),
    )
    return settings


def check_namespace(full: Any) -> None:
    """A config key is ``<namespace>:<name>`` in a namespace this program reads: a typo such
    as ``kilm:standby`` would otherwise be ignored, and the stack run with the default."""
    if not isinstance(full, str) or ":" not in full:
        raise SettingsError(str(full), "is not a config key; expected <namespace>:<name> "
                            f"(namespaces: {', '.join(NAMESPACES)})")
    namespace = full.split(":", 1)[0]
    if namespace not in NAMESPACES:
        close = difflib.get_close_matches(namespace.lower(), NAMESPACES, n=1, cutoff=0.6)
        hint = (f"did you mean '{close[0]}:'?" if close
                else f"expected one of {', '.join(n + ':' for n in NAMESPACES)}")
        raise SettingsError(full, f"unknown config namespace {namespace!r}; {hint}")


def from_pulumi_config(config: Mapping[str, str], stack: str) -> StackSettings:
    """Parse the engine's config map, where objects and arrays arrive as JSON strings."""

    decoded: dict[str, Any] = {}
    for full, value in config.items():
        name = full.split(":", 1)[1] if full.startswith(f"{NAMESPACE}:") else None
        if name in OBJECT_KEYS or name in ARRAY_KEYS:
            try:
                decoded[full] = json.loads(value)
            except (TypeError, ValueError):
                raise SettingsError(full, f"{show(value)} is not valid JSON") from None
        else:
            decoded[full] = value
    return parse(decoded, stack)


def to_config(settings: StackSettings) -> dict[str, Any]:
    """The stack-file form of ``settings`` (inverse of :func:`parse`)."""
    svc = settings.service
    service: dict[str, Any] = {
        "name": svc.name,
        "port": svc.port,
        "healthPath": svc.health_path,
        "instanceType": svc.instance_type,
        "capacity": {"min": svc.capacity.min, "desired": svc.capacity.desired,
                     "max": svc.capacity.max},
        "minHealthy": svc.min_healthy,
        "rootVolumeGb": svc.root_volume_gb,
    }
    if svc.container:
        service["container"] = svc.container
    net = settings.network
    network: dict[str, Any] = (
        {"cidr": net.cidr, "azCount": net.az_count} if isinstance(net, NewVpc) else
        {"vpcId": net.vpc_id, "publicSubnetIds": list(net.public_subnet_ids),
         "privateSubnetIds": list(net.private_subnet_ids)})
    config: dict[str, Any] = {
        "aws:region": settings.region,
        key("service"): service,
        key("network"): network,
        key("live"): settings.live,
        key("traffic"): settings.traffic,
        key("standby"): settings.standby,
        key("environments"): list(settings.environments),
        key("trustedKeys"): [{"id": k.id, "type": k.type, "publicKey": k.public_key}
                             for k in settings.trusted_keys],
        key("retired"): settings.retired,
    }
    for colour in COLOURS:
        rel = settings.release(colour)
        config[key(colour)] = {"image": rel.image, "release": rel.record,
                               "signature": rel.signature}
    if settings.certificate_arn:
        config[key("certificateArn")] = settings.certificate_arn
    return config
