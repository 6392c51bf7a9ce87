"""The ledger: append-only JSON lines, each entry chained to the one before by hash.

Every entry has ``seq``, ``prev`` (the previous entry's hash), ``at``, ``actor``,
``action``, ``stack``, ``subject``, ``commit``, ``details`` and ``hash`` (over all the
rest, canonical JSON). Editing, dropping or reordering any entry breaks the chain, and
:func:`verify_chain` says where. Backends share :class:`Ledger`; the file backend lives
here, the DynamoDB one in ``kiln.aws``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import json
import logging
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kiln.errors import KilnError
from kiln.release.record import canonical, digest_of

log = logging.getLogger(__name__)

ACTIONS = ("bake", "sign", "deploy", "promote", "rollback", "retire", "revoke", "audit")
GENESIS = "sha256:" + "0" * 64
FIELDS = ("seq", "prev", "at", "actor", "action", "stack", "subject", "commit", "details")


class LedgerError(KilnError, ValueError):
    """The ledger is broken or an entry is invalid (message is one line)."""


@dataclass(frozen=True)
class Entry:
    seq: int
    prev: str
    at: str
    actor: str
    action: str
    stack: str | None
    subject: dict[str, Any]
    commit: str | None
    details: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("hash")
        return data

    def sealed(self) -> Entry:
        return Entry(**{**self.body(), "hash": digest_of(canonical(self.body()))})

    def to_line(self) -> bytes:
        return canonical(asdict(self)) + b"\n"


def default_actor() -> str:
    """Who is acting: ``KILN_ACTOR`` (CI sets it), else user@host."""
    return os.environ.get("KILN_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_entry(previous: Entry | None, action: str, *, stack: str | None,
              subject: Mapping[str, Any], commit: str | None,
              details: Mapping[str, Any] | None = None, actor: str | None = None) -> Entry:
    """The sealed entry that follows ``previous`` (None for the first)."""
    if action not in ACTIONS:
        raise LedgerError(f"unknown ledger action {action!r}; allowed: {', '.join(ACTIONS)}")
    return Entry(seq=0 if previous is None else previous.seq + 1,
                 prev=GENESIS if previous is None else previous.hash, at=now(),
                 actor=actor or default_actor(), action=action, stack=stack,
                 subject=dict(subject), commit=commit, details=dict(details or {})).sealed()


def parse_entry(data: Any, where: str) -> Entry:
    if not isinstance(data, Mapping) or set(data) != {*FIELDS, "hash"}:
        raise LedgerError(f"{where}: not a ledger entry (fields differ)")
    try:
        return Entry(**data)
    except TypeError:
        raise LedgerError(f"{where}: not a ledger entry") from None


def verify_chain(entries: Iterable[Entry]) -> int:
    """Check seq order, prev links and every hash; return the count or raise LedgerError."""
    previous: Entry | None = None
    count = 0
    for entry in entries:
        where = f"entry seq {entry.seq}"
        expected_seq = 0 if previous is None else previous.seq + 1
        if entry.seq != expected_seq:
            raise LedgerError(f"{where}: expected seq {expected_seq} (entry missing or "
                              "reordered)")
        expected_prev = GENESIS if previous is None else previous.hash
        if entry.prev != expected_prev:
            raise LedgerError(f"{where}: prev does not match the previous entry's hash")
        if entry.sealed().hash != entry.hash:
            raise LedgerError(f"{where}: hash does not match its content (entry edited)")
        if entry.action not in ACTIONS:
            raise LedgerError(f"{where}: unknown action {entry.action!r}")
        previous = entry
        count += 1
    return count


class Ledger(Protocol):
    def append(self, action: str, *, stack: str | None, subject: Mapping[str, Any],
               commit: str | None, details: Mapping[str, Any] | None = None,
               actor: str | None = None) -> Entry: ...

    def entries(self) -> Iterator[Entry]: ...

    def verify(self) -> int: ...


class FileLedger:
    """JSON lines in a file of the repository; appends are serialised with flock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        for number, line in enumerate(data.split(b"\n"), start=1):
            if line.strip():
                yield number, line

    def _parse(self, data: bytes) -> Iterator[Entry]:
        for number, line in self._lines(data):
            where = f"{self.path}:{number}"
            try:
                raw = json.loads(line)
            except ValueError:
                raise LedgerError(f"{where}: not JSON") from None
            entry = parse_entry(raw, where)
            if canonical(asdict(entry)) != line:
                raise LedgerError(f"{where}: entry seq {entry.seq} is not canonical JSON "
                                  "(edited?)")
            yield entry

    def entries(self) -> Iterator[Entry]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        yield from self._parse(data)

    def verify(self) -> int:
        return verify_chain(self.entries())

    def append(self, action: str, *, stack: str | None, subject: Mapping[str, Any],
               commit: str | None, details: Mapping[str, Any] | None = None,
               actor: str | None = None) -> Entry:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            data = handle.read()
            if data and not data.endswith(b"\n"):
                # A crash mid-append left a torn line that was never acknowledged: drop it.
                keep = data.rfind(b"\n") + 1
                log.warning("%s: dropping a torn final line (%d bytes)", self.path,
                            len(data) - keep)
                handle.truncate(keep)
                data = data[:keep]
            last = None
            for last in self._parse(data):  # noqa: B007 (we want the final entry)
                pass
            entry = new_entry(last, action, stack=stack, subject=subject, commit=commit,
                              details=details, actor=actor)
            handle.seek(0, os.SEEK_END)
            handle.write(entry.to_line())
            handle.flush()
            os.fsync(handle.fileno())
        return entry
