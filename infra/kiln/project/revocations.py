"""The revocation list the policy pack reads, kept in the pack's per-environment config.

Each ``policies/immutable/config/<env>.json`` carries, under the image-not-revoked rule,
``revoked: [{image, release, reason}]``. A revocation applies everywhere, so kiln writes the
same entry into every environment's file (each replaced atomically).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import KilnError
from kiln.project.files import atomic_write
from kiln.project.layout import PACK_CONFIG_DIR

RULE = "kiln-ec2-launchtemplate-image-not-revoked"


class RevocationError(KilnError):
    """The pack's config cannot be read or written (message is one line)."""


@dataclass(frozen=True)
class Revoked:
    image: str | None
    release: str | None
    reason: str
    at: str = field(default="", compare=False)
    by: str = field(default="", compare=False)

    def matches(self, image: str | None, release: str | None) -> bool:
        return bool((self.image and self.image == image)
                    or (self.release and self.release == release))


def _files(root: Path) -> list[Path]:
    files = sorted((root / PACK_CONFIG_DIR).glob("*.json"))
    if not files:
        raise RevocationError(f"no policy pack config in {root / PACK_CONFIG_DIR}")
    return files


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RevocationError(f"{path}: cannot read policy config ({error})") from None
    if not isinstance(data, dict):
        raise RevocationError(f"{path}: policy config is not a JSON object")
    return data


def _optional_text(item: dict[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise RevocationError(f"{where}.{key} is not a string")
    return value or None


def _items(path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule's ``revoked`` list, checked item by item (a malformed list never reads as
    "nothing revoked": that would open the revocation gate)."""
    rule = data.get(RULE, {})
    if not isinstance(rule, dict):
        raise RevocationError(f"{path}: {RULE} is not an object")
    revoked = rule.get("revoked", [])
    if not isinstance(revoked, list):
        raise RevocationError(f"{path}: {RULE}.revoked is not a list")
    for index, item in enumerate(revoked):
        where = f"{path}: {RULE}.revoked[{index}]"
        if not isinstance(item, dict):
            raise RevocationError(f"{where} is not an object")
        for key in ("image", "release", "reason", "at", "by"):
            _optional_text(item, key, where)
    return revoked


def _entry(item: dict[str, Any]) -> Revoked:
    return Revoked(item.get("image") or None, item.get("release") or None,
                   item.get("reason") or "", item.get("at") or "", item.get("by") or "")


def listed(root: Path) -> list[Revoked]:
    """Every revoked image or release, across all environments' config."""
    found: dict[tuple[str | None, str | None], Revoked] = {}
    for path in _files(root):
        for item in _items(path, _load(path)):
            entry = _entry(item)
            found.setdefault((entry.image, entry.release), entry)
    return list(found.values())


def covered(revoked: list[dict[str, Any]], image: str | None, release: str | None) -> bool:
    """Is every given half of (image, release) already listed? (Either half alone is not
    enough: a fuller revocation must not be swallowed by a partial one.)"""
    entries = [_entry(r) for r in revoked]
    return all(any(e.matches(value if half == "image" else None,
                             value if half == "release" else None) for e in entries)
               for half, value in (("image", image), ("release", release)) if value)


def add(root: Path, image: str | None, release: str | None, reason: str, *,
        at: str = "", by: str = "") -> list[Path]:
    """Add a revocation to every environment's config; return the files changed."""
    return add_all(root, [(image, release)], reason, at=at, by=by)


def add_all(root: Path, members: list[tuple[str | None, str | None]], reason: str, *,
            at: str = "", by: str = "") -> list[Path]:
    """Add each (image, release) not yet covered to every environment's config, each file
    written once; every file is read and checked before the first is written."""
    planned = []
    for path in _files(root):
        data = _load(path)
        revoked = list(_items(path, data))
        before = len(revoked)
        for image, release in members:
            if covered(revoked, image, release):
                continue
            item = {k: v for k, v in (("image", image), ("release", release), ("at", at),
                                      ("by", by)) if v}
            revoked.append({**item, "reason": reason})
        if len(revoked) != before:
            data.setdefault(RULE, {})["revoked"] = revoked
            planned.append((path, json.dumps(data, indent=2) + "\n"))
    for path, text in planned:
        atomic_write(path, text)
    return [path for path, _ in planned]
