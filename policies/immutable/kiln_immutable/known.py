"""Property values as the policy SDK hands them to a policy, for evaluating without it.

The engine sends secrets wrapped in a signature object and values unknown during a preview
as sentinel strings. The SDK unwraps secrets and wraps dicts and lists in proxies that raise
when a policy reads an unknown value, which it reports as an advisory "can't run policy"
diagnostic. :func:`decode` does the same with plain Python, so the rules see the same values
whether they run in the policy server or in ``kiln audit``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (a marker, not a secret)
UNKNOWNS = {
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7": "boolean",
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421": "number",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9": "string",
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2": "Array",
    "030794c1-ac77-496b-92df-f27374a8bd58": "asset",
    "e48ece36-62e2-4504-bad9-02848725956a": "archive",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff": "Object",
}


class UnknownValue(Exception):  # noqa: N818 (named as the SDK's UnknownValueError reads)
    """A policy read a value that is unknown during preview."""

    def __init__(self, sentinel: str, path: list[str]) -> None:
        super().__init__()
        self.message = f"{UNKNOWNS[sentinel]} value at .{'.'.join(path)} can't be known " \
                       "during preview"


def _checked(key: Any, value: Any, path: list[str]) -> Any:
    if isinstance(value, str) and value in UNKNOWNS:
        raise UnknownValue(value, [*path, str(key)])
    return value


class _Dict(Mapping[str, Any]):
    __slots__ = ("_path", "_target")

    def __init__(self, target: dict[str, Any], path: list[str]) -> None:
        self._target, self._path = target, path

    def __getitem__(self, key: str) -> Any:
        return _checked(key, self._target[key], self._path)

    def __iter__(self) -> Iterator[str]:
        return iter(self._target)

    def __len__(self) -> int:
        return len(self._target)


class _List(Sequence[Any]):
    __slots__ = ("_path", "_target")

    def __init__(self, target: list[Any], path: list[str]) -> None:
        self._target, self._path = target, path

    def __getitem__(self, index: Any) -> Any:
        return _checked(index, self._target[index], self._path)

    def __len__(self) -> int:
        return len(self._target)


def _unwrap(value: Any, unknown: list[bool]) -> Any:
    """Secrets unwrapped; ``unknown[0]`` set when an unknown sentinel is met (one pass)."""
    if isinstance(value, str):
        if value in UNKNOWNS:
            unknown[0] = True
        return value
    if isinstance(value, dict | Mapping):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _unwrap(value.get("value"), unknown)
        return {k: _unwrap(v, unknown) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap(v, unknown) for v in value]
    return value


def _proxy(value: Any, path: list[str]) -> Any:
    if isinstance(value, list):
        return _List([_proxy(v, [*path, str(i)]) for i, v in enumerate(value)], path)
    if isinstance(value, dict):
        return _Dict({k: _proxy(v, [*path, k]) for k, v in value.items()}, path)
    return value


def decode(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Wire-format properties → what a policy reads (plain dicts when nothing is unknown).

    Most resources hold neither a secret nor an unknown: one look at their JSON text (C
    speed) says so, and they are handed on as they are.
    """
    try:
        text = json.dumps(props)
    except (TypeError, ValueError):
        text = None
    if text is not None and SIG_KEY not in text and not any(u in text for u in UNKNOWNS):
        return props
    unknown = [False]
    plain = _unwrap(props, unknown)
    return _proxy(plain, []) if unknown[0] else plain
