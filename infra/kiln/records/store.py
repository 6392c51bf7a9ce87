"""Records and signatures on disk, under ``releases/<name>/``.

``<digest hex>.json`` holds the record's canonical bytes (plus a newline), so the file
name is the digest of its content; ``<digest hex>.sig.json`` beside it holds the
signatures: which key (id, type, public PEM for reference — trust comes from the
verifier's own keys) signed which release statement (image, location). Both are written
to a temp file and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.errors import BakeError, VerifyError
from kiln.project import layout
from kiln.project.files import ReadError, atomic_write, read_bytes
from kiln.release.record import (
    DIGEST,
    ArtifactRecord,
    RecordError,
    canonical,
    check_schema,
    load_json,
    parse_record,
)
from kiln.release.signing import ECDSA_P256, ED25519

# Records and signature files kiln writes are a few KiB.
MAX_FILE_BYTES = 1024 * 1024

SIGNATURE_SCHEMA = "kiln.signature/v1"
SIGNATURE_SUFFIX = ".sig.json"
_TEXT = {"type": "string", "minLength": 1, "maxLength": 1024}
# The JSON schema of a ``.sig.json`` file: every field kiln reads, with its type.
SIGNATURE_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "record", "keyId", "keyType", "publicKey", "signatures"],
    "properties": {
        "schema": {"const": SIGNATURE_SCHEMA},
        "record": {"type": "string", "pattern": DIGEST.pattern},
        "keyId": _TEXT,
        "keyType": {"enum": [ED25519, ECDSA_P256]},
        "publicKey": {"type": "string", "maxLength": 4096},
        "signatures": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {
            "type": "object", "required": ["image", "location", "signature"],
            "properties": {"image": _TEXT, "location": _TEXT,
                           "signature": {"type": "string", "minLength": 1,
                                         "maxLength": 1024}}}},
    },
}


@dataclass(frozen=True)
class Signed:
    image: str
    location: str
    signature: str


@dataclass(frozen=True)
class SignatureFile:
    record: str
    key_id: str
    key_type: str
    public_key: str
    signatures: tuple[Signed, ...]

    def to_json(self) -> dict[str, Any]:
        return {"schema": SIGNATURE_SCHEMA, "record": self.record, "keyId": self.key_id,
                "keyType": self.key_type, "publicKey": self.public_key,
                "signatures": [{"image": s.image, "location": s.location,
                                "signature": s.signature} for s in self.signatures]}

    @classmethod
    def from_json(cls, data: Any, where: str) -> SignatureFile:
        if not isinstance(data, dict) or data.get("schema") != SIGNATURE_SCHEMA:
            raise VerifyError(f"{where}: not a {SIGNATURE_SCHEMA} file")
        try:
            check_schema(data, SIGNATURE_FILE_SCHEMA, "signature file")
        except RecordError as error:
            raise VerifyError(f"{where}: {error}") from None
        signed = tuple(Signed(s["image"], s["location"], s["signature"])
                       for s in data["signatures"])
        return cls(data["record"], data["keyId"], data["keyType"], data["publicKey"], signed)


def signature_path(record_path: Path) -> Path:
    return record_path.with_name(record_path.name.removesuffix(".json") + SIGNATURE_SUFFIX)


def write(root: Path, record: ArtifactRecord, signatures: SignatureFile) -> tuple[Path, Path]:
    """Write the record and its signatures; return both paths."""
    record_path = layout.record_path(root, record.name, record.digest)
    sig_path = signature_path(record_path)
    try:
        atomic_write(record_path, record.canonical() + b"\n")
        atomic_write(sig_path, canonical(signatures.to_json()) + b"\n")
    except OSError as error:
        remove(record_path, sig_path)
        raise BakeError(f"cannot write the record under {record_path.parent} "
                        f"({error.strerror})") from None
    return record_path, sig_path


def remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def read_signatures(path: Path) -> SignatureFile:
    if not path.exists() and not path.is_symlink():
        raise VerifyError(f"no signature file {path} beside the record (unsigned)")
    try:
        data = load_json(read_bytes(path, MAX_FILE_BYTES), "signature file")
    except ReadError as error:
        raise VerifyError(str(error)) from None
    except RecordError as error:
        raise VerifyError(f"{path}: {error}") from None
    return SignatureFile.from_json(data, str(path))


def record_files(root: Path, name: str | None = None) -> Iterator[Path]:
    base = layout.releases_dir(root)
    pattern = f"{name}/*.json" if name else "*/*.json"
    for path in sorted(base.glob(pattern)):
        if not path.name.endswith(SIGNATURE_SUFFIX):
            yield path


def find(root: Path, digest: str) -> Path | None:
    """The record file named by ``digest`` under releases/, if any."""
    hex_part = digest.removeprefix("sha256:")
    for path in layout.releases_dir(root).glob(f"*/{hex_part}.json"):
        return path
    return None


def load(path: Path) -> tuple[ArtifactRecord, str]:
    """Parse the record file at ``path``; every failure is one line naming it."""
    try:
        data = read_bytes(path, MAX_FILE_BYTES)
    except ReadError as error:
        if not path.exists():
            raise BakeError(f"{path}: record not found") from None
        raise RecordError(str(error)) from None
    try:
        return parse_record(data)
    except RecordError as error:
        raise RecordError(f"{path}: {error}") from None


def latest(root: Path, name: str,
           accept: Callable[[ArtifactRecord], bool] = lambda _: True
           ) -> tuple[ArtifactRecord, Path] | None:
    """The newest record of ``name`` (by builtAt) that ``accept`` takes; broken files skipped."""
    best: tuple[ArtifactRecord, Path] | None = None
    for path in record_files(root, name):
        try:
            record, _ = load(path)
        except RecordError:
            continue
        if accept(record) and (best is None or record.built_at > best[0].built_at):
            best = (record, path)
    return best
