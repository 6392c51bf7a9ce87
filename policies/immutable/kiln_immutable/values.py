"""Reading engine property values the way the AWS provider does.

Properties arrive as the engine sends them: camelCase names, numbers as floats, and some
booleans as strings (launch templates take ``"true"``/``"false"``). These helpers keep rules
honest about those shapes, so ``"TRUE"`` or ``22.0`` cannot slip past a comparison.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

DIGEST_REFERENCE = re.compile(r"@sha256:[0-9a-f]{64}$")


def present(value: Any) -> bool:
    """True for anything but a missing value or an empty string."""
    return value is not None and value != ""


def truthy(value: Any) -> bool:
    """``True`` or the strings ``"true"``/``"1"`` in any case (the provider's string booleans)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("true", "1")


def number(value: Any) -> int | None:
    """An integer from an int, a float or a numeric string; None when there is none."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def listed(value: Any) -> list[Any]:
    """A list from a list, a single value, or nothing."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def tag(value: Any, key: str) -> Any:
    """One tag's value from a tags property: a map (most resources) or ``[{key, value}]``
    (autoscaling groups, where the last entry for a key wins), or None.

    Only the asked-for value is read, so an unknown value in an unrelated tag does not stop
    a rule during preview.
    """
    if isinstance(value, Mapping):
        return value.get(key)
    found = None
    for item in listed(value):
        if isinstance(item, Mapping) and item.get("key") == key:
            found = item
    return found.get("value") if found is not None else None


def by_digest(reference: Any) -> bool:
    """True when a container image reference pins ``@sha256:<64 hex>``."""
    return isinstance(reference, str) and bool(DIGEST_REFERENCE.search(reference))


PATH_HEAD = re.compile(
    r"""\s*(?:\[\s*(?P<quote>["'])(?P<quoted>(?:\\.|(?!(?P=quote)).)*)(?P=quote)\s*\]"""
    r"""|\[\s*(?P<star>\*)\s*\]|(?P<bare>[^.\[]*))""", re.DOTALL)


def path_head(path: str) -> str:
    """First segment of a property path, normalised for comparison: ``imageId``,
    ``image_id``, ``imageId[0]``, ``imageId.x``, ``["imageId"]`` and ``['imageId']`` all give
    ``imageid``; ``*`` and ``[*]`` give ``*``."""
    found = PATH_HEAD.match(path)
    if found is None:  # pragma: no cover - the pattern matches every string
        return ""
    if found.group("star"):
        return "*"
    head = found.group("quoted") if found.group("quote") else found.group("bare")
    head = re.sub(r"\\(.)", r"\1", head or "")
    return head.strip().replace("_", "").replace('"', "").lower()
