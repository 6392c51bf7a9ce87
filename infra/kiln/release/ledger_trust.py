"""Who wrote each ledger entry, and where the chain's head is anchored: pure rules.

A hash chain alone only detects careless edits: whoever can write the ledger can recompute
every hash. Two things close that gap:

- **signatures**: each entry carries ``signature`` = ``{key, value}``, the acting key's
  signature over ``kiln.ledger-entry/v1\\n<entry hash>\\n``. The hash covers every other
  field (``prev`` included), so a signed entry also fixes everything before it.
- **anchors**: a signed *checkpoint* (``kiln.ledger-head/v1\\n<seq>\\n<hash>\\n``) of the
  head, kept outside the ledger by a store that only moves forward. Dropping the newest
  entries, or rewriting them with a fresh signature, disagrees with the anchor.

The signing key comes from ``KILN_LEDGER_KEY``, else ``KILN_SIGNING_KEY``, else the default
release key file: an Ed25519 key file, or ``kms:<key>`` once an adapter registered a KMS
opener (:func:`register_opener`; ``kiln.aws.ledger_anchor`` does).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiln.release.chain import HASH, Entry, LedgerError, verify_chain
from kiln.release.signing import (
    Ed25519FileSigner,
    PublicKey,
    Signature,
    SignatureError,
    Signer,
    verify_with,
)

log = logging.getLogger(__name__)

DEFAULT_KEY = "~/.config/kiln/release.pem"
CHECKPOINT_FIELDS = frozenset({"seq", "hash", "at", "key", "signature"})

SignerOpener = Callable[[str], Signer]
_OPENERS: dict[str, SignerOpener] = {}


def register_opener(prefix: str, opener: SignerOpener) -> None:
    """Let ``prefix``-keys (``kms:``) sign ledger entries; adapters register themselves."""
    _OPENERS[prefix] = opener


def entry_message(entry_hash: str) -> bytes:
    return f"kiln.ledger-entry/v1\n{entry_hash}\n".encode()


def head_message(seq: int, entry_hash: str) -> bytes:
    return f"kiln.ledger-head/v1\n{seq}\n{entry_hash}\n".encode()


def key_spec() -> tuple[str, bool]:
    """The ledger key's spec and whether the environment named it explicitly."""
    named = os.environ.get("KILN_LEDGER_KEY") or os.environ.get("KILN_SIGNING_KEY")
    return (named, True) if named else (DEFAULT_KEY, False)


def env_signer() -> Signer | None:
    """The acting key from the environment; None only when none is named and the default
    key file does not exist (entries are then written unsigned and fail a strict verify)."""
    spec, explicit = key_spec()
    for prefix, opener in _OPENERS.items():
        if spec.startswith(prefix):
            return opener(spec)
    if spec.startswith("kms:"):
        raise LedgerError(f"ledger key {spec}: KMS signing is not available in this process")
    path = Path(spec).expanduser()
    if not path.exists():
        if explicit:
            raise LedgerError(f"ledger key {path}: no such key file (KILN_LEDGER_KEY, else "
                              "KILN_SIGNING_KEY, names it)")
        log.warning("no ledger key (set KILN_LEDGER_KEY): writing an unsigned entry, "
                    "which `kiln ledger verify` will refuse")
        return None
    try:
        return Ed25519FileSigner(path)
    except SignatureError as error:
        raise LedgerError(f"ledger key: {error}") from None


def sign_entry(entry: Entry, signer: Signer) -> Entry:
    signature = signer.sign(entry_message(entry.hash))
    return entry.with_signature({"key": signature.key_id, "value": signature.value})


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the ledger's head was ``seq`` with ``hash``."""

    seq: int
    hash: str
    at: str
    key: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "key": self.key,
                "signature": self.signature}


def checkpoint_of(entry: Entry, signer: Signer) -> Checkpoint:
    signature: Signature = signer.sign(head_message(entry.seq, entry.hash))
    return Checkpoint(entry.seq, entry.hash, entry.at, signature.key_id, signature.value)


def parse_checkpoint(data: Any, where: str) -> Checkpoint:
    if not isinstance(data, Mapping) or set(data) != CHECKPOINT_FIELDS:
        raise LedgerError(f"{where}: not a ledger checkpoint (fields differ)")
    seq, digest = data["seq"], data["hash"]
    if type(seq) is not int or seq < 0 or not isinstance(digest, str) \
            or not HASH.fullmatch(digest) or not all(
                isinstance(data[k], str) for k in ("at", "key", "signature")):
        raise LedgerError(f"{where}: not a ledger checkpoint (a field has the wrong type)")
    return Checkpoint(seq, digest, data["at"], data["key"], data["signature"])


def moves_forward(current: Checkpoint | None, proposed: Checkpoint) -> bool:
    """An anchor only ever accepts a higher seq: it never moves back, nor sideways."""
    return current is None or proposed.seq > current.seq


class Anchor(Protocol):
    """A store of the newest checkpoint, outside the ledger, that only moves forward."""

    name: str

    def read(self) -> Checkpoint | None: ...

    def advance(self, checkpoint: Checkpoint) -> bool: ...


def _trusted_signer(message: bytes, key_id: str, value: str,
                    trusted: Sequence[PublicKey]) -> PublicKey | None:
    for key in trusted:
        if key.id == key_id and verify_with(key, message, value):
            return key
    return None


def _ranges(seqs: list[int]) -> str:
    parts: list[str] = []
    start = previous = seqs[0]
    for seq in [*seqs[1:], None]:
        if seq is not None and seq == previous + 1:
            previous = seq
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if seq is not None:
            start = previous = seq
    return ", ".join(parts)


def check_signatures(entries: Iterable[Entry], trusted: Sequence[PublicKey],
                     allow_unsigned_before: int = 0) -> dict[str, int]:
    """Every entry from ``allow_unsigned_before`` on is signed by a trusted key; return the
    count per key id. Raises naming the first forged entry, or every unsigned one."""
    if not trusted:
        raise LedgerError("no trusted ledger keys: declare kiln:ledgerKeys in Pulumi.yaml "
                          "(the shape of kiln:trustedKeys) or pass --key")
    counts: dict[str, int] = {}
    unsigned: list[int] = []
    for entry in entries:
        if entry.signature is None:
            if entry.seq >= allow_unsigned_before:
                unsigned.append(entry.seq)
            continue
        key_id = entry.signature["key"]
        if not any(k.id == key_id for k in trusted):
            raise LedgerError(f"entry seq {entry.seq}: signed by key {key_id!r}, which is not "
                              "a trusted ledger key (forged?)")
        if _trusted_signer(entry_message(entry.hash), key_id, entry.signature["value"],
                           trusted) is None:
            raise LedgerError(f"entry seq {entry.seq}: signature by {key_id!r} does not "
                              "verify (entry forged or edited)")
        counts[key_id] = counts.get(key_id, 0) + 1
    if unsigned:
        raise LedgerError(f"unsigned entries: seq {_ranges(unsigned)} (every entry must be "
                          f"signed; --allow-unsigned-before {unsigned[-1] + 1} accepts an "
                          "older unsigned history)")
    return counts


def check_anchor(name: str, checkpoint: Checkpoint | None, entries: Sequence[Entry],
                 trusted: Sequence[PublicKey] | None) -> str:
    """Compare a verified chain with one anchor; return what it showed or raise naming it.

    ``trusted`` None skips the checkpoint's signature (a verify without keys)."""
    signed = [e for e in entries if e.signature is not None]
    if checkpoint is None:
        if signed and trusted is not None:
            raise LedgerError(f"anchor {name}: holds no checkpoint, but the ledger has signed "
                              f"entries up to seq {signed[-1].seq} (anchor deleted?)")
        return f"anchor {name}: empty"
    if trusted is not None and _trusted_signer(head_message(checkpoint.seq, checkpoint.hash),
                                               checkpoint.key, checkpoint.signature,
                                               trusted) is None:
        raise LedgerError(f"anchor {name}: checkpoint of seq {checkpoint.seq} is not signed "
                          "by a trusted ledger key (forged)")
    head = entries[-1].seq if entries else -1
    if checkpoint.seq > head:
        lost = f"seq {head + 1}" if head + 1 == checkpoint.seq else \
            f"seq {head + 1}-{checkpoint.seq}"
        raise LedgerError(f"anchor {name}: head was seq {checkpoint.seq} but the ledger ends "
                          f"at seq {head}: entries {lost} are missing (truncated)")
    if entries[checkpoint.seq].hash != checkpoint.hash:
        raise LedgerError(f"anchor {name}: entry seq {checkpoint.seq} is not the one anchored "
                          "(history rewritten)")
    behind = head - checkpoint.seq
    return f"anchor {name}: agrees at seq {checkpoint.seq}" + (
        f" ({behind} newer entries not anchored yet)" if behind else "")


@dataclass(frozen=True)
class Verified:
    """What a verify found: the chain's length and head, who signed, what each anchor said."""

    entries: int
    head: Entry | None
    signers: dict[str, int]
    anchors: tuple[str, ...]


def audit(entries: Sequence[Entry], anchored: Iterable[tuple[str, Checkpoint | None]],
          trusted: Sequence[PublicKey] | None = None,
          allow_unsigned_before: int = 0) -> Verified:
    """The chain, then (given trusted keys) every signature, then every anchor."""
    count = verify_chain(entries)
    signers = {} if trusted is None else check_signatures(entries, trusted,
                                                          allow_unsigned_before)
    notes = tuple(check_anchor(name, checkpoint, entries, trusted)
                  for name, checkpoint in anchored)
    return Verified(count, entries[-1] if entries else None, signers, notes)
