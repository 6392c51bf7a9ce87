"""Compliance metadata of each rule, from ``frameworks/*.yaml`` beside the pack.

Each mapping file names a framework (``id``, ``name``, ``version``, ``reference``: a URL) and
maps rule ids to its controls. A policy carries one framework (the first file, by name, that
maps it), every ``<framework id>:<control>`` of every file as tags, and that framework's
reference as its URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DIRECTORY = Path(__file__).resolve().parents[1] / "frameworks"


@dataclass(frozen=True)
class Metadata:
    framework: str
    version: str
    reference: str
    tags: tuple[str, ...]


def _read(directory: Path) -> list[Mapping[str, Any]]:
    found = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, Mapping):
            found.append(data)
    return found


@cache
def metadata(directory: Path = DIRECTORY) -> Mapping[str, Metadata]:
    """rule id → its framework metadata (rules no file maps are absent)."""
    files = _read(directory)
    result: dict[str, Metadata] = {}
    for data in files:
        for rule in data.get("rules") or {}:
            if rule in result:
                continue
            tags = tuple(f"{d.get('id')}:{c}" for d in files
                         for c in ((d.get("rules") or {}).get(rule) or ()))
            result[rule] = Metadata(str(data.get("name") or data.get("id")),
                                    str(data.get("version") or ""),
                                    str(data.get("reference") or ""), tags)
    return result
