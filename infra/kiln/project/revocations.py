"""The revocation list the policy pack reads, kept in the pack's per-environment config.

Each ``policies/immutable/config/<env>.json`` carries, under the image-not-revoked rule,
``revoked: [{image, release, reason}]``. A revocation applies everywhere, so kiln writes the
same entry into every environment's file (each replaced atomically).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


def listed(root: Path) -> list[Revoked]:
    """Every revoked image or release, across all environments' config."""
    found: dict[tuple[str | None, str | None], Revoked] = {}
    for path in _files(root):
        rule = _load(path).get(RULE, {})
        for item in rule.get("revoked", []) if isinstance(rule, dict) else []:
            entry = Revoked(item.get("image"), item.get("release"), item.get("reason", ""))
            found.setdefault((entry.image, entry.release), entry)
    return list(found.values())


def add(root: Path, image: str | None, release: str | None, reason: str) -> list[Path]:
    """Add a revocation to every environment's config; return the files changed."""
    changed = []
    for path in _files(root):
        data = _load(path)
        rule = data.setdefault(RULE, {})
        if not isinstance(rule, dict):
            raise RevocationError(f"{path}: {RULE} is not an object")
        revoked = rule.setdefault("revoked", [])
        if any(Revoked(r.get("image"), r.get("release"), "").matches(image, release)
               for r in revoked):
            continue
        item = {k: v for k, v in (("image", image), ("release", release)) if v}
        revoked.append({**item, "reason": reason})
        atomic_write(path, json.dumps(data, indent=2) + "\n")
        changed.append(path)
    return changed
