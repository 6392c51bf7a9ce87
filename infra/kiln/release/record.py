"""Artifact records (``kiln.artifact/v1``) and the release statement that gets signed.

A record is canonical JSON — sorted keys, no insignificant whitespace, UTF-8 — so its
digest (``sha256:`` + hex of those bytes) names exactly one record. The release statement
binds one image id in one place (region or repository) to one record digest; that
statement, not the record, is what a key signs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError

SCHEMA = "kiln.artifact/v1"
STATEMENT_VERSION = "kiln.release/v1"
KINDS = ("ami", "container")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class RecordError(KilnError, ValueError):
    """A record is malformed or does not match what it is checked against (one line)."""


_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}
_DIGEST = {"type": "string", "pattern": DIGEST.pattern}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 1024}
_OBJECT = {"type": "object"}

# What kiln reads from a record, with the types it reads it as; other fields are carried.
RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "kind", "name", "images", "source", "inputs", "tools", "builtAt",
                 "packerRunUuid"],
    "properties": {
        "schema": {"const": SCHEMA},
        "kind": {"enum": list(KINDS)},
        "name": _NAME,
        "images": {"type": "object", "minProperties": 1,
                   "additionalProperties": _TEXT},
        "source": {"type": "object", "properties": {
            "commit": {"type": ["string", "null"]}, "dirty": {"type": "boolean"}}},
        "inputs": {"type": "object", "properties": {"inputHash": {"type": "string"}}},
        "tools": _OBJECT,
        "builtAt": _TEXT,
        "packerRunUuid": _TEXT,
        "copyOf": _DIGEST,
        "copiedFrom": {"type": "object", "required": ["image", "region"],
                       "properties": {"image": _TEXT, "region": _TEXT}},
    },
    "allOf": [
        {"if": {"properties": {"kind": {"const": "ami"}}},
         "then": {"properties": {"images": {
             "propertyNames": {"pattern": r"^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$"},
             "additionalProperties": {"type": "string",
                                      "pattern": r"^ami-[0-9a-f]{8,17}$"}}}}},
        {"if": {"properties": {"kind": {"const": "container"}}},
         "then": {"properties": {"images": {
             "required": ["repository", "digest"],
             "properties": {"digest": _DIGEST}}}}},
    ],
}


def field_path(parts: Any) -> str:
    """``["images", "eu-west-1"]`` → ``images.eu-west-1``; ``["a", 0]`` → ``a[0]``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def check_schema(data: Any, schema: Mapping[str, Any], what: str) -> None:
    """Raise a one-line :class:`RecordError` naming the first bad field of ``data``."""
    # jsonschema costs ~85 ms to import; commands that read no record never pay it.
    import jsonschema  # noqa: PLC0415

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        message = " ".join(error.message.split())
        if len(message) > 160:
            message = message[:157] + "..."
        raise RecordError(f"{what} field {field_path(error.absolute_path)}: {message}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(raw: bytes, what: str) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, bounded nesting; one-line errors."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise RecordError(f"{what} is not UTF-8 (byte {error.start}: {error.reason})") \
            from None
    except json.JSONDecodeError as error:
        raise RecordError(f"{what} is not JSON ({error.msg} at line {error.lineno})") \
            from None
    except ValueError as error:
        raise RecordError(f"{what} is not JSON ({error})") from None
    except RecursionError:
        raise RecordError(f"{what} is not JSON kiln reads (nested too deeply)") from None


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ArtifactRecord:
    """One baked artifact. ``images`` maps region → AMI id (kind ``ami``) or holds
    ``repository`` and ``digest`` (kind ``container``)."""

    kind: str
    name: str
    images: dict[str, str]
    source: dict[str, Any]  # {"commit": str, "dirty": bool}
    inputs: dict[str, Any]  # {"template", "inputHash", "variables", "base"}
    tools: dict[str, str]  # {"packer": version, "kiln": version}
    built_at: str
    packer_run_uuid: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body = {
            "schema": SCHEMA, "kind": self.kind, "name": self.name, "images": self.images,
            "source": self.source, "inputs": self.inputs, "tools": self.tools,
            "builtAt": self.built_at, "packerRunUuid": self.packer_run_uuid,
        }
        body.update(self.extra)
        return body

    def canonical(self) -> bytes:
        return canonical(self.to_json())

    @property
    def digest(self) -> str:
        return digest_of(self.canonical())

    def locations(self) -> list[tuple[str, str]]:
        """(image id, region or repository) pairs this record vouches for."""
        if self.kind == "container":
            return [(self.images["digest"], self.images["repository"])]
        return sorted((image, region) for region, image in self.images.items())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactRecord:
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise RecordError(f"not a {SCHEMA} record (schema is "
                              f"{data.get('schema') if isinstance(data, Mapping) else None!r})")
        known = {"schema", "kind", "name", "images", "source", "inputs", "tools", "builtAt",
                 "packerRunUuid"}
        missing = sorted(known - set(data))
        if missing:
            raise RecordError(f"record is missing {', '.join(missing)}")
        if data["kind"] not in KINDS:
            raise RecordError(f"record kind {data['kind']!r} is not one of {', '.join(KINDS)}")
        if data["kind"] == "container" and isinstance(data["images"], Mapping) \
                and not {"repository", "digest"} <= set(data["images"]):
            raise RecordError("container record needs images.repository and images.digest")
        check_schema(data, RECORD_SCHEMA, "record")
        return cls(kind=data["kind"], name=data["name"], images=dict(data["images"]),
                   source=dict(data["source"]), inputs=dict(data["inputs"]),
                   tools=dict(data["tools"]), built_at=data["builtAt"],
                   packer_run_uuid=data["packerRunUuid"],
                   extra={k: v for k, v in data.items() if k not in known})


def parse_record(text: bytes | str) -> tuple[ArtifactRecord, str]:
    """Parse stored record bytes; return the record and the digest of the bytes as stored.

    The stored bytes must already be canonical: a record whose bytes were edited (even
    re-indented) no longer has the digest that was signed.
    """
    raw = text.encode("utf-8") if isinstance(text, str) else text
    record = ArtifactRecord.from_json(load_json(raw, "record"))
    if record.canonical() != raw.rstrip(b"\n"):
        raise RecordError("record bytes are not canonical JSON (edited after signing?)")
    return record, record.digest


def short_digest(digest: str | None) -> str:
    """A digest as people read it: ``sha256:`` and the first 12 hex digits, then ``…``."""
    return f"{digest[:19]}…" if digest else "-"


def statement(kind: str, image_id: str, location: str, record_digest: str) -> bytes:
    """The signed statement: ``kiln.release/v1\\n<kind>\\n<image>\\n<where>\\n<digest>\\n``."""
    if kind not in KINDS:
        raise RecordError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if not DIGEST.fullmatch(record_digest):
        raise RecordError(f"record digest {record_digest!r} is not sha256:<64 hex>")
    for part in (image_id, location):
        if not part or "\n" in part:
            raise RecordError(f"statement field {part!r} is empty or has a newline")
    return f"{STATEMENT_VERSION}\n{kind}\n{image_id}\n{location}\n{record_digest}\n".encode()
