"""Publish an artifact record: sign it, write it beside its signatures, record it in the ledger.

The one path a new record takes, whether a bake made it or a cross-region promotion copied
its AMI: each image's release statement is signed (and the signature checked against the
signer's own public half), the record and its ``.sig.json`` are written atomically, then
the ledger gets a ``sign`` entry. A failure after the files are written removes them, so a
record is on disk only when the ledger names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.errors import BakeError
from kiln.records import store
from kiln.release.ledger import Ledger
from kiln.release.record import ArtifactRecord, statement
from kiln.release.signing import Signer, verify_with


@dataclass(frozen=True)
class Published:
    record: ArtifactRecord
    signatures: store.SignatureFile
    record_path: Path
    signature_path: Path


def sign(record: ArtifactRecord, signer: Signer) -> store.SignatureFile:
    """Sign the release statement of every image the record names."""
    public = signer.public_key()
    signed = []
    for image_id, location in record.locations():
        message = statement(record.kind, image_id, location, record.digest)
        signature = signer.sign(message)
        # A signer that disagrees with its own public half would produce unverifiable
        # releases; refuse before anything is written.
        if not verify_with(public, message, signature.value):
            raise BakeError(f"key {signer.key_id}: its signature does not verify with its "
                            "public key")
        signed.append(store.Signed(image_id, location, signature.value))
    return store.SignatureFile(record.digest, signer.key_id, public.type, public.pem,
                               tuple(signed))


def publish(root: Path, record: ArtifactRecord, signer: Signer, ledger: Ledger, *,
            commit: str | None, details: Mapping[str, Any] | None = None,
            before_ledger: Callable[[store.SignatureFile], None] | None = None) -> Published:
    """Sign → write → ledger. ``before_ledger`` runs once the files are written (tag the
    AMIs, append the bake entry); if it or the ledger append fails, the files are removed."""
    signatures = sign(record, signer)
    record_path, sig_path = store.write(root, record, signatures)
    try:
        if before_ledger is not None:
            before_ledger(signatures)
        ledger.append("sign", stack=None, commit=commit,
                      subject={"record": record.digest,
                               "images": [i for i, _ in record.locations()]},
                      details={"keyId": signatures.key_id, "keyType": signatures.key_type,
                               **(details or {})})
    except BaseException:
        store.remove(record_path, sig_path)
        raise
    return Published(record, signatures, record_path, sig_path)
