"""``kiln evidence``: one signed archive per release, for auditors.

Members: the family's records and signatures, one DSSE attestation per image, the ledger
slice with the chain's verification result, the audit reports of every stack the release
was served on, versions, the timeline and ``index.html``; then ``manifest.json`` (SHA-256
of every member) and ``manifest.sig.json`` (a DSSE envelope over the manifest, signed with
the release key). The archive is written to a temp file and renamed.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from kiln import __version__
from kiln.evidence import collect, page, provenance
from kiln.project.files import atomic_write
from kiln.project.layout import PACK_DIR, top_level_value
from kiln.release.ledger import Entry, LedgerError
from kiln.release.record import canonical, short_digest
from kiln.release.signing import Signer

SCHEMA = "kiln.evidence/v1"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig.json"
MANIFEST_TYPE = "application/vnd.kiln.evidence-manifest+json"
AuditWriter = Callable[[str, Path], list[Path]]


@dataclass(frozen=True)
class Written:
    path: Path
    release: str
    members: int
    size: int
    stacks: list[str]


def attestation_name(name: str, digest: str, image: str) -> str:
    return f"attestations/{name}/{digest[7:]}/{image.replace(':', '-')}.intoto.json"


def record_name(member: collect.Member) -> str:
    return f"records/{member.record.name}/{member.digest[7:]}.json"


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode() + b"\n"


def _versions(root: Path, members: Iterable[collect.Member]) -> dict[str, Any]:
    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return ""

    return {"kiln": __version__, "python": platform.python_version(),
            "pack": {"name": top_level_value(root / PACK_DIR / "PulumiPolicy.yaml", "name")
                     or "", "version": top_level_value(root / PACK_DIR / "PulumiPolicy.yaml",
                                                       "version") or ""},
            "libraries": {n: installed(n) for n in ("securesystemslib", "in-toto-attestation",
                                                     "cryptography")},
            "bakes": {m.digest: m.record.tools for m in members}}


def _ledger_state(verify: Callable[[], int]) -> dict[str, Any]:
    try:
        return {"ok": True, "entries": verify(), "error": None}
    except LedgerError as error:
        return {"ok": False, "entries": None, "error": str(error)}


def members_of(root: Path, digest: str, entries: Iterable[Entry], *,
               verify_ledger: Callable[[], int], signer: Signer,
               audit: AuditWriter | None, now: str) -> tuple[dict[str, bytes], list[str]]:
    """Every member of the bundle but the manifest and its signature."""
    family = collect.family(root, digest)
    files: dict[str, bytes] = {}
    for member in family:
        files[record_name(member)] = member.path.read_bytes()
        sig = member.path.with_name(member.path.name.removesuffix(".json") + ".sig.json")
        if sig.exists():
            files[record_name(member).removesuffix(".json") + ".sig.json"] = sig.read_bytes()
        plugins = collect.plugins(root / "images", member.record)
        for image, location in member.record.locations():
            body = provenance.statement(member.record, member.digest, image, location, plugins)
            name = attestation_name(member.record.name, member.digest, image)
            files[name] = _json(provenance.envelope(body, signer))
    entries_slice = collect.ledger_slice(entries, collect.needles(family))
    files["ledger/slice.jsonl"] = b"".join(canonical(e) + b"\n" for e in entries_slice)
    files["ledger/verification.json"] = _json({**_ledger_state(verify_ledger), "at": now})
    steps = collect.timeline(family, entries_slice)
    stacks = collect.stacks_reached(steps)
    if audit is not None:
        with tempfile.TemporaryDirectory(prefix="kiln-evidence-") as tmp:
            for stack in stacks:
                for path in audit(stack, Path(tmp) / stack):
                    files[f"audit/{stack}/{path.name}"] = path.read_bytes()
    files["versions.json"] = _json(_versions(root, family))
    summary = {"release": digest, "createdAt": now, "stacks": stacks, "timeline": steps,
               "family": [{"digest": m.digest, "name": m.record.name, "kind": m.record.kind,
                           "role": m.role, "builtAt": m.record.built_at,
                           "commit": m.record.source.get("commit"),
                           "images": [list(x) for x in m.record.locations()]}
                          for m in family],
               "signer": signer.key_id}
    files["timeline.json"] = _json(summary)
    files["index.html"] = page.render(summary, _ledger_state(verify_ledger),
                                      sorted(files)).encode()
    return files, stacks


def manifest(files: dict[str, bytes], digest: str, now: str) -> bytes:
    sums = {name: "sha256:" + hashlib.sha256(data).hexdigest()
            for name, data in sorted(files.items())}
    return canonical({"schema": SCHEMA, "release": digest, "createdAt": now,
                      "files": sums}) + b"\n"


def archive(files: dict[str, bytes]) -> bytes:
    """A gzip'd tar with index.html first, then every member in name order."""
    buffer = io.BytesIO()
    order = sorted(files, key=lambda n: (n != "index.html", n))
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name in order:
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def write(root: Path, digest: str, out: Path, *, entries: Iterable[Entry],
          verify_ledger: Callable[[], int], signer: Signer, audit: AuditWriter | None,
          now: str) -> Written:
    """Build and sign the bundle of release ``digest`` and write it to ``out``."""
    files, stacks = members_of(root, digest, entries, verify_ledger=verify_ledger,
                               signer=signer, audit=audit, now=now)
    body = manifest(files, digest, now)
    files[MANIFEST] = body
    files[MANIFEST_SIG] = _json(provenance.envelope(body, signer, MANIFEST_TYPE))
    data = archive(files)
    atomic_write(out, data)
    return Written(out, digest, len(files), len(data), stacks)


def default_name(digest: str) -> str:
    return f"evidence-{short_digest(digest)[7:19]}.tar.gz"

