"""Ledger entries and their hash chain: pure values and rules, no storage.

Every entry has ``seq``, ``prev`` (the previous entry's hash), ``at``, ``actor``,
``action``, ``stack``, ``subject``, ``commit``, ``details`` and ``hash`` (over all the
rest, canonical JSON), and — once signed — ``signature`` (``{key, value}``, over the hash:
see :mod:`kiln.release.ledger_trust`). Editing, dropping or reordering any entry breaks the
chain, and :func:`verify_chain` says where.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kiln.errors import KilnError
from kiln.release.record import canonical, digest_of

# The actions kiln itself writes; others may add theirs (any name of this shape).
ACTIONS = ("bake", "sign", "deploy", "promote", "rollback", "retire", "revoke", "audit")
ACTION = re.compile(r"[a-z][a-z0-9-]{0,31}")
GENESIS = "sha256:" + "0" * 64
HASH = re.compile(r"sha256:[0-9a-f]{64}")
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
    signature: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("hash")
        data.pop("signature")
        return data

    def sealed(self) -> Entry:
        return Entry(**{**self.body(), "hash": digest_of(canonical(self.body()))})

    def with_signature(self, signature: dict[str, str]) -> Entry:
        return replace(self, signature=dict(signature))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.signature is None:  # an unsigned entry reads back exactly as written
            data.pop("signature")
        return data

    def to_line(self) -> bytes:
        return canonical(self.to_json()) + b"\n"


def default_actor() -> str:
    """Who is acting: ``KILN_ACTOR`` (CI sets it), else user@host."""
    return os.environ.get("KILN_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_action(action: Any) -> str:
    if not isinstance(action, str) or not ACTION.fullmatch(action):
        raise LedgerError(f"ledger action {action!r} is not allowed; expected a lowercase "
                          "word (letters, digits, '-'; e.g. deploy)")
    return action


def new_entry(previous: Entry | None, action: str, *, stack: str | None,
              subject: Mapping[str, Any], commit: str | None,
              details: Mapping[str, Any] | None = None, actor: str | None = None) -> Entry:
    """The sealed (unsigned) entry that follows ``previous`` (None for the first)."""
    check_action(action)
    return Entry(seq=0 if previous is None else previous.seq + 1,
                 prev=GENESIS if previous is None else previous.hash, at=now(),
                 actor=actor or default_actor(), action=action, stack=stack,
                 subject=dict(subject), commit=commit, details=dict(details or {})).sealed()


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _wrong_type(data: Mapping[str, Any]) -> str | None:
    """The first field whose type is wrong, or None."""
    checks = {
        "seq": type(data["seq"]) is int and data["seq"] >= 0,
        "prev": isinstance(data["prev"], str) and bool(HASH.fullmatch(data["prev"])),
        "hash": isinstance(data["hash"], str) and bool(HASH.fullmatch(data["hash"])),
        "at": isinstance(data["at"], str),
        "actor": isinstance(data["actor"], str),
        "action": isinstance(data["action"], str) and bool(ACTION.fullmatch(data["action"])),
        "stack": _optional_text(data["stack"]),
        "subject": isinstance(data["subject"], dict),
        "commit": _optional_text(data["commit"]),
        "details": isinstance(data["details"], dict),
        "signature": "signature" not in data or (
            isinstance(data["signature"], dict) and set(data["signature"]) == {"key", "value"}
            and all(isinstance(v, str) for v in data["signature"].values())),
    }
    return next((name for name, ok in checks.items() if not ok), None)


def parse_entry(data: Any, where: str) -> Entry:
    """An entry from decoded JSON; every field present with its type, or LedgerError."""
    if not isinstance(data, Mapping) or set(data) - {"signature"} != {*FIELDS, "hash"}:
        raise LedgerError(f"{where}: not a ledger entry (fields differ)")
    wrong = _wrong_type(data)
    if wrong:
        raise LedgerError(f"{where}: not a ledger entry ({wrong} has the wrong type or "
                          "shape)")
    return Entry(**data)


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
        if not isinstance(entry.action, str) or not ACTION.fullmatch(entry.action):
            raise LedgerError(f"{where}: action {entry.action!r} is not an action")
        previous = entry
        count += 1
    return count
