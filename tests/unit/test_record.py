"""Artifact records: canonical bytes, digests, parsing, the signed statement."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiln.release.record import (
    ArtifactRecord,
    RecordError,
    canonical,
    digest_of,
    parse_record,
    statement,
)


def record(**changes: object) -> ArtifactRecord:
    fields: dict[str, object] = {
        "kind": "ami", "name": "golden", "images": {"eu-west-1": "ami-0123456789abcdef0"},
        "source": {"commit": "a" * 40, "dirty": False},
        "inputs": {"template": "golden.pkr.hcl", "inputHash": "sha256:" + "1" * 64,
                   "variables": {"region": "eu-west-1"}, "base": "ami-00000000"},
        "tools": {"packer": "1.6.6", "kiln": "0.1.0"}, "built_at": "2026-01-01T00:00:00.000Z",
        "packer_run_uuid": "8365a4ef-5b2f-37b1-eabf-cc74914f1282"}
    fields.update(changes)
    return ArtifactRecord(**fields)  # type: ignore[arg-type]


def test_canonical_bytes_are_sorted_compact_utf8() -> None:
    assert canonical({"b": 1, "a": "é", "c": [1, {"y": 2, "x": 1}]}) == \
        '{"a":"é","b":1,"c":[1,{"x":1,"y":2}]}'.encode()
    with pytest.raises(ValueError):
        canonical({"n": float("nan")})


def test_digest_names_the_canonical_bytes() -> None:
    rec = record()
    assert rec.digest == digest_of(rec.canonical())
    assert rec.digest.startswith("sha256:") and len(rec.digest) == 71
    assert record(name="app").digest != rec.digest


def test_parse_round_trips_and_reports_the_stored_digest() -> None:
    rec = record()
    parsed, digest = parse_record(rec.canonical() + b"\n")
    assert parsed == rec and digest == rec.digest


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "not JSON"),
    (b'{"schema":"other/v1"}', "not a kiln.artifact/v1 record"),
    (json.dumps({"schema": "kiln.artifact/v1"}).encode(), "missing"),
])
def test_parse_rejects_what_is_not_a_record(data: bytes, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        parse_record(data)


def test_parse_rejects_reformatted_bytes() -> None:
    pretty = json.dumps(record().to_json(), indent=2, sort_keys=True).encode()
    with pytest.raises(RecordError, match="not canonical"):
        parse_record(pretty)


def test_container_record_locations_and_validation() -> None:
    rec = record(kind="container", images={"repository": "r.example:5000/web",
                                           "digest": "sha256:" + "c" * 64})
    assert rec.locations() == [("sha256:" + "c" * 64, "r.example:5000/web")]
    broken = {**rec.to_json(), "images": {"repository": "x"}}
    with pytest.raises(RecordError, match=r"images\.repository and images\.digest"):
        parse_record(canonical(broken))


def test_ami_locations_are_sorted_pairs() -> None:
    rec = record(images={"us-east-1": "ami-bbbbbbbb", "eu-west-1": "ami-aaaaaaaa"})
    assert rec.locations() == [("ami-aaaaaaaa", "eu-west-1"), ("ami-bbbbbbbb", "us-east-1")]


def test_statement_is_the_documented_bytes() -> None:
    digest = "sha256:" + "f" * 64
    assert statement("ami", "ami-1", "eu-west-1", digest) == \
        f"kiln.release/v1\nami\nami-1\neu-west-1\n{digest}\n".encode()


@pytest.mark.parametrize(("args", "message"), [
    (("vm", "ami-1", "eu-west-1", "sha256:" + "f" * 64), "kind"),
    (("ami", "ami-1", "eu-west-1", "sha256:abc"), "not sha256"),
    (("ami", "ami-1\nami-2", "eu-west-1", "sha256:" + "f" * 64), "newline"),
    (("ami", "", "eu-west-1", "sha256:" + "f" * 64), "empty"),
])
def test_statement_refuses_ambiguous_fields(args: tuple[str, str, str, str],
                                            message: str) -> None:
    with pytest.raises(RecordError, match=message):
        statement(*args)


@given(st.dictionaries(st.text(min_size=1, max_size=8),
                       st.one_of(st.integers(), st.text(max_size=8), st.booleans()),
                       max_size=6))
def test_any_extra_field_changes_the_digest_and_survives_a_round_trip(
        extra: dict[str, object]) -> None:
    known = {"schema", "kind", "name", "images", "source", "inputs", "tools", "builtAt",
             "packerRunUuid"}
    extra = {k: v for k, v in extra.items() if k not in known}
    rec = record(extra=extra)
    parsed, digest = parse_record(rec.canonical())
    assert parsed.extra == extra and digest == rec.digest
    if extra:
        assert digest != record().digest
