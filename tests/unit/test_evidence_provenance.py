"""Provenance: in-toto Statement v1 + SLSA Provenance v1 in DSSE, checked independently."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.errors import VerifyError
from kiln.evidence import provenance
from kiln.records import keys, publish
from kiln.records import verify as record_verify
from kiln.release.ledger import FileLedger
from kiln.release.record import ArtifactRecord
from kiln.release.signing import Ed25519FileSigner, generate_ed25519

GOLDEN = ArtifactRecord(
    kind="ami", name="golden", images={"eu-west-1": "ami-0aaaaaaaaaaaaaaa1",
                                       "us-east-1": "ami-0aaaaaaaaaaaaaaa2"},
    source={"commit": "a" * 40, "dirty": False},
    inputs={"template": "golden.pkr.hcl", "source": "amazon-ebs.golden",
            "inputHash": "sha256:" + "1" * 64, "variables": {"root_volume_gb": 20},
            "base": "ami-0bbbbbbbbbbbbbbb1", "files": {"golden.pkr.hcl": "sha256:" + "2" * 64}},
    tools={"packer": "1.6.6", "kiln": "0.1.0"}, built_at="2026-03-01T10:00:00Z",
    packer_run_uuid="run-1")


@pytest.fixture
def signer(tmp_path: Path) -> Ed25519FileSigner:
    generate_ed25519(tmp_path / "release.pem")
    return Ed25519FileSigner(tmp_path / "release.pem")


def independent_verify(envelope: dict, public_pem: str) -> dict:
    """DSSE by hand: PAE over the decoded payload, checked with `cryptography` directly."""
    payload = base64.b64decode(envelope["payload"])
    kind = envelope["payloadType"].encode()
    pae = b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)
    public = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(public, ed25519.Ed25519PublicKey)
    public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae)
    return json.loads(payload)


def test_statement_is_slsa_provenance_of_the_image(signer: Ed25519FileSigner) -> None:
    body = provenance.statement(GOLDEN, GOLDEN.digest, "ami-0aaaaaaaaaaaaaaa1", "eu-west-1",
                                {"amazon": "1.8.3"})
    envelope = provenance.envelope(body, signer)
    statement = independent_verify(envelope, signer.public_key().pem)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    [subject] = statement["subject"]
    assert subject["name"] == "ami-0aaaaaaaaaaaaaaa1"
    assert subject["digest"] == {"kilnRecordSha256": GOLDEN.digest[7:]}
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["template"] == "golden.pkr.hcl"
    assert definition["externalParameters"]["variables"] == {"root_volume_gb": "20"}
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps["base"]["uri"] == "ami-0bbbbbbbbbbbbbbb1"
    assert deps["source"]["digest"] == {"gitCommit": "a" * 40}
    assert deps["packer"]["annotations"] == {"version": "1.6.6"}
    assert deps["packer-plugin-amazon"]["annotations"] == {"version": "1.8.3"}
    assert deps["inputs"]["digest"] == {"sha256": "1" * 64}
    run = statement["predicate"]["runDetails"]
    assert run["builder"]["id"] == provenance.BUILDER_ID
    assert run["metadata"]["invocationId"] == "run-1"


def test_container_subject_is_the_image_digest(signer: Ed25519FileSigner) -> None:
    record = ArtifactRecord(**{**GOLDEN.__dict__, "kind": "container", "name": "container",
                               "images": {"repository": "127.0.0.1:5000/kiln/web",
                                          "digest": "sha256:" + "c" * 64}})
    body = provenance.statement(record, record.digest, "sha256:" + "c" * 64,
                                "127.0.0.1:5000/kiln/web")
    assert body["subject"][0]["digest"] == {"sha256": "c" * 64}
    assert body["subject"][0]["name"] == "127.0.0.1:5000/kiln/web"


def test_a_copy_names_its_original(signer: Ed25519FileSigner) -> None:
    copy = ArtifactRecord(**{**GOLDEN.__dict__, "images": {"us-west-2": "ami-0eeeeeeeeeeeeeee1"},
                             "extra": {"copyOf": GOLDEN.digest,
                                       "copiedFrom": {"image": "ami-0aaaaaaaaaaaaaaa1",
                                                      "region": "eu-west-1"}}})
    body = provenance.statement(copy, copy.digest, "ami-0eeeeeeeeeeeeeee1", "us-west-2")
    definition = body["predicate"]["buildDefinition"]
    assert definition["buildType"] == provenance.COPY_BUILD_TYPE
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps["copyOf"]["digest"] == {"kilnRecordSha256": GOLDEN.digest[7:]}


def test_open_statement_refuses_untrusted_and_tampered(signer: Ed25519FileSigner,
                                                       tmp_path: Path) -> None:
    body = provenance.statement(GOLDEN, GOLDEN.digest, "ami-0aaaaaaaaaaaaaaa1", "eu-west-1")
    envelope = provenance.envelope(body, signer)
    trusted = [signer.public_key()]
    opened, key_id = provenance.open_statement(envelope, trusted, "att")
    assert (opened, key_id) == (body, signer.key_id)
    generate_ed25519(tmp_path / "other.pem")
    other = Ed25519FileSigner(tmp_path / "other.pem", key_id=signer.key_id)
    with pytest.raises(VerifyError, match="no trusted key signed"):
        provenance.open_statement(provenance.envelope(body, other), trusted, "att")
    forged = dict(envelope, payload=base64.b64encode(
        json.dumps({**body, "subject": []}).encode()).decode())
    with pytest.raises(VerifyError, match="no trusted key signed"):
        provenance.open_statement(forged, trusted, "att")
    with pytest.raises(VerifyError, match="not a DSSE envelope"):
        provenance.open_statement({"payload": 1}, trusted, "att")


def test_attestation_for_another_image_or_digest_is_refused() -> None:
    body = provenance.statement(GOLDEN, GOLDEN.digest, "ami-0aaaaaaaaaaaaaaa1", "eu-west-1")
    provenance.check_subject(body, GOLDEN, GOLDEN.digest, image="ami-0aaaaaaaaaaaaaaa1",
                             location="eu-west-1", where="att")
    with pytest.raises(VerifyError, match="another artifact"):
        provenance.check_subject(body, GOLDEN, "sha256:" + "9" * 64,
                                 image="ami-0aaaaaaaaaaaaaaa1", location="eu-west-1",
                                 where="att")
    with pytest.raises(VerifyError, match="another artifact"):
        provenance.check_subject(body, GOLDEN, GOLDEN.digest, image="ami-0aaaaaaaaaaaaaaa2",
                                 location="us-east-1", where="att")


def test_a_kiln_record_still_verifies(signer: Ed25519FileSigner, tmp_path: Path) -> None:
    published = publish.publish(tmp_path, GOLDEN, signer, FileLedger(tmp_path / "l.jsonl"),
                                commit=None)
    provenance.statement(GOLDEN, GOLDEN.digest, "ami-0aaaaaaaaaaaaaaa1", "eu-west-1")
    verified = record_verify.record_file(published.record_path,
                                         [keys.key_from_file(tmp_path / "release.pub")])
    assert verified.digest == GOLDEN.digest


def test_wrong_key_signature_fails_the_independent_verifier(signer: Ed25519FileSigner,
                                                           tmp_path: Path) -> None:
    envelope = provenance.envelope({"x": 1}, signer)
    generate_ed25519(tmp_path / "other.pem")
    with pytest.raises(InvalidSignature):
        independent_verify(envelope, Ed25519FileSigner(tmp_path / "other.pem")
                           .public_key().pem)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                       st.one_of(st.text(max_size=20), st.integers(), st.booleans()),
                       max_size=6))
def test_every_variable_survives_as_a_string(variables: dict) -> None:
    record = ArtifactRecord(**{**GOLDEN.__dict__,
                               "inputs": {**GOLDEN.inputs, "variables": variables}})
    body = provenance.predicate(record)
    got = body["buildDefinition"]["externalParameters"]["variables"] if variables else {}
    assert got == {k: v if isinstance(v, str) else json.dumps(v)
                   for k, v in variables.items()}
