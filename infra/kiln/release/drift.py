"""Drift rules: what a stack runs, compared with what its stack file accounts for.

Pure decisions over plain data — the stack's settings and what ``kiln status`` observed in
AWS (listener weights, each colour's launch-template image and instances, every instance
tagged for the stack) — each returning one-line drift messages. The AWS reads stay in
:mod:`kiln.ops.status`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kiln.model.stack import COLOURS, Release, StackSettings
from kiln.model.topology import weights as declared_weights
from kiln.release.record import RecordError, statement
from kiln.release.signing import PublicKey, SignatureError, verify


@dataclass(frozen=True)
class Observed:
    """One colour's ASG as AWS shows it: its launch template's image and its instances."""

    template_image: str | None
    instances: Mapping[str, str] = field(default_factory=dict)  # instance id → image id


class Revocation(Protocol):
    """A revocation list entry (``kiln.project.revocations.Revoked`` has this shape)."""

    @property
    def reason(self) -> str: ...

    def matches(self, image: str | None, release: str | None) -> bool: ...


def signed(settings: StackSettings, colour: str) -> str | None:
    """The id of the trusted key that signed ``colour``'s release, or None."""
    release = settings.release(colour)
    keys = [PublicKey(k.id, k.type, k.public_key) for k in settings.trusted_keys]
    try:
        message = statement("ami", release.image, settings.region, release.record)
        return verify(message, release.signature, keys).id
    except (SignatureError, RecordError):
        return None


def listener_drift(current: Mapping[str, int], live: str, traffic: int) -> list[str]:
    """The listener must split traffic as ``live``/``traffic`` declare."""
    expected = declared_weights(live, traffic)
    if current != expected:
        return [f"listener sends {current}, stack file says {expected}"]
    return []


def colour_drift(colour: str, release: Release, observed: Observed | None,
                 signed_by: str | None, revoked: Iterable[Revocation]) -> list[str]:
    """One colour: its ASG exists and runs its declared image (template and every instance),
    its release is signed by a trusted key, and it is not revoked.

    Without an ASG there is nothing running to compare, so only the missing ASG is reported.
    """
    if observed is None:
        return [f"{colour}: no ASG tagged for this stack"]
    drift = []
    if observed.template_image != release.image:
        drift.append(f"{colour}: launch template runs {observed.template_image}, stack file "
                     f"says {release.image}")
    for instance, image in sorted(observed.instances.items()):
        if image != release.image:
            drift.append(f"{colour}: instance {instance} runs {image}, not {release.image}")
    if signed_by is None:
        drift.append(f"{colour}: release {release.image} is not signed by a trusted key")
    for entry in revoked:
        if entry.matches(release.image, release.record):
            drift.append(f"{colour}: {release.image} is revoked ({entry.reason})")
    return drift


def health_drift(colour: str, *, serving: int, in_service: int, desired: int | None,
                 min_healthy: int) -> list[str]:
    """The live colour: at least ``min_healthy`` serving instances (healthy targets that are
    in-service instances of its ASG running its image), and in service at its capacity."""
    drift = []
    if serving < min_healthy:
        drift.append(f"{colour} (live): {serving} serving instance{'s' * (serving != 1)}, "
                     f"below minHealthy {min_healthy}")
    if desired is not None and in_service != desired:
        drift.append(f"{colour} (live): {in_service} in service, desired capacity {desired}")
    return drift


def stray_drift(running: Mapping[str, str], declared: Iterable[str]) -> list[str]:
    """Every instance of the stack (tagged, in its subnets or registered in its target
    groups) runs an image some colour declares."""
    known = set(declared)
    return [f"instance {instance} runs {image}, which no colour declares"
            for instance, image in sorted(running.items()) if image not in known]


def stack_drift(settings: StackSettings, *, current: Mapping[str, int],
                observed: Mapping[str, Observed], signers: Mapping[str, str | None],
                revoked: Iterable[Revocation], running: Mapping[str, str]) -> list[str]:
    """All drift of one stack, sorted and without repeats.

    ``observed`` holds colours that have an ASG tagged for the stack; ``signers`` the key id
    that signed each colour's release (None: no trusted key); ``running`` every instance
    tagged for the stack with its image.
    """
    entries = tuple(revoked)
    drift = listener_drift(current, settings.live, settings.traffic)
    for colour in COLOURS:
        drift += colour_drift(colour, settings.release(colour), observed.get(colour),
                              signers.get(colour), entries)
    drift += stray_drift(running, (settings.release(c).image for c in COLOURS))
    return sorted(set(drift))
