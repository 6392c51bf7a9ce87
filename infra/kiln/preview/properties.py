"""Pulumi's wire format for property values, without importing Pulumi."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Markers the engine uses inside serialized properties.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (a marker, not a secret)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def plain(value: Any) -> Any:
    """Wire format → plain values: secrets unwrapped, unknowns become None."""
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) == SECRET_SIG and "value" in value:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return None if value == UNKNOWN else value
