"""Signing and offline verification: Ed25519 key files and ECDSA P-256 (the KMS shape)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiln.release.signing import (
    ECDSA_P256,
    ED25519,
    Ed25519FileSigner,
    PublicKey,
    SignatureError,
    generate_ed25519,
    verify,
    verify_with,
)

MESSAGE = b"kiln.release/v1\nami\nami-1\neu-west-1\nsha256:" + b"0" * 64 + b"\n"


@pytest.fixture
def signer(tmp_path: Path) -> Ed25519FileSigner:
    generate_ed25519(tmp_path / "release.pem")
    return Ed25519FileSigner(tmp_path / "release.pem")


def test_generate_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    public = generate_ed25519(tmp_path / "k.pem")
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    assert (tmp_path / "k.pub").read_text() == public.pem
    assert public.id == "k" and public.type == ED25519
    with pytest.raises(SignatureError, match="refusing to overwrite"):
        generate_ed25519(tmp_path / "k.pem")


def test_ed25519_signature_verifies_and_names_its_key(signer: Ed25519FileSigner) -> None:
    signature = signer.sign(MESSAGE)
    assert signature.key_id == "release"
    assert verify(MESSAGE, signature.value, [signer.public_key()]) == signer.public_key()


def test_a_flipped_byte_anywhere_fails(signer: Ed25519FileSigner) -> None:
    signature = signer.sign(MESSAGE).value
    public = signer.public_key()
    for at in (0, len(MESSAGE) // 2, len(MESSAGE) - 2):
        changed = bytearray(MESSAGE)
        changed[at] ^= 0x01
        assert not verify_with(public, bytes(changed), signature)
    raw = bytearray(base64.b64decode(signature))
    raw[5] ^= 0x80
    assert not verify_with(public, MESSAGE, base64.b64encode(bytes(raw)).decode())
    assert not verify_with(public, MESSAGE, "not base64!")


def test_unknown_and_wrong_keys_are_refused(signer: Ed25519FileSigner, tmp_path: Path) -> None:
    other = generate_ed25519(tmp_path / "other.pem")
    signature = signer.sign(MESSAGE).value
    with pytest.raises(SignatureError, match="unknown key 'release'"):
        verify(MESSAGE, signature, [other], key_id="release")
    with pytest.raises(SignatureError, match="bad signature"):
        verify(MESSAGE, signature, [other])
    with pytest.raises(SignatureError, match="no trusted keys"):
        verify(MESSAGE, signature, [])


def test_ecdsa_p256_sha256_verifies_offline() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key = PublicKey("arn:aws:kms:eu-west-1:123456789012:key/x", ECDSA_P256, pem)
    signature = base64.b64encode(private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))).decode()
    assert verify(MESSAGE, signature, [key], key_id=key.id) == key
    assert not verify_with(key, MESSAGE + b"x", signature)


def test_a_key_of_the_wrong_type_is_refused(signer: Ed25519FileSigner) -> None:
    mislabelled = PublicKey("release", ECDSA_P256, signer.public_key().pem)
    with pytest.raises(SignatureError, match="not an ecdsa-p256 public key"):
        verify_with(mislabelled, MESSAGE, signer.sign(MESSAGE).value)


def test_signer_refuses_unusable_key_files(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="cannot read"):
        Ed25519FileSigner(tmp_path / "absent.pem")
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(SignatureError, match="not an unencrypted PEM"):
        Ed25519FileSigner(tmp_path / "junk.pem")
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    (tmp_path / "ec.pem").write_bytes(ec_key)
    with pytest.raises(SignatureError, match="not an Ed25519"):
        Ed25519FileSigner(tmp_path / "ec.pem")
