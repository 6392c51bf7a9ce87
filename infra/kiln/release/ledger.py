"""The ledger: append-only JSON lines, each entry chained to the one before by hash, signed
by the acting key, with its head anchored outside the ledger.

Entries and the chain live in :mod:`kiln.release.chain`, signatures and anchors in
:mod:`kiln.release.ledger_trust`; this module is the interface every backend shares and the
file backend. The DynamoDB backend lives in ``kiln.aws``.

A file's last line without its newline is kept when it is a complete entry (the next append
writes the newline first); anything else there is a *torn* line, reported by every read and
removed only by :meth:`FileLedger.repair` (``kiln ledger repair``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiln.errors import KilnError
from kiln.release.chain import (
    ACTIONS,
    FIELDS,
    GENESIS,
    Entry,
    LedgerError,
    check_action,
    default_actor,
    new_entry,
    now,
    parse_entry,
    verify_chain,
)
from kiln.release.ledger_trust import (
    Anchor,
    Verified,
    audit,
    checkpoint_of,
    env_signer,
    sign_entry,
)
from kiln.release.record import canonical, digest_of
from kiln.release.signing import PublicKey, Signer

__all__ = ["ACTIONS", "FIELDS", "GENESIS", "Entry", "FileLedger", "Ledger", "LedgerError",
           "Repair", "Verified", "check_action", "default_actor", "new_entry", "now",
           "parse_entry", "verify_chain"]

log = logging.getLogger(__name__)


class Ledger(Protocol):
    def append(self, action: str, *, stack: str | None, subject: Mapping[str, Any],
               commit: str | None, details: Mapping[str, Any] | None = None,
               actor: str | None = None) -> Entry: ...

    def entries(self) -> Iterator[Entry]: ...

    def verify(self) -> int: ...

    def check(self, trusted: Sequence[PublicKey] | None = None,
              allow_unsigned_before: int = 0) -> Verified: ...


@dataclass(frozen=True)
class Repair:
    """What ``repair`` did to a torn final line."""

    line: int
    removed: int  # bytes removed (0: a complete entry only got its newline)
    digest: str  # sha256 of the bytes removed


class SignerSlot:
    """The acting key, opened on first append (readers and verifiers need no key)."""

    def __init__(self, signer: Signer | None) -> None:
        self._signer = signer
        self._resolved = signer is not None

    def get(self) -> Signer | None:
        if not self._resolved:
            self._signer = env_signer()
            self._resolved = True
        return self._signer


def advance_anchors(anchors: Sequence[Anchor], entry: Entry, signer: Signer | None) -> None:
    """Move every anchor to ``entry``; a failed anchor lags (verify shows by how much)."""
    if signer is None or not anchors:
        return
    checkpoint = checkpoint_of(entry, signer)
    for anchor in anchors:
        try:
            anchor.advance(checkpoint)
        except (OSError, KilnError) as error:
            log.warning("anchor %s not advanced to seq %d: %s", anchor.name, entry.seq, error)


class FileLedger:
    """JSON lines in a file of the repository; appends are serialised with flock."""

    def __init__(self, path: Path, signer: Signer | None = None,
                 anchors: Sequence[Anchor] = ()) -> None:
        self.path = path
        self.signer = SignerSlot(signer)
        self.anchors = list(anchors)

    def _split(self, data: bytes) -> tuple[list[tuple[int, bytes]], tuple[int, bytes] | None]:
        """Terminated non-blank lines (numbered), and the unterminated final line if any."""
        pieces = data.split(b"\n")
        lines = [(n, line) for n, line in enumerate(pieces[:-1], start=1) if line.strip()]
        tail = (len(pieces), pieces[-1]) if pieces[-1].strip() else None
        return lines, tail

    def _entry(self, number: int, line: bytes) -> Entry:
        where = f"{self.path}:{number}"
        try:
            raw = json.loads(line)
        except ValueError:
            raise LedgerError(f"{where}: not JSON") from None
        entry = parse_entry(raw, where)
        if canonical(entry.to_json()) != line:
            raise LedgerError(f"{where}: entry seq {entry.seq} is not canonical JSON "
                              "(edited?)")
        return entry

    def _complete_tail(self, tail: tuple[int, bytes] | None) -> Entry | None:
        """The final unterminated line as an entry; None when there is none or it is torn
        (not JSON: a write cut short). Complete JSON that is no valid entry is an error."""
        if tail is None:
            return None
        try:
            json.loads(tail[1])
        except ValueError:
            return None
        return self._entry(*tail)

    def _parse(self, data: bytes) -> list[Entry]:
        lines, tail = self._split(data)
        entries = [self._entry(number, line) for number, line in lines]
        if tail is not None:
            kept = self._complete_tail(tail)
            if kept is None:
                raise LedgerError(f"{self.path}:{tail[0]}: torn final line ({len(tail[1])} "
                                  "bytes, not a complete entry); `kiln ledger repair` "
                                  "removes it")
            entries.append(kept)
        return entries

    def entries(self) -> Iterator[Entry]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        yield from self._parse(data)

    def verify(self) -> int:
        return self.check().entries

    def check(self, trusted: Sequence[PublicKey] | None = None,
              allow_unsigned_before: int = 0) -> Verified:
        """The chain, signatures (given trusted keys) and every anchor; raise where broken."""
        return audit(list(self.entries()), [(a.name, a.read()) for a in self.anchors],
                     trusted, allow_unsigned_before)

    def append(self, action: str, *, stack: str | None, subject: Mapping[str, Any],
               commit: str | None, details: Mapping[str, Any] | None = None,
               actor: str | None = None) -> Entry:
        check_action(action)
        signer = self.signer.get()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            data = handle.read()
            entries = self._parse(data)  # a torn or broken ledger is never extended
            entry = new_entry(entries[-1] if entries else None, action, stack=stack,
                              subject=subject, commit=commit, details=details, actor=actor)
            if signer is not None:
                entry = sign_entry(entry, signer)
            # A complete final entry saved without its newline stays: end its line first.
            lead = b"\n" if data and not data.endswith(b"\n") else b""
            handle.seek(0, os.SEEK_END)
            handle.write(lead + entry.to_line())
            handle.flush()
            os.fsync(handle.fileno())
            advance_anchors(self.anchors, entry, signer)
        return entry

    def repair(self) -> Repair | None:
        """Remove a torn final line (or end a complete one with its newline) and record the
        repair; None when the file needs none. Refuses when any other line is broken."""
        if not self.path.exists():
            return None
        with open(self.path, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            data = handle.read()
            lines, tail = self._split(data)
            for number, line in lines:
                self._entry(number, line)  # repair mends a torn tail, nothing else
            if tail is None:
                return None
            keep = data.rfind(b"\n") + 1
            if self._complete_tail(tail) is not None:
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
                done = Repair(tail[0], 0, digest_of(b""))
            else:
                handle.truncate(keep)
                done = Repair(tail[0], len(data) - keep, digest_of(data[keep:]))
            handle.flush()
            os.fsync(handle.fileno())
        if done.removed:
            log.warning("%s:%d: removed a torn final line (%d bytes)", self.path, done.line,
                        done.removed)
            self.append("repair", stack=None, subject={"ledger": self.path.name},
                        commit=None, details={"line": done.line, "removedBytes": done.removed,
                                              "removedSha256": done.digest})
        return done
