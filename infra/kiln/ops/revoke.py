"""``kiln revoke``: refuse an image's whole family everywhere from now on, and show who
runs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.errors import KilnError
from kiln.model.stack import AMI_ID, COLOURS, RECORD_DIGEST
from kiln.ops import lineage
from kiln.ops.context import Context
from kiln.project import revocations, stackfiles
from kiln.release.ledger import default_actor, now
from kiln.release.lineage import Family, Node, family


@dataclass(frozen=True)
class RevokeResult:
    image: str | None
    release: str | None
    changed: list[str]
    blast_radius: list[dict[str, Any]]  # stacks and colours that declare a member
    images: list[str]  # the family's AMI ids, every region
    records: list[str]  # the family's record digests
    recorded: bool = True  # False: the family was already revoked; nothing written

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "release": self.release, "configs": self.changed,
                "blastRadius": self.blast_radius,
                "family": {"images": self.images, "records": self.records},
                "recorded": self.recorded}


def blast_radius(ctx: Context, fam: Family) -> list[dict[str, Any]]:
    """Every stack colour that declares a member of the family (any region, any copy)."""
    found = []
    for stack in ctx.project.stacks():
        settings = stackfiles.load_settings(ctx.project, stack)
        for colour in COLOURS:
            rel = settings.release(colour)
            if fam.covers(rel.image, rel.record):
                found.append({"stack": stack, "colour": colour, "image": rel.image,
                              "live": colour == settings.live,
                              "weight": settings.traffic if colour == settings.live
                              else 100 - settings.traffic})
    return found


def revoke(ctx: Context, target: str, reason: str) -> RevokeResult:
    """Revoke ``target``'s whole family: every record naming the AMI, every copy and
    ancestor, their AMI ids in every region. Everything is read and checked before the
    first write; revoking the same family again records nothing."""
    if not reason.strip():
        raise KilnError("--reason is required: say why the image is revoked")
    image = target if AMI_ID.fullmatch(target) else None
    release = target if RECORD_DIGEST.fullmatch(target) else None
    if image is None and release is None:
        raise KilnError(f"{target!r} is neither an AMI id (ami-…) nor a record digest "
                        "(sha256:<64 hex>)")
    list(ctx.ledger.entries())  # an unreadable ledger refuses before any write
    nodes = lineage.nodes(ctx.project.root)
    for stack in ctx.project.stacks():  # stack files name releases too
        settings = stackfiles.load_settings(ctx.project, stack)
        nodes += [Node(settings.release(c).record, frozenset({settings.release(c).image}))
                  for c in COLOURS]
    fam = family(nodes, [image], [release])
    already = revocations.listed(ctx.project.root)
    radius = blast_radius(ctx, fam)
    members = [(i, None) for i in sorted(fam.images)] + [(None, r) for r in sorted(fam.records)]
    missing = [(i, r) for i, r in members if not any(e.matches(i, r) for e in already)]
    changed = revocations.add_all(ctx.project.root, missing, reason, at=now(),
                                  by=default_actor())
    if missing:
        ctx.ledger.append("revoke", stack=None, commit=ctx.commit,
                          subject={k: v for k, v in (("image", image), ("record", release))
                                   if v},
                          details={"reason": reason, "stacks": radius,
                                   "family": {"images": sorted(fam.images),
                                              "records": sorted(fam.records)}})
    return RevokeResult(image, release,
                        [str(p.relative_to(ctx.project.root)) for p in changed], radius,
                        sorted(fam.images), sorted(fam.records), recorded=bool(missing))
