"""Provenance in the ecosystem's format: in-toto Statement v1, SLSA Provenance v1, DSSE.

One statement per artifact location (each AMI in each region, each container image): the
subject is the image, the predicate says how kiln built it (the Packer template and
variables, the base image, the source commit, Packer and its plugins, the input hash). The
statement is wrapped in a DSSE envelope signed with the release key. The statement and the
predicate are built with the in-toto attestation bindings, the envelope with
securesystemslib; kiln's own records, statements and tags stay as they are.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import Key, Signature, SSlibKey
from securesystemslib.signer import Signer as SslibSigner

from kiln import __version__
from kiln.errors import VerifyError
from kiln.release import signing
from kiln.release.record import ArtifactRecord

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://kiln.invalid/buildtypes/packer-bake/v1"
COPY_BUILD_TYPE = "https://kiln.invalid/buildtypes/ami-copy/v1"
BUILDER_ID = "https://kiln.invalid/builder/kiln"
# An AMI has no content digest: its subject carries the digest of the kiln record that
# describes it (what the release key signed), under this name.
RECORD_DIGEST = "kilnRecordSha256"


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def subject(record: ArtifactRecord, record_digest: str, image: str,
            location: str) -> ResourceDescriptor:
    """The in-toto subject of one image the record vouches for."""
    if record.kind == "container":
        return ResourceDescriptor(name=location, digest={"sha256": _hex(image)},
                                  annotations={"kiln.record": record_digest})
    return ResourceDescriptor(name=image, uri=f"arn:aws:ec2:{location}::image/{image}",
                              digest={RECORD_DIGEST: _hex(record_digest)},
                              annotations={"region": location, "kiln.record": record_digest})


def _dependencies(record: ArtifactRecord, plugins: Mapping[str, str]) -> list[dict[str, Any]]:
    inputs, source = record.inputs, record.source
    deps: list[dict[str, Any]] = []
    base = str(inputs.get("base") or "")
    if base:
        digest = {"sha256": _hex(base)} if base.startswith("sha256:") else {}
        deps.append({"name": "base", "uri": base, "digest": digest} if digest
                    else {"name": "base", "uri": base})
    commit = str(source.get("commit") or "")
    if commit and commit != "unknown":
        deps.append({"name": "source", "digest": {"gitCommit": commit.removesuffix("+dirty")},
                     "annotations": {"dirty": bool(source.get("dirty"))}})
    deps.append({"name": "packer", "annotations": {"version": record.tools.get("packer", "")}})
    for name, version in sorted(plugins.items()):
        deps.append({"name": f"packer-plugin-{name}", "annotations": {"version": version}})
    if inputs.get("inputHash"):
        deps.append({"name": "inputs", "digest": {"sha256": _hex(str(inputs["inputHash"]))},
                     "annotations": {"files": {k: str(v) for k, v in
                                               dict(inputs.get("files") or {}).items()}}})
    for key in ("golden_ami", "container_image"):
        value = dict(inputs.get("variables") or {}).get(key)
        if value:
            deps.append({"name": key, "uri": str(value)})
    copy_of = record.extra.get("copyOf")
    if copy_of:
        deps.append({"name": "copyOf", "digest": {RECORD_DIGEST: _hex(str(copy_of))},
                     "annotations": {k: str(v) for k, v in
                                     dict(record.extra.get("copiedFrom") or {}).items()}})
    return deps


def predicate(record: ArtifactRecord, plugins: Mapping[str, str] | None = None
              ) -> dict[str, Any]:
    """The SLSA Provenance v1 predicate of ``record``, checked against the SLSA schema."""
    variables = {k: v if isinstance(v, str) else json.dumps(v)
                 for k, v in dict(record.inputs.get("variables") or {}).items()}
    body = {
        "buildDefinition": {
            "buildType": COPY_BUILD_TYPE if record.extra.get("copyOf") else BUILD_TYPE,
            "externalParameters": {"template": str(record.inputs.get("template", "")),
                                   "source": str(record.inputs.get("source", "")),
                                   "variables": variables},
            "internalParameters": {"kind": record.kind, "name": record.name},
            "resolvedDependencies": _dependencies(record, plugins or {}),
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID,
                        "version": {"kiln": record.tools.get("kiln", __version__),
                                    "packer": record.tools.get("packer", "")}},
            "metadata": {"invocationId": record.packer_run_uuid,
                         "finishedOn": record.built_at},
        },
    }
    # Parsing into the SLSA message rejects any field the schema does not define.
    message = json_format.ParseDict(body, provenance_pb2.Provenance())
    return dict(json_format.MessageToDict(message))


def statement(record: ArtifactRecord, record_digest: str, image: str, location: str,
              plugins: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The in-toto Statement v1 for one image of ``record``."""
    built = Statement([subject(record, record_digest, image, location).pb], PREDICATE_TYPE,
                      predicate(record, plugins))
    built.validate()
    return dict(json_format.MessageToDict(built.pb))


class _KilnSigner(SslibSigner):
    """securesystemslib's signer interface over kiln's release signers (key file or KMS)."""

    def __init__(self, signer: signing.Signer) -> None:
        self._signer = signer
        self._public = ssl_key(signer.public_key())

    def sign(self, payload: bytes) -> Signature:
        raw = base64.b64decode(self._signer.sign(payload).value)
        return Signature(self._public.keyid, raw.hex())

    @property
    def public_key(self) -> Key:
        return self._public

    @classmethod
    def from_priv_key_uri(cls, priv_key_uri: str, public_key: Key,
                          secrets_handler: Any = None) -> SslibSigner:
        raise NotImplementedError("kiln opens its signers with records.keys.open_signer")


def ssl_key(key: signing.PublicKey) -> SSlibKey:
    """A trusted kiln key as a securesystemslib key with the same key id."""
    public = signing.load_public(key.pem, key.type, key.id)
    scheme = "ed25519" if key.type == signing.ED25519 else "ecdsa-sha2-nistp256"
    return SSlibKey.from_crypto(public, keyid=key.id, scheme=scheme)


def envelope(payload: Mapping[str, Any] | bytes, signer: signing.Signer,
             payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    """``payload`` (bytes, or a mapping as canonical JSON) in a DSSE envelope signed by
    ``signer``."""
    data = payload if isinstance(payload, bytes) else json.dumps(
        payload, sort_keys=True, separators=(",", ":")).encode()
    wrapped = Envelope(data, payload_type, {})
    wrapped.sign(_KilnSigner(signer))
    return dict(wrapped.to_dict())


def open_envelope(data: Any, trusted: Iterable[signing.PublicKey], where: str,
                  payload_type: str = PAYLOAD_TYPE) -> tuple[bytes, str]:
    """Verify a DSSE envelope with trusted keys; return its payload and the signing key id."""
    try:
        wrapped = Envelope.from_dict(json.loads(json.dumps(data)))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise VerifyError(f"{where}: not a DSSE envelope") from None
    if wrapped.payload_type != payload_type:
        raise VerifyError(f"{where}: payload type {wrapped.payload_type!r} is not "
                          f"{payload_type}")
    keys: list[Key] = [ssl_key(k) for k in trusted]
    if not keys:
        raise VerifyError(f"{where}: no trusted keys to verify it with")
    try:
        accepted = wrapped.verify(keys, 1)
    except VerificationError:
        raise VerifyError(f"{where}: no trusted key signed this envelope") from None
    return wrapped.payload, sorted(accepted)[0]


def open_statement(data: Any, trusted: Iterable[signing.PublicKey], where: str
                   ) -> tuple[dict[str, Any], str]:
    """A verified envelope's in-toto statement with SLSA provenance, and its key id."""
    payload, key_id = open_envelope(data, trusted, where)
    try:
        body = json.loads(payload)
    except ValueError:
        raise VerifyError(f"{where}: payload is not JSON") from None
    if not isinstance(body, dict) or body.get("_type") != STATEMENT_TYPE \
            or body.get("predicateType") != PREDICATE_TYPE:
        raise VerifyError(f"{where}: not an in-toto v1 statement with SLSA provenance")
    return body, key_id


def check_subject(body: Mapping[str, Any], record: ArtifactRecord, record_digest: str, *,
                  image: str, location: str, where: str) -> None:
    """The statement names exactly this image of this record, or it is another's."""
    expected = json_format.MessageToDict(subject(record, record_digest, image, location).pb)
    if body.get("subject") != [expected]:
        raise VerifyError(f"{where}: the attestation is for another artifact, not {image} "
                          f"({location}) of record {record_digest}")
