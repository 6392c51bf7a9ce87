"""The revocation list expanded to whole families, read from the project's records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiln.project import revocations
from kiln.records import store
from kiln.release.lineage import Family, Node, family


@dataclass(frozen=True)
class RevokedFamily:
    entry: revocations.Revoked
    family: Family

    @property
    def reason(self) -> str:
        return self.describe()

    def matches(self, image: str | None, release: str | None) -> bool:
        return self.family.covers(image, release)

    def describe(self) -> str:
        parts = [self.entry.reason or "no reason given"]
        parts += [p for p in (self.entry.at, f"by {self.entry.by}" if self.entry.by else "")
                  if p]
        return ", ".join(parts)


def nodes(root: Path) -> list[Node]:
    """Every AMI record under releases/ as a lineage node."""
    found = []
    for path in store.record_files(root):
        record, digest = store.load(path)
        if record.kind != "ami":
            continue
        copy_of = record.extra.get("copyOf")
        found.append(Node(digest, frozenset(record.images.values()),
                          copy_of if isinstance(copy_of, str) else None))
    return found


def family_of(root: Path, image: str | None, record: str | None) -> Family:
    return family(nodes(root), [image], [record])


def revoked(root: Path) -> list[RevokedFamily]:
    """Each listed revocation with the family it covers (the list is read and checked)."""
    listed = revocations.listed(root)
    if not listed:
        return []
    known = nodes(root)
    return [RevokedFamily(e, family(known, [e.image], [e.release])) for e in listed]


def revoked_reason(found: list[RevokedFamily], image: str | None,
                   record: str | None) -> str | None:
    """"reason, when, by" of the revocation covering (image, record), else None."""
    hit = next((r for r in found if r.family.covers(image, record)), None)
    return hit.describe() if hit else None
