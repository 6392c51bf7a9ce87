"""``kiln revoke``: refuse an image everywhere from now on, and show who runs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.errors import KilnError
from kiln.model.stack import AMI_ID, COLOURS, RECORD_DIGEST
from kiln.ops.context import Context
from kiln.project import revocations, stackfiles


@dataclass(frozen=True)
class RevokeResult:
    image: str | None
    release: str | None
    changed: list[str]
    blast_radius: list[dict[str, Any]]  # stacks and colours that declare it

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "release": self.release, "configs": self.changed,
                "blastRadius": self.blast_radius}


def blast_radius(ctx: Context, image: str | None, release: str | None) -> list[dict[str, Any]]:
    found = []
    for stack in ctx.project.stacks():
        settings = stackfiles.load_settings(ctx.project, stack)
        for colour in COLOURS:
            rel = settings.release(colour)
            if (image and rel.image == image) or (release and rel.record == release):
                found.append({"stack": stack, "colour": colour,
                              "live": colour == settings.live,
                              "weight": settings.traffic if colour == settings.live
                              else 100 - settings.traffic})
    return found


def revoke(ctx: Context, target: str, reason: str) -> RevokeResult:
    if not reason.strip():
        raise KilnError("--reason is required: say why the image is revoked")
    image = target if AMI_ID.fullmatch(target) else None
    release = target if RECORD_DIGEST.fullmatch(target) else None
    if image is None and release is None:
        raise KilnError(f"{target!r} is neither an AMI id (ami-…) nor a record digest "
                        "(sha256:<64 hex>)")
    if image and release is None:
        # Revoke the record too when a stack file names it: the same bytes under another id.
        for stack in ctx.project.stacks():
            settings = stackfiles.load_settings(ctx.project, stack)
            for colour in COLOURS:
                if settings.release(colour).image == image:
                    release = settings.release(colour).record
    changed = revocations.add(ctx.project.root, image, release, reason)
    radius = blast_radius(ctx, image, release)
    ctx.ledger.append("revoke", stack=None, commit=ctx.commit,
                      subject={k: v for k, v in (("image", image), ("record", release)) if v},
                      details={"reason": reason, "stacks": radius})
    return RevokeResult(image, release, [str(p.relative_to(ctx.project.root)) for p in changed],
                        radius)
