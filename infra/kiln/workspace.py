"""Where kiln keeps its files and which backends it uses, relative to the project root.

- ledger: ``ledger/kiln.jsonl`` (file backend), unless ``KILN_LEDGER_TABLE`` names a
  DynamoDB table;
- artifact records: ``releases/<name>/<digest hex>.json``;
- signing key: ``KILN_SIGNING_KEY`` — a path to an Ed25519 PEM file, or ``kms:<key id or
  ARN>`` for an AWS KMS ECDSA_SHA_256 key; default ``~/.config/kiln/release.pem``.
"""

from __future__ import annotations

import os
from pathlib import Path

LEDGER_FILE = Path("ledger") / "kiln.jsonl"
RELEASES_DIR = Path("releases")
DEFAULT_KEY = Path("~/.config/kiln/release.pem")


def ledger_path(root: Path) -> Path:
    return root / LEDGER_FILE


def ledger_table() -> str | None:
    return os.environ.get("KILN_LEDGER_TABLE") or None


def releases_dir(root: Path) -> Path:
    return root / RELEASES_DIR


def record_path(root: Path, name: str, digest: str) -> Path:
    return releases_dir(root) / name / f"{digest.removeprefix('sha256:')}.json"


def signing_key() -> str:
    return os.environ.get("KILN_SIGNING_KEY") or str(DEFAULT_KEY.expanduser())
