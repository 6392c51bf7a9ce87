"""Verify kiln release statements with the trusted public keys from the pack config.

The statement is :func:`contract.statement`. Ed25519 signatures are 64 raw bytes; ECDSA P-256
signatures are DER (the AWS KMS ``ECDSA_SHA_256`` form), exactly as kiln verifies them: 64 raw
``r || s`` bytes are refused. Signatures are base64.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .contract import ECDSA_P256, ED25519, KEY_ID, KEY_PEM, KEY_TYPE, KEY_TYPES, TRUSTED_KEYS


@dataclass(frozen=True)
class TrustedKey:
    id: str
    type: str
    key: Any  # ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class KeyConfigError(ValueError):
    """A trusted key in the pack config is unusable (message is one line)."""


@lru_cache(maxsize=64)
def _load(key_id: str, key_type: str, pem: str) -> TrustedKey:
    if key_type not in KEY_TYPES:
        raise KeyConfigError(f"trusted key {key_id!r}: type {key_type!r} is not one of "
                             f"{', '.join(KEY_TYPES)}")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise KeyConfigError(f"trusted key {key_id!r}: not a PEM public key") from None
    if key_type == ED25519 and not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyConfigError(f"trusted key {key_id!r}: not an Ed25519 public key")
    if key_type == ECDSA_P256 and not (isinstance(key, ec.EllipticCurvePublicKey)
                                       and isinstance(key.curve, ec.SECP256R1)):
        raise KeyConfigError(f"trusted key {key_id!r}: not an ECDSA P-256 public key")
    return TrustedKey(key_id, key_type, key)


def trusted_keys(entries: Iterable[Any]) -> list[TrustedKey]:
    """Parse ``[{id, type, publicKey}]`` from the pack config."""
    keys = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise KeyConfigError(f"{TRUSTED_KEYS}[{index}] is not an object "
                                 "{id, type, publicKey}")
        keys.append(_load(str(entry.get(KEY_ID, index)), str(entry.get(KEY_TYPE, "")),
                          str(entry.get(KEY_PEM, ""))))
    return keys


def decode_signature(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify(signature: bytes, message: bytes, keys: Iterable[TrustedKey]) -> str | None:
    """The id of the first trusted key the signature verifies with, or None."""
    for trusted in keys:
        try:
            if isinstance(trusted.key, ed25519.Ed25519PublicKey):
                trusted.key.verify(signature, message)
            else:
                trusted.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return trusted.id
    return None
