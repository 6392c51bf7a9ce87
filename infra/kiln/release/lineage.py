"""Revocation by lineage: what a revocation covers, as a pure function over records.

A revocation names an AMI id or a record digest; it covers the whole *family*: every record
naming the AMI, every ``copyOf`` ancestor and descendant of those records, and every AMI id
those records list, in any region. Revoking one member revokes them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    """One artifact record: its digest, its AMI ids (any region) and what it copies."""

    digest: str
    images: frozenset[str]
    copy_of: str | None = None


@dataclass(frozen=True)
class Family:
    images: frozenset[str]
    records: frozenset[str]

    def covers(self, image: str | None, record: str | None) -> bool:
        return bool((image and image in self.images) or (record and record in self.records))


def family(nodes: Iterable[Node], images: Iterable[str | None],
           records: Iterable[str | None]) -> Family:
    """The closure of the given AMI ids and record digests over ``nodes``."""
    known = list(nodes)
    found_images = {i for i in images if i}
    found_records = {r for r in records if r}
    changed = True
    while changed:
        changed = False
        for node in known:
            linked = (node.digest in found_records or bool(node.images & found_images)
                      or (node.copy_of is not None and node.copy_of in found_records))
            if not linked:
                continue
            added = ({node.digest} - found_records, node.images - found_images,
                     ({node.copy_of} - found_records) if node.copy_of else set())
            if any(added):
                found_records |= added[0] | added[2]
                found_images |= added[1]
                changed = True
    return Family(frozenset(found_images), frozenset(found_records))


def revoked_by(families: Mapping[str, Family], image: str | None,
               record: str | None) -> str | None:
    """The key (a reason label) of the first family that covers (image, record)."""
    return next((label for label, fam in families.items() if fam.covers(image, record)), None)
