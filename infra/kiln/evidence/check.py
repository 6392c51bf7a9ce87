"""``kiln evidence verify``: check a bundle offline and say what it proves.

Order: the archive is read safely (regular files, relative names, bounded size); the
manifest's DSSE signature verifies with a *trusted* key (never a key inside the bundle);
every member is listed with its SHA-256 and nothing else is there; every record and its
signatures verify; every image of every record has an attestation that verifies and names
that image of that record; every ledger entry of the slice is sealed and links to the one
before it. The first failure is a :class:`VerifyError` naming the member.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kiln.errors import BakeError, VerifyError
from kiln.evidence import bundle, provenance
from kiln.records import verify as record_verify
from kiln.release.ledger import LedgerError, parse_entry
from kiln.release.record import parse_record
from kiln.release.signing import PublicKey

MAX_BYTES = 256 * 1024 * 1024


@dataclass
class Proof:
    release: str
    manifest_key: str
    records: list[dict[str, Any]] = field(default_factory=list)
    attestations: int = 0
    ledger: dict[str, Any] = field(default_factory=dict)
    entries: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    audits: dict[str, str] = field(default_factory=dict)


def read_members(path: Path) -> dict[str, bytes]:
    """Every member of the archive; anything but plain files with plain names is refused."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for info in tar:
                name = PurePosixPath(info.name)
                if not info.isfile() or name.is_absolute() or ".." in name.parts \
                        or str(name) != info.name:
                    raise VerifyError(f"{path}: member {info.name!r} is not a plain file "
                                      "with a relative name")
                total += info.size
                if total > MAX_BYTES or info.name in files:
                    raise VerifyError(f"{path}: too large or a member twice ({info.name})")
                handle = tar.extractfile(info)
                files[info.name] = handle.read() if handle else b""
    except FileNotFoundError:
        raise BakeError(f"{path}: no such file") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise VerifyError(f"{path}: not a readable evidence archive ({error})") from None
    return files


def _manifest(files: dict[str, bytes], keys: Sequence[PublicKey]) -> tuple[dict[str, Any],
                                                                             str]:
    for name in (bundle.MANIFEST, bundle.MANIFEST_SIG):
        if name not in files:
            raise VerifyError(f"member {name} is missing")
    try:
        envelope = json.loads(files[bundle.MANIFEST_SIG])
    except ValueError:
        raise VerifyError(f"{bundle.MANIFEST_SIG}: not JSON") from None
    payload, key_id = provenance.open_envelope(envelope, keys, bundle.MANIFEST_SIG,
                                               bundle.MANIFEST_TYPE)
    if payload != files[bundle.MANIFEST]:
        raise VerifyError(f"{bundle.MANIFEST}: not the manifest that was signed")
    manifest = json.loads(payload)
    if manifest.get("schema") != bundle.SCHEMA or not isinstance(manifest.get("files"), dict):
        raise VerifyError(f"{bundle.MANIFEST}: not a {bundle.SCHEMA} manifest")
    return manifest, key_id


def _sums(files: dict[str, bytes], listed: dict[str, str]) -> None:
    for name, digest in sorted(listed.items()):
        if name not in files:
            raise VerifyError(f"member {name} is missing")
        if "sha256:" + hashlib.sha256(files[name]).hexdigest() != digest:
            raise VerifyError(f"member {name} was changed (its SHA-256 is not the manifest's)")
    extra = sorted(set(files) - set(listed) - {bundle.MANIFEST, bundle.MANIFEST_SIG})
    if extra:
        raise VerifyError(f"member {extra[0]} is not in the manifest")


def _records(files: dict[str, bytes], keys: Sequence[PublicKey], proof: Proof) -> None:
    names = sorted(n for n in files if n.startswith("records/") and n.endswith(".json")
                   and not n.endswith(".sig.json"))
    if not names:
        raise VerifyError("the bundle holds no records")
    with tempfile.TemporaryDirectory(prefix="kiln-evidence-") as tmp:
        for name in names:
            target = Path(tmp) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[name])
            sig = name.removesuffix(".json") + ".sig.json"
            if sig in files:
                target.with_name(Path(sig).name).write_bytes(files[sig])
            try:
                verified = record_verify.record_file(target, keys)
            except (VerifyError, BakeError) as error:
                raise VerifyError(f"member {name}: {error}") from None
            proof.records.append({"digest": verified.digest, "name": verified.record.name,
                                  "kind": verified.record.kind, "keyId": verified.key_id})
            _attestations(files, name, keys, proof)


def _attestations(files: dict[str, bytes], name: str, keys: Sequence[PublicKey],
                  proof: Proof) -> None:
    record, digest = parse_record(files[name])
    for image, location in record.locations():
        att = bundle.attestation_name(record.name, digest, image)
        if att not in files:
            raise VerifyError(f"member {att} is missing (no attestation for {image})")
        try:
            data = json.loads(files[att])
        except ValueError:
            raise VerifyError(f"member {att}: not JSON") from None
        body, _ = provenance.open_statement(data, keys, f"member {att}")
        provenance.check_subject(body, record, digest, image=image, location=location,
                                 where=f"member {att}")
        proof.attestations += 1


def _ledger(files: dict[str, bytes], proof: Proof) -> None:
    previous = None
    for number, line in enumerate(files.get("ledger/slice.jsonl", b"").splitlines(), 1):
        where = f"member ledger/slice.jsonl line {number}"
        try:
            entry = parse_entry(json.loads(line), where)
        except (ValueError, LedgerError) as error:
            raise VerifyError(f"{where}: {error}") from None
        if entry.sealed().hash != entry.hash:
            raise VerifyError(f"{where}: entry seq {entry.seq} was edited (hash differs)")
        if previous is not None and entry.seq <= previous.seq:
            raise VerifyError(f"{where}: entry seq {entry.seq} is out of order")
        if previous is not None and entry.seq == previous.seq + 1 and entry.prev != \
                previous.hash:
            raise VerifyError(f"{where}: entry seq {entry.seq} does not link to seq "
                              f"{previous.seq}")
        previous = entry
        proof.entries += 1
    proof.ledger = json.loads(files["ledger/verification.json"])


def verify(path: Path, keys: Sequence[PublicKey]) -> Proof:
    """Check the bundle at ``path`` with ``keys``; return what it proves."""
    files = read_members(path)
    manifest, key_id = _manifest(files, keys)
    _sums(files, manifest["files"])
    proof = Proof(str(manifest.get("release")), key_id)
    _records(files, keys, proof)
    if not any(r["digest"] == proof.release for r in proof.records):
        raise VerifyError(f"the bundle holds no record of release {proof.release}")
    _ledger(files, proof)
    proof.summary = json.loads(files["timeline.json"])
    if proof.summary.get("release") != proof.release:
        raise VerifyError("member timeline.json is about another release")
    for name in files:
        if name.startswith("audit/") and name.endswith(".json"):
            report = json.loads(files[name])
            proof.audits[name.split("/")[1]] = _verdict(report)
    return proof


def _verdict(report: dict[str, Any]) -> str:
    counts = report.get("counts") or {}
    pack = report.get("pack") or {}
    return (f"{counts.get('checks', 0)} checks by pack {pack.get('name', '?')} "
            f"{pack.get('version', '')}: {counts.get('mandatory', 0)} mandatory and "
            f"{counts.get('advisory', 0)} advisory findings open")
