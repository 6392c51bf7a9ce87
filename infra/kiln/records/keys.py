"""Which key signs a bake, and which keys a verifier trusts.

Signing key: ``KILN_SIGNING_KEY`` or ``--signing-key`` — an Ed25519 PEM file, or
``kms:<key id, alias or ARN>`` for an AWS KMS ECDSA_SHA_256 key.

Trusted keys: every ``--key`` given (a PEM public key file, an Ed25519 private key file
whose public half is taken, or ``kms:<key>`` whose public half is fetched once); without
``--key``, the ``kiln:trustedKeys`` of the stack files (one stack with ``--stack``, else all
of them). A record's own signature file names a key but is never a source of trust.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kiln.aws.kms import KmsSigner, public_key
from kiln.errors import BakeError
from kiln.project import stackfiles
from kiln.release.signing import (
    ECDSA_P256,
    ED25519,
    Ed25519FileSigner,
    PublicKey,
    Signer,
    generate_ed25519,
)


def open_signer(spec: str, region: str | None = None) -> Signer:
    """The signer ``spec`` names; a missing key file is a one-line error."""
    if spec.startswith("kms:"):
        return KmsSigner(spec.removeprefix("kms:"), region)
    path = Path(spec).expanduser()
    if not path.exists():
        raise BakeError(f"no signing key at {path}; create one with `kiln keys generate "
                        f"{path}` or set KILN_SIGNING_KEY (a key file, or kms:<key id>)")
    return Ed25519FileSigner(path)


def _key_id(path: Path) -> str:
    # generate_ed25519 writes <id>.pem and <id>.pub: both name the key <id>.
    return path.name.removesuffix(".pub").removesuffix(".pem")


def key_from_file(path: Path) -> PublicKey:
    """A public key from a PEM public key file or an Ed25519 private key file."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BakeError(f"--key {path}: cannot read ({error.strerror})") from None
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            public = private.public_key()
        else:
            public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise BakeError(f"--key {path}: not a PEM public key or unencrypted private "
                        "key") from None
    if isinstance(public, ed25519.Ed25519PublicKey):
        key_type = ED25519
    elif isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve,
                                                                      ec.SECP256R1):
        key_type = ECDSA_P256
    else:
        raise BakeError(f"--key {path}: not an Ed25519 or ECDSA P-256 key")
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return PublicKey(_key_id(path), key_type, pem)


def explicit_keys(specs: list[str], region: str | None = None) -> list[PublicKey]:
    keys = []
    for spec in specs:
        if spec.startswith("kms:"):
            keys.append(public_key(spec.removeprefix("kms:"), region))
        else:
            keys.append(key_from_file(Path(spec).expanduser()))
    return keys


def stack_keys(root: Path, stack: str | None = None) -> list[PublicKey]:
    """``kiln:trustedKeys`` of one stack, or of all stacks (the same id must mean one key)."""

    project = stackfiles.load_project(root)
    stacks = [stack] if stack else project.stacks()
    found: dict[str, tuple[PublicKey, str]] = {}
    for name in stacks:
        for trusted in stackfiles.load_settings(project, name).trusted_keys:
            key = PublicKey(trusted.id, trusted.type, trusted.public_key)
            seen = found.get(key.id)
            if seen and (seen[0].pem.split(), seen[0].type) != (key.pem.split(), key.type):
                raise BakeError(f"kiln:trustedKeys: key id {key.id!r} names different keys "
                                f"in stacks {seen[1]} and {name}")
            found.setdefault(key.id, (key, name))
    return [key for key, _ in found.values()]


def trusted(root: Path, specs: list[str], stack: str | None = None,
            region: str | None = None) -> list[PublicKey]:
    return explicit_keys(specs, region) if specs else stack_keys(root, stack)


def generate(path: Path, *, force: bool = False) -> tuple[PublicKey, Path]:
    """A new Ed25519 key file at ``path`` (mode 0600) and its ``.pub``: both or neither,
    never over an existing file unless ``force`` replaces both."""

    path = path.expanduser()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise BakeError(f"{path.parent}: cannot create the key's directory "
                        f"({error.strerror})") from None
    public = generate_ed25519(path, force=force)
    return public, path.with_suffix(".pub")
