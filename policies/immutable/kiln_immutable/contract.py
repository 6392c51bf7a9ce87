"""What kiln writes and the pack reads, spelled once on the pack's side.

The pack is published on its own and may not import ``kiln``, so these are copies of kiln's
definitions; ``tests/policies/test_contract.py`` holds each equal to kiln's own (named below),
so a change on either side fails there instead of at a preview.

- the release statement a key signs (``kiln.release.record.statement``);
- the tag keys on kiln's resources (``kiln.model.naming``);
- the signing key types and trusted-key entries (``kiln.release.signing``,
  ``kiln.model.settings``);
- the pack config kiln writes: trusted keys (``kiln.local.demo``) and revocations
  (``kiln.project.revocations``);
- the prefix of a waived answer that ``kiln audit`` reads back (``kiln.audit.report``).
"""

from __future__ import annotations

import re

# --- the release statement ------------------------------------------------------------------
STATEMENT_VERSION = "kiln.release/v1"
KIND_AMI = "ami"
KIND_CONTAINER = "container"
KINDS = (KIND_AMI, KIND_CONTAINER)
# Always fullmatch: with match, "$" also accepts a trailing newline.
RECORD_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class StatementError(ValueError):
    """A statement field kiln refuses to sign (message is one line)."""


def is_record_digest(value: object) -> bool:
    """True for ``sha256:`` and 64 lower-case hex digits, nothing more."""
    return isinstance(value, str) and RECORD_DIGEST.fullmatch(value) is not None


def statement(kind: str, image: str, where: str, record: str) -> bytes:
    """The exact bytes a release signature covers (UTF-8):
    ``kiln.release/v1\\n<kind>\\n<image id>\\n<region or repository>\\n<record digest>\\n``.

    Refuses what kiln refuses to sign — an unknown kind, a malformed digest, an empty field or
    one with a newline — since a field with a newline could shift the lines of the statement.
    """
    if kind not in KINDS:
        raise StatementError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if not is_record_digest(record):
        raise StatementError(f"record digest {record!r} is not sha256:<64 hex>")
    for part in (image, where):
        if not part or "\n" in part:
            raise StatementError(f"statement field {part!r} is empty or has a newline")
    return f"{STATEMENT_VERSION}\n{kind}\n{image}\n{where}\n{record}\n".encode()


# --- tags kiln puts on its resources (the ones rules read) ----------------------------------
TAG_SERVICE = "kiln:service"
TAG_COLOUR = "kiln:colour"
TAG_IMAGE = "kiln:image"
TAG_RELEASE = "kiln:release"
TAG_SIGNATURE = "kiln:signature"
TAG_CONTAINER = "kiln:container"
# kiln:container's value on a fleet that runs no container.
NO_CONTAINER = "none"

# --- signing keys ---------------------------------------------------------------------------
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256"
KEY_TYPES = (ED25519, ECDSA_P256)

# --- pack config kiln writes ----------------------------------------------------------------
SIGNED_IMAGE_RULE = "kiln-ec2-launchtemplate-signed-image"
NOT_REVOKED_RULE = "kiln-ec2-launchtemplate-image-not-revoked"
TRUSTED_KEYS = "trustedKeys"
KEY_ID, KEY_TYPE, KEY_PEM = "id", "type", "publicKey"
TRUSTED_KEY_FIELDS = (KEY_ID, KEY_TYPE, KEY_PEM)
REVOKED = "revoked"
REVOKED_IMAGE, REVOKED_RELEASE, REVOKED_REASON = "image", "release", "reason"

# --- answers kiln audit reads back ----------------------------------------------------------
# A waived violation is answered "not applicable" with this prefix and then JSON.
WAIVED_PREFIX = "waived "
