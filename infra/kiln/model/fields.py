"""Readers for config values: each checks one value and fails with a one-line
:class:`SettingsError` naming the key, the bad value and what is allowed."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from kiln.errors import KilnError

NAMESPACE = "kiln"
INTEGER = re.compile(r"-?[0-9]+")

CIDR_TEXT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}/[0-9]{1,2}")


class SettingsError(KilnError, ValueError):
    """A stack configuration value is missing or not allowed (message is one line)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


def key(*parts: str | int) -> str:
    """``key("service", "port")`` → ``kiln:service.port``; ints index arrays."""
    text = f"{NAMESPACE}:{parts[0]}"
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def suggest(word: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Obj:
    """A config object being read: remembers its key path for error messages."""

    def __init__(self, value: Any, path: tuple[str | int, ...], allowed: Sequence[str]) -> None:
        self.path = path
        if not isinstance(value, Mapping):
            raise SettingsError(key(*path), f"{show(value)} is not allowed; expected an "
                                f"object with keys {', '.join(allowed)}")
        for name in value:
            if name not in allowed:
                raise SettingsError(key(*path, str(name)),
                                    f"unknown key; {suggest(str(name), allowed)}")
        self.value: Mapping[str, Any] = value

    def has(self, name: str) -> bool:
        return self.value.get(name) not in (None, "")

    def get(self, name: str, default: Any = None) -> Any:
        value = self.value.get(name)
        return default if value is None else value

    def require(self, name: str, what: str) -> Any:
        if not self.has(name):
            raise SettingsError(key(*self.path, name), f"is missing; set it to {what}")
        return self.value[name]

    def key(self, name: str) -> str:
        return key(*self.path, name)


def integer(value: Any, where: str, low: int, high: int, what: str = "an integer") -> int:
    if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and INTEGER.fullmatch(value))):
        raise SettingsError(where, f"{show(value)} is not allowed; expected {what} {low}–{high}")
    number = int(value)
    if not low <= number <= high:
        raise SettingsError(where, f"{number} is not allowed; expected {what} {low}–{high}")
    return number


def match(value: Any, pattern: re.Pattern[str], where: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SettingsError(where, f"{show(value)} is not allowed; expected {what}")
    return value


def choice(value: Any, allowed: Sequence[str], where: str) -> str:
    if value not in allowed:
        hint = suggest(value, allowed) if isinstance(value, str) else ""
        tail = f" ({hint})" if hint.startswith("did") else ""
        raise SettingsError(where, f"{show(value)} is not allowed; expected one of "
                            f"{', '.join(allowed)}{tail}")
    return cast(str, value)


def boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise SettingsError(where, f"{show(value)} is not allowed; expected true or false")


def cidr_network(text: Any, where: str, prefixes: tuple[int, int]) -> ipaddress.IPv4Network:
    """An IPv4 network written exactly as ``a.b.c.d/nn`` with a prefix in range."""
    expected = "expected an IPv4 CIDR such as 10.0.0.0/16"
    if not isinstance(text, str) or not CIDR_TEXT.fullmatch(text):
        raise SettingsError(where, f"{show(text)} is not allowed; {expected}")
    try:
        interface = ipaddress.IPv4Interface(text)
    except ValueError:
        raise SettingsError(where, f"{text!r} is not allowed; {expected}") from None
    low, high = prefixes
    if not low <= interface.network.prefixlen <= high:
        raise SettingsError(where, f"{text!r} is not allowed; expected a prefix length "
                            f"/{low}–/{high}")
    if interface.ip != interface.network.network_address:
        raise SettingsError(where, f"{text!r} has host bits set; did you mean "
                            f"{str(interface.network)!r}?")
    return interface.network


def repeated(values: Sequence[Any]) -> Any:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


