"""kiln and the policy pack agree on what crosses between them (kiln_immutable.contract).

The pack may not import kiln, so it keeps its own copy of the release statement, the tag keys,
the key types and the pack config kiln writes. Here kiln's code signs and the pack verifies
(and the other way round), both statement builders are held byte-equal, and every copied
constant is mapped by name to kiln's, so renaming either side fails this file.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kiln_immutable import RULES, Resource, contract, images, signing
from kiln_immutable.tokens import LAUNCH_TEMPLATE

from kiln.audit import report
from kiln.aws import images as aws_images
from kiln.aws import kms
from kiln.model import naming, sections
from kiln.model import stack as kiln_stack
from kiln.model.fields import key as config_key
from kiln.model.settings import to_config
from kiln.project import revocations
from kiln.project.layout import PACK_CONFIG_DIR
from kiln.release import record
from kiln.release import signing as kiln_signing

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

REGION = "eu-west-1"
IMAGE = "ami-0123456789abcdef0"
RELEASE = "sha256:" + "ab" * 32

# --- the statement --------------------------------------------------------------------------

amis = st.from_regex(kiln_stack.AMI_ID, fullmatch=True)
regions = st.from_regex(kiln_stack.REGION, fullmatch=True)
digests = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)
repositories = st.from_regex(r"[a-z0-9]+(\.[a-z0-9]+)+(:[0-9]{2,5})?(/[a-z0-9._-]+){1,3}",
                             fullmatch=True)
# (kind, image id, where) as kiln signs them: an AMI in a region, a container digest in a
# repository.
released = st.one_of(st.tuples(st.just("ami"), amis, regions),
                     st.tuples(st.just("container"), digests, repositories))


def kiln_or_refused(kind: str, image: str, where: str, digest: str) -> bytes | None:
    try:
        return record.statement(kind, image, where, digest)
    except record.RecordError:
        return None


def pack_or_refused(kind: str, image: str, where: str, digest: str) -> bytes | None:
    try:
        return contract.statement(kind, image, where, digest)
    except contract.StatementError:
        return None


@PROPERTY
@given(released, digests)
@example(("ami", IMAGE, REGION), RELEASE)
@example(("ami", "ami-0123abcd", "us-gov-west-1"), "sha256:" + "0" * 64)
@example(("container", "sha256:" + "ef" * 32, "registry.example.com:5000/web"), RELEASE)
def test_kiln_and_the_pack_build_the_same_statement(release: tuple[str, str, str],
                                                    digest: str) -> None:
    kind, image, where = release
    built = record.statement(kind, image, where, digest)
    assert built == contract.statement(kind, image, where, digest)
    assert built == f"kiln.release/v1\n{kind}\n{image}\n{where}\n{digest}\n".encode()


odd_text = st.one_of(st.text(max_size=30), st.sampled_from(["", "\n", "ami\n", "a\nb", "\r"]))


@PROPERTY
@given(st.one_of(st.sampled_from([*contract.KINDS, "AMI", "ami\n", ""]), st.text(max_size=12)),
       odd_text, odd_text)
def test_both_sides_refuse_the_same_fields(kind: str, image: str, where: str) -> None:
    # Whatever the fields, kiln signs exactly what the pack would build: same bytes or both refuse.
    assert kiln_or_refused(kind, image, where, RELEASE) \
        == pack_or_refused(kind, image, where, RELEASE)


HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize("digest, valid", [
    pytest.param("sha256:" + HEX, True, id="valid"),
    pytest.param("sha256:" + HEX.upper(), False, id="upper-case"),
    pytest.param("sha256:" + HEX[:-1], False, id="short"),
    pytest.param("sha256:" + HEX + "0", False, id="long"),
    pytest.param(HEX, False, id="no-prefix"),
    pytest.param("sha512:" + HEX, False, id="other-algorithm"),
    pytest.param(" sha256:" + HEX, False, id="leading-space"),
    pytest.param("sha256:" + HEX + " ", False, id="trailing-space"),
    # A pattern ending in $ and read with re.match accepts this one.
    pytest.param("sha256:" + HEX + "\n", False, id="trailing-newline"),
])
def test_both_sides_refuse_the_same_digests(digest: str, valid: bool) -> None:
    assert (pack_or_refused("ami", IMAGE, REGION, digest) is not None) is valid
    assert (kiln_or_refused("ami", IMAGE, REGION, digest) is not None) is valid


# --- kiln signs, the pack verifies ------------------------------------------------------------

class KmsShapedSigner:
    """A :class:`kiln.release.signing.Signer` that signs as :class:`kiln.aws.kms.KmsSigner`
    does — ECDSA P-256 over SHA-256 (``ECDSA_SHA_256``), the DER signature base64 — with a local
    key instead of KMS."""

    key_type = kiln_signing.ECDSA_P256

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        self._key = ec.generate_private_key(ec.SECP256R1())

    def sign(self, message: bytes) -> kiln_signing.Signature:
        der = self._key.sign(message, ec.ECDSA(hashes.SHA256()))
        return kiln_signing.Signature(self.key_id, base64.b64encode(der).decode())

    def public_key(self) -> kiln_signing.PublicKey:
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return kiln_signing.PublicKey(self.key_id, self.key_type, pem.decode())


def ed25519_file_signer(directory: Path, name: str) -> kiln_signing.Ed25519FileSigner:
    kiln_signing.generate_ed25519(directory / f"{name}.pem")
    return kiln_signing.Ed25519FileSigner(directory / f"{name}.pem")


@pytest.fixture(params=["ed25519-file", "kms-shaped"])
def signer(request: pytest.FixtureRequest, tmp_path: Path) -> kiln_signing.Signer:
    if request.param == "kms-shaped":
        return KmsShapedSigner("arn:aws:kms:eu-west-1:111122223333:key/release")
    return ed25519_file_signer(tmp_path, "release")


def trusted_entries(dev_settings: kiln_stack.StackSettings,
                    *keys: kiln_signing.PublicKey) -> Any:
    """``kiln:trustedKeys`` as kiln writes it into a stack file (the pack config's shape)."""
    trusted = tuple(kiln_stack.TrustedKey(k.id, k.type, k.pem) for k in keys)
    written = to_config(dataclasses.replace(dev_settings, trusted_keys=trusted))
    return written[config_key("trustedKeys")]


def launch_template(signature: str, trusted: Any, *, image: str = IMAGE,
                    region: str = REGION, release: str = RELEASE) -> Resource:
    """A launch template tagged as kiln's fleet tags it, under the pack config ``trusted``."""
    tags = {naming.TAG_IMAGE: image, naming.TAG_RELEASE: release,
            naming.TAG_SIGNATURE: signature}
    return Resource(LAUNCH_TEMPLATE, "web-blue-lt", {"imageId": image, "tags": tags},
                    config={contract.TRUSTED_KEYS: trusted}, region=region)


def test_the_kms_shaped_signer_signs_as_kms_does() -> None:
    assert kms.ALGORITHM == "ECDSA_SHA_256" and KmsShapedSigner.key_type == kms.KmsSigner.key_type


def test_a_release_kiln_signs_verifies_in_the_pack(signer: kiln_signing.Signer,
                                                   dev_settings: Any) -> None:
    signed = signer.sign(record.statement("ami", IMAGE, REGION, RELEASE))
    public = signer.public_key()
    trusted = trusted_entries(dev_settings, public)
    keys = signing.trusted_keys(trusted)
    message = contract.statement(contract.KIND_AMI, IMAGE, REGION, RELEASE)
    raw = signing.decode_signature(signed.value)
    assert raw is not None
    assert signing.verify(raw, message, keys) == public.id
    assert list(images.launch_template_signed(launch_template(signed.value, trusted))) == []


@pytest.mark.parametrize("tamper", ["other-digest", "other-image", "other-region", "other-key"])
def test_a_tampered_release_fails_in_the_pack(signer: kiln_signing.Signer, tamper: str,
                                              tmp_path: Path, dev_settings: Any) -> None:
    trusted = trusted_entries(dev_settings, signer.public_key())
    change = {"other-digest": {"release": "sha256:" + "cd" * 32},
              "other-image": {"image": "ami-0fedcba9876543210"},
              "other-region": {"region": "us-east-1"}}.get(tamper, {})
    signing_key = ed25519_file_signer(tmp_path, "stranger") if tamper == "other-key" else signer
    # Signed over the original release; presented (tags, imageId, region) as the tampered one.
    signed = signing_key.sign(record.statement("ami", IMAGE, REGION, RELEASE))
    template = launch_template(signed.value, trusted, **change)
    message = contract.statement(contract.KIND_AMI, template.props["imageId"],
                                 str(template.region), template.props["tags"][naming.TAG_RELEASE])
    raw = signing.decode_signature(signed.value)
    assert raw is not None
    assert signing.verify(raw, message, signing.trusted_keys(trusted)) is None
    messages = list(images.launch_template_signed(template))
    assert len(messages) == 1 and "does not verify with any trusted key" in messages[0]


# --- the pack's format signed, kiln verifies --------------------------------------------------

def _pem(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize("key_type", [contract.ED25519, contract.ECDSA_P256])
def test_a_statement_in_the_pack_format_verifies_in_kiln(key_type: str) -> None:
    message = contract.statement(contract.KIND_AMI, IMAGE, REGION, RELEASE)
    if key_type == contract.ED25519:
        private: Any = ed25519.Ed25519PrivateKey.generate()
        raw = private.sign(message)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        raw = private.sign(message, ec.ECDSA(hashes.SHA256()))
    public = kiln_signing.PublicKey("pack-side", key_type, _pem(private))
    assert kiln_signing.verify(message, base64.b64encode(raw).decode(), [public]) == public
    other = contract.statement(contract.KIND_AMI, IMAGE, "us-east-1", RELEASE)
    with pytest.raises(kiln_signing.SignatureError):
        kiln_signing.verify(other, base64.b64encode(raw).decode(), [public])


def test_a_raw_ecdsa_signature_is_refused_by_the_pack_as_by_kiln() -> None:
    """ECDSA signatures are DER on both sides: 64 raw bytes r || s verify in neither."""
    message = contract.statement(contract.KIND_AMI, IMAGE, REGION, RELEASE)
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    trusted = signing.trusted_keys([{contract.KEY_ID: "p256", contract.KEY_TYPE:
                                     contract.ECDSA_P256, contract.KEY_PEM: _pem(private)}])
    assert signing.verify(der, message, trusted) == "p256"
    assert signing.verify(raw, message, trusted) is None
    public = kiln_signing.PublicKey("p256", kiln_signing.ECDSA_P256, _pem(private))
    assert kiln_signing.verify_with(public, message, base64.b64encode(der).decode())
    assert not kiln_signing.verify_with(public, message, base64.b64encode(raw).decode())


# --- every copied constant, mapped by name ----------------------------------------------------

# kiln's tag constant → the pack's. Tags kiln defines that no rule reads are listed apart, so
# a new tag on kiln's side needs a decision here.
TAGS = {
    "naming.TAG_SERVICE": (naming.TAG_SERVICE, contract.TAG_SERVICE),
    "naming.TAG_COLOUR": (naming.TAG_COLOUR, contract.TAG_COLOUR),
    "naming.TAG_IMAGE": (naming.TAG_IMAGE, contract.TAG_IMAGE),
    "naming.TAG_RELEASE": (naming.TAG_RELEASE, contract.TAG_RELEASE),
    "naming.TAG_SIGNATURE": (naming.TAG_SIGNATURE, contract.TAG_SIGNATURE),
    "naming.TAG_CONTAINER": (naming.TAG_CONTAINER, contract.TAG_CONTAINER),
    "aws.images.RELEASE_TAG": (aws_images.RELEASE_TAG, contract.TAG_RELEASE),
    "aws.images.SIGNATURE_TAG": (aws_images.SIGNATURE_TAG, contract.TAG_SIGNATURE),
}
NOT_READ_BY_THE_PACK = {"TAG_STACK", "TAG_ROLE", "TAG_INPUT_HASH", "TAG_COMMIT", "TAG_NAME",
                        "TAG_SIGNATURE_KEY", "TAG_COPY_OF"}

CONSTANTS = {
    "statement version": (record.STATEMENT_VERSION, contract.STATEMENT_VERSION),
    "kinds": (record.KINDS, contract.KINDS),
    "ed25519": (kiln_signing.ED25519, contract.ED25519),
    "ecdsa-p256": (kiln_signing.ECDSA_P256, contract.ECDSA_P256),
    "key types": (kiln_stack.KEY_TYPES, contract.KEY_TYPES),
    "trusted key fields": (sections.TRUSTED_KEY_KEYS, contract.TRUSTED_KEY_FIELDS),
    "revocation rule": (revocations.RULE, contract.NOT_REVOKED_RULE),
    "waived prefix": (report.WAIVED_PREFIX, contract.WAIVED_PREFIX),
}


@pytest.mark.parametrize("kiln_value, pack_value", TAGS.values(), ids=TAGS.keys())
def test_tag_keys_agree(kiln_value: str, pack_value: str) -> None:
    assert kiln_value == pack_value


def test_every_tag_is_mapped_on_both_sides() -> None:
    kiln_tags = {n for n in vars(naming) if n.startswith("TAG_")}
    mapped = {name.removeprefix("naming.") for name in TAGS if name.startswith("naming.")}
    assert kiln_tags == mapped | NOT_READ_BY_THE_PACK
    pack_tags = {getattr(contract, n) for n in vars(contract) if n.startswith("TAG_")}
    assert pack_tags == {pack for _, pack in TAGS.values()}


@pytest.mark.parametrize("kiln_value, pack_value", CONSTANTS.values(), ids=CONSTANTS.keys())
def test_constants_agree(kiln_value: Any, pack_value: Any) -> None:
    assert kiln_value == pack_value


def test_the_config_kiln_writes_names_the_pack_rules_and_their_keys() -> None:
    for rule_id, config_name in ((contract.SIGNED_IMAGE_RULE, contract.TRUSTED_KEYS),
                                 (contract.NOT_REVOKED_RULE, contract.REVOKED)):
        assert config_name in RULES[rule_id].config
    schema = RULES[contract.SIGNED_IMAGE_RULE].config[contract.TRUSTED_KEYS]["items"]
    assert tuple(schema["required"]) == sections.TRUSTED_KEY_KEYS
    assert schema["properties"][contract.KEY_TYPE]["enum"] == list(kiln_stack.KEY_TYPES)


def test_a_revocation_kiln_writes_is_refused_by_the_pack(tmp_path: Path) -> None:
    config_dir = tmp_path / PACK_CONFIG_DIR
    config_dir.mkdir(parents=True)
    (config_dir / "prod.json").write_text("{}\n")
    revocations.add(tmp_path, IMAGE, None, "CVE in the base image")
    revocations.add(tmp_path, None, RELEASE, "built on a compromised runner")
    written = json.loads((config_dir / "prod.json").read_text())[contract.NOT_REVOKED_RULE]
    for image, release, reason in ((IMAGE, "sha256:" + "00" * 32, "CVE in the base image"),
                                   ("ami-0fedcba9876543210", RELEASE, "compromised runner")):
        template = Resource(LAUNCH_TEMPLATE, "web-blue-lt", {
            "imageId": image, "tags": {naming.TAG_RELEASE: release}}, config=written)
        messages = list(images.launch_template_not_revoked(template))
        assert len(messages) == 1 and re.search(reason, messages[0])
