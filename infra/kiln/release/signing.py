"""Sign and verify release statements.

Two key types: Ed25519 key files for local use, and ECDSA P-256 with SHA-256 (the shape of
an AWS KMS ``ECDSA_SHA_256`` key) for teams. Signing with KMS happens in ``kiln.aws``;
verification is always offline, with the public half, so it needs no AWS access.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kiln.errors import KilnError

ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256"


class SignatureError(KilnError, ValueError):
    """A signature does not verify, or a key is unusable (message is one line)."""


@dataclass(frozen=True)
class PublicKey:
    id: str
    type: str
    pem: str


@dataclass(frozen=True)
class Signature:
    key_id: str
    value: str  # base64


class Signer(Protocol):
    key_id: str
    key_type: str

    def sign(self, message: bytes) -> Signature: ...

    def public_key(self) -> PublicKey: ...


def _public_pem(key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Ed25519FileSigner:
    """Signs with an unencrypted PKCS#8 Ed25519 private key in a PEM file."""

    key_type = ED25519

    def __init__(self, path: Path, key_id: str | None = None) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise SignatureError(f"{path}: cannot read signing key ({error.strerror})") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise SignatureError(f"{path}: not an unencrypted PEM private key") from None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise SignatureError(f"{path}: not an Ed25519 private key")
        self._key = key
        self.key_id = key_id or path.stem

    def sign(self, message: bytes) -> Signature:
        return Signature(self.key_id, base64.b64encode(self._key.sign(message)).decode())

    def public_key(self) -> PublicKey:
        return PublicKey(self.key_id, ED25519, _public_pem(self._key.public_key()))


def generate_ed25519(path: Path, *, force: bool = False) -> PublicKey:
    """Write a new Ed25519 private key at ``path`` (mode 0600) and its public half beside it
    (``.pub``): both files or neither, and never over an existing one unless ``force``
    (which replaces both). Return the public half."""
    public_path = path.with_suffix(".pub")
    if path.suffix == ".pub":
        raise SignatureError(f"{path}: a .pub path names the public half; give the private "
                             f"key's path (e.g. {path.with_suffix('.pem')})")
    for target, what in ((path, "the private key"), (public_path, "the public key")):
        if target.is_dir():
            raise SignatureError(f"{target}: is a directory, not a file for {what}")
        if not force and (target.exists() or target.is_symlink()):
            raise SignatureError(f"{target}: already exists; refusing to overwrite a key "
                                 "(--force replaces both files)")
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public = PublicKey(path.stem, ED25519, _public_pem(key.public_key()))
    temps: list[Path] = []
    try:
        temps.append(_temp_file(path, private_pem, 0o600))
        temps.append(_temp_file(public_path, public.pem.encode(), 0o644))
        (_replace_both if force else _link_both)(temps[0], path, temps[1], public_path)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    return public


def _temp_file(beside: Path, data: bytes, mode: int) -> Path:
    try:
        fd, name = tempfile.mkstemp(prefix=f".{beside.name}.", dir=beside.parent)
    except OSError as error:
        raise SignatureError(f"{beside}: cannot write the key ({error.strerror})") from None
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    except OSError as error:
        Path(name).unlink(missing_ok=True)
        raise SignatureError(f"{beside}: cannot write the key ({error.strerror})") from None
    finally:
        os.close(fd)
    return Path(name)


def _link_both(private_tmp: Path, path: Path, public_tmp: Path, public_path: Path) -> None:
    """Give each file its name only if the name is free (a link never replaces a file)."""
    _place(os.link, private_tmp, path)
    try:
        _place(os.link, public_tmp, public_path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _replace_both(private_tmp: Path, path: Path, public_tmp: Path, public_path: Path) -> None:
    """Replace both files; if the public half cannot be placed, the old private key is
    put back, so a failed --force loses no key."""
    backup = None
    if path.exists():
        backup = path.with_name(f".{path.name}.{os.getpid()}.old")
        _place(os.link, path, backup)
    try:
        _place(os.replace, private_tmp, path)
        try:
            _place(os.replace, public_tmp, public_path)
        except BaseException:
            if backup is not None:
                os.replace(backup, path)
            else:
                path.unlink(missing_ok=True)
            raise
    finally:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _place(how: Callable[[Path, Path], None], source: Path, target: Path) -> None:
    try:
        how(source, target)
    except FileExistsError:
        raise SignatureError(f"{target}: already exists; refusing to overwrite a key "
                             "(--force replaces both files)") from None
    except OSError as error:
        raise SignatureError(f"{target}: cannot write the key ({error.strerror})") from None


def load_public(pem: str, key_type: str, key_id: str = "") -> ed25519.Ed25519PublicKey | \
        ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise SignatureError(f"key {key_id!r}: not a PEM public key") from None
    if key_type == ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if key_type == ECDSA_P256 and isinstance(key, ec.EllipticCurvePublicKey) \
            and isinstance(key.curve, ec.SECP256R1):
        return key
    raise SignatureError(f"key {key_id!r}: PEM is not an {key_type} public key")


def verify_with(key: PublicKey, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is ``key``'s signature over ``message``."""
    public = load_public(key.pem, key.type, key.id)
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(raw, message)
        else:
            public.verify(raw, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def verify(message: bytes, signature_b64: str, trusted: Iterable[PublicKey],
           key_id: str | None = None) -> PublicKey:
    """Return the trusted key that signed ``message``; raise :class:`SignatureError`."""
    keys = list(trusted)
    if key_id is not None:
        keys = [k for k in keys if k.id == key_id]
        if not keys:
            raise SignatureError(f"unknown key {key_id!r}: not among the trusted keys")
    if not keys:
        raise SignatureError("no trusted keys configured")
    for key in keys:
        if verify_with(key, message, signature_b64):
            return key
    raise SignatureError("bad signature: no trusted key verifies it")
