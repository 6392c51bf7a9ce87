"""AWS KMS signing for release statements (ECDSA_SHA_256 on an ECC_NIST_P256 key).

KMS signs; nothing here verifies. The public half is fetched once with GetPublicKey and
verification happens offline in :mod:`kiln.release.signing`, so verifiers need no AWS
access and no KMS permission.
"""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives import serialization

from kiln.aws.clients import client
from kiln.aws.errors import calling
from kiln.release.signing import ECDSA_P256, PublicKey, Signature, SignatureError

ALGORITHM = "ECDSA_SHA_256"
KEY_SPEC = "ECC_NIST_P256"
_UUID = r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}|mrk-[0-9a-f]{32}"
_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
KEY_ID = re.compile(rf"(?:{_UUID}|{_ALIAS}|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{{12}}:"
                    rf"(?:key/(?:{_UUID})|{_ALIAS}))")


def check_key_id(key_id: str) -> str:
    """A KMS key id, ``alias/<name>`` or key/alias ARN; anything else is bad input."""
    if not KEY_ID.fullmatch(key_id):
        raise SignatureError(f"kms:{key_id!r} is not a KMS key id, alias/<name> or key ARN "
                             "(e.g. kms:alias/kiln-release)")
    return key_id


def public_key(key_id: str, region: str | None = None) -> PublicKey:
    """The key's public half as PEM, named by the key's ARN; refuse keys that cannot sign."""
    check_key_id(key_id)
    kms = client("kms", region)
    with calling(f"kms GetPublicKey {key_id}"):
        reply = kms.get_public_key(KeyId=key_id)
    spec = reply.get("KeySpec") or reply.get("CustomerMasterKeySpec")
    if spec != KEY_SPEC or reply.get("KeyUsage") != "SIGN_VERIFY" \
            or ALGORITHM not in reply.get("SigningAlgorithms", []):
        raise SignatureError(f"KMS key {key_id}: is {spec} {reply.get('KeyUsage')}; kiln needs "
                             f"an asymmetric {KEY_SPEC} SIGN_VERIFY key ({ALGORITHM})")
    der = reply["PublicKey"]
    pem = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return PublicKey(reply["KeyId"], ECDSA_P256, pem)


class KmsSigner:
    """A :class:`kiln.release.signing.Signer` backed by an AWS KMS key."""

    key_type = ECDSA_P256

    def __init__(self, key_id: str, region: str | None = None) -> None:
        self._region = region
        # One GetPublicKey per signer: it checks the key early and names it by its ARN.
        self._public = public_key(key_id, region)
        self.key_id = self._public.id

    def sign(self, message: bytes) -> Signature:
        kms = client("kms", self._region)
        with calling(f"kms Sign {self.key_id}"):
            reply = kms.sign(KeyId=self.key_id, Message=message, MessageType="RAW",
                             SigningAlgorithm=ALGORITHM)
        return Signature(self.key_id, base64.b64encode(reply["Signature"]).decode())

    def public_key(self) -> PublicKey:
        return self._public
