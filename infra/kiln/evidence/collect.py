"""What concerns one release: its records, its ledger slice and its timeline (pure but for
reading records and the project's plugin pins).

A release is named by its record digest. Its *family* is that record, every cross-region
copy of it (``copyOf``), and the records it was built from (the golden AMI and the
container an app AMI carries). The ledger slice is every entry that names a family member's
record digest or image id, in ledger order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kiln.errors import VerifyError
from kiln.records import store
from kiln.release.ledger import Entry
from kiln.release.record import ArtifactRecord, RecordError

PLUGINS_FILE = "plugins.pkr.hcl"
PLUGIN = re.compile(r'(?P<name>[a-z0-9_-]+)\s*=\s*\{[^}]*?version\s*=\s*"=?\s*(?P<v>[^"]+)"',
                    re.S)
SERVED = ("deploy", "promote")


@dataclass(frozen=True)
class Member:
    """One record of the family, and why it is in it."""

    record: ArtifactRecord
    digest: str
    path: Path
    role: str  # release | copy | built-from


def _load(path: Path) -> tuple[ArtifactRecord, str] | None:
    try:
        return store.load(path)
    except RecordError:
        return None


def family(root: Path, digest: str) -> list[Member]:
    """The release record, its copies and what it was built from."""
    path = store.find(root, digest)
    if path is None:
        raise VerifyError(f"no record {digest} under {root / 'releases'}")
    loaded = _load(path)
    if loaded is None:
        raise VerifyError(f"{path}: not a readable kiln record")
    record, _ = loaded
    members = [Member(record, digest, path, "release")]
    variables = dict(record.inputs.get("variables") or {})
    wanted = {str(v) for k, v in variables.items() if k in ("golden_ami", "container_image")}
    if record.extra.get("copyOf"):
        wanted.add(str(record.extra["copyOf"]))
    for other_path in store.record_files(root):
        if other_path == path:
            continue
        other = _load(other_path)
        if other is None:
            continue
        other_record, other_digest = other
        if other_record.extra.get("copyOf") == digest:
            members.append(Member(other_record, other_digest, other_path, "copy"))
            continue
        names = {other_digest, *(i for i, _ in other_record.locations())}
        if other_record.kind == "container":
            names.add(f"{other_record.images['repository']}@{other_record.images['digest']}")
        if names & wanted:
            members.append(Member(other_record, other_digest, other_path, "built-from"))
    return members


def needles(members: Iterable[Member]) -> set[str]:
    """Every digest and image id that marks a ledger entry as concerning the release."""
    found: set[str] = set()
    for member in members:
        if member.role == "built-from":
            continue
        found.add(member.digest)
        found.update(image for image, _ in member.record.locations())
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def ledger_slice(entries: Iterable[Entry], marks: set[str]) -> list[dict[str, Any]]:
    """The entries whose subject or details name the release (as plain dicts)."""
    return [_plain(e) for e in entries
            if marks & set(_strings(e.subject)) or marks & set(_strings(e.details))]


def _plain(entry: Entry) -> dict[str, Any]:
    """The entry as the ledger stores it (its own ``to_json`` where it has one)."""
    to_json = getattr(entry, "to_json", None)
    return dict(to_json()) if callable(to_json) else asdict(entry)


def plugins(images_dir: Path, record: ArtifactRecord) -> dict[str, str]:
    """Plugin pins, when the project's plugins file is the one the bake hashed."""
    recorded = dict(record.inputs.get("files") or {}).get(PLUGINS_FILE)
    try:
        data = (images_dir / PLUGINS_FILE).read_bytes()
    except OSError:
        return {}
    if recorded != "sha256:" + hashlib.sha256(data).hexdigest():
        return {}  # Packer < 1.7 uses its built-in plugins, or the pins have moved since
    return {m["name"]: m["v"].strip() for m in PLUGIN.finditer(data.decode("utf-8", "replace"))}


def _phase(entry: Mapping[str, Any]) -> str:
    details = entry.get("details") or {}
    phase = str(details.get("phase") or details.get("outcome") or "")
    return phase


def timeline(members: Iterable[Member], entries: Iterable[Mapping[str, Any]]
             ) -> list[dict[str, Any]]:
    """The release's story in ledger order: bake, sign, served, rollbacks, revocations."""
    release_digests = {m.digest for m in members if m.role != "built-from"}
    steps = []
    for entry in entries:
        action = str(entry.get("action"))
        subject = entry.get("subject") or {}
        mine = subject.get("record") in release_digests
        phase = _phase(entry)
        if action in SERVED:
            label = (f"served on {entry.get('stack')}" if mine and phase != "intent"
                     else f"{action} on {entry.get('stack')} ({phase or 'away from it'})")
        elif action == "rollback":
            label = (f"rolled back to it on {entry.get('stack')}" if mine
                     else f"rolled back away from it on {entry.get('stack')}")
        elif action == "revoke":
            label = "revoked: " + str((entry.get("details") or {}).get("reason", ""))
        elif action == "retire":
            label = f"standby retired on {entry.get('stack')}"
        else:
            label = action + (f" on {entry.get('stack')}" if entry.get("stack") else "")
        steps.append({"seq": entry.get("seq"), "at": entry.get("at"),
                      "actor": entry.get("actor"), "action": action,
                      "stack": entry.get("stack"), "label": label, "phase": phase,
                      "record": subject.get("record"), "image": subject.get("image")})
    return steps


def stacks_reached(steps: Iterable[Mapping[str, Any]]) -> list[str]:
    """Stacks the release was served on, in the order it first reached them."""
    seen: dict[str, None] = {}
    for step in steps:
        if str(step["label"]).startswith("served on ") and step.get("stack"):
            seen.setdefault(str(step["stack"]), None)
    return list(seen)
