"""``kiln status``: what a stack runs, compared with what its stack file says.

Drift is anything the stack file does not account for: a launch template or instance
running another image than its colour's, a colour whose signature does not verify with the
stack's trusted keys, a revoked image, or a listener that disagrees with ``live``/``traffic``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln import revocations, stackfiles
from kiln.aws import fleet, traffic
from kiln.ops.context import Context
from kiln.release.record import RecordError, statement
from kiln.release.signing import PublicKey, SignatureError, verify
from kiln.settings import COLOURS, StackSettings
from kiln.topology import weights as declared_weights


@dataclass(frozen=True)
class Status:
    stack: str
    region: str
    live: str
    weights: dict[str, int]
    colours: dict[str, dict[str, Any]]
    drift: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "region": self.region, "live": self.live,
                "weights": self.weights, "colours": self.colours, "drift": self.drift}


def signed(settings: StackSettings, colour: str) -> str | None:
    """The id of the trusted key that signed ``colour``'s release, or None."""
    release = settings.release(colour)
    keys = [PublicKey(k.id, k.type, k.public_key) for k in settings.trusted_keys]
    try:
        message = statement("ami", release.image, settings.region, release.record)
        return verify(message, release.signature, keys).id
    except (SignatureError, RecordError):
        return None


def status(ctx: Context, stack: str) -> Status:
    settings = stackfiles.load_settings(ctx.project, stack)
    deployment = traffic.discover(settings.region, settings.service.name, stack)
    current = traffic.discovered_weights(deployment)
    health = traffic.healthy(deployment)
    asgs = traffic.asg_names(deployment)
    revoked = revocations.listed(ctx.project.root)
    drift: list[str] = []
    expected = declared_weights(settings.live, settings.traffic)
    if current != expected:
        drift.append(f"listener sends {current}, stack file says {expected}")
    colours: dict[str, dict[str, Any]] = {}
    known_images = {settings.release(c).image for c in COLOURS}
    for colour in COLOURS:
        release = settings.release(colour)
        state = fleet.colour_state(settings.region, asgs[colour]) if colour in asgs else None
        key = signed(settings, colour)
        colours[colour] = {
            "image": release.image, "record": release.record, "weight": current[colour],
            "healthy": health[colour], "signedBy": key,
            "asg": state.asg if state else None,
            "desired": state.desired if state else None,
            "warmPool": state.warm_pool if state else None,
            "instances": len(state.instances) if state else 0,
        }
        if state is None:
            drift.append(f"{colour}: no ASG tagged for this stack")
            continue
        if state.template_image != release.image:
            drift.append(f"{colour}: launch template runs {state.template_image}, stack file "
                         f"says {release.image}")
        for instance, image in sorted(state.instances.items()):
            if image != release.image:
                drift.append(f"{colour}: instance {instance} runs {image}, not {release.image}")
        if key is None:
            drift.append(f"{colour}: release {release.image} is not signed by a trusted key")
        for entry in revoked:
            if entry.matches(release.image, release.record):
                drift.append(f"{colour}: {release.image} is revoked ({entry.reason})")
    strays = {i: img for i, img in fleet.running_images(
        settings.region, settings.service.name, stack).items() if img not in known_images}
    for instance, image in sorted(strays.items()):
        drift.append(f"instance {instance} runs {image}, which no colour declares")
    return Status(stack, settings.region, settings.live, current, colours,
                  sorted(set(drift)))
