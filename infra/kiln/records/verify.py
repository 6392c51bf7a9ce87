"""Verify a record file or an image against trusted keys, offline.

Checks, each failing with its own one-line reason: the record's bytes hash to the digest
its file is named by and its signatures are for; the signing key is trusted; every
location the record vouches for is signed and every signature is for a location in the
record; each signature verifies over the release statement. For an AMI id, the AMI's
``kiln:release`` tag leads to the record, and the AMI must be one the record names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.aws import images
from kiln.errors import BakeError, VerifyError
from kiln.project import revocations
from kiln.project.layout import PACK_CONFIG_DIR
from kiln.records import store
from kiln.release import lineage, signing
from kiln.release.record import (
    ArtifactRecord,
    RecordError,
    digest_of,
    load_json,
    parse_record,
    short_digest,
    statement,
)

HEX_NAME = re.compile(r"^[0-9a-f]{64}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# A record name becomes a directory under releases/: one path segment, nothing more.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
CONTAINER = re.compile(r"^(?:(?P<repository>[^@\s]+)@)?(?P<digest>sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class Verified:
    record: ArtifactRecord
    digest: str
    path: Path
    key_id: str

    def to_json(self) -> dict[str, Any]:
        return {"verified": True, "record": self.digest, "path": str(self.path),
                "name": self.record.name, "kind": self.record.kind, "keyId": self.key_id,
                "images": [{"image": i, "location": loc} for i, loc in self.record.locations()]}


def check_name(name: str, path: Path) -> None:
    """A record's name becomes a directory under releases/: one segment, nothing more."""
    if not NAME.fullmatch(name) or ".." in name:
        raise VerifyError(f"{path}: record name {name!r} is not one path segment "
                          "(letters, digits, '.', '_', '-')")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BakeError(f"{path}: no such record file") from None
    except OSError as error:
        raise BakeError(f"{path}: cannot read ({error.strerror})") from None


def record_file(path: Path, keys: Sequence[signing.PublicKey]) -> Verified:
    """Verify the record at ``path`` and its ``.sig.json`` against ``keys``."""
    data = _read(path)
    # Bytes that are not JSON at all are not a record (whatever the file is named); JSON
    # bytes are checked against the digest the file is named by before they are parsed, so
    # an edited record is reported as such, whatever the edit broke.
    try:
        load_json(data, "record")
    except RecordError as error:
        raise VerifyError(f"{path}: {error}") from None
    stem = path.name.removesuffix(".json")
    actual = digest_of(data.rstrip(b"\n"))
    if HEX_NAME.fullmatch(stem) and f"sha256:{stem}" != actual:
        named = short_digest(f"sha256:{stem}")
        raise VerifyError(f"record digest mismatch: {path.name} names {named} "
                          f"but its content hashes to {actual}")
    try:
        record, digest = parse_record(data)
    except RecordError as error:
        if "canonical" in str(error):
            raise VerifyError(f"record digest mismatch: {path} is not the record that was "
                              f"signed ({error})") from None
        raise VerifyError(f"{path}: {error}") from None
    check_name(record.name, path)
    sigs = store.read_signatures(store.signature_path(path))
    if sigs.record != digest:
        raise VerifyError(f"record digest mismatch: the signatures are for {sigs.record}, "
                          f"the record hashes to {digest}")
    if not any(k.id == sigs.key_id for k in keys):
        known = ", ".join(sorted(k.id for k in keys)) or "none"
        raise VerifyError(f"unknown key {sigs.key_id!r}: not among the trusted keys ({known}); "
                          "trust it with --key or the stacks' kiln:trustedKeys")
    locations = record.locations()
    signed = {(s.image, s.location): s.signature for s in sigs.signatures}
    for image, location in signed:
        if (image, location) not in locations:
            raise VerifyError(f"image {image} ({location}) is not in record {digest}")
    for image, location in locations:
        if (image, location) not in signed:
            raise VerifyError(f"{image} ({location}) has no signature in "
                              f"{store.signature_path(path).name}")
        message = statement(record.kind, image, location, digest)
        try:
            signing.verify(message, signed[(image, location)], keys, key_id=sigs.key_id)
        except signing.SignatureError as error:
            raise VerifyError(f"bad signature for {image} ({location}) by key "
                              f"{sigs.key_id!r}: {error}") from None
    return Verified(record, digest, path, sigs.key_id)


def ami(image_id: str, root: Path, keys: Sequence[signing.PublicKey], region: str) -> Verified:
    """Verify an AMI: its tags lead to a record that verifies and names this AMI."""

    image = images.describe(image_id, region)
    if image is None:
        raise VerifyError(f"image {image_id} does not exist in {region}")
    tags = images.tags_of(image)
    release = tags.get(images.RELEASE_TAG)
    if not release:
        raise VerifyError(f"image {image_id} has no {images.RELEASE_TAG} tag (not a signed "
                          "kiln bake)")
    if not DIGEST.fullmatch(release):
        raise VerifyError(f"image {image_id}'s {images.RELEASE_TAG} tag {release[:80]!r} is "
                          "not a record digest (sha256:<64 hex>)")
    path = store.find(root, release)
    if path is None:
        raise VerifyError(f"record {release} named by {image_id} is not under "
                          f"{root / 'releases'}")
    verified = record_file(path, keys)
    if (image_id, region) not in verified.record.locations():
        named = ", ".join(f"{i} ({loc})" for i, loc in verified.record.locations())
        raise VerifyError(f"image {image_id} ({region}) is not in record {verified.digest} "
                          f"(it names {named})")
    tag_signature = tags.get(images.SIGNATURE_TAG)
    if tag_signature is not None:
        message = statement("ami", image_id, region, verified.digest)
        key_id = tags.get(images.SIGNATURE_KEY_TAG, verified.key_id)
        try:
            signing.verify(message, tag_signature, keys, key_id=key_id)
        except signing.SignatureError as error:
            raise VerifyError(f"bad signature in {image_id}'s {images.SIGNATURE_TAG} tag: "
                              f"{error}") from None
    return verified


def container(reference: str, root: Path, keys: Sequence[signing.PublicKey]) -> Verified:
    """Verify a container digest (``[repository@]sha256:…``) through its record."""
    match = CONTAINER.fullmatch(reference)
    if not match:
        raise BakeError(f"{reference!r} is not a container digest reference")
    for path in store.record_files(root):
        try:
            record, _ = parse_record(path.read_bytes())
        except RecordError:
            continue
        if record.kind == "container" and record.images.get("digest") == match["digest"] \
                and match["repository"] in (None, record.images.get("repository")):
            return record_file(path, keys)
    raise VerifyError(f"no record under {root / 'releases'} names {reference}")


def record_path(text: str, root: Path) -> Path:
    """Resolve a record path: relative to the working directory, else to the project."""
    given = Path(text).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, root / given]
    return next((c for c in candidates if c.exists()), candidates[0]).resolve()


def confine(path: Path, root: Path) -> Path:
    """``path`` relative to the project, when it lies under the project's ``releases/``."""
    releases = (root / "releases").resolve()
    if not path.resolve().is_relative_to(releases):
        raise BakeError(f"{path}: a deployed record lives under {releases}; this one is "
                        "outside the project's releases/")
    return path.resolve().relative_to(root.resolve())


def region_of(image_id: str, root: Path) -> str | None:
    """The region a local record lists ``image_id`` in (copies included)."""
    for path in store.record_files(root):
        try:
            record, _ = parse_record(path.read_bytes())
        except (RecordError, OSError):
            continue
        for location, image in record.images.items():
            if image == image_id and record.kind == "ami":
                return location
    return None


def revoked(root: Path, verified: Verified) -> str | None:
    """"reason, when, by" when ``verified`` belongs to a revoked family, else None."""
    if not (root / PACK_CONFIG_DIR).is_dir():
        return None  # no policy pack here: nothing keeps a revocation list
    listed = revocations.listed(root)
    if not listed:
        return None
    nodes = []
    for path in store.record_files(root):
        try:
            record, digest = parse_record(path.read_bytes())
        except (RecordError, OSError):
            continue
        copy_of = record.extra.get("copyOf")
        nodes.append(lineage.Node(digest, frozenset(record.images.values()),
                                  copy_of if isinstance(copy_of, str) else None))
    mine = lineage.family(nodes, verified.record.images.values(), [verified.digest])
    for entry in listed:
        if mine.covers(entry.image, entry.release):
            return ", ".join(p for p in (entry.reason or "no reason given", entry.at,
                                         f"by {entry.by}" if entry.by else "") if p)
    return None


def target(text: str, root: Path, keys: Sequence[signing.PublicKey],
           region: str | None, *, check_revoked: bool = True) -> Verified:
    """Verify a record file, an AMI id (in ``region``, else where a local record puts it)
    or a container digest; a member of a revoked family fails unless ``check_revoked`` is
    off (the caller applies its own revocation gate)."""
    if AMI.fullmatch(text):
        # AMI ids are per region: a local record that lists this one knows where it is
        region = region_of(text, root) or region
        if not region:
            raise BakeError(f"{text} is an AMI id no local record names: give its region "
                            "with --region (or set AWS_REGION)")
        verified = ami(text, root, keys, region)
    elif CONTAINER.fullmatch(text):
        verified = container(text, root, keys)
    elif Path(text).exists() or text.endswith(".json"):
        verified = record_file(record_path(text, root), keys)
    else:
        raise BakeError(f"{text!r} is neither a record file, an AMI id (ami-…) nor a container "
                        "digest (repository@sha256:…)")
    reason = revoked(root, verified) if check_revoked else None
    if reason:
        raise VerifyError(f"record {verified.digest} is revoked ({reason})")
    return verified


def default_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
